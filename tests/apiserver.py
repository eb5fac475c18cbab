"""Helpers for the API, page and schemathesis tests: demo data and a real server.

``ingest_demo`` fills a state directory from the bundled demo corpus (served
on 127.0.0.1) exactly as ``newswatch demo`` does; ``running_app`` runs the
app on a real uvicorn server on a free loopback port in a thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from pipeline.api.app import create_app
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings, load_settings
from pipeline.dedup import article_id
from pipeline.demo.corpus import DEMO_SETTINGS, EXPECTED, start_demo_server, write_feeds_file
from pipeline.models import Article
from pipeline.run import ingest_cycle
from pipeline.search.base import open_backend
from pipeline.search.docs import doc_from_article
from pipeline.store import open_store

SCRIPT_TITLE = '<script>document.title="pwned"</script> Benghazi <b>port</b> & "quotes"'
SCRIPT_ID = "f00dbabe00000001"


def ingest_demo(data_dir: Path, **extra: Any) -> tuple[Settings, str]:
    """Serve the demo site, run one ingest cycle into ``data_dir``; (settings, site URL)."""
    server = start_demo_server()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        feeds = write_feeds_file(server.url, data_dir / "feeds.yaml")
        settings = load_settings(
            **{**DEMO_SETTINGS, "data_dir": data_dir, "feeds_file": feeds, **extra}
        )
        ingest_cycle(settings)
        return settings, server.url
    finally:
        server.stop()


def canonical_id(site_url: str) -> str:
    """Id of the canonical mobilisation report of the demo corpus."""
    return article_id(site_url + EXPECTED["canonical_path"])


def add_hostile_article(settings: Settings) -> str:
    """Store and index an article whose title and text hold markup and a script tag."""
    article = Article(
        id=SCRIPT_ID,
        url="https://example.invalid/hostile",
        canonical_url="https://example.invalid/hostile",
        source="hostile-test",
        title=SCRIPT_TITLE,
        text=(
            "Hostile markup test. <img src=x onerror=alert(1)> The port of Benghazi "
            "reopened after <script>alert(2)</script> talks."
        ),
        lang="en",
        published=datetime(2021, 6, 1, tzinfo=UTC),
        date_source="page",
        fetched_at=datetime(2021, 6, 1, tzinfo=UTC),
        extraction_method="test",
        content_hash="hostile",
        story_id=SCRIPT_ID,
    )
    store = open_store(settings)
    backend = open_backend(settings)
    try:
        store.save_article(article)
        report = backend.upsert([doc_from_article(article, datetime.now(UTC))])
        assert SCRIPT_ID in report.indexed, report.errors
        store.mark_indexed([SCRIPT_ID])
    finally:
        backend.close()
        store.close()
    return SCRIPT_ID


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running_app(settings: Settings, api: ApiSettings | None = None) -> Iterator[str]:
    """The app on a real uvicorn server at http://127.0.0.1:PORT (yielded), then stopped."""
    app = create_app(settings, api or ApiSettings())
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
