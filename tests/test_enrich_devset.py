"""The dev set scores above the bar (the scorer is run as a command, as users run it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "devset.jsonl"


def test_devset_shape() -> None:
    rows = [json.loads(x) for x in DEVSET.read_text("utf-8").splitlines() if x.strip()]
    assert len(rows) >= 80
    langs = [r["lang"] for r in rows]
    assert langs.count("en") >= len(rows) / 2
    assert langs.count("ar") >= len(rows) / 4
    from pipeline.models import ENTITY_TYPES, EVENT_TYPES

    for t in EVENT_TYPES:
        assert any(t in r["events"] for r in rows), t
    negatives = [r for r in rows if not r["events"]]
    assert len(negatives) >= 20
    for r in rows:
        assert set(r) >= {"id", "lang", "text", "events", "entities"}
        assert all(e["type"] in ENTITY_TYPES for e in r["entities"])


def test_devset_scores() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "enrich_score.py"), "--data", str(DEVSET)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    totals = json.loads(out.stdout.strip().splitlines()[-1])
    assert totals["texts"] >= 80
    assert totals["mobilisation_f1"] >= 0.9
    assert totals["macro_f1"] >= 0.8
    assert totals["entity_f1"] >= 0.9
    assert "mobilisation" in out.stdout
