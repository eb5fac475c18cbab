"""API benchmark: search latency through HTTP vs the Python API, and the page in Chromium.

    .venv/bin/python benchmarks/api_bench.py                 # 100,000 generated articles
    .venv/bin/python benchmarks/api_bench.py --n 20000       # quicker
    .venv/bin/python benchmarks/api_bench.py --backends sqlite --no-browser

1. N generated articles are indexed into each backend (Tantivy, SQLite FTS5; the local
   test Elasticsearch from ``scripts/elasticsearch.sh start``,
   ``NEWSWATCH_TEST_ELASTICSEARCH_URL`` or ``--es-url``).
2. The app runs on uvicorn on 127.0.0.1; 1, 8 and 32 concurrent clients send
   the same query mix to ``/api/search``; the same requests also go straight
   to ``backend.search`` (what ``newswatch search`` calls), with as many
   threads. The difference is what the HTTP layer costs.
3. Headless Chromium (``/usr/bin/chromium``) loads ``/?q=...``: bytes
   transferred for the page and its assets, and the time from navigation start
   to the first result in the list.

Numbers depend on the machine; nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from apiserver import running_app  # noqa: E402
from search_corpus import generate_docs  # noqa: E402

from pipeline.api.settings import ApiSettings  # noqa: E402
from pipeline.config import Settings, load_settings  # noqa: E402
from pipeline.search.base import SearchRequest, open_backend  # noqa: E402

# The same mix as benchmarks/search_bench.py, as HTTP parameters.
QUERY_MIX: list[dict[str, Any]] = [
    {"q": "forces"},
    {"q": "haftar OR حفتر"},
    {"q": '"coast guard"'},
    {"q": "mobili*"},
    {"q": "تحشيدات AND place:sirte"},
    {"q": "event:mobilisation AND published:[2020 TO 2021]"},
    {"q": "(oil OR blockade) AND NOT protest", "sort": "date"},
    {"q": "title:ceasefire", "collapse": True},
    {"q": "forces", "facets": True},
    {"q": "", "sort": "date", "source": "Libya Monitor"},
]
CLIENTS = (1, 8, 32)
BATCH = 2000


def as_request(p: dict[str, Any]) -> SearchRequest:
    return SearchRequest(
        query=p["q"],
        sort=p.get("sort", "relevance"),
        collapse=bool(p.get("collapse")),
        facets=bool(p.get("facets")),
        sources=[p["source"]] if "source" in p else [],
        limit=20,
    )


def as_params(p: dict[str, Any]) -> dict[str, str]:
    out = {"q": p["q"], "size": "20", "facets": "true" if p.get("facets") else "false"}
    for key in ("sort", "source"):
        if key in p:
            out[key] = p[key]
    if p.get("collapse"):
        out["collapse"] = "true"
    return out


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    return {
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
        "qps": len(latencies) / wall,
    }


def run_concurrent(clients: int, per_client: int, make: Callable[[], Callable[[int], None]]):
    """``clients`` threads, each running ``per_client`` calls of its own worker."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        call = make()
        mine = []
        for i in range(per_client):
            t0 = time.perf_counter()
            call(seed + i)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(0, clients * 7919, 7919)))
    return summary(latencies, time.perf_counter() - t0)


def http_worker(url: str) -> Callable[[], Callable[[int], None]]:
    def make() -> Callable[[int], None]:
        client = httpx.Client(base_url=url, timeout=120)

        def call(i: int) -> None:
            resp = client.get("/api/search", params=as_params(QUERY_MIX[i % len(QUERY_MIX)]))
            resp.raise_for_status()

        return call

    return make


def python_worker(settings: Settings) -> Callable[[], Callable[[int], None]]:
    def make() -> Callable[[int], None]:
        backend = open_backend(settings)

        def call(i: int) -> None:
            backend.search(as_request(QUERY_MIX[i % len(QUERY_MIX)]))

        return call

    return make


def index(settings: Settings, n: int) -> float:
    backend = open_backend(settings)
    backend.ensure_ready()
    t0 = time.perf_counter()
    batch = []
    for doc in generate_docs(n):
        batch.append(doc)
        if len(batch) >= BATCH:
            backend.upsert(batch)
            batch = []
    if batch:
        backend.upsert(batch)
    took = time.perf_counter() - t0
    backend.close()
    return took


