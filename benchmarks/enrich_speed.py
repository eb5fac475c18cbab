"""Enrichment throughput: articles per second on one core, ~800-word articles.

Usage: python benchmarks/enrich_speed.py [--articles 300] [--lang en|ar|both]

The gazetteer (curated entries, states and the GeoNames places) and the
automata are built once before timing, as in a running process, and that
start-up cost is printed first. Articles are assembled from the dev sets so
they hold realistic densities of names and triggers. Each rate is printed by
the wall clock and by the process's CPU time: on a machine shared with other
work the CPU figure is the closer one to "one core".
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pipeline.enrich import enrich_text

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "devset.jsonl"
WORDS = 800


def _articles(lang: str, n: int) -> list[str]:
    texts = [json.loads(line) for line in DEVSET.read_text("utf-8").splitlines() if line.strip()]
    pool = [t["text"] for t in texts if t["lang"] == lang]
    out = []
    for i in range(n):
        words: list[str] = []
        j = i
        while len(words) < WORDS:
            words.extend(pool[j % len(pool)].split())
            j += 7
        paragraphs = [" ".join(words[k : k + 80]) for k in range(0, WORDS, 80)]
        out.append("\n\n".join(paragraphs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--lang", choices=["en", "ar", "both"], default="both")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from pipeline.enrich.gazetteer import entries

    n = len(entries())
    t_gaz = time.perf_counter() - t0
    enrich_text("warm-up: Haftar in Sirte", lang="en")
    t_all = time.perf_counter() - t0
    t1 = time.perf_counter()
    enrich_text("Warm-up of the language model, Haftar in Sirte.")
    t_lang = time.perf_counter() - t1
    print(
        f"load: gazetteer {t_gaz:.3f} s ({n} entries); with automata and lexicon {t_all:.3f} s; "
        f"language model {t_lang:.3f} s"
    )
    results: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for lang in ["en", "ar"] if args.lang == "both" else [args.lang]:
        arts = _articles(lang, args.articles)
        for given in (lang, None):
            t = time.perf_counter()
            c = time.process_time()
            for a in arts:
                enrich_text(a, lang=given)
            dt = time.perf_counter() - t
            dc = time.process_time() - c
            label = f"{lang} ({'lang given' if given else 'lang detected'})"
            results[label] = round(len(arts) / dt, 1)
            cpu[label] = round(len(arts) / dc, 1)
            print(
                f"{label:24} {len(arts)} articles x {WORDS} words: {len(arts) / dt:8.1f} "
                f"articles/s wall, {len(arts) / dc:8.1f} articles/s CPU"
            )
    print(json.dumps({"articles_per_second": results, "articles_per_cpu_second": cpu}))


if __name__ == "__main__":
    main()
