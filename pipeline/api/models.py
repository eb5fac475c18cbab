"""Response bodies of the API, so the OpenAPI document says what each route returns.

Field names follow DESIGN.md (``search --json`` hits, the article record), so
a program that reads the CLI's JSON reads the API's too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every error: a message for people, and where a query breaks when it does."""

    detail: str
    position: int | None = Field(None, description="0-based offset in the query, if known")
    query: str | None = None


class EntityRef(BaseModel):
    id: str
    name: str
    type: str
    lat: float | None = None
    lon: float | None = None
    country: str | None = None  # places: ISO 3166 alpha-2 (a foreign namesake keeps its own)


class Hit(BaseModel):
    id: str
    title: str
    url: str
    source: str
    lang: str | None
    published: str | None = Field(description="ISO 8601")
    score: float
    snippet: str = Field(description="HTML-escaped text; matches wrapped in <mark>")
    story_id: str
    events: list[str]
    entities: list[EntityRef]
    collapsed: int = Field(0, description="other reports of this story hidden by collapse")


class FacetValue(BaseModel):
    value: str
    count: int
    name: str | None = Field(None, description="display name (entities, places)")
    lat: float | None = None
    lon: float | None = None


class Facets(BaseModel):
    sources: list[FacetValue] = []
    languages: list[FacetValue] = []
    events: list[FacetValue] = []
    places: list[FacetValue] = []
    entities: list[FacetValue] = []
    days: list[FacetValue] = Field([], description="articles per publication day, by date")


class HistogramBin(BaseModel):
    start: str = Field(description="first day in the bucket (YYYY-MM-DD)")
    end: str = Field(description="first day after the bucket (use as until=)")
    count: int
    label: str = Field(description="YYYY-MM-DD (day, or a week's Monday), YYYY-MM or YYYY")


class Histogram(BaseModel):
    """Articles over time on a real axis: every bucket of the range, empty ones with 0."""

    bucket: str = Field(description="day, week, month or year: chosen from the range")
    bins: list[HistogramBin]


class SearchResponse(BaseModel):
    total: int = Field(description="matching articles (stories when collapsed)")
    articles: int | None = Field(None, description="matching articles, also when collapsed")
    stories: int | None = Field(None, description="matching stories (collapsed searches)")
    hits: list[Hit]
    facets: Facets | None = None
    histogram: Histogram | None = Field(None, description="with facets: articles over time")
    warnings: list[str] = Field(
        [], description="e.g. a place or name the gazetteer does not know (likely no match)"
    )
    next_cursor: str | None = Field(None, description="pass as cursor= for the next page")


class Event(BaseModel):
    type: str
    confidence: float
    evidence: str
    actors: list[str] | None = None
    places: list[str] | None = None
    position: str | None = None  # headline | lead | body | background
    reported: bool | None = None  # False: an event the article only recalls


class ArticleRecord(BaseModel):
    """The article record of DESIGN.md (as ``export`` and ``show --json``)."""

    id: str
    url: str
    canonical_url: str
    source: str
    lang: str | None
    title: str
    authors: list[str]
    published: str | None
    date_source: str
    fetched_at: str | None
    text: str
    summary: str | None
    extraction_method: str | None
    content_hash: str | None
    story_id: str | None
    events: list[Event]
    entities: list[EntityRef]


class RunInfo(BaseModel):
    run_id: str
    started_at: str | None
    finished_at: str | None
    status: str | None
    summary: dict[str, Any]


class FeedState(BaseModel):
    name: str
    url: str
    lang: str | None
    last_status: str | None
    last_http_status: int | None
    last_error: str | None
    last_warning: str | None
    consecutive_errors: int
    last_polled_at: str | None
    last_success_at: str | None
    last_new_item_at: str | None
    items_seen: int


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when the search backend is unreachable")
    backend: str
    backend_ok: bool
    articles: int
    pending_index: int
    outbox_backlog: int | None = Field(None, description="deliveries waiting or retrying")
    feeds_total: int = Field(0, description="configured feeds")
    feeds_failing: int = Field(0, description="feeds whose last poll failed")
    details: bool = Field(
        True, description="false without a read key: last_run and feeds are left out"
    )
    last_run: RunInfo | None = None
    feeds: list[FeedState] | None = None
