"""End to end on the demo corpus: feeds -> pages -> text -> SQLite search.

Real parts only: the demo site is served by a real HTTP server on 127.0.0.1,
state is a real SQLite file, search is the real FTS5 backend, and the CLI runs
as a subprocess where the user-facing command is what is tested.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings, load_settings
from pipeline.dedup import article_id
from pipeline.demo.corpus import DEMO_SETTINGS, EXPECTED, start_demo_server, write_feeds_file
from pipeline.localserver import LocalServer
from pipeline.run import ingest_cycle
from pipeline.search.base import SearchRequest, open_backend
from pipeline.store import open_store

pytestmark = pytest.mark.slow

NEWSWATCH = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="module")
def demo_server() -> Iterator[LocalServer]:
    server = start_demo_server()
    yield server
    server.stop()


def demo_settings(server: LocalServer, data_dir: Path, **extra: Any) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    feeds = write_feeds_file(server.url, data_dir / "feeds.yaml")
    return load_settings(**{**DEMO_SETTINGS, "data_dir": data_dir, "feeds_file": feeds, **extra})


def demo_env(server: LocalServer, data_dir: Path) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    feeds = write_feeds_file(server.url, data_dir / "feeds.yaml")
    env = dict(os.environ)
    env.update(
        NEWSWATCH_DATA_DIR=str(data_dir),
        NEWSWATCH_FEEDS_FILE=str(feeds),
        NEWSWATCH_ALLOW_HOSTS="127.0.0.1",
        NEWSWATCH_READ_TIMEOUT=str(DEMO_SETTINGS["read_timeout"]),
        NEWSWATCH_CONNECT_TIMEOUT=str(DEMO_SETTINGS["connect_timeout"]),
        NEWSWATCH_MAX_PAGE_BYTES=str(DEMO_SETTINGS["max_page_bytes"]),
        NEWSWATCH_RETRIES="0",
        NEWSWATCH_HOST_DELAY="0",
        NEWSWATCH_FETCH_CONCURRENCY="8",
        COLUMNS="200",
    )
    return env


def cli(
    args: list[str], env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*NEWSWATCH, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"newswatch {args} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def state_snapshot(settings: Settings) -> dict[str, Any]:
    """What 'the same state' means: articles, items, and what search returns."""
    store = open_store(settings)
    try:
        articles = {
            r.id: (r.canonical_url, r.content_hash, r.story_id, r.title, r.index_state)
            for r in store.iter_article_rows()
        }
        items = {i.id: (i.status, i.article_id) for i in _all_items(store)}
    finally:
        store.close()
    backend = open_backend(settings)
    try:
        indexed = set(backend.iter_ids(SearchRequest(query="")))
    finally:
        backend.close()
    return {"articles": articles, "items": items, "indexed": indexed}


def _all_items(store: Any) -> list[Any]:
    from sqlalchemy import select

    from pipeline.store.tables import ItemRow

    with store.session() as s:
        return list(s.scalars(select(ItemRow)))


@pytest.fixture(scope="module")
def first_run(demo_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("demo")
    settings = demo_settings(demo_server, data)
    summary = ingest_cycle(settings)
    return {"settings": settings, "summary": summary, "data": data}


def test_first_run_ingests_every_good_article_and_reports_each_failure(
    first_run: dict[str, Any], demo_server: LocalServer
) -> None:
    summary = first_run["summary"]
    assert summary["feeds"]["failed"] == EXPECTED["feeds"]["failed"]
    assert summary["feeds"]["ok"] == EXPECTED["feeds"]["ok"]
    assert summary["items_new"] == EXPECTED["items"]
    assert summary["extracted"] == EXPECTED["articles"]
    assert summary["duplicates"] == EXPECTED["duplicates"]
    assert summary["indexed"] == EXPECTED["articles"]
    assert summary["pending_index"] == 0
    assert summary["failed"] == EXPECTED["failed"]
    # the malformed feed still gave its entries, and the run says what was wrong with it
    assert [w["feed"] for w in summary["warnings"]] == EXPECTED["bozo_feeds"]
    assert summary["feeds"]["with_warnings"] == 1
    # every failure names its URL and a reason a person can read
    by_path = {}
    for f in summary["failures"]:
        path = f["url"].removeprefix(demo_server.url) if f["url"] else f["where"]
        by_path[path] = f["reason"]
        assert f["detail"], f
    for path, reason in EXPECTED["failed_paths"].items():
        matches = [r for p, r in by_path.items() if path in p]
        assert reason in matches, (path, by_path)
    # the private address was refused before any request: nothing but loopback was asked
    assert all(r.host.startswith("127.0.0.1") for r in demo_server.requests)

    settings = first_run["settings"]
    store = open_store(settings)
    try:
        ids = {r.id for r in store.iter_article_rows()}
        assert len(ids) == EXPECTED["articles"]
        for path in EXPECTED["article_paths"]:
            assert article_id(demo_server.url + path) in ids, path
        # the malformed feed's entries made it in
        sources = {r.source for r in store.iter_article_rows()}
        assert EXPECTED["bozo_feeds"][0] in sources
        # the feed state records the 404 and the bozo warning
        feeds = {f.name: f for f in store.feeds()}
    finally:
        store.close()
    missing = next(iter(EXPECTED["failed_feeds"]))
    assert feeds[missing].last_status == "failed"
    assert feeds[missing].consecutive_errors == 1
    assert "404" in (feeds[missing].last_error or "")
    assert feeds[EXPECTED["bozo_feeds"][0]].last_warning


def test_duplicates_share_ids_and_stories(
    first_run: dict[str, Any], demo_server: LocalServer
) -> None:
    store = open_store(first_run["settings"])
    try:
        for tracked, plain in EXPECTED["exact_duplicates"]:
            assert article_id(demo_server.url + tracked) == article_id(demo_server.url + plain)
        for a, b in EXPECTED["near_duplicates"]:
            ra = store.get_article(article_id(demo_server.url + a))
            rb = store.get_article(article_id(demo_server.url + b))
            assert ra and rb and ra.id != rb.id
            assert ra.story_id == rb.story_id == min(ra.id, rb.id)
    finally:
        store.close()


def test_search_finds_canonical_report_first_with_snippet(
    first_run: dict[str, Any], demo_server: LocalServer
) -> None:
    env = demo_env(demo_server, first_run["data"])
    proc = cli(["search", "mobilisation AND Sirte", "--json"], env)
    result = json.loads(proc.stdout)
    assert result["total"] >= 1
    top = result["hits"][0]
    assert top["id"] == article_id(demo_server.url + EXPECTED["canonical_path"])
    assert "<mark>" in top["snippet"]
    assert set(top) >= {
        "id",
        "title",
        "url",
        "source",
        "lang",
        "published",
        "score",
        "snippet",
        "story_id",
        "events",
        "entities",
    }


def test_arabic_word_from_windows_1256_page_finds_it_with_correct_text(
    first_run: dict[str, Any], demo_server: LocalServer
) -> None:
    probe = EXPECTED["arabic_probe"]
    env = demo_env(demo_server, first_run["data"])
    result = json.loads(cli(["search", probe["word"], "--json"], env).stdout)
    want = article_id(demo_server.url + probe["path"])
    assert [h["id"] for h in result["hits"]] == [want]
    record = json.loads(cli(["show", want, "--json"], env).stdout)
    assert probe["word"] in record["text"]
    assert "\ufffd" not in record["text"]  # no replacement characters: decoded right
    assert record["lang"] == "ar"


def test_second_run_adds_nothing_and_says_so(
    first_run: dict[str, Any], demo_server: LocalServer
) -> None:
    env = demo_env(demo_server, first_run["data"])
    before = state_snapshot(first_run["settings"])
    proc = cli(["ingest", "--json"], env)
    summary = json.loads(proc.stdout)
    assert summary["items_new"] == 0
    assert summary["extracted"] == 0
    assert summary["indexed"] == 0
    assert summary["feeds"]["not_modified"] + summary["feeds"]["ok"] == EXPECTED["feeds"]["ok"]
    after = state_snapshot(first_run["settings"])
    assert after["articles"] == before["articles"]
    assert after["indexed"] == before["indexed"]
    human = cli(["ingest"], env)
    assert "0 new" in human.stderr


def test_killed_ingest_then_rerun_equals_one_clean_run(
    demo_server: LocalServer, tmp_path: Path
) -> None:
    clean = demo_settings(demo_server, tmp_path / "clean")
    ingest_cycle(clean)

    killed_dir = tmp_path / "killed"
    env = demo_env(demo_server, killed_dir)
    env["NEWSWATCH_HOST_DELAY"] = "0.4"  # slow enough to be killed mid-fetch
    env["NEWSWATCH_FETCH_CONCURRENCY"] = "1"
    env["NEWSWATCH_PER_HOST_CONCURRENCY"] = "1"
    seen = len(demo_server.requests)
    proc = subprocess.Popen(
        [*NEWSWATCH, "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pages = [r for r in demo_server.requests[seen:] if r.path.endswith(".html")]
        if len(pages) >= 6:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = demo_settings(demo_server, killed_dir)
    partial = state_snapshot(killed)
    assert len(partial["articles"]) < EXPECTED["articles"]  # it really was cut short
    ingest_cycle(killed)
    a, b = state_snapshot(clean), state_snapshot(killed)
    assert a["articles"] == b["articles"]
    assert a["indexed"] == b["indexed"]
    assert {k: v[0] for k, v in a["items"].items()} == {k: v[0] for k, v in b["items"].items()}


def test_demo_command_exits_zero_and_shows_a_search(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.run(
        [*NEWSWATCH, "demo", "--data-dir", str(tmp_path / "demo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "mobilisation AND Sirte" in proc.stdout
    assert "Haftar" in proc.stdout


def test_reindex_rebuilds_the_same_search(
    first_run: dict[str, Any], demo_server: LocalServer
) -> None:
    env = demo_env(demo_server, first_run["data"])
    before = json.loads(cli(["search", "*", "--json", "--limit", "1000"], env).stdout)
    proc = cli(["reindex"], env)
    assert f"Reindexed {EXPECTED['articles']} article(s)" in proc.stderr
    after = json.loads(cli(["search", "*", "--json", "--limit", "1000"], env).stdout)
    assert {h["id"] for h in after["hits"]} == {h["id"] for h in before["hits"]}
    assert after["total"] == EXPECTED["articles"]


@pytest.mark.parametrize(
    "query",
    [
        "event:mobilisation AND place:Sirte",
        "event:mobilization AND place:سرت",
        "actor:Hafter AND place:Sirt",
        "org:GNA AND entity:Janjaweed",
    ],
)
def test_enriched_fields_find_the_canonical_report(
    first_run: dict[str, Any], demo_server: LocalServer, query: str
) -> None:
    env = demo_env(demo_server, first_run["data"])
    result = json.loads(cli(["search", query, "--json"], env).stdout)
    canonical = article_id(demo_server.url + EXPECTED["canonical_path"])
    assert canonical in [h["id"] for h in result["hits"]], query
    top = next(h for h in result["hits"] if h["id"] == canonical)
    assert "mobilisation" in top["events"]
    assert {"sirte", "khalifa_haftar", "gna"} <= {e["id"] for e in top["entities"]}


def test_enrich_jsonl_command(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "en1", "text": "Haftar's forces moved from Benghazi towards Sirte."})
        + "\n"
        + json.dumps({"id": "ar1", "text": "تحشيد قوات حفتر نحو سرت والجفرة", "lang": "ar"})
        + "\nnot json\n",
        encoding="utf-8",
    )
    proc = cli(["enrich", "--jsonl", str(src)], dict(os.environ))
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["id"] for o in out[:2]] == ["en1", "ar1"]
    assert "error" in out[2]
    for rec in out[:2]:
        ids = {e["id"] for e in rec["entities"]}
        assert {"khalifa_haftar", "sirte"} <= ids, rec
        assert "mobilisation" in {e["type"] for e in rec["events"]}, rec
        sirte = next(e for e in rec["entities"] if e["id"] == "sirte")
        assert sirte["lat"] and sirte["lon"] and sirte["mentions"]
    mention = next(e for e in out[0]["entities"] if e["id"] == "sirte")["mentions"][0]
    assert mention["text"] == "Sirte"


def test_many_pages_go_through_the_worker_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enough pages for the extraction workers, with a small in-flight bound."""
    import random

    from benchmarks.generate import page_html, rss
    from pipeline import run
    from pipeline.localserver import Response

    monkeypatch.setattr(run, "MAX_INFLIGHT", 4)  # the fetch must wait for the workers
    rng = random.Random(3)
    n = run.POOL_THRESHOLD * 2
    with LocalServer() as server:
        items = []
        for i in range(n):
            title, html = page_html(i, rng)
            server.route(
                f"/p/{i}.html",
                Response(body=html.encode(), headers={"Content-Type": "text/html; charset=utf-8"}),
            )
            items.append((title, f"/p/{i}.html"))
        server.route("/feed.rss", Response(body=rss(server.url, items).encode()))
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - {{name: gen, url: '{server.url}/feed.rss', lang: en}}\n")
        settings = load_settings(data_dir=tmp_path / "data", feeds_file=feeds, host_delay=0)
        summary = ingest_cycle(settings)
    assert summary["extracted"] == n and summary["indexed"] == n, summary
    store = open_store(settings)
    try:
        rows = list(store.iter_article_rows())
    finally:
        store.close()
    assert len(rows) == n
    assert all(r.enriched and r.story_id and r.entities for r in rows)
    assert all(r.lang == "en" for r in rows)


def test_quick_start_run_command(demo_server: LocalServer, tmp_path: Path) -> None:
    """README command 1 (scripts/run.sh), pointed at the local demo feeds, not the internet."""
    root = Path(__file__).resolve().parent.parent
    env = demo_env(demo_server, tmp_path / "run")
    proc = subprocess.run(
        ["bash", str(root / "scripts" / "run.sh"), "--json"],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["extracted"] == EXPECTED["articles"]
    assert summary["indexed"] == EXPECTED["articles"]
