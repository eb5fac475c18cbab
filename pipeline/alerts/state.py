"""Every read and write of alert state: rules, alerts, matches, the outbox.

The once-only guarantees are database constraints used as insert-if-absent
(``INSERT ... ON CONFLICT DO NOTHING``, on SQLite and PostgreSQL alike), never
"read, then write": two processes evaluating the same rule at once both try,
one wins, the other sees it lost and counts a repeat instead. Claiming an
outbox row is a conditional UPDATE (pending -> sending) whose row count tells
the claimer whether it won, so two senders never send the same row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from pipeline.alerts.rules import HEALTH_RULE, AlertsFile, HealthConfig, Rule, expand_channel
from pipeline.alerts.tables import AlertMatchRow, AlertRow, AlertRuleRow, DeliveryRow
from pipeline.errors import NewswatchError, NotFound
from pipeline.store import Store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _insert(store: Store):  # type: ignore[no-untyped-def]
    if store.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def delivery_id(rule: str, story_id: str, channel: str) -> str:
    """Stable id of one (rule, story, channel) delivery: the receivers' dedup key."""
    raw = f"{rule}\x1f{story_id}\x1f{channel}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


# ---------------------------------------------------------------- rules
def rule_from_row(row: AlertRuleRow) -> Rule:
    return Rule(
        name=row.name,
        query=row.query,
        channels=list(row.channels or []),
        languages=list(row.languages or []),
        sources=list(row.sources or []),
        throttle=row.throttle_seconds,
        mode=row.mode,
        enabled=row.enabled,
    )


def _rule_values(rule: Rule) -> dict[str, Any]:
    return {
        "query": rule.query,
        "channels": list(rule.channels),
        "languages": list(rule.languages),
        "sources": list(rule.sources),
        "throttle_seconds": rule.throttle,
        "mode": rule.mode,
    }


def sync_rules(store: Store, alerts: AlertsFile, start: datetime) -> list[str]:
    """Make the file's rules the state's file rules; return what changed (for the log).

    A rule new to the state starts its checkpoint at ``start``: the run's start
    time when the ingest run syncs (so the run that creates the rule also alerts
    on what it indexed), "now" when the CLI syncs. Rules added from the CLI are
    left alone; a file rule removed from the file is disabled, not deleted, so
    its alerts keep their history.
    """
    if alerts.missing:
        # A run from another directory (or a deleted file) must not switch off
        # every rule that came from the file: leave the state's rules alone.
        return []
    changes: list[str] = []
    now = utcnow()
    with store.session() as s:
        rows = {r.name: r for r in s.scalars(select(AlertRuleRow))}
        for rule in alerts.rules:
            row = rows.get(rule.name)
            if row is None:
                s.add(
                    AlertRuleRow(
                        name=rule.name,
                        kind="query",
                        origin="file",
                        enabled=rule.enabled,
                        checkpoint=start,
                        starts_at=start,
                        consecutive_errors=0,
                        created_at=now,
                        updated_at=now,
                        **_rule_values(rule),
                    )
                )
                changes.append(f"added {rule.name}")
                continue
            values = _rule_values(rule)
            if row.origin == "file" and any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = now
                changes.append(f"updated {rule.name}")
            if row.origin == "file" and not rule.enabled and row.enabled:
                row.enabled = False
                changes.append(f"disabled {rule.name} (enabled: false in the file)")
        names = {r.name for r in alerts.rules} | set(alerts.errors)
        for row in rows.values():
            gone = row.origin == "file" and row.kind == "query" and row.name not in names
            if gone and row.enabled:
                row.enabled = False
                row.updated_at = now
                changes.append(f"disabled {row.name} (no longer in the alerts file)")
        _sync_health(s, rows.get(HEALTH_RULE), alerts.health, now)
    return changes


def _sync_health(s: Any, row: AlertRuleRow | None, health: HealthConfig, now: datetime) -> None:
    if row is None:
        s.add(
            AlertRuleRow(
                name=HEALTH_RULE,
                kind="health",
                origin="file",
                query="",
                channels=list(health.channels),
                languages=[],
                sources=[],
                throttle_seconds=0,
                mode="immediate",
                enabled=health.enabled,
                consecutive_errors=0,
                created_at=now,
                updated_at=now,
            )
        )
    elif row.channels != health.channels or row.enabled != health.enabled:
        row.channels = list(health.channels)
        row.enabled = health.enabled
        row.updated_at = now


