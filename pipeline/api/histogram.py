"""The time axis of the page's histogram: per-day counts -> evenly spaced time buckets.

Why: the backends count articles per publication day, only for days that
have articles. Drawn as they come, every bar sits next to the previous one,
so two days a year apart look like neighbours. This pure function lays the
counts on a real axis: one bucket per day, week or month (chosen from the
range so there are at most ``MAX_BINS`` bars), every bucket of the range
present, empty ones with a count of 0, each with its own dates and label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Bucket = Literal["day", "week", "month", "year"]
MAX_BINS = 60


@dataclass(frozen=True, slots=True)
class Bin:
    start: date  # first day in the bucket
    end: date  # first day after it (the page's "until")
    count: int
    label: str


def _floor(day: date, bucket: Bucket) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "year":
        return day.replace(month=1, day=1)
    return day


def _next(day: date, bucket: Bucket) -> date:
    if bucket == "day":
        return day + timedelta(days=1)
    if bucket == "week":
        return day + timedelta(days=7)
    if bucket == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date(day.year + 1, 1, 1)


def _label(day: date, bucket: Bucket) -> str:
    if bucket == "month":
        return day.strftime("%Y-%m")
    if bucket == "year":
        return str(day.year)
    return day.isoformat()  # a day, or the Monday a week starts on


def choose_bucket(first: date, last: date, max_bins: int = MAX_BINS) -> Bucket:
    """The finest bucket that keeps the range within ``max_bins`` bars."""
    days = (last - first).days + 1
    if days <= max_bins:
        return "day"
    if days <= max_bins * 7:
        return "week"
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= max_bins:
        return "month"
    return "year"


def time_bins(
    days: Iterable[tuple[str, int]], max_bins: int = MAX_BINS
) -> tuple[Bucket, list[Bin]]:
    """(bucket, bins) covering the whole range of ``days`` (``YYYY-MM-DD``, count) pairs."""
    counts: dict[date, int] = {}
    for value, n in days:
        try:
            d = date.fromisoformat(value[:10])
        except ValueError:
            continue  # not a day: left out rather than drawn at a wrong place
        counts[d] = counts.get(d, 0) + int(n)
    if not counts:
        return "day", []
    first, last = min(counts), max(counts)
    bucket = choose_bucket(first, last, max_bins)
    totals: dict[date, int] = {}
    for d, n in counts.items():
        key = _floor(d, bucket)
        totals[key] = totals.get(key, 0) + n
    bins: list[Bin] = []
    cur = _floor(first, bucket)
    while cur <= last:
        nxt = _next(cur, bucket)
        bins.append(Bin(cur, nxt, totals.get(cur, 0), _label(cur, bucket)))
        cur = nxt
    return bucket, bins
