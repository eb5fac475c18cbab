"""The SearchBackend protocol and the records that cross it.

``run.py`` and the CLI only see this protocol; ``open_backend`` picks the
implementation from the settings, so a third backend is one new module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pipeline.config import Settings


@dataclass(slots=True)
class SearchDoc:
    """What a backend indexes for one article (built by ``search.docs.doc_from_article``)."""

    id: str
    title: str
    text: str
    title_norm: str  # textnorm.normalise_for_search(title)
    text_norm: str  # textnorm.normalise_for_search(text)
    url: str
    source: str
    lang: str | None
    published: datetime | None
    ingested_at: datetime
    story_id: str
    summary: str = ""
    events: list[str] = field(default_factory=list)  # event type ids
    entities: list[str] = field(default_factory=list)  # every entity id
    persons: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)  # person + armed_group + foreign_actor ids
    places: list[str] = field(default_factory=list)
    entity_records: list[dict[str, Any]] = field(default_factory=list)  # as in the article record
    geo: list[tuple[float, float]] = field(default_factory=list)  # (lat, lon) of places


@dataclass(slots=True)
class SearchRequest:
    query: str = ""  # Lucene query-string syntax; empty = everything
    since: datetime | None = None  # on published
    until: datetime | None = None
    sources: list[str] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    ingested_since: datetime | None = None  # for alert checkpoints
    sort: Literal["relevance", "date"] = "relevance"
    limit: int = 20
    offset: int = 0
    cursor: str | None = None  # opaque, from SearchResult.next_cursor (deep paging)
    collapse: bool = False  # one hit per story_id
    facets: bool = False


@dataclass(slots=True)
class SearchHit:
    id: str
    title: str
    url: str
    source: str
    lang: str | None
    published: datetime | None
    score: float
    snippet: str
    story_id: str
    events: list[str] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    collapsed: int = 0  # other reports of the same story hidden by collapse

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "lang": self.lang,
            "published": self.published.isoformat() if self.published else None,
            "score": round(self.score, 4),
            "snippet": self.snippet,
            "story_id": self.story_id,
            "events": list(self.events),
            "entities": list(self.entities),
        }


@dataclass(slots=True)
class SearchResult:
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    next_cursor: str | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"total": self.total, "hits": [h.record() for h in self.hits]}
        if self.facets:
            out["facets"] = {k: [[v, n] for v, n in vs] for k, vs in self.facets.items()}
        if self.next_cursor:
            out["next_cursor"] = self.next_cursor
        return out


@dataclass(slots=True)
class IndexReport:
    indexed: list[str] = field(default_factory=list)  # ids the backend confirmed
    errors: dict[str, str] = field(default_factory=dict)  # id -> reason


@runtime_checkable
class SearchBackend(Protocol):
    name: str

    def ensure_ready(self) -> None:
        """Create tables / index template / alias if missing. Raises BackendUnavailable."""

    def upsert(self, docs: Iterable[SearchDoc]) -> IndexReport:
        """Insert or replace by id; only confirmed ids count as indexed."""

    def delete(self, ids: Iterable[str]) -> None: ...

    def search(self, request: SearchRequest) -> SearchResult: ...

    def iter_ids(self, request: SearchRequest) -> Iterator[str]:
        """Every matching id (no limit), for export and alerts."""

    def count(self) -> int: ...

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Build a fresh index from state and switch to it with no empty moment."""

    def close(self) -> None: ...


def open_backend(settings: Settings, build: bool = True) -> SearchBackend:
    """The backend the settings name, built from state on its first start.

    Imported lazily, so one backend needs no other's client. ``build``: an
    embedded index this call had to create (the first start with a new
    default, or an index of an older layout) is filled from state at once,
    with a progress bar on stderr (:mod:`pipeline.search.autobuild`).
    """
    backend = _construct(settings)
    if build and getattr(backend, "created", False):
        from pipeline.search.autobuild import build_from_state

        build_from_state(settings, backend)
    return backend


def _construct(settings: Settings) -> SearchBackend:
    if settings.search_backend == "elasticsearch":
        from pipeline.search.elastic import ElasticsearchBackend

        return ElasticsearchBackend(settings)
    if settings.search_backend == "sqlite":
        from pipeline.search.sqlite import SqliteBackend

        return SqliteBackend(settings.search_db_path, timeout=settings.search_timeout)
    from pipeline.search.tantivy import TantivyBackend

    return TantivyBackend(
        settings.search_index_dir,
        timeout=settings.search_timeout,
        lock_timeout=settings.index_lock_timeout,
    )
