"""The embedded index across processes: first start, kill -9, a server beside an ingest.

Real processes throughout: the CLI and the pipeline run as subprocesses over
a data dir filled from the demo site (served on 127.0.0.1), and are killed
with SIGKILL at the moment that matters (the index writer holding documents
it has not committed; a rebuild halfway). What must hold afterwards: every
stored article indexed exactly once, nothing pending, no lock left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apiserver import free_socket, ingest_demo

from pipeline.config import Settings, load_settings
from pipeline.demo.corpus import DEMO_SETTINGS, EXPECTED, start_demo_server, write_feeds_file
from pipeline.localserver import LocalServer
from pipeline.search.base import SearchRequest
from pipeline.search.tantivy import TantivyBackend
from pipeline.store import open_store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(settings.data_dir),
        NEWSWATCH_FEEDS_FILE=str(settings.feeds_file),
        NEWSWATCH_ALLOW_HOSTS="127.0.0.1",
        NEWSWATCH_HOST_DELAY="0",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def converged(settings: Settings) -> None:
    """Every stored article in the index exactly once, nothing pending."""
    store = open_store(settings)
    try:
        stored = {r.id for r in store.iter_article_rows()}
        pending = store.count_pending_index()
    finally:
        store.close()
    backend = TantivyBackend(settings.search_index_dir)
    try:
        ids = list(backend.iter_ids(SearchRequest()))
        assert backend.count() == len(ids) == len(set(ids)), "an article is indexed twice"
        assert set(ids) == stored
        assert pending == 0
    finally:
        backend.close()


@pytest.fixture(scope="module")
def demo_server() -> Iterator[LocalServer]:
    server = start_demo_server()
    yield server
    server.stop()


def settings_in(server: LocalServer, data: Path, **extra: object) -> Settings:
    data.mkdir(parents=True, exist_ok=True)
    feeds = write_feeds_file(server.url, data / "feeds.yaml")
    return load_settings(**{**DEMO_SETTINGS, "data_dir": data, "feeds_file": feeds, **extra})


# --------------------------------------------------------------------------- first start


def test_an_fts5_install_gets_its_tantivy_index_built_on_first_start(tmp_path: Path) -> None:
    settings, _ = ingest_demo(tmp_path / "data", search_backend="sqlite")
    assert not settings.search_index_dir.exists()
    env = env_for(settings)  # no NEWSWATCH_SEARCH_BACKEND: the new default, tantivy
    first = cli(["search", "mobilisation", "--json"], env)
    assert first.returncode == 0, first.stderr
    assert "building the tantivy search index from the" in first.stderr
    assert json.loads(first.stdout)["total"] >= 3
    again = cli(["search", "mobilisation", "--json"], env)
    assert "building" not in again.stderr
    assert json.loads(again.stdout) == json.loads(first.stdout)
    converged(settings)


# --------------------------------------------------------------------------- kill -9

CHILD = textwrap.dedent(
    """
    import sys, time
    from pipeline.config import load_settings
    from pipeline.search import tantivy
    import pipeline.run as run

    mode = sys.argv[1]
    settings = load_settings()
    original = tantivy.TantivyBackend._add

    def add_then_hang(self, writer, docs, report, replace):
        done = original(self, writer, docs, report, replace)
        if len(done) or mode == "reindex":
            print("uncommitted", flush=True)
            time.sleep(120)  # killed here: documents added, commit not reached
        return done

    tantivy.TantivyBackend._add = add_then_hang
    if mode == "reindex":
        run.reindex(settings)
    else:
        run.ingest_cycle(settings)
    """
)


def kill_at_the_commit(mode: str, settings: Settings) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode],
        env=env_for(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "uncommitted"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(60)


def test_kill_9_during_the_index_stage_then_a_rerun_converges(
    demo_server: LocalServer, tmp_path: Path
) -> None:
    settings = settings_in(demo_server, tmp_path / "data")
    kill_at_the_commit("ingest", settings)
    store = open_store(settings)
    try:
        assert store.count_pending_index() == store.count_articles() > 0  # nothing counted
    finally:
        store.close()
    rerun = cli(["ingest", "--json"], env_for(settings))
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["pending_index"] == 0
    converged(settings)


def test_kill_9_during_a_reindex_then_a_rerun_converges(tmp_path: Path) -> None:
    settings, _ = ingest_demo(tmp_path / "data")
    converged(settings)
    kill_at_the_commit("reindex", settings)
    # the old generation still answers in full while nobody rebuilds
    converged(settings)
    again = cli(["reindex"], env_for(settings))
    assert again.returncode == 0, again.stderr
    assert f"Reindexed {EXPECTED['articles']} article(s)" in again.stderr
    converged(settings)
    index_dir = settings.search_index_dir
    live = (index_dir / "CURRENT").read_text().strip()
    assert [p.name for p in index_dir.glob("v*")] == [live]  # the killed build is gone


# --------------------------------------------------------------------------- two processes


def test_serve_answers_while_ingest_writes(demo_server: LocalServer, tmp_path: Path) -> None:
    settings = settings_in(demo_server, tmp_path / "data")
    env = env_for(settings)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/api/search"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, params={"q": "*"}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
            time.sleep(0.2)
        ingest = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "ingest", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        totals: list[int] = []
        while ingest.poll() is None:
            resp = httpx.get(url, params={"q": "*", "facets": "true"}, timeout=30)
            assert resp.status_code == 200, resp.text
            totals.append(resp.json()["total"])
            time.sleep(0.05)
        out, err = ingest.communicate(timeout=60)
        assert ingest.returncode == 0, err
        assert "lock" not in err.lower()
        summary = json.loads(out)
        assert summary["indexed"] >= EXPECTED["articles"]
        # the server sees the new commit without a restart
        deadline = time.monotonic() + 30
        while httpx.get(url, params={"q": "*"}, timeout=30).json()["total"] != summary["indexed"]:
            assert time.monotonic() < deadline, "serve never saw the ingest's commit"
            time.sleep(0.1)
        assert totals and totals == sorted(totals)  # never went backwards
        hits = httpx.get(url, params={"q": "mobilisation"}, timeout=30).json()["hits"]
        assert hits
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, serve_err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, serve_err = server.communicate()
    assert "LockBusy" not in serve_err and "Traceback" not in serve_err
    converged(settings)
