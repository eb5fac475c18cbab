"""Evaluate rules over what was indexed since each rule's checkpoint.

Each rule asks the search backend (either one, through the SearchBackend
protocol) for every id matching its query and filters with
``ingested_since`` = its window start, then records each match in state,
where the constraints make it once per (rule, article) and one alert per
(rule, story). The checkpoint moves only after a rule ran without error, to
the moment before its search started: nothing indexed meanwhile is skipped.

A rule that fails (bad query, backend down) keeps its checkpoint and is
reported; the other rules go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline.alerts import state
from pipeline.alerts.messages import highlight
from pipeline.alerts.rules import Rule
from pipeline.alerts.tables import AlertRuleRow
from pipeline.search.base import SearchBackend, SearchRequest
from pipeline.store import Store
from pipeline.store.tables import ArticleRow


@dataclass(slots=True)
class EvalReport:
    rules: int = 0
    matched: int = 0  # (rule, article) matches seen this time, new or not
    alerts: int = 0  # new (rule, story) alerts
    more_reports: int = 0  # new copies of stories already alerted
    failed: dict[str, str] = field(default_factory=dict)  # rule -> error
    new_alert_rules: dict[str, int] = field(default_factory=dict)


def window_start(
    checkpoint: datetime,
    evaluated_before: bool,
    overlap: timedelta,
    oldest_late: datetime | None,
    floor: datetime | None = None,
) -> datetime:
    """Where a rule's search window opens.

    A rule that never ran starts exactly at its checkpoint (no history flood);
    afterwards the window reaches back ``overlap`` before the checkpoint, and
    further back to the oldest ingest time of anything indexed late (an
    article stored before the checkpoint but confirmed by the backend only now).
    Never before ``floor``, the rule's start: neither reaches into history.
    """
    start = checkpoint - overlap if evaluated_before else checkpoint
    if oldest_late is not None and oldest_late < start:
        start = oldest_late
    return max(start, floor) if floor is not None else start


def due_time(mode: str, created: datetime) -> datetime:
    """When a new alert's deliveries become due: now, or the end of the digest period."""
    created = created.astimezone(UTC)
    if mode == "digest_hourly":
        return created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if mode == "digest_daily":
        return created.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return created


def rule_terms(query: str) -> list[str]:
    from pipeline.search.query import parse_query, positive_terms

    return positive_terms(parse_query(query))


def draft_from(row: ArticleRow, terms: list[str]) -> state.AlertDraft:
    snippet, spans = highlight(row.text or row.title or "", terms)
    return state.AlertDraft(
        story_id=row.story_id or row.id,
        article_id=row.id,
        title=row.title,
        url=row.url,
        source=row.source,
        lang=row.lang,
        published=row.published,
        snippet=snippet,
        highlights=spans,
        terms=terms,
        events=sorted(
            {e["type"] for e in (row.events or []) if e.get("type") and e.get("reported", True)}
        ),
        entities=[
            {k: e[k] for k in ("id", "name", "type", "lat", "lon") if e.get(k) is not None}
            for e in (row.entities or [])
        ],
    )


def _first_report(row: ArticleRow) -> tuple[datetime, datetime, str]:
    far = datetime.max.replace(tzinfo=UTC)
    return (row.published or far, row.ingested_at or far, row.id)


def matching_ids(backend: SearchBackend, rule: Rule, since: datetime) -> list[str]:
    request = SearchRequest(
        query=rule.query,
        langs=list(rule.languages),
        sources=list(rule.sources),
        ingested_since=since,
    )
    return list(backend.iter_ids(request))


def evaluate_rule(
    store: Store,
    backend: SearchBackend,
    row: AlertRuleRow,
    overlap: timedelta,
    report: EvalReport,
) -> None:
    rule = state.rule_from_row(row)
    started = state.utcnow()
    checkpoint = row.checkpoint or started
    evaluated_before = row.evaluated_at is not None
    # Articles indexed since the last look (never before a new rule's start).
    late_from = checkpoint - overlap if evaluated_before else checkpoint
    since = window_start(
        checkpoint,
        evaluated_before,
        overlap,
        state.oldest_late_ingest(store, late_from),
        floor=row.starts_at,
    )
    terms = rule_terms(rule.query)
    ids = matching_ids(backend, rule, since)
    report.matched += len(ids)
    seen = state.seen_article_ids(store, rule.name, ids) if ids else set()
    fresh = [i for i in ids if i not in seen]
    if fresh:
        due = due_time(rule.mode, started)
        # The earliest published copy raises the alert, whatever order the backend
        # returned ids in, so both backends raise the same alert for a story.
        rows = sorted(store.iter_article_rows(fresh), key=_first_report)
        outcomes = state.record_matches(store, rule, rows, lambda r: draft_from(r, terms), due)
        new = outcomes.count("new")
        report.alerts += new
        report.more_reports += outcomes.count("more")
        if new:
            report.new_alert_rules[rule.name] = report.new_alert_rules.get(rule.name, 0) + new
    state.rule_evaluated(store, rule.name, started)


def _describe(exc: Exception) -> str:
    """A QueryError already reads as a sentence; anything else gets its type in front."""
    from pipeline.errors import NewswatchError

    return str(exc) if isinstance(exc, NewswatchError) else f"{type(exc).__name__}: {exc}"


def evaluate_rules(
    store: Store, backend: SearchBackend | None, overlap: timedelta, backend_error: str = ""
) -> EvalReport:
    """Every enabled query rule, each on its own: one failure never stops the others."""
    report = EvalReport()
    for row in state.list_rules(store, kind="query"):
        if not row.enabled:
            continue
        report.rules += 1
        try:
            if backend is None:
                raise RuntimeError(backend_error or "search backend unavailable")
            evaluate_rule(store, backend, row, overlap, report)
        except Exception as exc:  # reported as a failing rule, never dropped
            message = (
                f"{type(exc).__name__}: {exc}" if not str(exc).startswith("rule") else str(exc)
            )
            state.rule_failed(store, row.name, message)
            report.failed[row.name] = message
    return report
