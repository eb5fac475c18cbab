"""The outbox: send due deliveries, record the outcome, retry with backoff.

One row per (alert, channel). A send goes: claim the row (pending ->
sending, committed), send, record (sent, or pending again with a later
``next_attempt_at``). What that guarantees, and where it stops, is in
docs/alerts.md: nothing is lost (a row leaves the outbox only as ``sent`` or,
after ``max_attempts``, ``failed``), and a message is sent again only when
the sender died between sending and recording — then with the same delivery
id, so a receiver that keeps ids drops the repeat.

Grouping: due rows of one (rule, channel) are one message when the rule is a
digest, or when a throttled rule has several waiting; otherwise each alert is
its own message. A throttled rule's rows wait until the throttle allows the
next send on that channel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import func, select

from pipeline.alerts import state
from pipeline.alerts.channels import SendResult, send
from pipeline.alerts.messages import MessageItem, build_message
from pipeline.alerts.rules import channel_variables, expand_channel
from pipeline.alerts.settings import AlertSettings
from pipeline.alerts.tables import AlertRow, AlertRuleRow, DeliveryRow
from pipeline.store import Store


@dataclass(slots=True)
class DeliverReport:
    sent: int = 0  # deliveries recorded as sent
    messages: int = 0  # messages handed to channels successfully
    retrying: int = 0
    failed: int = 0  # gave up after max_attempts
    postponed: int = 0  # held back by a throttle
    released: int = 0  # stale "sending" rows returned to pending
    errors: list[dict[str, str]] = field(default_factory=list)


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential: base, 2*base, 4*base, ... never more than cap."""
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


def throttle_until(last_sent: datetime | None, throttle: int, now: datetime) -> datetime | None:
    """When a throttled rule may send again on a channel; None if it may send now."""
    if not throttle or last_sent is None:
        return None
    ready = last_sent + timedelta(seconds=throttle)
    return ready if ready > now else None


def batches(rows: list[DeliveryRow], mode: str, throttle: int) -> list[list[DeliveryRow]]:
    """Split one (rule, channel) group into messages."""
    if mode.startswith("digest") or (throttle and len(rows) > 1):
        return [rows]
    return [[r] for r in rows]


def item_from(alert: AlertRow, delivery: DeliveryRow) -> MessageItem:
    return MessageItem(
        title=alert.title,
        url=alert.url,
        source=alert.source,
        published=alert.published,
        snippet=alert.snippet,
        highlights=list(alert.highlights or []),
        events=list(alert.events or []),
        entities=list(alert.entities or []),
        more_reports=alert.more_reports,
        delivery_id=delivery.id,
        story_id=alert.story_id,
        article_id=alert.article_id,
        lang=alert.lang,
        kind=alert.kind,
    )


def _last_sent(store: Store, rule: str, channel: str) -> datetime | None:
    with store.session() as s:
        return s.scalar(
            select(func.max(DeliveryRow.sent_at)).where(
                DeliveryRow.rule == rule, DeliveryRow.channel == channel
            )
        )


def _rules(store: Store, names: set[str]) -> dict[str, AlertRuleRow]:
    with store.session() as s:
        return {
            r.name: r for r in s.scalars(select(AlertRuleRow).where(AlertRuleRow.name.in_(names)))
        }


def deliver_due(
    store: Store,
    data_dir: Path,
    cfg: AlertSettings,
    now: datetime | None = None,
    sender: Callable[[str, object, Path, bool], SendResult] | None = None,
) -> DeliverReport:
    """Send every due delivery once; leave failures pending with a later retry time."""
    sender = sender or partial(send, timeout=cfg.send_timeout)
    report = DeliverReport()
    report.released = state.release_stale_claims(store, timedelta(seconds=cfg.sending_lease))
    now = now or state.utcnow()
    due = state.due_deliveries(store, now)
    if not due:
        return report
    groups: dict[tuple[str, str], list[DeliveryRow]] = defaultdict(list)
    for row in due:
        groups[(row.rule, row.channel)].append(row)
    rules = _rules(store, {r for r, _ in groups})
    alerts = state.alert_rows(store, {row.alert_id for row in due})
    for (rule_name, channel), rows in groups.items():
        rule = rules.get(rule_name)
        mode = rule.mode if rule else "immediate"
        throttle = rule.throttle_seconds if rule else 0
        wait = throttle_until(_last_sent(store, rule_name, channel), throttle, now)
        if wait is not None:
            state.postpone(store, [r.id for r in rows], wait)
            report.postponed += len(rows)
            continue
        for batch in batches(rows, mode, throttle):
            _send_batch(store, data_dir, cfg, rule_name, channel, batch, alerts, sender, report)
    return report


def _send_batch(
    store: Store,
    data_dir: Path,
    cfg: AlertSettings,
    rule_name: str,
    channel: str,
    batch: list[DeliveryRow],
    alerts: dict[int, AlertRow],
    sender: Callable[[str, object, Path, bool], SendResult],
    report: DeliverReport,
) -> None:
    won = set(state.claim(store, [r.id for r in batch]))
    batch = [r for r in batch if r.id in won]  # another process may have taken some
    if not batch:
        return
    attempts = max(r.attempts for r in batch) + 1
    url = expand_channel(channel)
    if url is None:
        result = SendResult(
            False, f"channel variable(s) {', '.join(channel_variables(channel))} not set"
        )
    else:
        items = [item_from(alerts[r.alert_id], r) for r in batch]
        message = build_message(rule_name, items, digest=len(items) > 1)
        maybe_sent = any(r.attempts > 0 for r in batch)
        result = sender(url, message, data_dir, maybe_sent)
    ids = [r.id for r in batch]
    if result.ok:
        state.mark_sent(store, ids, rule_name)
        report.sent += len(ids)
        report.messages += 1
        return
    give_up = attempts >= cfg.max_attempts
    next_at = state.utcnow() + backoff(attempts, cfg.retry_backoff, cfg.retry_max_backoff)
    state.mark_retry(store, ids, result.error, next_at, give_up)
    if give_up:
        report.failed += len(ids)
    else:
        report.retrying += len(ids)
    report.errors.append(
        {
            "rule": rule_name,
            "channel": state.redact_channel(channel),
            "error": result.error,
            "deliveries": ",".join(ids),
        }
    )
