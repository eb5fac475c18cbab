"""Incident and surge alert rules: parsing (alerts.yaml) and the pure decisions.

Two sections of alerts.yaml sit beside ``rules:`` (docs/incidents.md):

``incident_rules``: fire once per incident whose type, places and actors match,
and optionally once more when it grows past ``grow_reports`` reports or adds a
language (``grow_languages``).

``surge_rules``: count reports (or incidents) of the given types within
``radius_km`` of a place over the last ``window_hours``; compare with the
baseline rate over the ``baseline_days`` before; fire when the count reaches
``min_count`` and ``ratio`` times the baseline rate. Once per surge: after an
alert, a new one needs the window count to have dropped below ``min_count`` in
between (computed from the report times, so no extra state is kept).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.alerts.rules import RuleError, _str_list, check_channel
from pipeline.incidents.geo import km
from pipeline.models import EVENT_TYPES

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
LANG_NAMES = {"en": "English", "ar": "Arabic", "fr": "French", "it": "Italian"}


@dataclass(slots=True)
class IncidentRule:
    name: str
    types: list[str] = field(default_factory=list)  # empty: any type
    places: list[str] = field(default_factory=list)  # ids or names; empty: anywhere
    actors: list[str] = field(default_factory=list)
    min_reports: int = 1
    grow_reports: int = 0  # 0: no growth alert on report count
    grow_languages: bool = False
    channels: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SurgeRule:
    name: str
    place: str  # a place id from the gazetteer (its coordinates are the centre)
    types: list[str] = field(default_factory=list)
    radius_km: float = 100.0
    window_hours: float = 6.0
    baseline_days: float = 7.0
    ratio: float = 3.0
    min_count: int = 5
    count: str = "reports"  # reports | incidents
    channels: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- parsing
def _check_common(kind: str, data: Mapping[str, Any], known: set[str]) -> str:
    if not isinstance(data, Mapping):
        raise RuleError(f"{kind}: each rule must be a mapping with at least a name")
    name = str(data.get("name", "")).strip()
    if not _NAME.match(name):
        raise RuleError(f"{kind} name {name!r}: use letters, digits, '-', '_', '.', ':'")
    unknown = sorted(set(data) - known)
    if unknown:
        raise RuleError(f"{kind} {name!r}: unknown key(s) {', '.join(unknown)}")
    for t in _str_list(data.get("types"), f"{kind} {name!r} types"):
        if t not in EVENT_TYPES:
            raise RuleError(f"{kind} {name!r}: unknown event type {t!r} ({', '.join(EVENT_TYPES)})")
    return name


def _num(kind: str, name: str, data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleError(f"{kind} {name!r}: {key} must be a number, 0 or more (got {value!r})")
    return float(value)


def _channels(kind: str, name: str, data: Mapping[str, Any], default: list[str]) -> list[str]:
    chans = data.get("channels")
    out = _str_list(chans, f"{kind} {name!r} channels") if chans is not None else list(default)
    for ch in out:
        try:
            check_channel(ch)
        except RuleError as exc:
            raise RuleError(f"{kind} {name!r}: {exc}") from None
    return out


def parse_incident_rules(data: Mapping[str, Any]) -> tuple[list[IncidentRule], list[SurgeRule]]:
    """The ``incident_rules`` and ``surge_rules`` sections of a parsed alerts.yaml."""
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise RuleError("'defaults:' must be a mapping")
    default_channels = _str_list(defaults.get("channels"), "defaults.channels")
    inc_rules: list[IncidentRule] = []
    seen: set[str] = set()
    known = {"name", "types", "places", "actors", "min_reports", "grow_reports",
             "grow_languages", "channels"}  # fmt: skip
    for raw in data.get("incident_rules") or []:
        name = _check_common("incident rule", raw, known)
        if name in seen:
            raise RuleError(f"incident rule {name!r} is defined twice")
        seen.add(name)
        inc_rules.append(
            IncidentRule(
                name=name,
                types=_str_list(raw.get("types"), name),
                places=_str_list(raw.get("places"), name),
                actors=_str_list(raw.get("actors"), name),
                min_reports=int(_num("incident rule", name, raw, "min_reports", 1)),
                grow_reports=int(_num("incident rule", name, raw, "grow_reports", 0)),
                grow_languages=bool(raw.get("grow_languages", False)),
                channels=_channels("incident rule", name, raw, default_channels),
            )
        )
    surges: list[SurgeRule] = []
    known = {"name", "types", "place", "radius_km", "window_hours", "baseline_days", "ratio",
             "min_count", "count", "channels"}  # fmt: skip
    for raw in data.get("surge_rules") or []:
        name = _check_common("surge rule", raw, known)
        if name in seen:
            raise RuleError(f"surge rule {name!r} is defined twice")
        seen.add(name)
        place = str(raw.get("place") or "").strip()
        if not place:
            raise RuleError(f"surge rule {name!r}: 'place' (a place id, e.g. sirte) is required")
        count = str(raw.get("count", "reports"))
        if count not in ("reports", "incidents"):
            raise RuleError(f"surge rule {name!r}: count must be 'reports' or 'incidents'")
        rule = SurgeRule(
            name=name,
            place=place,
            types=_str_list(raw.get("types"), name),
            radius_km=_num("surge rule", name, raw, "radius_km", 100.0),
            window_hours=_num("surge rule", name, raw, "window_hours", 6.0),
            baseline_days=_num("surge rule", name, raw, "baseline_days", 7.0),
            ratio=_num("surge rule", name, raw, "ratio", 3.0),
            min_count=int(_num("surge rule", name, raw, "min_count", 5)),
            count=count,
            channels=_channels("surge rule", name, raw, default_channels),
        )
        if rule.window_hours <= 0 or rule.baseline_days <= 0 or rule.min_count < 1:
            raise RuleError(
                f"surge rule {name!r}: window_hours and baseline_days must be above 0, "
                "min_count at least 1"
            )
        surges.append(rule)
    return inc_rules, surges


# ---------------------------------------------------------------- incident decisions
def _hit(wanted: Sequence[str], items: Sequence[Mapping[str, Any]]) -> bool:
    if not wanted:
        return True
    names = {str(i.get("id", "")).casefold() for i in items} | {
        str(i.get("name", "")).casefold() for i in items
    }
    return any(w.casefold() in names for w in wanted)


def incident_matches(rule: IncidentRule, record: Mapping[str, Any]) -> bool:
    return (
        (not rule.types or record.get("type") in rule.types)
        and _hit(rule.places, record.get("places", []))
        and _hit(rule.actors, record.get("actors", []))
        and int(record.get("reports", 0)) >= max(1, rule.min_reports)
    )


def grown(rule: IncidentRule, record: Mapping[str, Any], first_langs: Sequence[str]) -> bool:
    """Has the incident grown past the rule's bar since its first alert?"""
    if rule.grow_reports and int(record.get("reports", 0)) >= rule.grow_reports:
        return True
    return rule.grow_languages and bool(set(record.get("languages", [])) - set(first_langs))


