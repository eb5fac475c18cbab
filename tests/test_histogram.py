"""The page's time axis: bucket choice and gap filling (pure)."""

from __future__ import annotations

import itertools
from datetime import date

from pipeline.api.histogram import MAX_BINS, choose_bucket, time_bins


def test_days_weeks_months_years_are_chosen_from_the_range() -> None:
    assert choose_bucket(date(2020, 1, 1), date(2020, 1, 31)) == "day"
    assert choose_bucket(date(2020, 1, 1), date(2020, 6, 30)) == "week"
    assert choose_bucket(date(2019, 8, 10), date(2024, 4, 20)) == "month"
    assert choose_bucket(date(1990, 1, 1), date(2024, 1, 1)) == "year"


def test_every_bucket_of_the_range_is_present_and_empty_ones_are_zero() -> None:
    bucket, bins = time_bins([("2020-01-03", 1), ("2020-01-01", 2), ("nonsense", 9)])
    assert bucket == "day"
    assert [(b.label, b.count) for b in bins] == [
        ("2020-01-01", 2),
        ("2020-01-02", 0),
        ("2020-01-03", 1),
    ]
    assert bins[-1].end == date(2020, 1, 4)


def test_years_apart_are_far_apart() -> None:
    bucket, bins = time_bins([("2019-08-10", 1), ("2024-04-20", 3), ("2019-08-30", 1)])
    assert bucket == "month" and len(bins) <= MAX_BINS
    assert bins[0].label == "2019-08" and bins[0].count == 2
    assert bins[-1].label == "2024-04" and bins[-1].count == 3
    assert sum(1 for b in bins if b.count == 0) == len(bins) - 2
    assert all(a.end == b.start for a, b in itertools.pairwise(bins))


def test_weeks_start_on_monday_and_december_rolls_over() -> None:
    _, weeks = time_bins([("2020-01-01", 1), ("2020-05-01", 1)])
    assert weeks[0].start == date(2019, 12, 30) and weeks[0].start.weekday() == 0
    _, months = time_bins([("2019-12-15", 1), ("2025-01-02", 1)])
    assert months[0].end == date(2020, 1, 1)
    assert time_bins([]) == ("day", [])