def add_rule(
    store: Store, rule: Rule, origin: str = "cli", backfill: bool = False, replace: bool = False
) -> AlertRuleRow:
    """Store a validated rule; its checkpoint is now (or the epoch with ``backfill``)."""
    now = utcnow()
    with store.session() as s:
        row = s.get(AlertRuleRow, rule.name)
        if row is not None and not replace:
            raise NewswatchError(
                f"a rule named {rule.name!r} already exists (use --replace to change it)"
            )
        if row is None:
            row = AlertRuleRow(name=rule.name, kind="query", consecutive_errors=0, created_at=now)
            s.add(row)
        for k, v in _rule_values(rule).items():
            setattr(row, k, v)
        row.origin = origin
        row.enabled = rule.enabled
        row.updated_at = now
        row.checkpoint = EPOCH if backfill else now
        row.starts_at = row.checkpoint
        row.evaluated_at = None
        return row


def list_rules(store: Store, kind: str | None = "query") -> list[AlertRuleRow]:
    with store.session() as s:
        q = select(AlertRuleRow).order_by(AlertRuleRow.name)
        if kind:
            q = q.where(AlertRuleRow.kind == kind)
        return list(s.scalars(q))


def get_rule(store: Store, name: str) -> AlertRuleRow:
    with store.session() as s:
        row = s.get(AlertRuleRow, name)
    if row is None:
        raise NotFound(f"no alert rule named {name!r} (see `newswatch alerts list`)")
    return row


def set_enabled(store: Store, name: str, enabled: bool) -> None:
    with store.session() as s:
        row = s.get(AlertRuleRow, name)
        if row is None or row.kind != "query":
            raise NotFound(f"no alert rule named {name!r} (see `newswatch alerts list`)")
        row.enabled = enabled
        row.updated_at = utcnow()


def rule_evaluated(store: Store, name: str, checkpoint: datetime) -> None:
    """The rule ran without error up to ``checkpoint``: advance it, clear the failure."""
    with store.session() as s:
        s.execute(
            update(AlertRuleRow)
            .where(AlertRuleRow.name == name)
            .values(
                checkpoint=checkpoint,
                evaluated_at=utcnow(),
                last_error=None,
                failing_since=None,
                consecutive_errors=0,
            )
        )


def rule_failed(store: Store, name: str, error: str) -> AlertRuleRow:
    """Record a failed evaluation; the checkpoint stays, so nothing is skipped."""
    now = utcnow()
    with store.session() as s:
        row = s.get(AlertRuleRow, name)
        if row is None:
            raise NotFound(name)
        row.last_error = error
        row.consecutive_errors = (row.consecutive_errors or 0) + 1
        if row.failing_since is None:
            row.failing_since = now
        return row


def oldest_late_ingest(store: Store, indexed_since: datetime) -> datetime | None:
    """The oldest ingest time among articles indexed since a moment.

    An article ingested long ago but indexed only now (the search backend was
    down) must still be seen by the rules: the search window opens at this time
    when it is older than the checkpoint.
    """
    from pipeline.store.tables import ArticleRow

    with store.session() as s:
        return s.scalar(
            select(func.min(ArticleRow.ingested_at)).where(ArticleRow.indexed_at >= indexed_since)
        )


# ---------------------------------------------------------------- alerts
@dataclass(slots=True)
class AlertDraft:
    """What an alert records about the article that raised it."""

    story_id: str
    article_id: str
    title: str = ""
    url: str = ""
    source: str = ""
    lang: str | None = None
    published: datetime | None = None
    snippet: str = ""
    highlights: list[list[int]] | None = None
    terms: list[str] | None = None
    events: list[str] | None = None
    entities: list[dict[str, Any]] | None = None
    kind: str = "match"


def record_match(
    store: Store,
    rule: Rule,
    draft: AlertDraft,
    due: datetime,
    env: dict[str, str] | None = None,
) -> str:
    """One (rule, article) match: ``new`` alert, ``more`` (a story's repeat) or ``seen``."""
    ref = MatchRef(draft.article_id, draft.story_id)
    return record_matches(store, rule, [ref], lambda _: draft, due, env)[0]


@dataclass(frozen=True, slots=True)
class MatchRef:
    """What recording needs to know of a matching article before drafting its alert."""

    id: str
    story_id: str


def seen_article_ids(store: Store, rule: str, ids: Sequence[str]) -> set[str]:
    """Articles this rule already matched (so they need not be loaded again)."""
    out: set[str] = set()
    with store.session() as s:
        for i in range(0, len(ids), 500):
            out.update(
                s.scalars(
                    select(AlertMatchRow.article_id).where(
                        AlertMatchRow.rule == rule,
                        AlertMatchRow.article_id.in_(list(ids[i : i + 500])),
                    )
                )
            )
    return out


