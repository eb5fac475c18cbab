"""Scores incident linking on the labelled set: pairwise precision, recall, F1.

Every report goes through the real tagger (``enrich_text``), becomes mentions
(``mentions_of``) and is linked in the canonical order; a pair of reports is
"together" when their labelled-type mentions share an incident. A report whose
labelled type was not tagged counts as alone (it costs recall). Printed beside a
baseline (same type, same first place id, same publication day) and a
re-run check (linking again gives identical incidents).

    python -m benchmarks.incident_score                 # dev split
    python -m benchmarks.incident_score --split test    # the frozen split (final figures only)
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "incidents"


def load(split: str) -> list[dict[str, Any]]:
    with (DATA / f"{split}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Article records as the store keeps them, tagged by the real tagger."""
    from pipeline.enrich import enrich_text

    out = []
    for r in rows:
        e = enrich_text(r["text"], r["lang"], title=r["title"])
        out.append(
            {
                "id": r["id"],
                "url": f"http://127.0.0.1/{r['id']}",
                "source": r["source"],
                "lang": e.lang or r["lang"],
                "title": r["title"],
                "published": r["published"],
                "events": [ev.record() for ev in e.all_events],
                "entities": [en.record() for en in e.entities],
            }
        )
    return out


def link(recs: list[dict[str, Any]]) -> dict[str, str]:
    """mention key -> incident id, linked in the canonical order."""
    from pipeline.incidents.linker import Linker
    from pipeline.incidents.mentions import mentions_of, order

    ms = order(m for r in recs for m in mentions_of(r))
    return dict(Linker().link_all(ms))


def baseline(recs: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for r in recs:
        places = [e["id"] for e in r["entities"] if e["type"] == "place"]
        for ev in r["events"]:
            if ev.get("reported", True):
                first = (ev["places"] or places or ["-"])[0]
                out[f"{r['id']}:{ev['type']}"] = f"{ev['type']}|{first}|{r['published'][:10]}"
    return out


def pairwise(rows: list[dict[str, Any]], links: dict[str, str]) -> dict[str, float]:
    """Pairwise P/R/F1 over reports, by the labelled type's mention."""
    pred = {r["id"]: links.get(f"{r['id']}:{r['type']}", f"alone:{r['id']}") for r in rows}
    tp = fp = fn = 0
    for a, b in combinations(rows, 2):
        same_gold = a["incident"] == b["incident"]
        same_pred = pred[a["id"]] == pred[b["id"]]
        tp += same_gold and same_pred
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    tagged = sum(1 for row in rows if f"{row['id']}:{row['type']}" in links)
    return {"precision": p, "recall": r, "f1": f, "tagged": tagged / len(rows)}


def score(split: str) -> dict[str, Any]:
    rows = load(split)
    recs = records(rows)
    links = link(recs)
    again = link(recs)
    groups: dict[str, set[str]] = defaultdict(set)
    for key, inc in links.items():
        groups[inc].add(key)
    return {
        "split": split,
        "reports": len(rows),
        "incidents_gold": len({r["incident"] for r in rows}),
        "incidents_linked": len(groups),
        "linker": pairwise(rows, links),
        "baseline": pairwise(rows, baseline(recs)),
        "rerun_identical": links == again,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", action="append", choices=["dev", "test"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    results = [score(s) for s in args.split or ["dev"]]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{'split':6} {'method':9} {'P':>6} {'R':>6} {'F1':>6} {'tagged':>7}"
        "  reports gold linked rerun"
    )
    for res in results:
        for method in ("linker", "baseline"):
            m = res[method]
            print(
                f"{res['split']:6} {method:9} {m['precision']:6.3f} {m['recall']:6.3f} "
                f"{m['f1']:6.3f} {m['tagged']:7.3f}  {res['reports']:7} {res['incidents_gold']:4} "
                f"{res['incidents_linked'] if method == 'linker' else '':6} "
                f"{'same' if res['rerun_identical'] else 'DIFFERS' if method == 'linker' else ''}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
