"""``GET /api/incidents`` and ``GET /api/incidents/{id}``: incidents from state.

The same records as ``newswatch incidents --json`` (docs/incidents.md). The
ingest links; these routes only read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from pipeline.api.auth import read_access
from pipeline.api.models import ErrorBody
from pipeline.api.resources import Resources
from pipeline.errors import NotFound, QueryError
from pipeline.models import EVENT_TYPES
from pipeline.store import incidents as state

router = APIRouter(tags=["incidents"], dependencies=[Depends(read_access)])


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"{name}: expected a date as YYYY-MM-DD, got {value!r}", 0, value
        ) from None


@router.get(
    "/api/incidents",
    responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    summary="Incidents (one per real-world event), newest event first, with filters",
)
def list_incidents(
    request: Request,
    since: str | None = Query(None, description="Event on or after (YYYY-MM-DD)"),
    until: str | None = Query(None, description="Event on or before (YYYY-MM-DD)"),
    type: list[str] = Query(default=[], description="Event type (repeatable)"),
    place: str | None = Query(None, description="Place id or name"),
    actor: str | None = Query(None, description="Actor id or name"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    bad = [t for t in type if t not in EVENT_TYPES]
    if bad:
        raise QueryError(
            f"type {bad[0]!r} is not an event type: {', '.join(EVENT_TYPES)}", 0, bad[0]
        )
    res: Resources = request.app.state.resources
    found = state.list_incidents(
        res.store,
        since=_day(since, "since"),
        until=_day(until, "until"),
        types=type,
        place=place,
        actor=actor,
        limit=limit,
    )
    return {"count": len(found), "incidents": found}


@router.get(
    "/api/incidents/{incident_id}",
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    summary="One incident: reports, places with coordinates, actors, evidence in each language",
)
def get_incident(request: Request, incident_id: str) -> dict[str, Any]:
    res: Resources = request.app.state.resources
    rec = state.get_incident(res.store, incident_id)
    if rec is None:
        raise NotFound(f"no incident with id {incident_id!r} (ids come from /api/incidents)")
    return rec
