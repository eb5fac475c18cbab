"""Pipeline health alerts: failing feeds, silent feeds, failed runs, failing rules.

The decisions are pure functions over plain values (feed status, run status,
rule status); ``health_alerts`` reads state, asks them, and records each
finding as an alert of the ``health`` rule, through the same outbox and
channels as keyword alerts. Each finding has a key that is stable for one
episode (a feed's failure streak, a run, a rule's failure streak), so the
same episode alerts once however many runs see it, and a new episode alerts
again.

Findings are grouped per run: everything new that one run finds is one
alert (one message per channel), so a network outage that takes down 16
feeds is one message listing them, not 16. When feeds named in such a
message answer again, one "recovered" message lists them.
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
from pipeline.alerts.tables import AlertRow
from pipeline.store import Store
from pipeline.store.tables import FeedRow, ItemRow, RunRow

ALL_FEEDS_FAILED = "all_feeds_failed"  # run.OFFLINE_PROBLEM (not imported: run is heavy)
RECOVERY_DAYS = 90  # how far back alerted outages are watched for a recovery
LISTED = 8  # names in a grouped title; the body lists every one


@dataclass(frozen=True, slots=True)
class Finding:
    key: str  # stable for one episode: the alert's story id
    title: str
    detail: str
    feed: str | None = None  # the failing feed, for the "recovered" message


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
                    feed=f.name,
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
    """Runs that failed; not those that failed only because every feed did
    (the failing-feeds alert already says so, once per outage)."""
    return [
        Finding(
            key=f"run_failed:{r.id}",
            title=f"Ingest run {r.id} failed",
            detail=f"started {_iso(r.started_at)}, finished {_iso(r.finished_at)}",
        )
        for r in runs
        if r.status == "failed"
        and (getattr(r, "summary", None) or {}).get("problem") != ALL_FEEDS_FAILED
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


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def group_title(found: list[Finding]) -> str:
    """One title for everything one run found."""
    if len(found) == 1:
        return found[0].title
    feeds = [f.feed for f in found]
    if all(feeds):
        return f"{len(found)} feeds failing: {_names([n for n in feeds if n])}"
    return (
        f"{len(found)} pipeline problems: "
        + "; ".join(f.title for f in found[:3])
        + (" …" if len(found) > 3 else "")
    )


def group_detail(found: list[Finding]) -> str:
    """The body: one line per finding."""
    if len(found) == 1:
        return found[0].detail
    return "\n".join(f"- {f.title}: {f.detail}" for f in found)


def recovered(open_episodes: dict[str, str], feeds: list[FeedRow]) -> dict[str, str]:
    """Episode key -> feed name, for alerted failing feeds that answer again."""
    state_of = {f.name: f for f in feeds}
    out = {}
    for key, name in open_episodes.items():
        f = state_of.get(name)
        if f is not None and (f.consecutive_errors or 0) == 0 and f.last_success_at is not None:
            out[key] = name
    return out


def recovery_title(names: list[str]) -> str:
    if len(names) == 1:
        return f"Feed {names[0]} recovered"
    return f"{len(names)} feeds recovered: {_names(names)}"


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


def _marker(key: str) -> str:
    """The id under which an episode is recorded as alerted (as before grouping)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _open_episodes(store: Store, since: datetime) -> dict[str, str]:
    """Failing-feed episodes named in health alerts: episode key -> feed name."""
    out: dict[str, str] = {}
    with store.session() as s:
        rows = s.scalars(
            select(AlertRow.entities).where(
                AlertRow.rule == HEALTH_RULE,
                AlertRow.kind == "health",
                AlertRow.created_at >= since,
            )
        )
        for entities in rows:
            for e in entities or []:
                if e.get("type") == "feed" and e.get("episode"):
                    out[str(e["episode"])] = str(e.get("id"))
    return out


def _record_group(
    store: Store,
    rule: Rule,
    keys: list[str],
    title: str,
    detail: str,
    feeds: dict[str, str],
    now: datetime,
) -> int:
    """One alert for ``keys`` (each also marked as alerted); 1 if it was new."""
    story = "health:" + hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:24]
    draft = state.AlertDraft(
        story_id=story,
        article_id=_marker(keys[0]),
        title=title[:500],
        snippet=detail,
        kind="health",
        entities=[{"id": n, "name": n, "type": "feed", "episode": k} for k, n in feeds.items()],
    )
    refs = [state.MatchRef(_marker(k), story) for k in keys]
    outcomes = state.record_matches(store, rule, refs, lambda _: draft, now)
    return 1 if "new" in outcomes else 0


def health_alerts(store: Store, cfg: HealthConfig, now: datetime | None = None) -> int:
    """Record what is new this run as one ``health`` alert, and recoveries as one more.

    Returns how many alerts were raised (0, 1 or 2).
    """
    now = now or state.utcnow()
    if not cfg.enabled:
        return 0
    rows = {r.name: r for r in state.list_rules(store, kind="health")}
    row = rows.get(HEALTH_RULE)
    channels = list(row.channels) if row else list(cfg.channels)
    rule = Rule(name=HEALTH_RULE, query="", channels=channels)
    raised = 0

    found = findings(store, cfg, now)
    seen = state.seen_article_ids(store, HEALTH_RULE, [_marker(f.key) for f in found])
    new = [f for f in found if _marker(f.key) not in seen]
    if new:
        feeds = {f.key: f.feed for f in new if f.feed}
        raised += _record_group(
            store, rule, [f.key for f in new], group_title(new), group_detail(new), feeds, now
        )

    with store.session() as s:
        feed_rows = list(s.scalars(select(FeedRow)))
    episodes = _open_episodes(store, now - timedelta(days=RECOVERY_DAYS))
    back = recovered(episodes, feed_rows)
    done = state.seen_article_ids(store, HEALTH_RULE, [_marker("recovered:" + k) for k in back])
    back = {k: n for k, n in back.items() if _marker("recovered:" + k) not in done}
    if back:
        names = sorted(set(back.values()))
        by_name = {f.name: f for f in feed_rows}
        detail = "\n".join(
            f"- {n}: answering again (last success {_iso(by_name[n].last_success_at)})"
            for n in names
        )
        raised += _record_group(
            store,
            rule,
            ["recovered:" + k for k in back],
            recovery_title(names),
            detail,
            {},
            now,
        )
    return raised
