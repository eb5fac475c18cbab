"""SQLAlchemy 2 table models. One row per feed, feed item, raw page, article, run.

Timestamps are stored as timezone-aware UTC (``UTCDateTime`` re-attaches the
zone SQLite drops), lists and objects as JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class FeedRow(Base):
    __tablename__ = "feeds"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    last_http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_warning: Mapped[str | None] = mapped_column(Text, nullable=True)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_new_item_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)


class ItemRow(Base):
    """A feed entry. status: pending -> done | duplicate | failed (failed for good).

    ``lease_owner`` / ``lease_until``: the process fetching it now (see
    :meth:`pipeline.store.db.Store.claim_items`); cleared when it is marked.
    """

    __tablename__ = "items"
    __table_args__ = (Index("ix_items_status", "status"), Index("ix_items_feed", "feed"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    feed: Mapped[str] = mapped_column(String(200))
    guid: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(60), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    article_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PageRow(Base):
    """The raw page bytes (zlib), kept so extraction can be re-run; pruned by age."""

    __tablename__ = "pages"

    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ArticleRow(Base):
    """One article. index_state: pending until the search backend confirms it."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_index_state", "index_state"),
        Index("ix_articles_content_hash", "content_hash"),
        Index("ix_articles_ingested_at", "ingested_at"),
        Index("ix_articles_published", "published"),
        Index("ix_articles_story", "story_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    title: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    date_source: Mapped[str] = mapped_column(String(10), default="none")
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    extraction_method: Mapped[str] = mapped_column(String(40), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    story_id: Mapped[str] = mapped_column(String(32), default="")
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    enriched: Mapped[bool] = mapped_column(Boolean, default=False)
    index_state: Mapped[str] = mapped_column(String(10), default="pending")
    index_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    indexed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RunStatRow(Base):
    """Counts one stage (or one mapped task) added to a run; summed by finish_run.

    Append-only, so parallel Airflow tasks never contend on one summary row.
    """

    __tablename__ = "run_stats"
    __table_args__ = (Index("ix_run_stats_run", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seconds: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------- incidents
class IncidentRow(Base):
    """One real-world event (docs/incidents.md). ``merged_into`` is set when a
    report joined it to an older incident; the row stays so old ids resolve.
    ``record`` holds places (with coordinates), actors, outlets, languages and
    the strongest evidence, as shown and exported."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_last_report", "last_report"),
        Index("ix_incidents_type_day", "type", "first_day"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    first_day: Mapped[int] = mapped_column(Integer)  # event date, proleptic ordinal
    last_day: Mapped[int] = mapped_column(Integer)
    first_report: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_report: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    merged_into: Mapped[str | None] = mapped_column(String(40), nullable=True)
    index_state: Mapped[str] = mapped_column(String(10), default="pending")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentReportRow(Base):
    """One event mention linked to an incident (key: ``article_id:type``)."""

    __tablename__ = "incident_reports"
    __table_args__ = (
        Index("ix_incident_reports_incident", "incident_id"),
        Index("ix_incident_reports_article", "article_id"),
        Index("ix_incident_reports_linked", "linked_at"),
    )

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(40))
    article_id: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentKeyRow(Base):
    """The candidate lookup index: (type, grid cell, day) -> incident."""

    __tablename__ = "incident_keys"

    type: Mapped[str] = mapped_column(String(40), primary_key=True)
    cell: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(40), primary_key=True)


class IncidentChangeRow(Base):
    """A recorded merge or split."""

    __tablename__ = "incident_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    incident_id: Mapped[str] = mapped_column(String(40))
    other_id: Mapped[str] = mapped_column(String(40))
    mention: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentArticleRow(Base):
    """An article the incidents stage has read (linked or not): never read twice."""

    __tablename__ = "incident_articles"

    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mentions: Mapped[int] = mapped_column(Integer, default=0)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
