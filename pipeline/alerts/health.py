"""Pipeline health alerts: failing feeds, silent feeds, failed runs, failing rules.

The decisions are pure functions over plain values (feed status, run status,
rule status); ``health_alerts`` reads state, asks them, and records each
finding as an alert of the ``health`` rule, through the same outbox and
channels as keyword alerts. Each finding has a key that is stable for one
episode (a feed's failure streak, a run, a rule's failure streak), so the
same episode alerts once however many runs see it, and a new episode alerts
again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

from sqlalchemy import select

from pipeline.alerts import state
from pipeline.alerts.rules import HEALTH_RULE, HealthConfig, Rule
from pipeline.store import Store
from pipeline.store.tables import FeedRow, ItemRow, RunRow


@dataclass(frozen=True, slots=True)
class Finding:
    key: str  # stable for one episode: the alert's story id
    title: str
    detail: str


def _iso(dt: datetime | None) -> str:
    return dt.isoformat() if dt else "never"


def failing_feeds(feeds: list[FeedRow], runs_in_a_row: int) -> list[Finding]:
    out = []
    for f in feeds:
        if (f.consecutive_errors or 0) >= runs_in_a_row:
            out.append(
                Finding(
                    key=f"feed_failing:{f.name}:{_iso(f.last_success_at)}",
                    title=f"Feed {f.name} failed {f.consecutive_errors} polls in a row",
                    detail=(
                        f"{f.url} — last error: {f.last_error or 'unknown'}; "
                        f"last success: {_iso(f.last_success_at)}"
                    ),
                )
            )
    return out


def usual_gap(arrivals: list[datetime]) -> timedelta | None:
    """The median time between polls that brought new items (None: too little history)."""
    times = sorted({a.replace(second=0, microsecond=0) for a in arrivals})
    if len(times) < 4:
        return None
    return median(b - a for a, b in pairwise(times))


def silent_feeds(
    feeds: list[FeedRow],
    gaps: dict[str, timedelta | None],
    now: datetime,
    factor: float,
    min_silence: timedelta,
) -> list[Finding]:
    """Feeds that answer but bring nothing new for much longer than they usually do."""
    out = []
    for f in feeds:
        if f.last_new_item_at is None or (f.consecutive_errors or 0) > 0:
            continue  # never had items, or failing (reported as failing instead)
        gap = gaps.get(f.name)
        limit = max(min_silence, gap * factor) if gap else min_silence
        silent_for = now - f.last_new_item_at
        if silent_for > limit:
            hours = silent_for.total_seconds() / 3600
            out.append(
                Finding(
                    key=f"feed_silent:{f.name}:{_iso(f.last_new_item_at)}",
                    title=f"Feed {f.name} has had nothing new for {hours:.0f} hours",
                    detail=(
                        f"{f.url} — last new item {_iso(f.last_new_item_at)}; "
                        f"usually every {gap or 'unknown'}"
                    ),
                )
            )
    return out


def failed_runs(runs: list[RunRow]) -> list[Finding]:
    return [
        Finding(
            key=f"run_failed:{r.id}",
            title=f"Ingest run {r.id} failed",
            detail=f"started {_iso(r.started_at)}, finished {_iso(r.finished_at)}",
        )
        for r in runs
        if r.status == "failed"
    ]


def failing_rules(rules: list[tuple[str, datetime | None, str | None]]) -> list[Finding]:
    """(name, failing_since, last_error) -> one finding per failure streak."""
    return [
        Finding(
            key=f"rule_failing:{name}:{_iso(since)}",
            title=f"Alert rule {name} is failing",
            detail=f"since {_iso(since)}: {error or 'unknown error'}",
        )
        for name, since, error in rules
        if since is not None
    ]


# ---------------------------------------------------------------- I/O
def _feed_gaps(store: Store, names: list[str], per_feed: int = 50) -> dict[str, timedelta | None]:
    out: dict[str, timedelta | None] = {}
    with store.session() as s:
        for name in names:
            arrivals = list(
                s.scalars(
                    select(ItemRow.first_seen_at)
                    .where(ItemRow.feed == name)
                    .order_by(ItemRow.first_seen_at.desc())
                    .limit(per_feed)
                )
            )
            out[name] = usual_gap(arrivals)
    return out


def findings(store: Store, cfg: HealthConfig, now: datetime) -> list[Finding]:
    with store.session() as s:
        feeds = list(s.scalars(select(FeedRow)))
        runs = list(s.scalars(select(RunRow).where(RunRow.started_at >= now - timedelta(days=2))))
    found = failing_feeds(feeds, cfg.feed_failing_runs)
    found += silent_feeds(
        feeds,
        _feed_gaps(store, [f.name for f in feeds]),
        now,
        cfg.silent_factor,
        timedelta(hours=cfg.min_silence_hours),
    )
    if cfg.run_failed:
        found += failed_runs(runs)
    found += failing_rules(
        [(r.name, r.failing_since, r.last_error) for r in state.list_rules(store, kind="query")]
    )
    return found


def health_alerts(store: Store, cfg: HealthConfig, now: datetime | None = None) -> int:
    """Record each finding once as a ``health`` alert; return how many are new."""
    now = now or state.utcnow()
    if not cfg.enabled:
        return 0
    rows = {r.name: r for r in state.list_rules(store, kind="health")}
    row = rows.get(HEALTH_RULE)
    channels = list(row.channels) if row else list(cfg.channels)
    rule = Rule(name=HEALTH_RULE, query="", channels=channels)
    new = 0
    for f in findings(store, cfg, now):
        draft = state.AlertDraft(
            story_id=f.key[:200],
            article_id=hashlib.sha256(f.key.encode()).hexdigest()[:32],
            title=f.title,
            snippet=f.detail,
            kind="health",
        )
        if state.record_match(store, rule, draft, now) == "new":
            new += 1
    return new