def describe(record: Mapping[str, Any], grown_now: bool = False) -> str:
    """'mobilisation in Sirte, Jufra (2020-11-24): 3 reports in 3 outlets, English and Arabic'"""
    places = ", ".join(p.get("name", p.get("id", "")) for p in record.get("places", [])[:3])
    langs = [LANG_NAMES.get(x, x) for x in record.get("languages", [])]
    lang_text = " and ".join(langs) if len(langs) <= 2 else ", ".join(langs)
    n, outlets = record.get("reports", 0), len(record.get("outlets", []))
    head = f"{record.get('type', '').replace('_', ' ')} in {places or 'an unknown place'}"
    now = "now " if grown_now else ""
    return (
        f"{head} ({record.get('event_date', '')}): {now}{n} report{'s' * (n != 1)} in "
        f"{outlets} outlet{'s' * (outlets != 1)}, {lang_text or 'language unknown'}"
    )


# ---------------------------------------------------------------- surge decisions
@dataclass(frozen=True, slots=True)
class SurgeCheck:
    fire: bool
    count: int
    baseline: int  # count over the baseline period
    baseline_rate: float  # per window
    ratio: float  # count / baseline_rate (inf over a quiet baseline)


def near(rule: SurgeRule, centre: tuple[float, float], places: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        p.get("lat") is not None and km(centre[0], centre[1], p["lat"], p["lon"]) <= rule.radius_km
        for p in places
    )


def surge_check(rule: SurgeRule, times: Sequence[datetime], now: datetime) -> SurgeCheck:
    """``times``: sorted report (or incident) times near the place. Pure."""
    window = timedelta(hours=rule.window_hours)
    base_start = now - window - timedelta(days=rule.baseline_days)
    count = bisect_right(times, now) - bisect_right(times, now - window)
    base = bisect_right(times, now - window) - bisect_left(times, base_start)
    windows = rule.baseline_days * 24 / rule.window_hours
    rate = base / windows
    ratio = count / rate if rate else float("inf")
    fire = count >= rule.min_count and ratio >= rule.ratio
    return SurgeCheck(fire, count, base, rate, ratio)


def calmed_since(
    rule: SurgeRule, times: Sequence[datetime], since: datetime, now: datetime
) -> bool:
    """Did the window count drop below ``min_count`` at some moment in (since, now]?
    The count only changes at a report time or a report time plus the window."""
    window = timedelta(hours=rule.window_hours)
    moments = sorted({t for t in times if since < t <= now} | {
        t + window for t in times if since < t + window <= now} | {now})  # fmt: skip
    for m in moments:
        if bisect_right(times, m) - bisect_right(times, m - window) < rule.min_count:
            return True
    return False


def surge_message(rule: SurgeRule, place_name: str, c: SurgeCheck) -> str:
    ratio = "over a quiet baseline" if c.ratio == float("inf") else f"{c.ratio:.1f}x the baseline"
    what = ", ".join(t.replace("_", " ") for t in rule.types) or "events"
    return (
        f"Surge: {c.count} {what} {rule.count} within {rule.radius_km:g} km of {place_name} "
        f"in the last {rule.window_hours:g} h; baseline {c.baseline} in the previous "
        f"{rule.baseline_days:g} days ({c.baseline_rate:.2f} per {rule.window_hours:g} h), "
        f"{ratio}"
    )
