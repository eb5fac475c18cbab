"""Ingest throughput: N generated article pages served from 127.0.0.1, end to end.

Prints pages/s for each stage and end to end, peak memory, and, as the ceiling,
raw ``trafilatura.extract`` throughput on the same pages (one core and all
cores), measured in the extraction mode the product uses
(``NEWSWATCH_EXTRACTION_MODE``) and in trafilatura's default (balanced) mode,
both printed; the end-to-end ratio is to the product mode's ceiling. Then the
command's start-up: ``newswatch --help`` and ``newswatch ingest`` with nothing
to do (no feeds; with the shipped alerts.yaml and with no alert rules), median
of five runs each. Run:
``.venv/bin/python -m benchmarks.pipeline_bench --pages 2000``.
Numbers only; nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import Process, Queue
from pathlib import Path

import trafilatura

from benchmarks.generate import page_html, rss
from pipeline.config import Settings
from pipeline.localserver import LocalServer, Response

FEEDS = 10


def _extract(html: str, fast: bool = False) -> int:
    return len(trafilatura.extract(html, fast=fast) or "")


def ceiling(pages: list[str], workers: int, fast: bool = False) -> float:
    t0 = time.perf_counter()
    if workers == 1:
        for html in pages:
            _extract(html, fast)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(partial(_extract, fast=fast), pages, chunksize=16))
    return len(pages) / (time.perf_counter() - t0)


def _median_seconds(cmd: list[str], env: dict[str, str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def startup() -> dict[str, float]:
    """Seconds (median) of ``--help`` and of an ingest with nothing to do."""
    with tempfile.TemporaryDirectory() as tmp:
        feeds_file = Path(tmp) / "feeds.yaml"
        feeds_file.write_text("feeds: []\n")
        env = dict(
            os.environ,
            NEWSWATCH_DATA_DIR=str(Path(tmp) / "data"),
            NEWSWATCH_FEEDS_FILE=str(feeds_file),
        )
        cli = [sys.executable, "-m", "pipeline.cli"]
        subprocess.run([*cli, "ingest"], env=env, capture_output=True, check=True)  # migrate
        no_rules = dict(env, NEWSWATCH_ALERTS_FILE=str(Path(tmp) / "no-alert-rules.yaml"))
        return {
            "help": _median_seconds([*cli, "--help"], env),
            "ingest_nothing_to_do": _median_seconds([*cli, "ingest"], env),
            "ingest_nothing_to_do_no_rules": _median_seconds([*cli, "ingest"], no_rules),
        }


def build_site(pages: int) -> tuple[list[str], dict[str, tuple[bytes, str]]]:
    """-> (page htmls, {path: (body, content type)}), the same for the same count."""
    rng = random.Random(42)
    htmls: list[str] = []
    routes: dict[str, tuple[bytes, str]] = {}
    per_feed: list[list[tuple[str, str]]] = [[] for _ in range(FEEDS)]
    for i in range(pages):
        title, html = page_html(i, rng)
        path = f"/news/{i}.html"
        htmls.append(html)
        routes[path] = (html.encode(), "text/html; charset=utf-8")
        per_feed[i % FEEDS].append((title, path))
    routes["/robots.txt"] = (b"User-agent: *\nAllow: /\n", "text/plain")
    for f, items in enumerate(per_feed):
        routes[f"/feed{f}.rss"] = (rss("{base}", items).encode(), "application/rss+xml")
    return htmls, routes


def serve(pages: int, urls: Queue) -> None:  # type: ignore[type-arg]
    """The site, in its own process, so the server does not share the pipeline's GIL."""
    _, routes = build_site(pages)
    server = LocalServer().start()
    for path, (body, ctype) in routes.items():
        body = body.replace(b"{base}", server.url.encode())
        server.route(path, Response(body=body, headers={"Content-Type": ctype}))
    urls.put(server.url)
    while True:
        time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--alerts",
        action="store_true",
        help="evaluate the shipped alerts.yaml too (the generated text matches the "
        "mobilisation rule almost everywhere, so this mostly measures writing alerts)",
    )
    args = parser.parse_args()

    htmls, _ = build_site(args.pages)
    urls: Queue = Queue()  # type: ignore[type-arg]
    site = Process(target=serve, args=(args.pages, urls), daemon=True)
    site.start()
    base = urls.get(timeout=120)
    with tempfile.TemporaryDirectory() as tmp:
        feeds_file = Path(tmp) / "feeds.yaml"
        lines = ["feeds:"]
        for f in range(FEEDS):
            lines.append(f"  - {{name: bench{f}, url: '{base}/feed{f}.rss', lang: en}}")
        feeds_file.write_text("\n".join(lines) + "\n")
        env = dict(
            os.environ,
            NEWSWATCH_DATA_DIR=str(Path(tmp) / "data"),
            NEWSWATCH_FEEDS_FILE=str(feeds_file),
            NEWSWATCH_ALLOW_HOSTS="127.0.0.1",
            NEWSWATCH_HOST_DELAY="0",
            NEWSWATCH_FETCH_CONCURRENCY=str(args.concurrency),
            NEWSWATCH_PER_HOST_CONCURRENCY=str(args.concurrency),
        )
        if not args.alerts:
            env["NEWSWATCH_ALERTS_FILE"] = str(Path(tmp) / "no-alert-rules.yaml")
        # The real command in its own process: its peak memory is measured alone.
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "ingest", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        out = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if status != 0:
            raise SystemExit(f"ingest failed with status {status}")
        summary = json.loads(out)
        peak_ingest = usage.ru_maxrss / 1024
    site.terminate()

    mode = getattr(Settings(), "extraction_mode", "balanced")  # before the setting: balanced
    fast = mode == "fast"
    cores = os.cpu_count() or 2
    one = ceiling(htmls[:400], 1, fast)
    both = ceiling(htmls, cores, fast)
    one_default = ceiling(htmls[:400], 1, False) if fast else one
    both_default = ceiling(htmls, cores, False) if fast else both
    starts = startup()
    n = summary["extracted"]
    print(f"pages served          {args.pages}")
    print(f"articles stored       {n} (failed: {summary['failed']})")
    for stage, secs in summary["seconds"].items():
        rate = n / secs if secs else float("inf")
        print(f"stage {stage:<15} {secs:8.2f} s   {rate:8.1f} pages/s")
    print(f"end to end            {wall:8.2f} s   {n / wall:8.1f} pages/s")
    print(
        f"trafilatura ceiling   {mode} mode (the product's): 1 core {one:.1f} pages/s, "
        f"{cores} cores {both:.1f} pages/s"
    )
    print(
        f"trafilatura ceiling   default (balanced) mode: 1 core {one_default:.1f} pages/s, "
        f"{cores} cores {both_default:.1f} pages/s"
    )
    print(
        f"end to end / ceiling  {100 * (n / wall) / both:.0f}% of the {cores}-core {mode} "
        f"ceiling, {100 * (n / wall) / one:.0f}% of the 1-core one; "
        f"{100 * (n / wall) / both_default:.0f}% of the {cores}-core default-mode ceiling"
    )
    print(f"peak memory           {peak_ingest:.0f} MiB (largest process of the ingest)")
    print(
        f"start-up              --help {starts['help']:.2f} s; ingest with nothing to do "
        f"{starts['ingest_nothing_to_do']:.2f} s (shipped alert rules), "
        f"{starts['ingest_nothing_to_do_no_rules']:.2f} s (no rules)"
    )
    print(
        json.dumps(
            {
                "pages": args.pages,
                "stored": n,
                "end_to_end_pps": round(n / wall, 1),
                "extraction_mode": mode,
                "ceiling_1core_pps": round(one, 1),
                "ceiling_all_cores_pps": round(both, 1),
                "ceiling_default_mode_1core_pps": round(one_default, 1),
                "ceiling_default_mode_all_cores_pps": round(both_default, 1),
                "ratio_to_ceiling": round((n / wall) / both, 3),
                "ratio_to_default_mode_ceiling": round((n / wall) / both_default, 3),
                "startup_seconds": {k: round(v, 3) for k, v in starts.items()},
                "stage_seconds": summary["seconds"],
                "peak_rss_mib": round(peak_ingest),
            }
        )
    )


if __name__ == "__main__":
    main()
