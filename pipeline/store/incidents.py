"""Incident state: the SQL behind linking, listing and indexing incidents.

Candidate lookup reads ``incident_keys`` by its primary key (type, cell, day):
a fixed number of index probes per mention, whatever the store's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, text, update

from pipeline.incidents.linker import Change, IncidentState, Key, Linker
from pipeline.incidents.mentions import MentionIn, Place
from pipeline.incidents.record import build_record, report_data
from pipeline.store.db import Store, utcnow
from pipeline.store.tables import (
    ArticleRow,
    IncidentArticleRow,
    IncidentChangeRow,
    IncidentKeyRow,
    IncidentReportRow,
    IncidentRow,
)

_PROBE_CHUNK = 300


def pending_articles(store: Store, limit: int = 1000, after: str = "") -> list[dict[str, Any]]:
    """Enriched articles the incidents stage has not read yet, as records, in id
    order from ``after`` (keyset paging: one pass over the ids per run, where an
    OFFSET-less re-query would walk the read ones again for every batch)."""
    read = select(IncidentArticleRow.article_id).where(
        IncidentArticleRow.article_id == ArticleRow.id
    )
    with store.session() as s:
        rows = s.scalars(
            select(ArticleRow)
            .where(ArticleRow.id > after, ArticleRow.enriched.is_(True), ~read.exists())
            .order_by(ArticleRow.id)
            .limit(limit)
        ).all()
        return [_article_record(r) for r in rows]


def _article_record(r: ArticleRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "url": r.url,
        "canonical_url": r.canonical_url,
        "source": r.source,
        "lang": r.lang,
        "title": r.title,
        "published": r.published,
        "fetched_at": r.fetched_at,
        "events": r.events or [],
        "entities": r.entities or [],
    }


def _state(row: IncidentRow) -> IncidentState:
    link = (row.record or {}).get("_link") or {}
    return IncidentState(
        id=row.id,
        type=row.type,
        first_day=row.first_day,
        last_day=row.last_day,
        days=set(link.get("days", [])),
        places={
            p["id"]: Place(p["id"], p.get("name", p["id"]), p["lat"], p["lon"], p.get("country"))
            for p in link.get("places", [])
        },
        actors=set(link.get("actors", [])),
        merged_into=row.merged_into,
    )


_PROBE_SQL: dict[int, Any] = {}


def _probe_sql(n: int) -> Any:
    """One cached statement per chunk size: compiling an expanding IN of
    hundreds of (type, cell, day) tuples cost more than running it."""
    if n not in _PROBE_SQL:
        rows = ", ".join(f"(:t{i}, :c{i}, :d{i})" for i in range(n))
        _PROBE_SQL[n] = text(
            "SELECT DISTINCT incident_id FROM incident_keys "
            f"WHERE (type, cell, day) IN (VALUES {rows})"
        )
    return _PROBE_SQL[n]


def loader(store: Store):  # type: ignore[no-untyped-def]
    """The linker's candidate loader: incidents holding any of the given keys."""

    def load(keys: list[Key]) -> list[IncidentState]:
        ids: set[str] = set()
        with store.session() as s:
            for i in range(0, len(keys), _PROBE_CHUNK):
                part = keys[i : i + _PROBE_CHUNK]
                part = part + [part[-1]] * (_PROBE_CHUNK - len(part))  # one cached shape
                params: dict[str, Any] = {}
                for j, (t, c, d) in enumerate(part):
                    params[f"t{j}"], params[f"c{j}"], params[f"d{j}"] = t, c, d
                ids.update(s.execute(_probe_sql(_PROBE_CHUNK), params).scalars().all())
            if not ids:
                return []
            rows = []
            order = sorted(ids)
            for i in range(0, len(order), 500):
                rows += s.scalars(
                    select(IncidentRow).where(IncidentRow.id.in_(order[i : i + 500]))
                ).all()
            return [_state(r) for r in rows]

    return load


