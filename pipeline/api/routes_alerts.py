"""``/api/alerts`` and ``/api/rules``: alert history and rule management.

Rules go through the same validation as ``newswatch alerts add``
(:func:`pipeline.alerts.rules.validate_rule`): a broken query is a 422 with
the position where it breaks. Reading needs a read key, changing an admin
key. As in the CLI, ``alerts.yaml`` is synced into state before rules are
listed, and a rule changed here is marked ``origin: api`` so a later sync of
the file does not overwrite it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from pipeline.alerts import state
from pipeline.alerts.rules import MODES, Rule, RuleError, load_alerts_file, validate_rule
from pipeline.alerts.tables import AlertRuleRow
from pipeline.api.auth import admin_access, read_access
from pipeline.api.models import ErrorBody
from pipeline.api.params import parse_day
from pipeline.api.resources import Resources
from pipeline.errors import NewswatchError, NotFound, QueryError

router = APIRouter(tags=["alerts"])


class RuleConflict(NewswatchError):
    """A rule of that name exists (HTTP 409)."""


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "a request body that is not JSON"},
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
    422: {"model": ErrorBody},
}


class Delivery(BaseModel):
    id: str
    channel: str = Field(description="as written in the rule; passwords never shown")
    state: str = Field(description="pending, sending, sent or failed")
    attempts: int
    next_attempt_at: str | None
    sent_at: str | None
    last_error: str | None


class AlertRecord(BaseModel):
    id: int
    rule: str
    kind: str
    article_id: str | None
    story_id: str | None
    title: str | None
    url: str | None
    source: str | None
    lang: str | None
    published: str | None
    created_at: str | None
    more_reports: int | None
    events: list[Any]
    entities: list[Any]
    snippet: str | None
    deliveries: list[Delivery]


class RuleRecord(BaseModel):
    name: str
    query: str
    languages: list[str]
    sources: list[str]
    channels: list[str]
    throttle: int = Field(description="minimum seconds between two sends on one channel")
    mode: str
    enabled: bool
    origin: str = Field(description="file (alerts.yaml), cli or api")
    checkpoint: str | None
    evaluated_at: str | None
    last_error: str | None
    failing_since: str | None


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    query: str = Field(min_length=1, max_length=4000)
    channels: list[str] = Field([], description="apprise URLs; empty = the health channels")
    languages: list[str] = []
    sources: list[str] = []
    throttle: int = Field(0, ge=0)
    mode: str = Field("immediate", description=" | ".join(MODES))
    enabled: bool = True
    backfill: bool = Field(False, description="also alert on articles already indexed")
    force: bool = Field(
        False, description="save even if the query names a place or name the gazetteer lacks"
    )


class RulePatch(BaseModel):
    query: str | None = Field(None, min_length=1, max_length=4000)
    channels: list[str] | None = None
    languages: list[str] | None = None
    sources: list[str] | None = None
    throttle: int | None = Field(None, ge=0)
    mode: str | None = None
    enabled: bool | None = None
    force: bool = Field(
        False, description="save even if the query names a place or name the gazetteer lacks"
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def rule_record(row: Any) -> RuleRecord:
    return RuleRecord(
        name=row.name,
        query=row.query,
        languages=list(row.languages or []),
        sources=list(row.sources or []),
        channels=[state.redact_channel(c) for c in row.channels or []],
        throttle=row.throttle_seconds,
        mode=row.mode,
        enabled=row.enabled,
        origin=row.origin,
        checkpoint=_iso(row.checkpoint),
        evaluated_at=_iso(row.evaluated_at),
        last_error=row.last_error,
        failing_since=_iso(row.failing_since),
    )


def _query_rule(res: Resources, name: str) -> Any:
    row = state.get_rule(res.store, name)
    if row.kind != "query":
        raise NotFound(f"no alert rule named {name!r}")
    return row


def _validated(rule: Rule, force: bool = False) -> Rule:
    """validate_rule, then the query's field values; each problem is a 422.

    An unknown event id is always refused; a place or name the gazetteer does
    not know is refused unless ``force`` (such a rule would probably never fire).
    """
    from pipeline.search.fieldcheck import check_query_fields

    try:
        checked = validate_rule(rule)
    except RuleError as exc:
        raise QueryError(str(exc)) from None
    warnings = check_query_fields(rule.query)
    if warnings and not force:
        raise QueryError(
            f"rule {rule.name!r} not saved: {'; '.join(warnings)} "
            "(fix the query, or send force: true to save it anyway)",
            None,
            rule.query,
        )
    return checked


def _sync(res: Resources) -> None:
    alerts_file = load_alerts_file(res.settings.alerts_file, strict=False)
    state.sync_rules(res.store, alerts_file, state.utcnow())


@router.get(
    "/api/alerts",
    response_model=list[AlertRecord],
    dependencies=[Depends(read_access)],
    responses=ERRORS,
    summary="Alert history, newest first, with each delivery's state",
)
def alerts(
    request: Request,
    rule: Annotated[str | None, Query(max_length=200, description="only this rule")] = None,
    since: Annotated[str | None, Query(description="created on or after (YYYY-MM-DD)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    res: Resources = request.app.state.resources
    return state.history(res.store, rule=rule or None, limit=limit, since=parse_day(since, "since"))


@router.get(
    "/api/rules",
    response_model=list[RuleRecord],
    dependencies=[Depends(read_access)],
    responses=ERRORS,
    summary="Alert rules (alerts.yaml synced into state first)",
)
def list_rules(request: Request) -> list[RuleRecord]:
    res: Resources = request.app.state.resources
    _sync(res)
    return [rule_record(r) for r in state.list_rules(res.store, kind="query")]


@router.get(
    "/api/rules/{name}",
    response_model=RuleRecord,
    dependencies=[Depends(read_access)],
    responses=ERRORS,
    summary="One alert rule",
)
def get_rule(request: Request, name: str) -> RuleRecord:
    return rule_record(_query_rule(request.app.state.resources, name))


@router.post(
    "/api/rules",
    response_model=RuleRecord,
    status_code=201,
    dependencies=[Depends(admin_access)],
    responses=ERRORS,
    summary="Add a rule (validated like `newswatch alerts add`)",
)
def add_rule(request: Request, body: RuleIn) -> RuleRecord:
    res: Resources = request.app.state.resources
    channels = list(body.channels)
    if not channels:
        channels = load_alerts_file(res.settings.alerts_file, strict=False).health.channels
    rule = _validated(
        Rule(
            name=body.name,
            query=body.query,
            channels=channels,
            languages=list(body.languages),
            sources=list(body.sources),
            throttle=body.throttle,
            mode=body.mode,
            enabled=body.enabled,
        ),
        force=body.force,
    )
    with res.store.session() as s:
        if s.get(AlertRuleRow, rule.name) is not None:
            raise RuleConflict(f"a rule named {rule.name!r} already exists (PATCH it instead)")
    try:
        state.add_rule(res.store, rule, origin="api", backfill=body.backfill)
    except NewswatchError as exc:  # lost a race with another add of the same name
        raise RuleConflict(str(exc)) from None
    return rule_record(state.get_rule(res.store, rule.name))


@router.patch(
    "/api/rules/{name}",
    response_model=RuleRecord,
    dependencies=[Depends(admin_access)],
    responses=ERRORS,
    summary="Change a rule; only enabled = keep its checkpoint, other fields restart it now",
)
def patch_rule(request: Request, name: str, body: RulePatch) -> RuleRecord:
    res: Resources = request.app.state.resources
    row = _query_rule(res, name)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    force = bool(changes.pop("force", False))
    if set(changes) <= {"enabled"}:
        if "enabled" in changes:
            state.set_enabled(res.store, name, changes["enabled"])
        return rule_record(_query_rule(res, name))
    current = state.rule_from_row(row)
    merged = Rule(
        name=name,
        query=changes.get("query", current.query),
        channels=changes.get("channels", current.channels),
        languages=changes.get("languages", current.languages),
        sources=changes.get("sources", current.sources),
        throttle=changes.get("throttle", current.throttle),
        mode=changes.get("mode", current.mode),
        enabled=changes.get("enabled", current.enabled),
    )
    state.add_rule(res.store, _validated(merged, force), origin="api", replace=True)
    return rule_record(_query_rule(res, name))


@router.delete(
    "/api/rules/{name}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(admin_access)],
    responses=ERRORS,
    summary="Delete a rule (its alert history stays)",
)
def delete_rule(request: Request, name: str) -> Response:
    res: Resources = request.app.state.resources
    _query_rule(res, name)
    state.delete_rule(res.store, name)
    return Response(status_code=204)
