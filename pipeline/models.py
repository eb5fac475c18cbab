"""Typed records passed between the stages.

Stages take and return these plain dataclasses; nothing here does I/O.
Datetimes are always timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

DateSource = Literal["page", "feed", "url", "none"]

EVENT_TYPES: tuple[str, ...] = (
    "mobilisation",
    "armed_clash",
    "airstrike",
    "shelling",
    "explosion",
    "territory_change",
    "ceasefire_agreement",
    "ceasefire_violation",
    "political_dialogue",
    "protest",
    "violence_against_civilians",
    "arrest_detention",
    "foreign_forces",
    "oil_blockade",
)

ENTITY_TYPES: tuple[str, ...] = ("person", "org", "armed_group", "foreign_actor", "place")


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One configured feed (a row of feeds.yaml)."""

    name: str
    url: str
    lang: str | None = None
    interval: int = 600  # seconds between polls


@dataclass(slots=True)
class FeedItem:
    """One entry of a feed, before its page is fetched."""

    feed: str
    guid: str
    link: str
    title: str = ""
    summary: str = ""
    published: datetime | None = None
    lang: str | None = None

    @property
    def item_id(self) -> str:
        from pipeline.dedup import item_id

        return item_id(self.feed, self.guid or self.link)


@dataclass(slots=True)
class Page:
    """The raw answer for one article URL."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime


@dataclass(slots=True)
class Mention:
    text: str
    start: int
    end: int


@dataclass(slots=True)
class Entity:
    """A gazetteer entity found in an article.

    ``country`` (ISO 3166 alpha-2) is set for places: a place outside Libya
    keeps its own country and id (``tripoli_lb``), never a Libyan one.
    """

    id: str
    name: str
    type: str
    lat: float | None = None
    lon: float | None = None
    mentions: list[Mention] = field(default_factory=list)
    country: str | None = None

    def record(self) -> dict[str, Any]:
        """The stored/exported form: no mentions, coordinates only when known."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.lat is not None and self.lon is not None:
            out["lat"] = self.lat
            out["lon"] = self.lon
        if self.country:
            out["country"] = self.country
        return out


EVENT_POSITIONS: tuple[str, ...] = ("headline", "lead", "body", "background")


@dataclass(slots=True)
class Event:
    """An event type in an article (or one mention of it).

    ``reported`` is False for an event the article only recalls (a background
    paragraph: last year's offensive, a ceasefire signed in 2020); such events
    are context, and search, ``event:`` filters and alerts ignore them.
    ``position`` says where the (best) mention stands: headline, lead, body or
    background.
    """

    type: str
    confidence: float
    evidence: str
    actors: list[str] = field(default_factory=list)  # entity ids
    places: list[str] = field(default_factory=list)  # entity ids
    position: str = "body"
    reported: bool = True

    def record(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "confidence": round(self.confidence, 3),
            "evidence": self.evidence,
            "actors": list(self.actors),
            "places": list(self.places),
            "position": self.position,
            "reported": self.reported,
        }


@dataclass(slots=True)
class Article:
    """One extracted article: the unit that is stored, indexed and alerted on."""

    id: str
    url: str
    canonical_url: str
    source: str
    title: str
    text: str
    lang: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    date_source: DateSource = "none"
    fetched_at: datetime | None = None
    summary: str = ""
    extraction_method: str = ""
    content_hash: str = ""
    story_id: str = ""
    events: list[Event] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The article record of DESIGN.md ("Interfaces others rely on")."""
        return {
            "id": self.id,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "source": self.source,
            "lang": self.lang,
            "title": self.title,
            "authors": list(self.authors),
            "published": self.published.isoformat() if self.published else None,
            "date_source": self.date_source,
            "fetched_at": self.fetched_at.isoformat() if self.fetched_at else None,
            "text": self.text,
            "summary": self.summary,
            "extraction_method": self.extraction_method,
            "content_hash": self.content_hash,
            "story_id": self.story_id,
            "events": [e.record() for e in self.events],
            "entities": [e.record() for e in self.entities],
        }


@dataclass(slots=True)
class Failure:
    """A thing that did not make it through a stage, and why."""

    stage: str  # feeds | fetch | extract | dedup | enrich | index
    reason: str  # short machine-friendly key, e.g. "http_404", "too_large", "refused_address"
    detail: str = ""  # a sentence a user can act on
    url: str = ""


def to_plain(obj: Any) -> Any:
    """Dataclass -> JSON-friendly dict (datetimes as ISO strings)."""
    if hasattr(obj, "__dataclass_fields__"):
        obj = asdict(obj)
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj
