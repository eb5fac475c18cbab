"""Search benchmark: bulk indexing docs/s, query latency and memory, every backend side by side.

    .venv/bin/python benchmarks/search_bench.py            # 100,000 generated articles
    .venv/bin/python benchmarks/search_bench.py --n 20000  # quicker
    .venv/bin/python benchmarks/search_bench.py --n 1000000 --backends tantivy

Backends: ``tantivy`` (the embedded default), ``sqlite`` (FTS5) and
``elasticsearch`` (the local test server, ``scripts/elasticsearch.sh start``
or ``--es-url``; the benchmark index is removed afterwards unless ``--keep``).
Documents are generated on the fly (memory stays flat at a million); only
the ``upsert`` calls are timed, in batches of 2,000 as the pipeline sends
them. For the embedded backends the index size on disk and the resident
memory of a fresh process that opens the index and answers the mix (what
``newswatch serve`` holds for search) are printed too.
Numbers depend on the machine; nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from search_corpus import generate_docs  # noqa: E402

from pipeline.config import Settings  # noqa: E402
from pipeline.search.base import SearchBackend, SearchDoc, SearchRequest  # noqa: E402

QUERY_MIX: list[SearchRequest] = [
    SearchRequest(query="forces"),
    SearchRequest(query="haftar OR حفتر"),
    SearchRequest(query='"coast guard"'),
    SearchRequest(query="mobili*"),
    SearchRequest(query="تحشيدات AND place:sirte"),
    SearchRequest(query="event:mobilisation AND published:[2020 TO 2021]"),
    SearchRequest(query="(oil OR blockade) AND NOT protest", sort="date"),
    SearchRequest(query="title:ceasefire", collapse=True),
    SearchRequest(query="forces", facets=True),
    SearchRequest(query="", sort="date", sources=["Libya Monitor"]),
    SearchRequest(query='"forces mobilised"~5'),
    SearchRequest(query="mobilisation OR تحشيد", facets=True, collapse=True),
]


def batched(docs: Iterable[SearchDoc], size: int) -> Iterable[list[SearchDoc]]:
    batch: list[SearchDoc] = []
    for d in docs:
        batch.append(d)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def bench_index(backend: SearchBackend, docs: Iterable[SearchDoc], n: int) -> dict[str, float]:
    seconds = 0.0
    indexed = 0
    step = max(n // 20, 2000)
    for batch in batched(docs, 2000):  # the pipeline upserts in batches too
        t0 = time.perf_counter()
        report = backend.upsert(batch)
        seconds += time.perf_counter() - t0
        before, indexed = indexed, indexed + len(report.indexed)
        if report.errors:
            raise SystemExit(f"{backend.name}: {len(report.errors)} documents refused")
        if indexed // step != before // step:
            rate = indexed / seconds
            print(f"  {backend.name}: {indexed:,} indexed, {rate:,.0f} docs/s", file=sys.stderr)
    return {"indexed": indexed, "seconds": seconds, "docs_per_s": indexed / seconds}


SERVE_PROBE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from benchmarks.search_bench import QUERY_MIX
from pipeline.search.{module} import {cls}
backend = {cls}({path!r})
times = []
for _ in range(3):
    for req in QUERY_MIX:
        t0 = time.perf_counter(); backend.search(req); times.append(time.perf_counter() - t0)
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"rss_mib": rss, "max_rss_mib": peak}}))
"""


