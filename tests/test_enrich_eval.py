"""The labelled evaluation set: its shape, its split, and the scores on the frozen test split.

The test split was written and committed before any rule change and scored
once at the end (see tests/data/eval_src/README.md). What the scorer printed
then, beside the dev split and the keyword baseline:

    test split (332 texts)   rules   baseline
    mobilisation F1          0.947   0.210
    macro F1 (event types)   0.879   0.483
    places F1 (25 km)        0.945   0.905
    entities F1              0.879   0.823
    dev - test (mobilisation 0.045, macro 0.108, places 0.008, entities 0.017)

The issue's acceptance bars that these figures meet are asserted as such.
The ones they miss (macro F1 >= 0.88, entity F1 >= 0.90, dev - test <= 0.05
for macro F1) are NOT asserted at the bar: a lower floor is asserted instead
and named a regression floor, so the gap stays visible here and in the
closing note rather than hidden by a lowered bar.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pipeline.models import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "data" / "enrich_eval_dev.jsonl"
TEST = ROOT / "tests" / "data" / "enrich_eval_test.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


def test_eval_set_shape() -> None:
    rows = _rows(DEV) + _rows(TEST)
    assert len(rows) >= 600
    assert sum(r["lang"] == "ar" for r in rows) >= 0.4 * len(rows)
    genres = Counter(r["genre"] for r in rows)
    assert {"note", "headline", "news", "article"} <= set(genres)
    assert genres["article"] >= 50
    for r in rows:
        assert r["events"] == [e for e in r["events"] if e in EVENT_TYPES]
        for p in r["places"]:
            assert len(p["country"]) == 2 and -90 <= p["lat"] <= 90 and -180 <= p["lon"] <= 180
    # negatives: texts with no reported event, and hard negatives of every kind named
    assert sum(not r["events"] for r in rows) >= 150
    texts = " ".join(r["text"] for r in rows if "mobilisation" not in r["events"])
    for cue in ("ambulances", "mobilise", "Mobilisation", "already deployed", "تحشد", "التعبئة"):
        assert cue in texts, cue
    foreign_homonyms = {(p["name"], p["country"]) for r in rows for p in r["places"]}
    for name, cc in (("Tripoli", "LB"), ("Al Bayda", "YE"), ("Zawiya", "SY"), ("Al Marj", "LB")):
        assert (name, cc) in foreign_homonyms


def test_split_keeps_paraphrase_groups_together_and_is_reproducible() -> None:
    dev, test = _rows(DEV), _rows(TEST)
    dev_groups = {r["group"] for r in dev}
    test_groups = {r["group"] for r in test}
    assert not dev_groups & test_groups
    for r in dev + test:
        odd = int(hashlib.sha1(r["group"].encode()).hexdigest()[0], 16) % 2 == 1
        assert odd == (r in test)
    for split in (dev, test):
        assert {e for r in split for e in r["events"]} == set(EVENT_TYPES)


@pytest.fixture(scope="module")
def scores() -> dict[str, dict]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "enrich_score.py"), "--data", str(DEV),
         "--data", str(TEST)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    dev, test = json.loads(out.stdout.strip().splitlines()[-1])
    assert "baseline" in out.stdout.splitlines()[0]
    return {"dev": dev, "test": test}


def test_frozen_test_split_meets_these_acceptance_bars(scores: dict[str, dict]) -> None:
    dev, test = scores["dev"], scores["test"]
    assert test["texts"] >= 300
    assert test["mobilisation_f1"] >= 0.92
    assert test["place_f1"] >= 0.90
    assert dev["mobilisation_f1"] - test["mobilisation_f1"] <= 0.05
    assert dev["place_f1"] - test["place_f1"] <= 0.05
    assert dev["entity_f1"] - test["entity_f1"] <= 0.05


def test_frozen_test_split_regression_floors_below_the_unmet_bars(
    scores: dict[str, dict],
) -> None:
    """Regression floors, not the acceptance bars (0.88 macro, 0.90 entities): see module doc."""
    test = scores["test"]
    assert test["macro_f1"] >= 0.85
    assert test["entity_f1"] >= 0.85


def test_rules_lift_over_the_keyword_baseline(scores: dict[str, dict]) -> None:
    for split in ("dev", "test"):
        s = scores[split]
        base = s["baseline"]
        assert s["mobilisation_f1"] - base["mobilisation_f1"] >= 0.5
        assert s["macro_f1"] - base["macro_f1"] >= 0.3
        assert s["place_f1"] >= base["place_f1"]
        assert s["entity_f1"] > base["entity_f1"]
