"""Check the values of ``event:`` and the gazetteer fields in a query.

Why: a misspelled value (``event:mobilsation``, ``place:Atlantis``) parses
fine and matches nothing, so a search says "0 results" and an alert rule
never fires, with nothing to tell the analyst why. Event ids are a closed
list, so an unknown one is an error naming the nearest valid ids, as an
unknown field already is. Places, people and groups are an open world (a
name new to the gazetteer may still be stored as its slug), so an unknown
one is a warning: shown by the CLI, the API (``warnings``) and the page, and
enough for ``alerts add`` / rule POST to refuse the rule unless forced.

The query is parsed once more with a resolver that records each keyword
value and what it resolved to; nothing here changes how a query runs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pipeline.errors import QueryError

ENTITY_FIELDS = ("entity", "person", "org", "actor", "place")
NEAREST = 3


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One ``field:value`` of a query and the id it resolved to."""

    field: str
    value: str
    resolved: str


def field_values(query: str) -> list[FieldValue]:
    """Every event / gazetteer field value in ``query`` (raises QueryError if it does not parse)."""
    from pipeline.search.query import GAZETTEER_FIELDS, default_resolve, parse_query

    seen: list[FieldValue] = []

    def recording(field: str, value: str) -> str:
        resolved = default_resolve(field, value)
        if field in GAZETTEER_FIELDS:
            seen.append(FieldValue(field, value, resolved))
        return resolved

    parse_query(query, resolve=recording)
    return seen


def _position(query: str, fv: FieldValue) -> int | None:
    """Where the value starts in the query text (best effort, for the caret)."""
    lowered = query.casefold()
    at = lowered.find(f"{fv.field}:".casefold())
    if at < 0:
        at = lowered.find(fv.value.casefold())
        return at if at >= 0 else None
    start = at + len(fv.field) + 1
    return start + 1 if query[start : start + 1] == '"' else start


def nearest(value: str, choices: list[str], n: int = NEAREST) -> list[str]:
    """The closest valid spellings (difflib ratio), best first."""
    key = value.strip().casefold().replace(" ", "_").replace("-", "_")
    return difflib.get_close_matches(key, choices, n=n, cutoff=0.6)


def _event_ids() -> list[str]:
    from pipeline.models import EVENT_TYPES

    return list(EVENT_TYPES)


def _known_entity(field: str, entity_id: str) -> bool:
    from pipeline.enrich.gazetteer import FIELD_TYPES, get_entity

    entry = get_entity(entity_id)
    return entry is not None and entry.type in FIELD_TYPES.get(field, (entry.type,))


def _entity_names(field: str) -> dict[str, str]:
    """Folded-ish spelling -> canonical id, for suggestions (ids and English names)."""
    from pipeline.enrich.gazetteer import FIELD_TYPES, entries

    allowed = FIELD_TYPES.get(field)
    out: dict[str, str] = {}
    for entry in entries().values():
        if allowed is not None and entry.type not in allowed:
            continue
        out.setdefault(entry.id, entry.id)
        for name in (entry.name, *entry.aliases):
            out.setdefault(name.casefold().replace(" ", "_").replace("-", "_"), entry.id)
    return out


def check_events(query: str, values: list[FieldValue] | None = None) -> None:
    """Raise QueryError for an ``event:`` value that is not a known event id or label."""
    values = field_values(query) if values is None else values
    valid = _event_ids()
    for fv in values:
        if fv.field != "event" or fv.resolved in valid:
            continue
        close = nearest(fv.value, valid)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise QueryError(
            f"unknown event '{fv.value}' ({hint}valid events: {', '.join(valid)})",
            _position(query, fv),
            query,
        )


def entity_warnings(query: str, values: list[FieldValue] | None = None) -> list[str]:
    """One sentence per place / actor / entity name the gazetteer does not know."""
    values = field_values(query) if values is None else values
    out: list[str] = []
    for fv in values:
        if fv.field not in ENTITY_FIELDS or _known_entity(fv.field, fv.resolved):
            continue
        names = _entity_names(fv.field)
        close = list(dict.fromkeys(names[k] for k in nearest(fv.value, list(names))))
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        msg = (
            f"{fv.field} '{fv.value}' is not in the gazetteer, so only articles "
            f"tagged '{fv.resolved}' match (probably none){hint}"
        )
        if msg not in out:
            out.append(msg)
    return out


def check_query_fields(query: str) -> list[str]:
    """Raise QueryError for an unknown event id; return warnings for unknown names."""
    if not query or not query.strip():
        return []
    values = field_values(query)
    check_events(query, values)
    return entity_warnings(query, values)