def save_links(
    store: Store,
    linker: Linker,
    mentions: Sequence[MentionIn],
    article_ids: Iterable[str],
    counts: dict[str, int] | None = None,
) -> list[str]:
    """Persist one linking batch: reports, keys, merges, rebuilt records, read marks.
    Returns the ids of incidents whose record changed (to index and alert on)."""
    now = utcnow()
    ins = store._insert
    with store.session() as s:
        # executemany throughout: one statement per table per batch, not per row
        if mentions:
            s.execute(
                ins(IncidentReportRow).on_conflict_do_nothing(index_elements=["key"]),
                [
                    {
                        "key": m.key,
                        "incident_id": linker.links[m.key],
                        "article_id": m.article_id,
                        "data": report_data(m),
                        "linked_at": now,
                    }
                    for m in mentions
                ],
            )
        for change in linker.changes:
            s.execute(
                update(IncidentReportRow)
                .where(IncidentReportRow.incident_id == change.other)
                .values(incident_id=change.incident)
            )
            s.add(
                IncidentChangeRow(
                    kind=change.kind,
                    incident_id=change.incident,
                    other_id=change.other,
                    mention=change.mention,
                    at=now,
                )
            )
        if linker.new_keys:
            s.execute(
                ins(IncidentKeyRow).on_conflict_do_nothing(),
                [
                    {"type": t, "cell": c, "day": d, "incident_id": inc}
                    for t, c, d, inc in sorted(linker.new_keys)
                ],
            )
        s.flush()
        dirty_ids = sorted(linker.dirty)
        reports: dict[str, list[dict[str, Any]]] = {i: [] for i in dirty_ids}
        for i in range(0, len(dirty_ids), 500):
            part = dirty_ids[i : i + 500]
            q = select(IncidentReportRow.incident_id, IncidentReportRow.data).where(
                IncidentReportRow.incident_id.in_(part)
            )
            for inc_id, data in s.execute(q):
                reports[inc_id].append(data)
        rows = []
        for inc_id in dirty_ids:
            st = linker.incidents[inc_id]
            reps = reports[inc_id]
            record = build_record(inc_id, st.type, reps) if st.merged_into is None else {}
            record["_link"] = {
                "days": sorted(st.days),
                "places": [
                    {"id": p.id, "name": p.name, "lat": p.lat, "lon": p.lon, "country": p.country}
                    for p in sorted(st.places.values(), key=lambda p: p.id)
                ],
                "actors": sorted(st.actors),
            }
            rows.append(
                {
                    "id": inc_id,
                    "type": st.type,
                    "first_day": st.first_day,
                    "last_day": st.last_day,
                    "first_report": _dt(record.get("first_report")),
                    "last_report": _dt(record.get("last_report")),
                    "reports": len(reps),
                    "record": record,
                    "merged_into": st.merged_into,
                    "index_state": "pending",
                    "updated_at": now,
                }
            )
        if rows:
            stmt = ins(IncidentRow)
            cols = [k for k in rows[0] if k != "id"]
            stmt = stmt.on_conflict_do_update(
                index_elements=["id"], set_={k: getattr(stmt.excluded, k) for k in cols}
            )
            s.execute(stmt, rows)
        per_article: dict[str, int] = {}
        for m in mentions:
            per_article[m.article_id] = per_article.get(m.article_id, 0) + 1
        marks = [
            {"article_id": aid, "mentions": per_article.get(aid, 0), "linked_at": now}
            for aid in article_ids
        ]
        if marks:
            s.execute(ins(IncidentArticleRow).on_conflict_do_nothing(), marks)
    if counts is not None:
        counts["changes"] = counts.get("changes", 0) + len(linker.changes)
    dirty = sorted(linker.dirty)
    linker.dirty.clear()
    linker.changes.clear()
    linker.new_keys.clear()
    return dirty


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def list_incidents(
    store: Store,
    *,
    since: date | None = None,
    until: date | None = None,
    types: Sequence[str] = (),
    place: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Live incidents (not merged away), newest event first. ``place``/``actor``
    match an id or a name, case-insensitively."""
    q = select(IncidentRow).where(IncidentRow.merged_into.is_(None), IncidentRow.reports > 0)
    if since is not None:
        q = q.where(IncidentRow.last_day >= since.toordinal())
    if until is not None:
        q = q.where(IncidentRow.first_day <= until.toordinal())
    if types:
        q = q.where(IncidentRow.type.in_(list(types)))
    q = q.order_by(IncidentRow.first_day.desc(), IncidentRow.id)
    out = []
    with store.session() as s:
        for row in s.scalars(q):
            rec = row.record or {}
            if place and not _names_match(place, rec.get("places", [])):
                continue
            if actor and not _names_match(actor, rec.get("actors", [])):
                continue
            out.append(public(rec))
            if limit is not None and len(out) >= limit:
                break
    return out


def _names_match(needle: str, items: list[dict[str, Any]]) -> bool:
    n = needle.casefold()
    return any(
        n == str(i.get("id", "")).casefold() or n in str(i.get("name", "")).casefold()
        for i in items
    )


def get_incident(store: Store, incident_id: str) -> dict[str, Any] | None:
    """An incident by id; an id merged away resolves to the incident it joined."""
    with store.session() as s:
        for _ in range(50):
            row = s.get(IncidentRow, incident_id)
            if row is None:
                return None
            if row.merged_into is None:
                return public(row.record or {})
            incident_id = row.merged_into
    return None


def incident_changes(store: Store) -> list[Change]:
    with store.session() as s:
        rows = s.scalars(select(IncidentChangeRow).order_by(IncidentChangeRow.id)).all()
        return [Change(r.kind, r.incident_id, r.other_id, r.mention) for r in rows]


def pending_index(store: Store, limit: int = 500) -> list[dict[str, Any]]:
    """Incident records to send to the search backend (merged ones to delete)."""
    with store.session() as s:
        rows = s.scalars(
            select(IncidentRow)
            .where(IncidentRow.index_state == "pending")
            .order_by(IncidentRow.id)
            .limit(limit)
        ).all()
        return [{**public(r.record or {}), "id": r.id, "_merged_into": r.merged_into} for r in rows]


def mark_incidents_indexed(store: Store, ids: Sequence[str]) -> None:
    if ids:
        with store.session() as s:
            s.execute(
                update(IncidentRow).where(IncidentRow.id.in_(list(ids))).values(index_state="done")
            )


def reset_incidents(store: Store) -> None:
    """Forget every incident (``newswatch incidents --relink``): the next stage run
    links all articles again, in the canonical order, to the same ids."""
    with store.session() as s:
        for table in (
            IncidentKeyRow,
            IncidentReportRow,
            IncidentChangeRow,
            IncidentRow,
            IncidentArticleRow,
        ):
            s.execute(delete(table))


def changed_incidents(store: Store, since: datetime) -> list[dict[str, Any]]:
    """Live incidents whose record changed at or after ``since`` (alert evaluation)."""
    with store.session() as s:
        rows = s.scalars(
            select(IncidentRow)
            .where(
                IncidentRow.updated_at >= since,
                IncidentRow.merged_into.is_(None),
                IncidentRow.reports > 0,
            )
            .order_by(IncidentRow.id)
        ).all()
        return [public(r.record or {}) for r in rows]


def report_points(
    store: Store, types: Sequence[str], since: datetime
) -> list[tuple[datetime, str, list[dict[str, Any]]]]:
    """(report time, incident id, places) of reports published since ``since``.

    A report is linked after it is published, so ``linked_at >= since`` (indexed)
    is a safe first cut before the publication time is read."""
    q = select(IncidentReportRow).where(IncidentReportRow.linked_at >= since)
    out = []
    with store.session() as s:
        for r in s.scalars(q):
            d = r.data or {}
            if types and d.get("type") not in types:
                continue
            t = _dt(d.get("published"))
            if t is None or t < since:
                continue
            out.append((t, r.incident_id, d.get("places", [])))
    return out
