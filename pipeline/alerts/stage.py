"""The alerts stage of an ingest run: sync rules, evaluate, health, deliver.

``alerts_after_index`` is the hook ``ingest_cycle`` calls after indexing (the
CLI passes it when this package is present). It never raises for a rule or a
channel problem: each is counted and listed among the run's failures, so a
broken rule or a dead mail server is visible in ``ingest --json`` and in a
health alert, while the rest of the alerts still go out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.alerts import state
from pipeline.alerts.evaluate import EvalReport, evaluate_rules
from pipeline.alerts.health import health_alerts
from pipeline.alerts.outbox import DeliverReport, deliver_due
from pipeline.alerts.rules import HealthConfig, RuleError, load_alerts_file
from pipeline.alerts.settings import AlertSettings, load_alert_settings
from pipeline.config import Settings
from pipeline.store import Store


@dataclass(slots=True)
class AlertsOutcome:
    evaluation: EvalReport
    delivery: DeliverReport
    health: int = 0
    notes: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    incidents: int = 0  # incident and surge alerts raised (docs/incidents.md)


def _failure(reason: str, where: str, detail: str) -> dict[str, str]:
    return {"stage": "alerts", "reason": reason, "url": "", "where": where, "detail": detail}


def run_alerts(
    settings: Settings,
    store: Store,
    start: datetime,
    cfg: AlertSettings | None = None,
    sync: bool = True,
    deliver: bool = True,
) -> AlertsOutcome:
    """Sync rules from the file (new ones start at ``start``), evaluate, check health, deliver.

    ``deliver=False`` leaves the new deliveries in the outbox for a separate
    sender (the Airflow alerts DAG, scheduled on the new-articles Asset).
    """
    from pipeline.search.base import open_backend

    cfg = cfg or load_alert_settings()
    failures: list[dict[str, str]] = []
    notes: list[str] = []
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    health_cfg = None
    file_ok = False  # incident and surge rules come from the same file
    if sync:
        try:
            alerts_file = load_alerts_file(settings.alerts_file, strict=False)
        except RuleError as exc:
            # A file too broken to read at all: the rules stored by the last good
            # sync keep running, and the run lists the problem.
            failures.append(_failure("alerts_file_invalid", str(settings.alerts_file), str(exc)))
            health_cfg = HealthConfig()
        else:
            file_ok = True
            notes = state.sync_rules(store, alerts_file, start) + alerts_file.notes
            health_cfg = alerts_file.health
            for name, problem in alerts_file.errors.items():
                failures.append(_failure("rule_invalid", name, problem))
    seconds["sync"] = time.perf_counter() - t

    t = time.perf_counter()
    backend, backend_error = None, ""
    try:
        backend = open_backend(settings)
    except Exception as exc:
        backend_error = f"{type(exc).__name__}: {exc}"
    try:
        evaluation = evaluate_rules(
            store, backend, timedelta(seconds=cfg.overlap_seconds), backend_error
        )
    finally:
        if backend is not None:
            backend.close()
    for name, error in evaluation.failed.items():
        if name not in {f["where"] for f in failures}:
            failures.append(_failure("rule_failed", name, error))
    seconds["evaluate"] = time.perf_counter() - t

    t = time.perf_counter()
    n_incidents = 0
    if sync and file_ok:  # a broken file is listed once, as alerts_file_invalid
        from pipeline.alerts.incident_alerts import incident_alerts

        n_incidents, inc_failed = incident_alerts(store, settings.alerts_file, start)
        for name, error in inc_failed.items():
            failures.append(_failure("rule_failed", name, error))
    seconds["incidents"] = time.perf_counter() - t

    t = time.perf_counter()
    n_health = 0
    if health_cfg is None:
        try:
            health_cfg = load_alerts_file(settings.alerts_file, strict=False).health
        except RuleError as exc:
            failures.append(_failure("alerts_file_invalid", str(settings.alerts_file), str(exc)))
            health_cfg = HealthConfig()
    try:
        n_health = health_alerts(store, health_cfg)
    except Exception as exc:  # health checks must never stop delivery
        failures.append(_failure("health_check_failed", "health", f"{type(exc).__name__}: {exc}"))
    seconds["health"] = time.perf_counter() - t

    t = time.perf_counter()
    delivery = deliver_due(store, settings.data_dir, cfg) if deliver else DeliverReport()
    for e in delivery.errors:
        failures.append(
            _failure("alert_delivery_failed", f"{e['rule']} -> {e['channel']}", e["error"])
        )
    seconds["deliver"] = time.perf_counter() - t
    return AlertsOutcome(evaluation, delivery, n_health, notes, failures, seconds, n_incidents)


def alerts_after_index(
    settings: Settings, run_id: str, store: Store, deliver: bool = True
) -> dict[str, int]:
    """The ingest hook: counts for the run summary; failures go to the run's list."""
    run = store.get_run(run_id)
    start = run.started_at if run is not None else state.utcnow()
    outcome = run_alerts(settings, store, start, deliver=deliver)
    failed: dict[str, int] = {}
    for f in outcome.failures:
        failed[f["reason"]] = failed.get(f["reason"], 0) + 1
    if outcome.failures:
        store.add_run_stat(run_id, "alerts", {"failed": failed, "failures": outcome.failures}, 0.0)
    return {
        "alerts": outcome.evaluation.alerts,
        "alerts_more_reports": outcome.evaluation.more_reports,
        "alerts_health": outcome.health,
        "alerts_incidents": outcome.incidents,
        "alerts_delivered": outcome.delivery.sent,
        "alerts_pending_retry": outcome.delivery.retrying,
        "alerts_rules_failed": len(outcome.evaluation.failed),
    }


def summary_record(outcome: AlertsOutcome) -> dict[str, Any]:
    """``alerts deliver --json`` / ``alerts run --json`` output."""
    ev, dl = outcome.evaluation, outcome.delivery
    return {
        "rules": ev.rules,
        "matched": ev.matched,
        "alerts": ev.alerts,
        "more_reports": ev.more_reports,
        "health_alerts": outcome.health,
        "incident_alerts": outcome.incidents,
        "delivered": dl.sent,
        "messages": dl.messages,
        "pending_retry": dl.retrying,
        "failed": dl.failed,
        "postponed": dl.postponed,
        "released_stale": dl.released,
        "rules_failed": ev.failed,
        "notes": outcome.notes,
        "failures": outcome.failures,
        "seconds": {k: round(v, 3) for k, v in outcome.seconds.items()},
    }
