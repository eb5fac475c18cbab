"""Incident linking speed: event mentions per second, over a large store.

Fills a fresh SQLite store with N synthetic tagged articles (Libyan places
from the gazetteer, 14 event types, 1-2 events each, three years of dates),
links all but the last M through the real stage (``link_pending``: candidate
lookup by (type, cell, day) in ``incident_keys``, records rebuilt, state
written), then times linking the last M with the store full. Printed beside
the pure in-memory linker on the same mentions and the tagger's rate (the
ingest's per-article cost) on the labelled incident texts. One process, one core.

    python -m benchmarks.incident_bench --articles 1000000 --measure 20000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from pipeline.config import Settings
from pipeline.enrich.gazetteer import entries
from pipeline.incidents.linker import Linker
from pipeline.incidents.mentions import mentions_of, order
from pipeline.incidents.stage import link_pending
from pipeline.models import EVENT_TYPES
from pipeline.store import open_store
from pipeline.store.tables import ArticleRow, IncidentArticleRow


def synthetic(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    places = [
        e
        for e in entries().values()
        if e.type == "place" and e.lat is not None and e.country in (None, "LY")
    ]
    actors = [e for e in entries().values() if e.type == "armed_group"][:30]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        when = t0 + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
        ps = rng.sample(places, rng.choice([1, 1, 2]))
        ac = rng.choice(actors)
        ents = [
            {
                "id": p.id,
                "name": p.name,
                "type": "place",
                "lat": p.lat,
                "lon": p.lon,
                "country": "LY",
            }
            for p in ps
        ]
        ents.append({"id": ac.id, "name": ac.name, "type": "armed_group"})
        evs = [
            {
                "type": t,
                "confidence": 0.8,
                "evidence": f"sentence {i}",
                "actors": [ac.id],
                "places": [p.id for p in ps],
                "position": "lead",
                "reported": True,
            }
            for t in rng.sample(EVENT_TYPES, rng.choice([1, 1, 2]))
        ]
        out.append(
            {
                "id": f"b{i:011d}",
                "url": f"http://127.0.0.1/{i}",
                "canonical_url": f"http://127.0.0.1/{i}",
                "source": f"outlet{i % 40}",
                "lang": "ar" if i % 2 else "en",
                "title": f"t{i}",
                "published": when,
                "fetched_at": when,
                "events": evs,
                "entities": ents,
            }
        )
    return out


def fill(store, recs: list[dict]) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    now = datetime.now(UTC)
    with store.session() as s:
        for i in range(0, len(recs), 20000):
            rows = [
                {
                    **r,
                    "text": "",
                    "enriched": True,
                    "index_state": "done",
                    "ingested_at": now,
                    "story_id": r["id"],
                }
                for r in recs[i : i + 20000]
            ]
            s.execute(insert(ArticleRow), rows)
    return time.perf_counter() - t


def history(store, recs: list[dict], chunk: int = 20000) -> int:  # type: ignore[no-untyped-def]
    """Link the history in the canonical order with candidates kept in memory (the
    store starts empty, so there is nothing to look up) and write it through the
    stage's own writer. What is timed afterwards is the stage proper."""
    from pipeline.store.incidents import save_links

    linker = Linker()
    ms = order(m for r in recs for m in mentions_of(r))
    for i in range(0, len(ms), chunk):
        part = ms[i : i + chunk]
        for m in part:
            linker.link(m)
        save_links(store, linker, part, sorted({m.article_id for m in part}))
    # articles without a mention are marked read too
    left = [r["id"] for r in recs]
    for i in range(0, len(left), 50000):
        hide(store, left[i : i + 50000])
    return len(ms)


def hide(store, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Mark articles as read by the incidents stage."""
    now = datetime.now(UTC)
    with store.session() as s:
        s.execute(
            store._insert(IncidentArticleRow).on_conflict_do_nothing(),
            [{"article_id": i, "mentions": 0, "linked_at": now} for i in ids],
        )


def tagger_rate() -> float:
    from benchmarks.incident_score import load
    from pipeline.enrich import enrich_text

    rows = load("dev")
    t = time.perf_counter()
    for r in rows:
        enrich_text(r["text"], r["lang"], title=r["title"])
    return len(rows) / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--measure", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args(argv)
    work = args.dir or Path(tempfile.mkdtemp(prefix="incbench"))
    store = open_store(Settings(data_dir=work, database_url=f"sqlite:///{work / 'bench.db'}"))
    recs = synthetic(args.articles)
    measured = recs[-args.measure :]
    # the measured articles are published last, as new reports arrive
    last = max(r["published"] for r in recs)
    for k, r in enumerate(measured):
        r["published"] = r["fetched_at"] = last + timedelta(minutes=k)
    print(f"store: {work / 'bench.db'}")
    print(f"fill {args.articles:,} articles: {fill(store, recs):.1f} s")
    t = time.perf_counter()
    hm = history(store, recs[: -args.measure])
    h_s = time.perf_counter() - t
    print(
        f"history: {args.articles - args.measure:,} articles, {hm:,} mentions linked and "
        f"written in {h_s:.1f} s ({hm / h_s:,.0f} mentions/s, in-memory candidates)"
    )
    t = time.perf_counter()
    cpu = time.process_time()
    out = link_pending(store, chunk=1000)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    m = out["counts"]["mentions"]
    ms = order(mm for r in measured for mm in mentions_of(r))
    t = time.perf_counter()
    Linker().link_all(ms)
    pure = len(ms) / (time.perf_counter() - t)
    tag = tagger_rate()
    print()
    print(f"{'what':52} {'rate':>14}")
    print(f"{'linking, full store (stage, SQLite, 1 core), wall':52} {m / wall:>10,.0f} m/s")
    print(f"{'linking, full store (stage, SQLite, 1 core), CPU':52} {m / cpu:>10,.0f} m/s")
    print(f"{'linking, pure in-memory linker (no state)':52} {pure:>10,.0f} m/s")
    print(f"{'ingest: tagging (enrich_text), labelled texts':52} {tag:>10,.0f} art/s")
    print(
        f"store: {args.articles:,} articles; measured {args.measure:,} articles = {m:,} mentions; "
        f"{out['counts']['incidents_changed']:,} incidents changed"
    )
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