def page_metrics(url: str, query: str) -> dict[str, float]:
    """Page weight and time to first result in headless Chromium."""
    from playwright.sync_api import sync_playwright

    probe = """
    window.__first = null;
    new MutationObserver(() => {
      if (window.__first === null && document.querySelector('#results > li.hit'))
        window.__first = performance.now();
    }).observe(document, { childList: true, subtree: true });
    """
    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]  # fmt: skip
    runs = []
    cold = 0.0
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", args=args, headless=True
        )
        for i in range(6):
            page = ctx.new_page()
            page.add_init_script(probe)
            page.goto(f"{url}/?{httpx.QueryParams({'q': query})}")
            page.wait_for_function("window.__first !== null", timeout=60000)
            page.wait_for_load_state("networkidle")
            weight = page.evaluate(
                "performance.getEntries().filter(e => 'transferSize' in e)"
                ".reduce((s, e) => s + e.transferSize, 0)"
            )
            first = page.evaluate("window.__first")
            page.close()
            if i:  # the first load is cold: it fetches every asset
                runs.append((weight, first))
            else:
                cold = weight
        ctx.close()
    return {
        "cold_kb": cold / 1024,
        "weight_kb": statistics.median(w for w, _ in runs) / 1024,
        "first_result_ms": statistics.median(f for _, f in runs),
    }


def static_weight() -> float:
    static = ROOT / "pipeline" / "api" / "static"
    return sum(p.stat().st_size for p in static.iterdir() if p.suffix != ".md") / 1024


def bench_backend(settings: Settings, args: argparse.Namespace) -> None:
    print(f"\n## {settings.search_backend}: indexing {args.n:,} generated articles", flush=True)
    took = index(settings, args.n)
    print(f"indexed in {took:.1f} s ({args.n / took:,.0f} docs/s)")
    api = ApiSettings(api_backend_pool=args.pool)
    with running_app(settings, api) as url:
        http_worker(url)()(0)  # warm up the pool
        print("\n| clients | path | p50 ms | p95 ms | p99 ms | mean ms | req/s |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for clients in CLIENTS:
            per = max(args.requests // clients, 10)
            for name, make in (("HTTP API", http_worker(url)), ("Python", python_worker(settings))):
                s = run_concurrent(clients, per, make)
                print(
                    f"| {clients} | {name} | {s['p50']:.1f} | {s['p95']:.1f} | "
                    f"{s['p99']:.1f} | {s['mean']:.1f} | {s['qps']:.0f} |",
                    flush=True,
                )
        if not args.no_browser:
            m = page_metrics(url, "forces")
            print(
                f"\npage: {m['cold_kb']:.1f} KB transferred on a cold load, "
                f"{m['weight_kb']:.1f} KB warm (static files {static_weight():.1f} KB); "
                f"first result after {m['first_result_ms']:.0f} ms (median of 5 warm loads)"
            )


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="generated articles")
    parser.add_argument("--requests", type=int, default=320, help="requests per level")
    parser.add_argument("--backends", default="tantivy,sqlite,elasticsearch")
    parser.add_argument("--es-url", default=os.environ.get("NEWSWATCH_TEST_ELASTICSEARCH_URL"))
    parser.add_argument("--pool", type=int, default=4, help="NEWSWATCH_API_BACKEND_POOL")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print(f"# API benchmark: {args.n:,} articles, pool {args.pool}, query mix of 10")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            if name in ("tantivy", "sqlite"):
                bench_backend(load_settings(data_dir=Path(tmp) / name, search_backend=name), args)
            elif name == "elasticsearch":
                index_name = f"nwbench-api-{uuid.uuid4().hex[:8]}"
                settings = load_settings(
                    data_dir=Path(tmp) / "es",
                    search_backend="elasticsearch",
                    elasticsearch_url=[args.es_url or "http://127.0.0.1:9200"],
                    elasticsearch_index=index_name,
                    elasticsearch_timeout=120,
                )
                try:
                    bench_backend(settings, args)
                finally:
                    backend: Any = open_backend(settings)
                    backend.client.indices.delete(
                        index=f"{backend.alias}-v*", ignore_unavailable=True
                    )
                    backend.client.options(ignore_status=404).indices.delete_index_template(
                        name=backend.template_name
                    )
                    backend.close()


if __name__ == "__main__":
    main()
