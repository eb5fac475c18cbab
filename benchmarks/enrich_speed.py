"""Enrichment throughput: articles per second on one core, ~800-word articles.

Usage: python benchmarks/enrich_speed.py [--articles 300] [--lang en|ar|both]

The gazetteer and the automata are built once before timing (as in a
running process); articles are assembled from the canonical report and the
dev set so they hold realistic densities of names and triggers.
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
    enrich_text("warm-up: Haftar in Sirte", lang="en")
    print(f"load: {time.perf_counter() - t0:.3f} s (gazetteer, automata, lexicon)")
    results = {}
    for lang in ["en", "ar"] if args.lang == "both" else [args.lang]:
        arts = _articles(lang, args.articles)
        for given in (lang, None):
            t = time.perf_counter()
            for a in arts:
                enrich_text(a, lang=given)
            dt = time.perf_counter() - t
            label = f"{lang} ({'lang given' if given else 'lang detected'})"
            results[label] = round(len(arts) / dt, 1)
            print(
                f"{label:24} {len(arts)} articles x {WORDS} words: {len(arts) / dt:8.1f} articles/s"
            )
    print(json.dumps({"articles_per_second": results}))


if __name__ == "__main__":
    main()
