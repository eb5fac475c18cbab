"""State tables of the alerts: rules, alerts, their matches and the delivery outbox.

They live on the one declarative ``Base`` of :mod:`pipeline.store.tables` so the
Alembic environment sees them and ``open_store`` migrates them with the rest.
Uniqueness is enforced by the database, not by reading first: two processes
evaluating the same rule at once can both try to insert, and exactly one wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.store.tables import Base, UTCDateTime


class AlertRuleRow(Base):
    """One rule. ``checkpoint``: articles ingested before it were already evaluated.

    ``kind`` is ``query`` for a keyword rule and ``health`` for the one row that
    holds the channels of pipeline health alerts. ``origin`` says where the rule
    was defined (``file`` = alerts.yaml, ``cli`` = ``newswatch alerts add``), so a
    sync from the file never deletes a rule added from the command line.
    """

    __tablename__ = "alert_rules"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="query")
    query: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # as written (${VARS} kept)
    throttle_seconds: Mapped[int] = mapped_column(Integer, default=0)
    mode: Mapped[str] = mapped_column(String(20), default="immediate")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[str] = mapped_column(String(10), default="file")
    # Nothing ingested before starts_at is ever alerted (a new rule brings no history).
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checkpoint: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRow(Base):
    """One alert: a (rule, story) pair, raised once. Health alerts use rule ``health``."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule", "story_id", name="uq_alerts_rule_story"),
        Index("ix_alerts_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(200))
    story_id: Mapped[str] = mapped_column(String(200))
    article_id: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(10), default="match")  # match | health
    title: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    snippet: Mapped[str] = mapped_column(Text, default="")
    highlights: Mapped[list[list[int]]] = mapped_column(JSON, default=list)  # [start, end)
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    more_reports: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertMatchRow(Base):
    """Every (rule, article) match, once: later copies of a story count as more reports.

    The primary key makes the overlap window harmless: an article seen twice by
    the same rule is counted once.
    """

    __tablename__ = "alert_matches"

    rule: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    story_id: Mapped[str] = mapped_column(String(200))
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryRow(Base):
    """The outbox: one row per (alert, channel).

    ``id`` is the stable delivery id (a hash of rule, story and channel) that
    travels with the message so receivers can drop repeats. state:
    pending -> sending -> sent, or failed once ``max_attempts`` is reached.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", name="uq_deliveries_alert_channel"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alert_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(Text)  # as written in the rule (${VARS} kept)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
