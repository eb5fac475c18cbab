"""``newswatch incidents``: list incidents, link pending articles, relink.

Kept out of ``pipeline/cli.py`` (which only declares the options) so the
top-level CLI stays small and imports nothing of this until the command runs.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.config import Settings
from pipeline.errors import NewswatchError


def parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise NewswatchError(f"{name}: expected a date as YYYY-MM-DD, got {value!r}") from None


def check_types(types: list[str]) -> None:
    from pipeline.models import EVENT_TYPES

    bad = [t for t in types if t not in EVENT_TYPES]
    if bad:
        raise NewswatchError(
            f"--type {bad[0]!r} is not an event type; one of: {', '.join(EVENT_TYPES)}"
        )


def select(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """Link what is pending (so the list is current), then list with the filters."""
    from pipeline.incidents.stage import link_pending
    from pipeline.store import incidents as state
    from pipeline.store import open_store

    store = open_store(settings)
    try:
        if filters.pop("relink", False):
            state.reset_incidents(store)
        link_pending(store)
        return state.list_incidents(store, **filters)
    finally:
        store.close()


def show(records: list[dict[str, Any]], as_json: bool, console: Console) -> None:
    if as_json:
        for r in records:
            console.out(json.dumps(r, ensure_ascii=False), highlight=False)
        return
    if not records:
        console.print("No incidents match.")
        return
    table = Table(show_lines=False, expand=False)
    for col in ("date", "type", "where", "actors", "reports", "outlets", "langs", "id"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(
            r.get("event_date", ""),
            r.get("type", ""),
            ", ".join(p.get("name", "") for p in r.get("places", [])[:3]),
            ", ".join(a.get("name", "") for a in r.get("actors", [])[:3]),
            str(r.get("reports", 0)),
            str(len(r.get("outlets", []))),
            ",".join(r.get("languages", [])),
            r.get("id", ""),
        )
    console.print(table)
    console.print(f"{len(records)} incident(s).")
