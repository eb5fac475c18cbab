"""Enrichment throughput: articles per second on one core, ~800-word articles.

Usage: python benchmarks/enrich_speed.py [--articles 200] [--rounds 3]
       [--lang en|ar|both] [--ref REV ...] [--no-ref] [--check]

The machine this runs on is shared, so an absolute rate alone says little.
Each tagger runs in its own worker process: the working tree's tagger
("new") and the tagger of each ``--ref`` git revision (default: the tagger
before the speed work and the one before the tagging rework), checked out
with ``git archive`` into a temporary directory. The parent hands the same
articles to every worker and alternates between them, round by round, so
each figure is measured beside the others under the same load; the table
shows each worker's best round (CPU time of the worker process, the closer
figure to "one core") and the new tagger's ratio to each reference.

Start-up is measured per worker in a fresh process: importing the tagger,
loading the gazetteer (curated entries, states, the GeoNames places) and
building the automata and lexicon, up to the first tagged text.

``--check`` also asserts that the new tagger's output (the full ``newswatch
enrich --jsonl`` record) is identical to the first reference's on the
labelled dev texts and the demo corpus pages: a speed change must not
change a single tag. Articles are assembled from the dev sets so they hold
realistic densities of names and triggers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "devset.jsonl"
EVAL_DEV = ROOT / "tests" / "data" / "enrich_eval_dev.jsonl"
WORDS = 800
CHUNK = 10  # articles per turn of one tagger
# The tagger before the speed work of the second round, and the one before the
# tagging rework (events frames, toponyms, GeoNames gazetteer) of issue 13.
DEFAULT_REFS = ("4699158", "84a7f9a")


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


def _check_texts() -> list[dict[str, Any]]:
    """Dev texts (both dev sets) and the demo corpus pages' extracted text."""
    items: list[dict[str, Any]] = []
    for path in (DEVSET, EVAL_DEV):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                items.append({"text": row["text"], "title": row.get("title") or "", "lang": None})
                items.append({"text": row["text"], "title": "", "lang": row["lang"]})
    import trafilatura

    site = ROOT / "pipeline" / "demo" / "site"
    for page in sorted(site.rglob("*.html")):
        text = trafilatura.extract(page.read_text("utf-8")) or ""
        if text.strip():
            items.append({"text": text, "title": page.stem.replace("-", " "), "lang": None})
    return items


# --- worker ---------------------------------------------------------------


