"""Evaluate incident and surge rules into the existing alerts outbox.

Every alert goes through ``state.record_matches`` under a synthetic marker id,
so the database's unique (rule, story) constraint gives "once per incident",
"once more on growth" and "once per surge" even with two evaluators at once.
Rules are stored as ``alert_rules`` rows (kind ``incident`` / ``surge``) so a new
rule only looks at incidents that change after it first appeared.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from pipeline.alerts import state
from pipeline.alerts.incident_rules import (
    IncidentRule,
    SurgeRule,
    calmed_since,
    describe,
    grown,
    incident_matches,
    near,
    parse_incident_rules,
    surge_check,
    surge_message,
)
from pipeline.alerts.rules import Rule, RuleError
from pipeline.alerts.tables import AlertRow, AlertRuleRow
from pipeline.store import Store
from pipeline.store import incidents as inc_state

OVERLAP = timedelta(seconds=60)


def _marker(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def load_rules(path: Path) -> tuple[list[IncidentRule], list[SurgeRule]]:
    if not path.is_file():
        return [], []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: cannot read the alerts file ({exc})") from None
    if not isinstance(data, dict):
        return [], []
    return parse_incident_rules(data)


def _sync(
    store: Store, kind: str, name: str, config: dict[str, Any], start: datetime
) -> AlertRuleRow:
    now = state.utcnow()
    text = json.dumps(config, sort_keys=True)
    with store.session() as s:
        row = s.get(AlertRuleRow, name)
        if row is None:
            row = AlertRuleRow(
                name=name, kind=kind, origin="file", query=text, channels=config["channels"],
                languages=[], sources=[], throttle_seconds=0, mode="immediate", enabled=True,
                starts_at=start, checkpoint=start, consecutive_errors=0, created_at=now,
                updated_at=now,
            )  # fmt: skip
            s.add(row)
        elif row.kind == kind and (row.query != text or row.channels != config["channels"]):
            row.query, row.channels, row.updated_at = text, config["channels"], now
        elif row.kind != kind:
            raise RuleError(f"rule {name!r} is already a {row.kind} rule; pick another name")
        s.flush()
        s.expunge(row)
        return row


def _first_alert_langs(store: Store, rule: str, story: str) -> list[str] | None:
    with store.session() as s:
        terms = s.scalar(
            select(AlertRow.terms).where(AlertRow.rule == rule, AlertRow.story_id == story)
        )
    return None if terms is None else list(terms)


def _draft(record: dict[str, Any], story: str, marker: str, grown_now: bool) -> state.AlertDraft:
    arts = record.get("articles") or [{}]
    evidence = "\n".join(f"[{e.get('lang')}] {e.get('evidence')} ({e.get('source')})"
                         for e in record.get("evidence", []))  # fmt: skip
    return state.AlertDraft(
        story_id=story,
        article_id=marker,
        title=("Incident grew: " if grown_now else "Incident: ") + describe(record, grown_now),
        url=arts[0].get("url") or "",
        source=", ".join(record.get("outlets", []))[:200],
        lang=None,
        published=datetime.fromisoformat(record["first_report"])
        if record.get("first_report")
        else None,
        snippet=evidence,
        terms=list(record.get("languages", [])),
        events=[record.get("type", "")],
        entities=[{**p, "type": "place"} for p in record.get("places", [])]
        + [{**a, "type": "actor"} for a in record.get("actors", [])],
        kind="incident",
    )


def _record_alert(
    store: Store, rule: Rule, record: dict[str, Any], story: str, grew: bool, now: datetime
) -> list[str]:
    """Record one (rule, story) alert through the outbox; "new" only the first time."""
    marker = _marker(story)
    return state.record_matches(
        store, rule, [state.MatchRef(marker, story)],
        lambda _r: _draft(record, story, marker, grew), now,
    )  # fmt: skip


def evaluate_incident_rule(
    store: Store, rule: IncidentRule, row: AlertRuleRow, now: datetime
) -> int:
    since = max(row.checkpoint or row.starts_at or now, row.starts_at or now) - OVERLAP
    as_rule = Rule(name=rule.name, query="", channels=list(rule.channels))
    raised = 0
    for record in inc_state.changed_incidents(store, since):
        if not incident_matches(rule, record):
            continue
        story = f"incident:{record['id']}"
        out = _record_alert(store, as_rule, record, story, False, now)
        raised += out.count("new")
        if out == ["new"]:
            continue  # first alert this run: growth is measured from here
        first_langs = _first_alert_langs(store, rule.name, story)
        if first_langs is None or not grown(rule, record, first_langs):
            continue
        out = _record_alert(store, as_rule, record, f"incident-grew:{record['id']}", True, now)
        raised += out.count("new")
    state.rule_evaluated(store, rule.name, now)
    return raised


def evaluate_surge_rule(store: Store, rule: SurgeRule, now: datetime) -> int:
    from pipeline.enrich.gazetteer import get_entity

    place = get_entity(rule.place)
    if place is None or place.lat is None or place.lon is None:
        raise RuleError(f"surge rule {rule.name!r}: unknown place id {rule.place!r}")
    centre = (place.lat, place.lon)
    base_start = now - timedelta(hours=rule.window_hours) - timedelta(days=rule.baseline_days)
    firsts: dict[str, datetime] = {}
    times: list[datetime] = []
    for t, inc_id, places in inc_state.report_points(store, rule.types, base_start):
        if t > now or not near(rule, centre, places):
            continue
        times.append(t)
        firsts[inc_id] = min(firsts.get(inc_id, t), t)
    if rule.count == "incidents":
        times = list(firsts.values())
    times.sort()
    check = surge_check(rule, times, now)
    if not check.fire:
        return 0
    with store.session() as s:
        last = s.scalar(select(func.max(AlertRow.created_at)).where(AlertRow.rule == rule.name))
    if last is not None and not calmed_since(rule, times, last, now):
        return 0  # the same surge, already alerted
    story = f"surge:{rule.name}:{now.isoformat()}"
    marker = _marker(story)
    text = surge_message(rule, place.name, check)
    draft = state.AlertDraft(
        story_id=story,
        article_id=marker,
        title=text.split(";")[0],
        snippet=text,
        events=list(rule.types),
        entities=[
            {
                "id": place.id,
                "name": place.name,
                "type": "place",
                "lat": place.lat,
                "lon": place.lon,
            }
        ],
        kind="surge",
    )
    as_rule = Rule(name=rule.name, query="", channels=list(rule.channels))
    out = state.record_matches(
        store, as_rule, [state.MatchRef(marker, story)], lambda _: draft, now
    )
    return out.count("new")


def incident_alerts(
    store: Store, alerts_file: Path, start: datetime, now: datetime | None = None
) -> tuple[int, dict[str, str]]:
    """Evaluate every incident and surge rule; (alerts raised, rule -> error)."""
    now = now or state.utcnow()
    raised, failed = 0, {}
    try:
        inc_rules, surges = load_rules(alerts_file)
    except RuleError as exc:
        return 0, {"incident_rules": str(exc)}
    for rule in inc_rules:
        try:
            row = _sync(store, "incident", rule.name, asdict(rule), start)
            raised += evaluate_incident_rule(store, rule, row, now)
        except RuleError as exc:
            failed[rule.name] = str(exc)
    for surge in surges:
        try:
            _sync(store, "surge", surge.name, asdict(surge), start)
            raised += evaluate_surge_rule(store, surge, now)
        except RuleError as exc:
            failed[surge.name] = str(exc)
    return raised, failed
