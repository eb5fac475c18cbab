"""Score enrichment against a labelled file (the dev set format of the enrichment issue).

Usage: python benchmarks/enrich_score.py --data tests/data/devset.jsonl [--errors]

Each line: {"id", "lang", "text", "events": [type ids], "entities": [{"name", "type"}]}.
Gold entity names are resolved to canonical ids through the gazetteer, so a
label may use any known spelling. Languages are detected, not taken from the
file, so the score covers detection too. Prints P/R/F1 per event type, macro
F1 over the event types that occur (gold or predicted), entity P/R/F1 (micro,
over (id, type) pairs per text), and ends with one JSON line of the totals.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.enrich import enrich_text
from pipeline.enrich.gazetteer import resolve
from pipeline.models import EVENT_TYPES


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score(path: Path, show_errors: bool = False) -> dict:
    counts = {t: [0, 0, 0] for t in EVENT_TYPES}  # tp, fp, fn
    ent = [0, 0, 0]
    n = 0
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        n += 1
        result = enrich_text(item["text"])
        gold_ev = set(item.get("events", []))
        pred_ev = {e.type for e in result.events}
        for t in EVENT_TYPES:
            counts[t][0] += t in gold_ev and t in pred_ev
            counts[t][1] += t in pred_ev and t not in gold_ev
            counts[t][2] += t in gold_ev and t not in pred_ev
        gold_ent = {(resolve("entity", g["name"]), g["type"]) for g in item.get("entities", [])}
        pred_ent = {(e.id, e.type) for e in result.entities}
        ent[0] += len(gold_ent & pred_ent)
        ent[1] += len(pred_ent - gold_ent)
        ent[2] += len(gold_ent - pred_ent)
        if show_errors and (gold_ev != pred_ev or gold_ent != pred_ent):
            print(f"--- {item['id']} ({result.lang}) {item['text'][:90]}", file=sys.stderr)
            if gold_ev != pred_ev:
                print(
                    f"    events missed {sorted(gold_ev - pred_ev)} "
                    f"extra {sorted(pred_ev - gold_ev)}",
                    file=sys.stderr,
                )
            if gold_ent != pred_ent:
                print(
                    f"    entities missed {sorted(gold_ent - pred_ent)} extra "
                    f"{sorted(pred_ent - gold_ent)}",
                    file=sys.stderr,
                )
    per_type = {}
    for t in EVENT_TYPES:
        tp, fp, fn = counts[t]
        if tp + fp + fn == 0:
            continue
        p, r, f = _prf(tp, fp, fn)
        per_type[t] = {"p": round(p, 3), "r": round(r, 3), "f1": round(f, 3), "support": tp + fn}
    macro = sum(v["f1"] for v in per_type.values()) / len(per_type) if per_type else 0.0
    ep, er, ef = _prf(*ent)
    return {
        "texts": n,
        "events": per_type,
        "macro_f1": round(macro, 3),
        "mobilisation_f1": per_type.get("mobilisation", {}).get("f1", 0.0),
        "entity_p": round(ep, 3),
        "entity_r": round(er, 3),
        "entity_f1": round(ef, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--errors", action="store_true", help="list mismatching texts on stderr")
    args = ap.parse_args()
    totals = score(args.data, args.errors)
    print(f"{'event type':28} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}")
    for t, v in totals["events"].items():
        print(f"{t:28} {v['p']:6.3f} {v['r']:6.3f} {v['f1']:6.3f} {v['support']:4d}")
    print(f"{'macro F1':28} {'':6} {'':6} {totals['macro_f1']:6.3f}")
    print(
        f"{'entities':28} {totals['entity_p']:6.3f} {totals['entity_r']:6.3f} "
        f"{totals['entity_f1']:6.3f}"
    )
    print(json.dumps({k: v for k, v in totals.items() if k != "events"}))


if __name__ == "__main__":
    main()
