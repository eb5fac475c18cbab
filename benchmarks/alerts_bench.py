"""Alerts benchmark: rule evaluation throughput, and feed-to-channel latency.

    .venv/bin/python benchmarks/alerts_bench.py                     # both parts, every backend
    .venv/bin/python benchmarks/alerts_bench.py --rules 200 --articles 200
    .venv/bin/python benchmarks/alerts_bench.py --backends sqlite --skip-latency

1. Evaluation: N rules (a mix of words, phrases, prefixes, event:/place:
   fields, AND/OR/NOT) over M articles indexed after the rules were created,
   timed around ``evaluate_rules`` (search + recording every match and
   alert in state; no channels, so nothing is sent). ``search_only_seconds``
   is the searches alone: the cost of a run in which few articles match.
2. Latency, in the demo setup: the demo site is served on 127.0.0.1, one
   feed is ingested once, then a mobilisation report appears in the feed and
   one ingest run (poll, fetch, extract, enrich, index, alerts) hands the alert
   to a webhook on 127.0.0.1. Measured: from the moment the item is in the
   feed to the webhook receiving the POST. In production add up to one
   polling interval (``newswatch watch --every``) before the run starts.

Elasticsearch is the local test server (``scripts/elasticsearch.sh start``,
``NEWSWATCH_TEST_ELASTICSEARCH_URL`` or ``--es-url``). Numbers depend on the
machine; nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.alerts import state  # noqa: E402
from pipeline.alerts.evaluate import evaluate_rules  # noqa: E402
from pipeline.alerts.rules import Rule  # noqa: E402
from pipeline.config import Settings, load_settings  # noqa: E402
from pipeline.models import Article, Entity, Event  # noqa: E402

DOMAIN_TEXT = (
    "sirte tripoli benghazi misrata jufra sabha zawiya tarhuna gharyan derna ajdabiya "
    "convoy convoys mobilisation reinforcements forces brigade militia clashes airstrike "
    "drone shelling ceasefire truce oil port blockade protest election parliament council "
    "government minister commander spokesman coast guard migrants smuggling fuel bank "
    "dialogue talks geneva berlin tunis cairo ankara moscow wagner mercenaries airport"
)
WORDS = DOMAIN_TEXT.split()
# Everyday words: most of an article, so a three-term rule matches a few percent.
FILLER = [f"w{i:04d}" for i in range(3000)]
DOMAIN_SHARE = 0.06
EVENTS = ["mobilisation", "armed_clash", "airstrike", "shelling", "protest", "oil_blockade"]
PLACES = ["sirte", "tripoli", "benghazi", "misrata", "jufra"]


def make_articles(n: int, rng: random.Random) -> list[Article]:
    out = []
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        words = [rng.choice(WORDS if rng.random() < DOMAIN_SHARE else FILLER) for _ in range(180)]
        places = rng.sample(PLACES, 2)
        out.append(
            Article(
                id=f"bench{i:011d}",
                url=f"https://example.org/{i}",
                canonical_url=f"https://example.org/{i}",
                source=rng.choice(["libya-monitor", "coastline-wire", "al-waha"]),
                title=" ".join(rng.choice(WORDS) for _ in range(8)),
                text=" ".join(words),
                lang="en",
                published=base + timedelta(minutes=i),
                story_id=f"story{i // 2:011d}",  # two copies per story
                events=[Event(type=rng.choice(EVENTS), confidence=0.9, evidence="")],
                entities=[Entity(id=p, name=p.title(), type="place") for p in places],
            )
        )
    return out


def make_rules(n: int, rng: random.Random) -> list[Rule]:
    def w() -> str:
        return rng.choice(WORDS)

    templates = [
        lambda: f"{w()} AND {w()} AND {w()}",
        lambda: f"({w()} OR {w()}) AND {w()}",
        lambda: f'"{w()} {w()}"',
        lambda: f"event:{rng.choice(EVENTS)} AND {w()} AND {w()}",
        lambda: f"place:{rng.choice(PLACES)} AND {w()[:4]}* AND {w()}",
        lambda: f"{w()} AND {w()} AND NOT {w()}",
    ]
    return [
        Rule(name=f"rule-{i:04d}", query=rng.choice(templates)(), channels=[]) for i in range(n)
    ]


def ingest_docs(settings: Settings, articles: list[Article]) -> None:
    from pipeline.search.base import open_backend
    from pipeline.search.docs import doc_from_article
    from pipeline.store import open_store
    from pipeline.store.db import article_from_row

    store = open_store(settings)
    backend = open_backend(settings)
    try:
        backend.ensure_ready()
        for a in articles:
            store.save_article(a)
            store.update_enrichment(
                a.id,
                lang=a.lang,
                story_id=a.story_id,
                events=[e.record() for e in a.events],
                entities=[e.record() for e in a.entities],
            )
        ids = [a.id for a in articles]
        for i in range(0, len(ids), 500):
            rows = list(store.iter_article_rows(ids[i : i + 500]))
            report = backend.upsert(
                [doc_from_article(article_from_row(r), r.ingested_at) for r in rows]
            )
            store.mark_indexed(report.indexed)
    finally:
        backend.close()
        store.close()


def bench_evaluation(backend_name: str, n_rules: int, n_articles: int, es_url: str) -> dict:
    from pipeline.search.base import open_backend
    from pipeline.store import open_store

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        extra: dict[str, Any] = {"search_backend": backend_name}
        index = f"nwbench-alerts-{uuid.uuid4().hex[:8]}"
        if backend_name == "elasticsearch":
            extra = {
                "search_backend": "elasticsearch",
                "elasticsearch_url": [es_url],
                "elasticsearch_index": index,
                "elasticsearch_timeout": 60,
            }
        settings = load_settings(data_dir=Path(tmp), **extra)
        store = open_store(settings)
        for rule in make_rules(n_rules, rng):
            state.add_rule(store, rule)
        time.sleep(0.01)
        ingest_docs(settings, make_articles(n_articles, rng))
        backend = open_backend(settings)
        try:
            # The search part alone (what a run costs when few articles match).
            from pipeline.alerts.evaluate import matching_ids

            since = datetime.now(UTC) - timedelta(hours=1)
            t0 = time.perf_counter()
            for row in state.list_rules(store):
                matching_ids(backend, state.rule_from_row(row), since)
            search_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = evaluate_rules(store, backend, timedelta(minutes=10))
            seconds = time.perf_counter() - t0
        finally:
            backend.close()
            store.close()
            if backend_name == "elasticsearch":
                import httpx

                httpx.delete(f"{es_url.rstrip('/')}/{index}*", timeout=60)
    return {
        "backend": backend_name,
        "rules": n_rules,
        "articles": n_articles,
        "search_only_seconds": round(search_seconds, 2),
        "seconds": round(seconds, 2),
        "ms_per_rule": round(1000 * seconds / n_rules, 2),
        "matches": report.matched,
        "alerts": report.alerts,
        "more_reports": report.more_reports,
        "failed_rules": len(report.failed),
    }


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>bench</title><link>{base}/</link><description>b</description>
{items}
</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{base}{path}</link><guid>{base}{path}</guid></item>"


def bench_latency(runs: int, backend_name: str, es_url: str) -> dict:
    from pipeline.alerts.stage import alerts_after_index
    from pipeline.demo.corpus import CANONICAL_PATH, DEMO_SETTINGS, start_demo_server
    from pipeline.localserver import LocalServer, Response
    from pipeline.run import ingest_cycle

    server = start_demo_server()
    hook = LocalServer("127.0.0.1")
    hook.route("/hook", Response(200, b"{}"))
    hook.start()
    items: list[tuple[str, str]] = []

    def feed(_: Any) -> Response:
        body = RSS.format(
            base=server.url,
            items="\n".join(ITEM.format(title=t, base=server.url, path=p) for t, p in items),
        )
        return Response(200, body.encode(), {"Content-Type": "application/rss+xml"})

    server.route("/bench/feed.rss", feed)
    latencies, run_seconds = [], []
    old_env = os.environ.get("NEWSWATCH_ALERT_WEBHOOK_URL")
    os.environ["NEWSWATCH_ALERT_WEBHOOK_URL"] = hook.url.replace("http://", "json://") + "/hook"
    try:
        for _ in range(runs):
            items[:] = [("Dialogue opens", "/news/2020/11/09/tunis-political-dialogue-opens.html")]
            with tempfile.TemporaryDirectory() as tmp:
                feeds = Path(tmp) / "feeds.yaml"
                feeds.write_text(
                    f"feeds:\n  - {{name: bench, url: '{server.url}/bench/feed.rss', lang: en}}\n"
                )
                extra: dict[str, Any] = {"search_backend": backend_name}
                if backend_name == "elasticsearch":
                    extra = {
                        "search_backend": "elasticsearch",
                        "elasticsearch_url": [es_url],
                        "elasticsearch_index": f"nwbench-lat-{uuid.uuid4().hex[:8]}",
                    }
                settings = load_settings(
                    **{
                        **DEMO_SETTINGS,
                        "data_dir": Path(tmp) / "data",
                        "feeds_file": feeds,
                        "alerts_file": ROOT / "alerts.yaml",
                        **extra,
                    }
                )
                ingest_cycle(settings, after_index=alerts_after_index)  # baseline
                seen = len(hook.requests)
                items.append(("Mobilisation report", CANONICAL_PATH))
                t0 = time.monotonic()
                summary = ingest_cycle(settings, after_index=alerts_after_index)
                posts = hook.requests[seen:]
                if posts:
                    latencies.append(posts[0].time - t0)
                run_seconds.append(summary["seconds"])
                if backend_name == "elasticsearch":
                    import httpx

                    httpx.delete(f"{es_url.rstrip('/')}/{extra['elasticsearch_index']}*")
    finally:
        if old_env is None:
            os.environ.pop("NEWSWATCH_ALERT_WEBHOOK_URL", None)
        else:
            os.environ["NEWSWATCH_ALERT_WEBHOOK_URL"] = old_env
        hook.stop()
        server.stop()
    stages: dict[str, list[float]] = {}
    for secs in run_seconds:
        for k, v in secs.items():
            stages.setdefault(k, []).append(v)
    return {
        "backend": backend_name,
        "runs": runs,
        "delivered": len(latencies),
        "latency_s_median": round(statistics.median(latencies), 3) if latencies else None,
        "latency_s_max": round(max(latencies), 3) if latencies else None,
        "stage_s_median": {k: round(statistics.median(v), 3) for k, v in stages.items()},
    }


def es_available(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url.rstrip('/')}/_cluster/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", type=int, default=1000)
    p.add_argument("--articles", type=int, default=1000)
    p.add_argument("--latency-runs", type=int, default=5)
    p.add_argument("--backends", default="tantivy,sqlite,elasticsearch")
    p.add_argument(
        "--es-url",
        default=os.environ.get("NEWSWATCH_TEST_ELASTICSEARCH_URL", "http://127.0.0.1:9200"),
    )
    p.add_argument("--skip-latency", action="store_true")
    args = p.parse_args()
    for name in args.backends.split(","):
        if name == "elasticsearch" and not es_available(args.es_url):
            print(f"elasticsearch: not running at {args.es_url}; skipped")
            continue
        print(bench_evaluation(name, args.rules, args.articles, args.es_url), flush=True)
        if not args.skip_latency:
            print(bench_latency(args.latency_runs, name, args.es_url), flush=True)


if __name__ == "__main__":
    main()
