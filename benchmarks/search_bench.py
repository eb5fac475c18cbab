"""Search benchmark: bulk indexing docs/s and query latency, SQLite and Elasticsearch side by side.

    .venv/bin/python benchmarks/search_bench.py            # 100,000 generated articles
    .venv/bin/python benchmarks/search_bench.py --n 20000  # quicker
    .venv/bin/python benchmarks/search_bench.py --backends sqlite

Elasticsearch is the local test server (``scripts/elasticsearch.sh start``, or
``--es-url``); the benchmark index is removed afterwards unless ``--keep``.
Numbers depend on the machine; nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import statistics
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


def bench_index(backend: SearchBackend, docs: list[SearchDoc]) -> dict[str, float]:
    t0 = time.perf_counter()
    indexed = 0
    for batch in batched(docs, 2000):  # the pipeline upserts in batches too
        report = backend.upsert(batch)
        indexed += len(report.indexed)
        if report.errors:
            raise SystemExit(f"{backend.name}: {len(report.errors)} documents refused")
    seconds = time.perf_counter() - t0
    return {"indexed": indexed, "seconds": seconds, "docs_per_s": indexed / seconds}


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

    return SqliteBackend(tmp / "bench.db")


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
    ap.add_argument("--backends", default="sqlite,elasticsearch")
    ap.add_argument("--es-url", default="http://127.0.0.1:9200")
    ap.add_argument("--keep", action="store_true", help="keep the Elasticsearch index")
    args = ap.parse_args()

    t0 = time.perf_counter()
    docs = list(generate_docs(args.n, seed=42))
    print(f"generated {len(docs)} articles in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        openers: dict[str, Callable[[], SearchBackend]] = {
            "sqlite": lambda: open_sqlite(Path(tmp)),
            "elasticsearch": lambda: open_elastic(args.es_url),
        }
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            backend = openers[name]()
            try:
                print(f"{name}: indexing ...", file=sys.stderr)
                results[name] = bench_index(backend, docs)
                print(f"{name}: searching ...", file=sys.stderr)
                results[name].update(bench_search(backend, args.rounds))
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
    print("per query p50 ms:")
    for req in QUERY_MIX:
        key = label(req)
        print(
            f"  {key[:32]:32}"
            + "".join(f"{results[n]['per_query_p50'][key]:>16.1f}" for n in names)
        )


if __name__ == "__main__":
    main()