def record_matches(
    store: Store,
    rule: Rule,
    refs: Sequence[Any],
    draft: Callable[[Any], AlertDraft],
    due: datetime,
    env: dict[str, str] | None = None,
) -> list[str]:
    """Record a rule's matches in one transaction; one outcome per ref, in order.

    For each article: the match row (once per article: else ``seen``), then
    the alert row (once per story: else ``more``, counted on the alert), then
    one outbox row per usable channel, due at ``due``. ``draft`` is called only
    for an article that raises a new alert (snippets cost time). Every insert
    is ON CONFLICT DO NOTHING, so a concurrent evaluator changes which outcome
    a row gets, never how many alerts exist.
    """
    insert = _insert(store)
    now = utcnow()
    outcomes: list[str] = []
    with store.session() as s:
        for ref in refs:
            story = ref.story_id or ref.id
            # RETURNING, not rowcount: the row count of an ORM insert is not reported
            # by every driver (psycopg gives -1); a returned row means "inserted".
            inserted = s.execute(
                insert(AlertMatchRow)
                .values(rule=rule.name, article_id=ref.id, story_id=story, matched_at=now)
                .on_conflict_do_nothing()
                .returning(AlertMatchRow.article_id)
            ).first()
            if inserted is None:
                outcomes.append("seen")
                continue
            alert_id = s.scalar(
                select(AlertRow.id).where(AlertRow.rule == rule.name, AlertRow.story_id == story)
            )
            created = False
            if alert_id is None:
                d = draft(ref)
                res = s.execute(
                    insert(AlertRow)
                    .values(
                        rule=rule.name,
                        story_id=story,
                        article_id=ref.id,
                        kind=d.kind,
                        title=d.title,
                        url=d.url,
                        source=d.source,
                        lang=d.lang,
                        published=d.published,
                        snippet=d.snippet,
                        highlights=d.highlights or [],
                        terms=d.terms or [],
                        events=d.events or [],
                        entities=d.entities or [],
                        more_reports=0,
                        created_at=now,
                    )
                    .on_conflict_do_nothing()
                    .returning(AlertRow.id)
                ).first()
                created = res is not None
                alert_id = (
                    res[0]
                    if res is not None
                    else s.scalar(
                        select(AlertRow.id).where(
                            AlertRow.rule == rule.name, AlertRow.story_id == story
                        )
                    )
                )
            s.execute(
                update(AlertMatchRow)
                .where(AlertMatchRow.rule == rule.name, AlertMatchRow.article_id == ref.id)
                .values(alert_id=alert_id)
            )
            if created:
                _add_deliveries(s, insert, rule, story, alert_id, due, env, now)
                outcomes.append("new")
            else:
                s.execute(
                    update(AlertRow)
                    .where(AlertRow.id == alert_id)
                    .values(more_reports=AlertRow.more_reports + 1)
                )
                outcomes.append("more")
    return outcomes


def _add_deliveries(
    s: Any,
    insert: Any,
    rule: Rule,
    story_id: str,
    alert_id: int,
    due: datetime,
    env: dict[str, str] | None,
    now: datetime,
) -> None:
    for channel in rule.channels:
        if expand_channel(channel, env) is None:
            continue  # an unset ${VAR}: this channel is off (noted when the rules load)
        s.execute(
            insert(DeliveryRow)
            .values(
                id=delivery_id(rule.name, story_id, channel),
                alert_id=alert_id,
                rule=rule.name,
                channel=channel,
                state="pending",
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )


def alert_rows(store: Store, ids: Iterable[int]) -> dict[int, AlertRow]:
    ids = list(ids)
    if not ids:
        return {}
    with store.session() as s:
        return {r.id: r for r in s.scalars(select(AlertRow).where(AlertRow.id.in_(ids)))}


def history(
    store: Store, rule: str | None = None, limit: int = 100, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The newest alerts first, each with its deliveries' states (``alerts history --json``)."""
    with store.session() as s:
        q = select(AlertRow).order_by(AlertRow.created_at.desc(), AlertRow.id.desc())
        if rule:
            q = q.where(AlertRow.rule == rule)
        if since:
            q = q.where(AlertRow.created_at >= since)
        alerts = list(s.scalars(q.limit(limit)))
        deliveries: dict[int, list[DeliveryRow]] = {}
        if alerts:
            for d in s.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.alert_id.in_([a.id for a in alerts]))
                .order_by(DeliveryRow.channel)
            ):
                deliveries.setdefault(d.alert_id, []).append(d)
    return [alert_record(a, deliveries.get(a.id, [])) for a in alerts]


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def alert_record(a: AlertRow, deliveries: Sequence[DeliveryRow]) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule": a.rule,
        "kind": a.kind,
        "article_id": a.article_id,
        "story_id": a.story_id,
        "title": a.title,
        "url": a.url,
        "source": a.source,
        "lang": a.lang,
        "published": _iso(a.published),
        "created_at": _iso(a.created_at),
        "more_reports": a.more_reports,
        "events": list(a.events or []),
        "entities": list(a.entities or []),
        "snippet": a.snippet,
        "deliveries": [
            {
                "id": d.id,
                "channel": redact_channel(d.channel),
                "state": d.state,
                "attempts": d.attempts,
                "next_attempt_at": _iso(d.next_attempt_at) if d.state == "pending" else None,
                "sent_at": _iso(d.sent_at),
                "last_error": d.last_error,
            }
            for d in deliveries
        ],
    }


