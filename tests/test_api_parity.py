"""The API answers the same ids, in the same order, as ``newswatch search --json``.

Over the ingested demo corpus, for 27 queries covering every part of the
query language, on Tantivy, on SQLite FTS5 and on the test Elasticsearch. The CLI
runs as a subprocess (what a user runs); the API runs on a real uvicorn
server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiserver import ingest_demo, running_app
from servers import require_elasticsearch, unique_name

from pipeline.config import Settings

pytestmark = pytest.mark.slow

QUERIES = [
    "mobilisation AND Sirte",
    "Sirte",
    "Haftar",
    "event:mobilisation",
    "place:Sirte",
    "oil",
    '"oil ports"',
    "mobili*",
    "Tripoli OR Benghazi",
    "Sirte NOT Jufra",
    "lang:ar",
    "تحشيدات",
    "source:libya-monitor",
    "published:[2020-01 TO 2020-06]",
    "title:Haftar",
    "entity:khalifa_haftar",
    "actor:wagner_group",
    "event:armed_clash OR event:shelling",
    "(Sirte OR Jufra) AND event:mobilisation",
    "ceasefire",
    "protest*",
    "*",
    "Tarhuna",
    "Libya -Sirte",
    "place:Tripoli AND published:>=2020-06-01",
    '"forces Sirte"~10',
    "مرتزقة",
]
LIMIT = 50


def cli_ids(env: dict[str, str], query: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "search", query, "--json", "--limit", str(LIMIT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return [h["id"] for h in json.loads(proc.stdout)["hits"]]


def api_ids(url: str, query: str) -> list[str]:
    resp = httpx.get(
        f"{url}/api/search", params={"q": query, "size": LIMIT, "facets": "false"}, timeout=60
    )
    assert resp.status_code == 200, resp.text
    return [h["id"] for h in resp.json()["hits"]]


def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(settings.data_dir),
        NEWSWATCH_SEARCH_BACKEND=settings.search_backend,
        NEWSWATCH_ELASTICSEARCH_URL=",".join(settings.elasticsearch_url),
        NEWSWATCH_ELASTICSEARCH_INDEX=settings.elasticsearch_index,
    )
    return env


def check_parity(settings: Settings) -> None:
    env = cli_env(settings)
    with running_app(settings) as url, ThreadPoolExecutor(2) as pool:
        from_cli = dict(zip(QUERIES, pool.map(lambda q: cli_ids(env, q), QUERIES), strict=True))
        from_api = {q: api_ids(url, q) for q in QUERIES}
    assert from_api == from_cli
    answered = [q for q in QUERIES if from_cli[q]]
    assert len(answered) >= 20, f"too few queries found anything: {answered}"


@pytest.mark.parametrize("backend", ["tantivy", "sqlite"])
def test_api_matches_cli_on_an_embedded_backend(tmp_path: Path, backend: str) -> None:
    settings, _ = ingest_demo(tmp_path / "data", search_backend=backend)
    check_parity(settings)


@pytest.fixture
def es_settings(tmp_path: Path) -> Iterator[Settings]:
    url = require_elasticsearch()
    index = unique_name("nwapi")
    settings, _ = ingest_demo(
        tmp_path / "data",
        search_backend="elasticsearch",
        elasticsearch_url=[url],
        elasticsearch_index=index,
    )
    yield settings
    from pipeline.search.elastic import ElasticsearchBackend

    backend = ElasticsearchBackend(settings)
    try:
        client: Any = backend.client
        client.indices.delete(index=f"{backend.alias}-v*", ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=backend.template_name)
    finally:
        backend.close()


@pytest.mark.elasticsearch
def test_api_matches_cli_on_elasticsearch(es_settings: Settings) -> None:
    check_parity(es_settings)
