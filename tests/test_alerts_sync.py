"""Syncing alerts.yaml into state: a missing file must not switch rules off."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from pipeline.alerts import state
from pipeline.alerts.rules import load_alerts_file
from pipeline.alerts.tables import AlertRuleRow
from pipeline.config import load_settings
from pipeline.store import open_store

RULES = """
defaults:
  channels: [file://out.jsonl]
rules:
  - name: sirte
    query: sirte AND convoy*
"""


def _enabled(store: object) -> dict[str, bool]:
    with store.session() as s:  # type: ignore[attr-defined]
        return {r.name: r.enabled for r in s.scalars(select(AlertRuleRow)) if r.kind == "query"}


def test_a_missing_alerts_file_leaves_the_rules_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(RULES)
    store = open_store(load_settings(data_dir=tmp_path / "data", alerts_file=path))
    try:
        state.sync_rules(store, load_alerts_file(path), state.utcnow())
        assert _enabled(store) == {"sirte": True}
        # e.g. `newswatch ingest` run from another directory: no file at the path
        missing = load_alerts_file(tmp_path / "elsewhere" / "alerts.yaml")
        assert missing.missing
        assert state.sync_rules(store, missing, state.utcnow()) == []
        assert _enabled(store) == {"sirte": True}
        # a rule really removed from an existing file is still switched off
        path.write_text("rules: []\n")
        changes = state.sync_rules(store, load_alerts_file(path), state.utcnow())
        assert _enabled(store) == {"sirte": False}
        assert any("no longer in the alerts file" in c for c in changes)
    finally:
        store.close()
