"""Score tagging against a labelled file, beside a one-regex-per-type keyword baseline.

Usage:
  python benchmarks/enrich_score.py --data tests/data/enrich_eval_dev.jsonl [--errors]
  python benchmarks/enrich_score.py --data DEV --data TEST      (columns side by side)

Each line: {"id", "lang", "text", "title"?, "events": [type ids],
"entities": [{"name", "type"}], "places"?: [{"name", "country", "lat", "lon"}]}.

What is printed, for each file, for the rules and for the baseline:
- P/R/F1 per event type, mobilisation P/R/F1, and macro F1 over the event
  types that occur in the file (gold or predicted);
- place P/R/F1 by distance: a found place counts when it lies within 25 km of
  a gold place not matched yet (files with a "places" list);
- entity P/R/F1 over (canonical id) per text: people, organisations, armed
  groups and foreign actors (older files without "places" also count their
  place entities here, as before).
Gold entity names are resolved to ids through the gazetteer, so a label may
use any known spelling. Languages are detected, not taken from the file. The
last line is one JSON object with the totals (rules, and "baseline").

The baseline: one regular expression per event type (English and Arabic
alternatives in one pattern) over title and text, and gazetteer names found
by plain string matching with the first listed entry taken, no context. Every
figure of the rules is read as a lift over it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pipeline.enrich import enrich_text
from pipeline.enrich.gazetteer import entries, resolve
from pipeline.enrich.normalise import fold, fold_key
from pipeline.models import EVENT_TYPES

PLACE_KM = 25.0
ACTORS = ("person", "org", "armed_group", "foreign_actor")

# One pattern per type, as a keyword tagger would write it (matched on folded text).
BASELINE_PATTERNS: dict[str, str] = {
    "mobilisation": r"mobili[sz]|build-?up|reinforcement|troop movement|تحشيد|حشد|تعزيزات",
    "armed_clash": r"clash|fighting|gun ?battle|اشتباك|معارك|قتال",
    "airstrike": r"air ?strike|air raid|drone strike|غارة|غارات|ضربة جوية",
    "shelling": r"shelling|shelled|artillery|mortar|rockets?\b|قصف|قذائف|قذيفة",
    "explosion": r"explosion|exploded|blast|car bomb|انفجار|تفجير|عبوة ناسفة",
    "territory_change": r"took control|seized|captured|recaptured|سيطرة|سيطرت|استعادت",
    "ceasefire_agreement": r"ceasefire|cease-fire|truce|وقف إطلاق النار|هدنة",
    "ceasefire_violation": r"violat\w* (?:the |a )?(?:ceasefire|truce)|breach|خرق|انتهاك",
    "political_dialogue": r"talks|dialogue|negotiat|حوار|مفاوضات|محادثات",
    "protest": r"protest|demonstrat|sit-in|احتجاج|مظاهرة|مظاهرات|تظاهر|اعتصام",
    "violence_against_civilians": r"kidnap|abduct|massacre|mass grave|assassinat|اختطاف|خطف|اغتيال",
    "arrest_detention": r"arrest|detained|اعتقال|اعتقل|القبض|احتجاز",
    "foreign_forces": r"mercenar|foreign (?:forces|fighters|troops)|wagner|مرتزق|فاغنر|قوات أجنبية",
    "oil_blockade": r"blockade|force majeure|القوة القاهرة|إغلاق الحقول|إغلاق النفط",
}


@cache
def _baseline_res() -> dict[str, re.Pattern[str]]:
    return {t: re.compile(fold(p).text) for t, p in BASELINE_PATTERNS.items()}


@cache
def _baseline_names() -> tuple[re.Pattern[str], dict[str, str]]:
    """Every gazetteer name -> the first entry that lists it (no context, no variants)."""
    first: dict[str, str] = {}
    for e in entries().values():
        for n in (e.name, *e.aliases, *e.names_ar):
            k = fold_key(n)
            if len(k) >= 3:
                first.setdefault(k, e.id)
    alts = sorted(first, key=len, reverse=True)
    body = "|".join(re.escape(a) for a in alts)
    pat = re.compile(rf"(?<!\w)(?:[وف]?[بلك]?)?({body})(?!\w)")
    return pat, first


@dataclass
class Prediction:
    events: set[str]
    places: list[tuple[float, float]]
    actors: set[str]
    place_ids: set[str] = field(default_factory=set)


def predict_rules(item: dict) -> Prediction:
    r = enrich_text(item["text"], title=item.get("title") or "")
    places = [
        (e.lat, e.lon) for e in r.entities if e.type == "place" and e.lat is not None
    ]  # fmt: skip
    return Prediction(
        events={e.type for e in r.events},
        places=places,  # type: ignore[arg-type]
        actors={e.id for e in r.entities if e.type in ACTORS},
        place_ids={e.id for e in r.entities if e.type == "place"},
    )


def predict_baseline(item: dict) -> Prediction:
    text = fold(f"{item.get('title') or ''}\n{item['text']}").text
    events = {t for t, p in _baseline_res().items() if p.search(text)}
    pat, first = _baseline_names()
    ids = {first[m.group(1)] for m in pat.finditer(text)}
    table = entries()
    places = [(table[i].lat, table[i].lon) for i in ids if table[i].lat is not None]
    return Prediction(
        events=events,
        places=places,  # type: ignore[arg-type]
        actors={i for i in ids if table[i].type in ACTORS},
        place_ids={i for i in ids if table[i].type == "place"},
    )


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2
    h += math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _match_places(gold: list[tuple[float, float]], pred: list[tuple[float, float]]) -> int:
    """Greedy closest-first matching within PLACE_KM; each gold and each found place once."""
    pairs = sorted(
        (d, gi, pi)
        for gi, g in enumerate(gold)
        for pi, p in enumerate(pred)
        if (d := _km(g, p)) <= PLACE_KM
    )
    used_g: set[int] = set()
    used_p: set[int] = set()
    for _d, gi, pi in pairs:
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
    return len(used_g)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def load(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


def score_items(
    items: list[dict], predict: Callable[[dict], Prediction], errors: bool = False
) -> dict:
    counts = {t: [0, 0, 0] for t in EVENT_TYPES}  # tp, fp, fn
    ent = [0, 0, 0]
    plc = [0, 0, 0]
    has_places = any("places" in it for it in items)
    for item in items:
        pred = predict(item)
        gold_ev = set(item.get("events", []))
        for t in EVENT_TYPES:
            counts[t][0] += t in gold_ev and t in pred.events
            counts[t][1] += t in pred.events and t not in gold_ev
            counts[t][2] += t in gold_ev and t not in pred.events
        if "places" in item:
            gold_ent = {resolve("entity", g["name"]) for g in item.get("entities", [])}
            pred_ent = set(pred.actors)
            gold_pl = [(p["lat"], p["lon"]) for p in item["places"]]
            tp = _match_places(gold_pl, pred.places)
            plc[0] += tp
            plc[1] += len(pred.places) - tp
            plc[2] += len(gold_pl) - tp
        else:  # the older dev set: places are entities, matched by id
            gold_ent = {resolve("entity", g["name"]) for g in item.get("entities", [])}
            pred_ent = pred.actors | pred.place_ids
        ent[0] += len(gold_ent & pred_ent)
        ent[1] += len(pred_ent - gold_ent)
        ent[2] += len(gold_ent - pred_ent)
        if errors and (gold_ev != pred.events or gold_ent != pred_ent):
            print(f"--- {item['id']} {item['text'][:90]!r}", file=sys.stderr)
            if gold_ev != pred.events:
                print(
                    f"    events missed {sorted(gold_ev - pred.events)} "
                    f"extra {sorted(pred.events - gold_ev)}",
                    file=sys.stderr,
                )
            if gold_ent != pred_ent:
                print(
                    f"    entities missed {sorted(gold_ent - pred_ent)} "
                    f"extra {sorted(pred_ent - gold_ent)}",
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
    mob = per_type.get("mobilisation", {"p": 1.0, "r": 1.0, "f1": 0.0})
    out = {
        "texts": len(items),
        "events": per_type,
        "macro_f1": round(macro, 3),
        "mobilisation_p": mob["p"],
        "mobilisation_r": mob["r"],
        "mobilisation_f1": mob["f1"],
        "entity_p": round(ep, 3),
        "entity_r": round(er, 3),
        "entity_f1": round(ef, 3),
    }
    if has_places:
        pp, pr, pf = _prf(*plc)
        out.update(place_p=round(pp, 3), place_r=round(pr, 3), place_f1=round(pf, 3))
    return out


def score(path: Path, show_errors: bool = False) -> dict:
    """Rules and baseline on one file (the rules' totals at the top level)."""
    items = load(path)
    totals = score_items(items, predict_rules, show_errors)
    totals["baseline"] = score_items(items, predict_baseline)
    return totals


def _cell(v: float | None) -> str:
    return " " * 6 if v is None else (f"{v:6d}" if isinstance(v, int) else f"{v:6.3f}")


def _row(label: str, cols: list[tuple | None]) -> str:
    cells = [" " * 20 if c is None else " ".join(_cell(v) for v in c) for c in cols]
    return f"{label:28} " + " | ".join(cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, action="append", required=True, help="repeatable")
    ap.add_argument("--errors", action="store_true", help="list mismatching texts on stderr")
    args = ap.parse_args()
    results = [(p, score(p, args.errors)) for p in args.data]
    columns: list[tuple[str, dict]] = []
    for p, tot in results:
        short = p.stem.removeprefix("enrich_eval_")[:11]
        columns.append((f"{short} rules", tot))
        columns.append((f"{short} baseline", tot["baseline"]))
    print(f"{'':28} " + " | ".join(f"{name[:20]:^20}" for name, _ in columns))
    print(f"{'':28} " + " | ".join(f"{'P':>6} {'R':>6} {'F1':>6}" for _ in columns))
    for t in EVENT_TYPES:
        cells = []
        for _, tot in columns:
            v = tot["events"].get(t)
            cells.append((v["p"], v["r"], v["f1"]) if v else None)
        if any(cells):
            print(_row(t, cells))
    print(_row("macro F1 (event types)", [(None, None, tot["macro_f1"]) for _, tot in columns]))
    blocks = (("mobilisation", "mobilisation"), ("place", "places (25 km)"), ("entity", "entities"))
    for key, label in blocks:
        cells = [
            (tot[f"{key}_p"], tot[f"{key}_r"], tot[f"{key}_f1"]) if f"{key}_f1" in tot else None
            for _, tot in columns
        ]
        print(_row(label, cells))
    print(_row("texts", [(None, None, tot["texts"]) for _, tot in columns]))
    summary = [
        {"file": str(p), **{k: v for k, v in tot.items() if k != "events"}} for p, tot in results
    ]
    for s in summary:
        s["baseline"] = {k: v for k, v in s["baseline"].items() if k != "events"}
    print(json.dumps(summary[0] if len(summary) == 1 else summary))


if __name__ == "__main__":
    main()