def serve_memory(name: str, path: Path) -> dict[str, float]:
    """RSS of a fresh process that opens the index and answers the mix three times."""
    module, cls = {"tantivy": ("tantivy", "TantivyBackend"), "sqlite": ("sqlite", "SqliteBackend")}[
        name
    ]
    code = SERVE_PROBE.format(root=str(ROOT), module=module, cls=cls, path=str(path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def disk_mib(path: Path) -> float:
    if path.is_file():
        files = [path, *path.parent.glob(path.name + "-*")]
    else:
        files = [p for p in path.rglob("*") if p.is_file()]
    return sum(os.path.getsize(p) for p in files) / 2**20


def bench_search(backend: SearchBackend, rounds: int) -> dict[str, Any]:
    for req in QUERY_MIX:  # warm caches once
        backend.search(req)
    times: list[float] = []
    per_query: dict[str, list[float]] = {}
    for _ in range(rounds):
        for req in QUERY_MIX:
            t0 = time.perf_counter()
            backend.search(req)
            ms = (time.perf_counter() - t0) * 1000
            times.append(ms)
            per_query.setdefault(label(req), []).append(ms)
    return {
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "per_query_p50": {k: percentile(v, 50) for k, v in per_query.items()},
        "searches": len(times),
    }


def label(req: SearchRequest) -> str:
    extra = [
        name
        for name, on in (
            ("date", req.sort == "date"),
            ("collapse", req.collapse),
            ("facets", req.facets),
            ("filter", bool(req.sources)),
        )
        if on
    ]
    return (req.query or "*") + (f" [{', '.join(extra)}]" if extra else "")


def percentile(values: list[float], pct: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def open_sqlite(tmp: Path) -> SearchBackend:
    from pipeline.search.sqlite import SqliteBackend

    return SqliteBackend(tmp / "bench.db", timeout=600)


def open_tantivy(tmp: Path) -> SearchBackend:
    from pipeline.search.tantivy import TantivyBackend

    return TantivyBackend(tmp / "search-index", timeout=600)


def open_elastic(url: str) -> SearchBackend:
    import uuid

    from pipeline.search.elastic import ElasticsearchBackend

    backend = ElasticsearchBackend(
        Settings(
            elasticsearch_url=[url],
            elasticsearch_index=f"nwbench-{uuid.uuid4().hex[:8]}",
            elasticsearch_timeout=120,
        )
    )
    backend.ensure_ready()
    return backend


def drop_elastic(backend: Any) -> None:
    backend.client.indices.delete(index=f"{backend.alias}-v*", ignore_unavailable=True)
    backend.client.options(ignore_status=404).indices.delete_index_template(
        name=backend.template_name
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--n", type=int, default=100_000, help="generated articles (default 100000)")
    ap.add_argument("--rounds", type=int, default=20, help="passes over the query mix")
    ap.add_argument("--backends", default="tantivy,sqlite,elasticsearch")
    ap.add_argument("--es-url", default="http://127.0.0.1:9200")
    ap.add_argument("--keep", action="store_true", help="keep the Elasticsearch index")
    ap.add_argument("--tmp", default=None, help="where the embedded indexes are built")
    args = ap.parse_args()

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        paths = {"sqlite": Path(tmp) / "bench.db", "tantivy": Path(tmp) / "search-index"}
        openers: dict[str, Callable[[], SearchBackend]] = {
            "tantivy": lambda: open_tantivy(Path(tmp)),
            "sqlite": lambda: open_sqlite(Path(tmp)),
            "elasticsearch": lambda: open_elastic(args.es_url),
        }
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            backend = openers[name]()
            try:
                print(f"{name}: indexing ...", file=sys.stderr)
                results[name] = bench_index(backend, generate_docs(args.n, seed=42), args.n)
                print(f"{name}: searching ...", file=sys.stderr)
                results[name].update(bench_search(backend, args.rounds))
                if name in paths:
                    results[name]["disk_mib"] = disk_mib(paths[name])
                    results[name].update(serve_memory(name, paths[name]))
            finally:
                if name == "elasticsearch" and not args.keep:
                    drop_elastic(backend)
                backend.close()

    names = list(results)
    print(f"\nsearch benchmark: {args.n} generated articles, {args.rounds} rounds of the mix")
    print(f"{'':34}" + "".join(f"{n:>16}" for n in names))
    print(
        f"{'bulk index docs/s':34}" + "".join(f"{results[n]['docs_per_s']:>16.0f}" for n in names)
    )
    print(f"{'bulk index seconds':34}" + "".join(f"{results[n]['seconds']:>16.1f}" for n in names))
    print(f"{'search p50 ms (mix)':34}" + "".join(f"{results[n]['p50_ms']:>16.1f}" for n in names))
    print(f"{'search p95 ms (mix)':34}" + "".join(f"{results[n]['p95_ms']:>16.1f}" for n in names))
    for key, title in (
        ("disk_mib", "index on disk MiB"),
        ("rss_mib", "search process RSS MiB"),
    ):
        print(
            f"{title:34}"
            + "".join(
                f"{results[n][key]:>16.0f}" if key in results[n] else f"{'-':>16}" for n in names
            )
        )
    print("per query p50 ms:")
    for req in QUERY_MIX:
        key = label(req)
        print(
            f"  {key[:32]:32}"
            + "".join(f"{results[n]['per_query_p50'][key]:>16.1f}" for n in names)
        )


if __name__ == "__main__":
    main()
