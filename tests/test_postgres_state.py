"""The state layer on SQLite and on a real PostgreSQL: one suite, both databases.

PostgreSQL is the local server of ``scripts/postgres.sh`` (127.0.0.1:55432);
every test gets a fresh database, dropped afterwards. In CI a missing server
fails the PostgreSQL half (tests/servers.py); SQLite always runs.

The concurrency test runs two ingest processes at the same time over the
same feeds and the same database: upserts keyed by ids must leave exactly one
row per item and per article, whichever process got there first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from servers import require_postgres

from pipeline.config import Settings, load_settings
from pipeline.models import Article, Entity, Event, FeedItem, FeedSource, Page
from pipeline.store import Store, open_store

T0 = datetime(2020, 11, 24, 8, 30, tzinfo=UTC)


def _fresh_postgres_db(admin_url: str) -> tuple[str, str]:
    """Create an empty database; returns (its URL, its name)."""
    name = f"nwtest_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    base = sa.engine.make_url(admin_url)
    return base.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres_db(admin_url: str, name: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'state.db').as_posix()}"
        return
    admin = require_postgres()
    url, name = _fresh_postgres_db(admin)
    yield url
    _drop_postgres_db(admin, name)


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    st = open_store(Settings(database_url=db_url, data_dir=tmp_path / "data"))
    yield st
    st.close()


def make_article(i: int, **kw: object) -> Article:
    fields: dict[str, object] = {
        "id": f"art-{i:03d}",
        "url": f"https://example.org/a/{i}?utm_source=x",
        "canonical_url": f"https://example.org/a/{i}",
        "source": "Libya Monitor",
        "title": f"Forces mobilising near Sirte ({i})",
        "text": "قوات حفتر — Columns moved from al-Jufra towards Sirte. " * 5,
        "lang": "en",
        "authors": ["Staff"],
        "published": T0 + timedelta(hours=i),
        "date_source": "page",
        "fetched_at": T0 + timedelta(days=1),
        "summary": "Columns moved.",
        "extraction_method": "trafilatura",
        "content_hash": f"hash-{i}",
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- suite


def test_migrations_are_idempotent(db_url: str, tmp_path: Path):
    for _ in range(2):
        st = open_store(Settings(database_url=db_url, data_dir=tmp_path / "data"))
        assert st.count_articles() == 0
        st.close()


def test_feeds_upsert_and_poll_bookkeeping(store: Store):
    store.sync_feeds([FeedSource("wire", "https://w/1.rss", "en")])
    store.sync_feeds([FeedSource("wire", "https://w/2.rss", "ar"), FeedSource("b", "https://b")])
    feeds = {f.name: f for f in store.feeds()}
    assert set(feeds) == {"wire", "b"} and feeds["wire"].url == "https://w/2.rss"
    store.record_poll(
        "wire",
        status="ok",
        http_status=200,
        etag='"e1"',
        last_modified="Mon, 07 Jun 2021 07:00:00 GMT",
        error=None,
        warning=None,
        new_items=3,
    )
    store.record_poll(
        "wire",
        status="failed",
        http_status=500,
        etag=None,
        last_modified=None,
        error="server error",
        warning=None,
        new_items=0,
    )
    wire = {f.name: f for f in store.feeds()}["wire"]
    assert wire.consecutive_errors == 1 and wire.last_error == "server error"
    assert wire.items_seen == 3
    assert store.feed_validators()["wire"] == ('"e1"', "Mon, 07 Jun 2021 07:00:00 GMT")


def test_items_insert_once_and_move_through_states(store: Store):
    store.sync_feeds([FeedSource("wire", "https://w/1.rss")])
    items = [FeedItem("wire", f"g{i}", f"https://w/{i}", title=f"t{i}") for i in range(5)]
    first = store.add_items(items)
    assert len(first) == 5
    assert store.add_items(items) == []  # seen before: nothing new
    pending = store.pending_item_ids(max_attempts=3)
    assert sorted(pending) == sorted(first)
    store.mark_item(first[0], status="failed", reason="http_404", detail="gone")
    store.mark_item(first[1], status="done", article_id="art-001")
    assert store.item_counts() == {"pending": 3, "failed": 1, "done": 1}
    assert [r.id for r in store.failed_items()] == [first[0]]
    assert store.retry_failed_items() == 1
    assert store.item_counts() == {"pending": 4, "done": 1}
    row = store.get_items([first[2]])[0]
    assert store.item_to_feed_item(row).link == "https://w/2"


def test_pages_round_trip_bytes_and_headers(store: Store):
    body = "<html>تحشيدات</html>".encode("cp1256") + bytes(range(256))
    page = Page("https://w/1", "https://w/1?x", 200, {"content-type": "text/html"}, body, T0)
    store.save_page("item-1", page)
    store.save_page("item-1", page)  # upsert, not a second row
    got = store.load_page("item-1")
    assert got is not None and got.body == body and got.headers == page.headers
    assert got.fetched_at == T0
    assert store.load_page("missing") is None


def test_pages_are_upserted_in_one_batch(store: Store):
    """save_pages: one statement for many pages; an existing page and a repeated
    item in the same batch both end as the last page given."""
    old = Page("https://w/1", "https://w/1", 200, {}, b"old", T0)
    store.save_page("item-1", old)
    batch = [
        ("item-1", Page("https://w/1", "https://w/1b", 200, {"a": "1"}, b"new-1", T0)),
        ("item-2", Page("https://w/2", "https://w/2", 200, {}, b"first-2", T0)),
        ("item-2", Page("https://w/2", "https://w/2", 200, {}, b"second-2", T0)),
        ("item-3", Page("https://w/3", "https://w/3", 200, {}, bytes(range(256)) * 50, T0)),
    ]
    store.save_pages(batch)
    store.save_pages([])  # nothing to write is not an error
    got = {i: store.load_page(i) for i in ("item-1", "item-2", "item-3")}
    assert got["item-1"] is not None and got["item-1"].body == b"new-1"
    assert got["item-1"].final_url == "https://w/1b" and got["item-1"].headers == {"a": "1"}
    assert got["item-2"] is not None and got["item-2"].body == b"second-2"
    assert got["item-3"] is not None and got["item-3"].body == bytes(range(256)) * 50


def test_articles_insert_once_enrich_and_index_states(store: Store):
    assert store.save_article(make_article(1)) is True
    assert store.save_article(make_article(1, title="changed")) is False
    assert store.save_article(make_article(2, content_hash="hash-1")) is True
    assert store.existing_article_ids(["art-001", "art-999"]) == {"art-001"}
    assert store.article_with_hash("hash-1", exclude_id="art-002") == "art-001"
    assert store.get_article("art-001").title == "Forces mobilising near Sirte (1)"

    assert sorted(store.unenriched_ids()) == ["art-001", "art-002"]
    store.update_enrichment(
        "art-001",
        lang="en",
        story_id="art-001",
        events=[Event("mobilisation", 0.9, "forces mobilising", ["lna"], ["sirte"]).record()],
        entities=[Entity("sirte", "Sirte", "place", 31.2, 16.59).record()],
    )
    assert store.unenriched_ids() == ["art-002"]
    assert store.pending_index_ids() == ["art-001"]  # enriched and pending only
    art = store.get_article("art-001")
    assert art.events[0].type == "mobilisation" and art.events[0].places == ["sirte"]
    assert art.entities[0].lat == 31.2
    assert art.published == T0 + timedelta(hours=1)  # aware datetimes survive
    assert art.text.startswith("قوات حفتر")

    store.mark_indexed(["art-001"], {"art-002": "refused"})
    assert store.pending_index_ids() == []
    assert store.count_pending_index() == 1  # art-002 still pending
    assert store.get_article_row("art-002").index_error == "refused"
    store.set_story("art-001", "story-x")
    assert store.pending_index_ids() == ["art-001"]  # a story move re-indexes
    assert store.mark_all_pending_index() == 2


def test_iter_article_rows_streams_in_id_order(store: Store):
    for i in range(23):
        store.save_article(make_article(i))
    ids = [r.id for r in store.iter_article_rows(batch=5)]
    assert ids == sorted(ids) and len(ids) == 23 == store.count_articles()
    chosen = ["art-007", "art-003", "nope"]
    assert [r.id for r in store.iter_article_rows(chosen, batch=2)] == ["art-007", "art-003"]
    en = list(store.iter_filtered_rows(since=T0 + timedelta(hours=20), langs=["en"]))
    assert [r.id for r in en] == ["art-020", "art-021", "art-022"]


def test_runs_and_stats(store: Store):
    store.start_run("r1")
    store.add_run_stat("r1", "poll", {"counts": {"feeds_ok": 2}}, 0.5)
    store.add_run_stat("r1", "index", {"counts": {"indexed": 4}}, 1.5)
    store.update_run("r1", {"indexed": 4}, status="ok")
    stats = store.run_stats("r1")
    assert [s.stage for s in stats] == ["poll", "index"]
    run = store.get_run("r1")
    assert run.status == "ok" and run.summary == {"indexed": 4} and run.finished_at
    assert store.last_run().id == "r1"


# --------------------------------------------------------------------------- two processes

_INGEST = """
import json, sys
from pipeline.config import load_settings
from pipeline.demo.corpus import DEMO_SETTINGS
from pipeline.run import ingest_cycle
settings = load_settings(**{**DEMO_SETTINGS, **json.loads(sys.argv[1])})
summary = ingest_cycle(settings)
print(json.dumps({"extracted": summary["extracted"], "failed": summary["failed"]}))
"""


@pytest.mark.slow
def test_two_ingests_at_once_make_no_duplicates(db_url: str, tmp_path: Path):
    from pipeline.demo.corpus import start_demo_server, write_feeds_file

    server = start_demo_server()
    try:
        feeds = write_feeds_file(server.url, tmp_path / "feeds.yaml")
        procs = []
        for n in range(2):
            data = tmp_path / f"data{n}"
            data.mkdir()
            overrides = {
                "database_url": db_url,
                "data_dir": str(data),
                "feeds_file": str(feeds),
                # the search index is not what this test is about: one per process
                "search_backend": "sqlite",
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _INGEST, json.dumps(overrides)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        server.stop()
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    settings = load_settings(database_url=db_url, data_dir=tmp_path / "check")
    st = open_store(settings)
    try:
        with st.engine.connect() as conn:
            articles = conn.execute(sa.text("SELECT id, canonical_url FROM articles")).all()
            items = conn.execute(sa.text("SELECT id, feed, link FROM items")).all()
        assert articles, "the two ingests stored nothing"
        assert len({a.canonical_url for a in articles}) == len(articles)
        assert len({(i.feed, i.link) for i in items}) == len(items)
        # The same outcome as one process alone: every article once.
        single = tmp_path / "single"
        single.mkdir()
        server2 = start_demo_server()
        try:
            feeds2 = write_feeds_file(server2.url, tmp_path / "feeds2.yaml")
            alone = load_settings(data_dir=single, feeds_file=feeds2, **_demo())
            from pipeline.run import ingest_cycle

            ingest_cycle(alone)
        finally:
            server2.stop()
        one = open_store(alone)
        try:
            assert one.count_articles() == len(articles)
        finally:
            one.close()
    finally:
        st.close()


def _demo() -> dict[str, object]:
    from pipeline.demo.corpus import DEMO_SETTINGS

    return dict(DEMO_SETTINGS)