def redact_channel(channel: str) -> str:
    """A channel as shown to users: ``${VARS}`` as written, passwords never shown."""
    if "://" not in channel or "${" in channel:
        return channel
    scheme, rest = channel.split("://", 1)
    if "@" in rest.split("/", 1)[0]:
        creds, host = rest.split("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else channel
    return channel


# ---------------------------------------------------------------- outbox
def release_stale_claims(store: Store, lease: timedelta) -> int:
    """Rows left ``sending`` longer than the lease: the sender died mid-send.

    Whether the message left is unknown; they go back to pending and are sent
    again (at-least-once), with the same delivery id so receivers drop repeats.
    """
    cutoff = utcnow() - lease
    with store.session() as s:
        res = s.execute(
            update(DeliveryRow)
            .where(DeliveryRow.state == "sending", DeliveryRow.claimed_at < cutoff)
            .values(
                state="pending",
                last_error="outcome unknown: the sender stopped while sending; sent again",
            )
        )
        return res.rowcount or 0


def due_deliveries(store: Store, now: datetime, limit: int = 1000) -> list[DeliveryRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.state == "pending", DeliveryRow.next_attempt_at <= now)
                .order_by(DeliveryRow.next_attempt_at, DeliveryRow.created_at, DeliveryRow.id)
                .limit(limit)
            )
        )


def claim(store: Store, ids: Sequence[str]) -> list[str]:
    """pending -> sending, row by row; return the ids this process won."""
    won: list[str] = []
    now = utcnow()
    with store.session() as s:
        for did in ids:
            got = s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == did, DeliveryRow.state == "pending")
                .values(state="sending", claimed_at=now, attempts=DeliveryRow.attempts + 1)
                .returning(DeliveryRow.id)
            ).first()
            if got is not None:
                won.append(did)
    return won


def mark_sent(store: Store, ids: Sequence[str], rule: str) -> None:
    now = utcnow()
    with store.session() as s:
        s.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(list(ids)))
            .values(state="sent", sent_at=now, last_error=None)
        )
        s.execute(update(AlertRuleRow).where(AlertRuleRow.name == rule).values(last_sent_at=now))


def mark_retry(
    store: Store, ids: Sequence[str], error: str, next_at: datetime, give_up: bool
) -> None:
    with store.session() as s:
        s.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(list(ids)))
            .values(
                state="failed" if give_up else "pending",
                next_attempt_at=next_at,
                last_error=error[:2000],
            )
        )


def postpone(store: Store, ids: Sequence[str], until: datetime) -> None:
    with store.session() as s:
        s.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(list(ids)), DeliveryRow.state == "pending")
            .values(next_attempt_at=until)
        )


def retry_failed(store: Store) -> int:
    """``alerts deliver --retry-failed``: give failed deliveries another round."""
    with store.session() as s:
        res = s.execute(
            update(DeliveryRow)
            .where(DeliveryRow.state == "failed")
            .values(state="pending", attempts=0, next_attempt_at=utcnow())
        )
        return res.rowcount or 0


def delivery_counts(store: Store) -> dict[str, int]:
    with store.session() as s:
        rows = s.execute(select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state))
        return {state: n for state, n in rows}


def sent_counts_since(store: Store, since: datetime) -> int:
    with store.session() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .where(DeliveryRow.state == "sent", DeliveryRow.sent_at >= since)
            )
            or 0
        )


def delete_rule(store: Store, name: str) -> None:
    with store.session() as s:
        s.execute(delete(AlertRuleRow).where(AlertRuleRow.name == name))
