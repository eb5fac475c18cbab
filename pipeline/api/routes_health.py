"""``GET /api/health``: open to all, so monitors can probe without a key.

Without a key (when keys are configured) it says only up or degraded and
counts: articles, articles waiting for the index, the alert outbox backlog,
feeds and failing feeds. Feed URLs, last errors and the last run's failing
article URLs tell an outsider what the deployment watches, so they need a
read key. An unreachable search backend makes the status ``degraded``
(still a 200: the API itself answers).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pipeline.api.auth import role_of
from pipeline.api.models import Health, RunInfo
from pipeline.api.resources import Resources
from pipeline.errors import NewswatchError
from pipeline.run import feed_states
from pipeline.store import Store

router = APIRouter(tags=["health"])


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def outbox_backlog(store: Store) -> int | None:
    """Deliveries not yet sent, when the alerts package is installed."""
    try:
        from pipeline.alerts.state import delivery_counts
    except ImportError:
        return None
    try:
        counts = delivery_counts(store)
    except Exception:  # tables missing on an old schema: unknown, not an error
        return None
    return sum(n for state, n in counts.items() if state not in ("sent", "failed"))


@router.get("/api/health", response_model=Health, summary="Pipeline and feed health (no key)")
def health(request: Request) -> Health:
    res: Resources = request.app.state.resources
    store = res.store
    details = role_of(request, request.app.state.api_settings) is not None
    run = store.last_run() if details else None
    last = None
    if run is not None:
        last = RunInfo(
            run_id=run.id,
            started_at=_iso(run.started_at),
            finished_at=_iso(run.finished_at),
            status=run.status,
            summary=run.summary or {},
        )
    feeds = feed_states(store)
    backend_ok = True
    try:
        with res.pool.backend() as backend:
            backend.count()
    except NewswatchError:
        backend_ok = False
    return Health(
        status="ok" if backend_ok else "degraded",
        backend=res.settings.search_backend,
        backend_ok=backend_ok,
        articles=store.count_articles(),
        pending_index=store.count_pending_index(),
        outbox_backlog=outbox_backlog(store),
        feeds_total=len(feeds),
        feeds_failing=sum(1 for f in feeds if f["last_status"] == "failed"),
        details=details,
        last_run=last,
        feeds=feeds if details else None,
    )
