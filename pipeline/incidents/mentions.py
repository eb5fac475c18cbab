"""Stored article records -> event mentions the linker takes.

Only reported events count (``reported: false`` is recalled background and
never makes an incident). A mention needs at least one place with coordinates:
without one there is no area to look candidates up in, and an incident
without a place cannot be mapped or exported the way conflict monitors do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

# A report that says "yesterday" dates the event the day before publication.
_YESTERDAY = re.compile(
    r"\byesterday\b|\blast night\b|(?:^|\s)(?:أمس|امس|الليلة الماضية)(?:\s|$|[.,،])", re.I
)


ACTOR_TYPES = frozenset({"armed_group", "foreign_actor", "org"})
NAMED_TYPES = ACTOR_TYPES | {"person"}


@dataclass(frozen=True, slots=True)
class Place:
    id: str
    name: str
    lat: float
    lon: float
    country: str | None = None


@dataclass(slots=True)
class MentionIn:
    """One reported event mention of one article: what the linker needs."""

    key: str  # article_id:type, stable across re-runs
    article_id: str
    type: str
    day: int  # event date as a proleptic ordinal (date.toordinal)
    date_provenance: str  # "published" | "published, 'yesterday'" | "fetched"
    places: list[Place]
    actors: list[str]  # the event's actors (shown and exported)
    named: list[str] = field(default_factory=list)  # every actor the article names
    lang: str | None = None
    source: str = ""
    published: datetime | None = None
    confidence: float = 0.0
    evidence: str = ""
    position: str = "body"
    url: str = ""
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def event_date(self) -> date:
        return date.fromordinal(self.day)


def event_day(
    published: datetime | None, fetched: datetime | None, evidence: str
) -> tuple[int, str]:
    """The event date (ordinal) and where it came from."""
    base, how = (published, "published") if published else (fetched, "fetched")
    if base is None:
        base, how = datetime(1970, 1, 1, tzinfo=UTC), "unknown"
    day = base.astimezone(UTC).date()
    if evidence and _YESTERDAY.search(evidence):
        return (day - timedelta(days=1)).toordinal(), f"{how}, 'yesterday'"
    return day.toordinal(), how


def mentions_of(record: Mapping[str, Any]) -> list[MentionIn]:
    """The reported event mentions of one article record (``Article.record()`` shape,
    or a row with the same fields). Deterministic: same record, same mentions."""
    entities = {e["id"]: e for e in record.get("entities") or [] if isinstance(e, Mapping)}
    placed = [
        Place(e["id"], e.get("name", e["id"]), float(e["lat"]), float(e["lon"]), e.get("country"))
        for e in entities.values()
        if e.get("type") == "place" and e.get("lat") is not None and e.get("lon") is not None
    ]
    by_id = {p.id: p for p in placed}
    # When the tagger tied no actor to the event, the article's armed actors stand in:
    # they keep two same-place, same-day reports by different forces apart.
    article_actors = {e["id"] for e in entities.values() if e.get("type") in ACTOR_TYPES}
    # Who the article names at all: what actor compatibility is judged on, since
    # two reports of one event often tie different names to the trigger sentence.
    named = {e["id"] for e in entities.values() if e.get("type") in NAMED_TYPES}
    published = _dt(record.get("published"))
    fetched = _dt(record.get("fetched_at"))
    out: list[MentionIn] = []
    seen: set[str] = set()
    for ev in record.get("events") or []:
        if not ev.get("reported", True) or ev.get("type") in seen:
            continue
        places = [by_id[p] for p in ev.get("places") or [] if p in by_id]
        if not places:  # the article's own places, when few enough to be the event's
            places = placed if 0 < len(placed) <= 2 else []
        if not places:
            continue
        seen.add(ev["type"])
        day, how = event_day(published, fetched, ev.get("evidence", ""))
        out.append(
            MentionIn(
                key=f"{record['id']}:{ev['type']}",
                article_id=record["id"],
                type=ev["type"],
                day=day,
                date_provenance=how,
                places=sorted(places, key=lambda p: p.id),
                actors=sorted(set(ev.get("actors") or []) or article_actors),
                named=sorted(named | set(ev.get("actors") or [])),
                lang=record.get("lang"),
                source=record.get("source", ""),
                published=published,
                confidence=float(ev.get("confidence", 0.0)),
                evidence=ev.get("evidence", ""),
                position=ev.get("position", "body"),
                url=record.get("canonical_url") or record.get("url", ""),
                title=record.get("title", ""),
                extra={
                    "actor_names": {
                        a: entities[a].get("name", a)
                        for a in (ev.get("actors") or article_actors)
                        if a in entities
                    }
                },
            )
        )
    return out


def order(mentions: Iterable[MentionIn]) -> list[MentionIn]:
    """The canonical linking order: event day, publication, key. Linking the same
    mentions in this order always gives the same incidents and ids."""
    far = datetime(9999, 1, 1, tzinfo=UTC)
    return sorted(mentions, key=lambda m: (m.day, m.published or far, m.key))


def _dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