def _worker(tree: str, data_path: str) -> None:
    """Run in a fresh process with ``tree`` first on the path: one tagger's timings."""
    sys.path.insert(0, tree)
    t0 = time.perf_counter()
    c0 = time.process_time()
    import pipeline.enrich as enrich
    from pipeline.enrich.gazetteer import entries

    t_import = time.perf_counter() - t0
    n = len(entries())
    t_gaz = time.perf_counter() - t0
    enrich.enrich_text("warm-up: Haftar in Sirte", lang="en")
    enrich.enrich_text("تحشيد قوات حفتر قرب سرت", lang="ar")
    t_all = time.perf_counter() - t0
    c_all = time.process_time() - c0
    t1 = time.perf_counter()
    enrich.enrich_text("Warm-up of the language model, Haftar in Sirte.")
    t_lang = time.perf_counter() - t1
    assert Path(enrich.__file__).resolve().is_relative_to(Path(tree).resolve()), enrich.__file__
    data = json.loads(Path(data_path).read_text("utf-8"))
    print(
        json.dumps(
            {
                "entries": n,
                "import": t_import,
                "gazetteer": t_gaz,
                "ready": t_all,
                "ready_cpu": c_all,
                "lang_model": t_lang,
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "run":
            arts = data["articles"][cmd["lang"]][cmd["lo"] : cmd["hi"]]
            given = cmd["lang"] if cmd["given"] else None
            t, c = time.perf_counter(), time.process_time()
            for a in arts:
                enrich.enrich_text(a, lang=given)
            out = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}
        elif cmd["op"] == "check":
            records = [
                enrich.enrich_text(x["text"], lang=x["lang"], title=x["title"]).record()
                for x in data["check"]
            ]
            Path(cmd["out"]).write_text(json.dumps(records, ensure_ascii=False), "utf-8")
            out = {"n": len(records)}
        else:
            return
        print(json.dumps(out), flush=True)


class Worker:
    def __init__(self, label: str, tree: Path, data: Path) -> None:
        self.label = label
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(tree), str(data)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tree,
        )
        self.startup = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.label} died")
        return json.loads(line)

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _checkout(rev: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "pipeline"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lang", choices=["en", "ar", "both"], default="both")
    ap.add_argument("--ref", action="append", help="git revision to compare with (repeatable)")
    ap.add_argument("--no-ref", action="store_true", help="time the working tree only")
    ap.add_argument("--check", action="store_true", help="outputs identical to the first ref")
    args = ap.parse_args()
    refs = [] if args.no_ref else (args.ref or list(DEFAULT_REFS))
    langs = ["en", "ar"] if args.lang == "both" else [args.lang]
    with tempfile.TemporaryDirectory(prefix="enrich-speed-") as tmp:
        data_path = Path(tmp) / "data.json"
        data = {
            "articles": {lang: _articles(lang, args.articles) for lang in langs},
            "check": _check_texts() if args.check else [],
        }
        data_path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        trees: list[tuple[str, Path]] = [("new", ROOT)]
        for i, rev in enumerate(refs):
            known = subprocess.run(
                ["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True
            )
            if known.returncode != 0:
                print(f"note: revision {rev} is not in this clone; pass --ref to compare")
                continue
            trees.append((f"ref {rev}", _checkout(rev, Path(tmp) / f"ref-{i}")))
        workers = [Worker(label, tree, data_path) for label, tree in trees]
        try:
            _report(workers, langs, args, Path(tmp))
        finally:
            for w in workers:
                w.close()


def _report(workers: list[Worker], langs: list[str], args: argparse.Namespace, tmp: Path) -> None:
    print("start-up (fresh process: import, gazetteer, automata and lexicon, first text):")
    for w in workers:
        s = w.startup
        print(
            f"  {w.label:14} {s['entries']:5d} entries: import {s['import']:.3f} s, "
            f"gazetteer loaded {s['gazetteer']:.3f} s, ready {s['ready']:.3f} s "
            f"({s['ready_cpu']:.3f} s CPU); language model {s['lang_model']:.3f} s"
        )
    if args.check and len(workers) > 1:
        outs = []
        for w in workers[:2]:
            path = tmp / f"check-{len(outs)}.json"
            w.ask(op="check", out=str(path))
            outs.append(json.loads(path.read_text("utf-8")))
        diff = [i for i, (a, b) in enumerate(zip(*outs, strict=True)) if a != b]
        print(
            f"check: {len(outs[0])} records (dev texts, demo pages) vs {workers[1].label}: "
            + ("identical" if not diff else f"{len(diff)} DIFFER, first at #{diff[0]}")
        )
        if diff:
            raise SystemExit(1)
    cases = [(lang, given) for lang in langs for given in (True, False)]
    best: dict[tuple[str, str, bool], float] = {}
    best_wall: dict[tuple[str, str, bool], float] = {}
    for _ in range(args.rounds):
        for lang, given in cases:
            cpu = dict.fromkeys((w.label for w in workers), 0.0)
            wall = dict.fromkeys((w.label for w in workers), 0.0)
            # Small chunks, alternating between the taggers, so that a change in
            # the machine's load hits all of them alike.
            for lo in range(0, args.articles, CHUNK):
                for w in workers:
                    r = w.ask(op="run", lang=lang, given=given, lo=lo, hi=lo + CHUNK)
                    cpu[w.label] += r["cpu"]
                    wall[w.label] += r["wall"]
            for w in workers:
                key = (w.label, lang, given)
                best[key] = max(best.get(key, 0.0), args.articles / cpu[w.label])
                best_wall[key] = max(best_wall.get(key, 0.0), args.articles / wall[w.label])
    print(
        f"\narticles/s on one core ({args.articles} articles x {WORDS} words, best of "
        f"{args.rounds} rounds alternating every {CHUNK} articles; CPU time, "
        "wall clock in brackets):"
    )
    header = f"{'case':22}" + "".join(f"{w.label:>22}" for w in workers)
    header += "".join(f"{'new / ' + w.label:>22}" for w in workers[1:])
    print(header)
    result: dict[str, dict[str, float]] = {}
    for lang, given in cases:
        label = f"{lang} ({'lang given' if given else 'lang detected'})"
        row = f"{label:22}"
        for w in workers:
            k = (w.label, lang, given)
            row += f"{best[k]:>12.1f} ({best_wall[k]:>6.1f})  "
            result.setdefault(w.label, {})[label] = round(best[k], 1)
        for w in workers[1:]:
            row += f"{best[('new', lang, given)] / best[(w.label, lang, given)]:>21.2f}x"
        print(row)
    print(
        json.dumps(
            {
                "articles_per_cpu_second": result,
                "startup_s": {w.label: round(w.startup["ready"], 3) for w in workers},
            }
        )
    )


if __name__ == "__main__":
    main()
