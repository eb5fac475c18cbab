"""Export throughput and memory: N generated articles in SQLite state, each format.

Each export runs as the real CLI in a child process, so its peak memory
(ru_maxrss) is measured alone. Run:
``.venv/bin/python -m benchmarks.export_bench --n 100000``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from benchmarks.generate import article_text, published
from pipeline.config import load_settings
from pipeline.store import open_store
from pipeline.store.tables import ArticleRow

EVENTS = [{"type": "mobilisation", "confidence": 0.9, "evidence": "Forces moved.",
           "actors": ["lna"], "places": ["sirte"]}]  # fmt: skip
ENTITIES = [{"id": "sirte", "name": "Sirte", "type": "place", "lat": 31.2, "lon": 16.58},
            {"id": "lna", "name": "Libyan National Army", "type": "armed_group"}]  # fmt: skip


def fill(data_dir: Path, n: int) -> float:
    rng = random.Random(1)
    texts = [article_text(rng) for _ in range(200)]
    store = open_store(load_settings(data_dir=data_dir))
    t0 = time.perf_counter()
    now = published(rng)
    batch = []
    with store.engine.begin() as conn:
        for i in range(n):
            text = texts[i % len(texts)]
            batch.append(
                {
                    "id": f"{i:016x}",
                    "url": f"http://127.0.0.1/a/{i}",
                    "canonical_url": f"http://127.0.0.1/a/{i}",
                    "source": f"src{i % 7}",
                    "lang": "en",
                    "title": f"Article {i}",
                    "authors": ["Staff"],
                    "published": published(rng),
                    "date_source": "page",
                    "fetched_at": now,
                    "text": text,
                    "summary": text[:200],
                    "extraction_method": "trafilatura",
                    "content_hash": f"{i:032x}",
                    "story_id": f"{i:016x}",
                    "events": EVENTS,
                    "entities": ENTITIES,
                    "enriched": True,
                    "index_state": "indexed",
                    "ingested_at": now,
                }
            )
            if len(batch) == 2000:
                conn.execute(insert(ArticleRow), batch)
                batch = []
        if batch:
            conn.execute(insert(ArticleRow), batch)
    store.close()
    return time.perf_counter() - t0


def run_export(data_dir: Path, fmt: str, out: Path) -> tuple[float, float]:
    env = dict(os.environ, NEWSWATCH_DATA_DIR=str(data_dir))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "export", f"--{fmt}", "-o", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"export --{fmt} failed with status {status}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        secs = fill(data, args.n)
        print(f"generated {args.n} articles (~800 words) in {secs:.1f} s")
        results = {}
        for fmt in ("jsonl", "csv", "parquet"):
            out = Path(tmp) / f"export.{fmt}"
            wall, peak = run_export(data, fmt, out)
            size = out.stat().st_size / 2**20
            results[fmt] = {"rows_per_s": round(args.n / wall), "peak_rss_mib": round(peak),
                            "seconds": round(wall, 1), "file_mib": round(size)}  # fmt: skip
            print(f"{fmt:<8} {args.n / wall:10.0f} rows/s  peak {peak:6.0f} MiB  "
                  f"{wall:6.1f} s  file {size:6.0f} MiB")  # fmt: skip
        print(json.dumps({"n": args.n, **results}))


if __name__ == "__main__":
    main()
