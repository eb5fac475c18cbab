"""Export and machine-readable runs: `export`, `show --json`, `ingest --json` on the demo."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.dedup import article_id
from pipeline.demo.corpus import EXPECTED, start_demo_server
from pipeline.localserver import LocalServer
from pipeline.run import ingest_cycle
from tests.test_ingest_e2e import NEWSWATCH, cli, demo_env, demo_settings

pytestmark = pytest.mark.slow

KEY_SENTENCES = (
    "Haftar has started a fundamental troop mobilisation in eastern Libya",
    "are moving towards the western region",
    "Russian Wagner Group and Sudanese Janjaweed mercenaries",
)
RECORD_KEYS = {
    "id", "url", "canonical_url", "source", "lang", "title", "authors", "published",
    "date_source", "fetched_at", "text", "summary", "extraction_method", "content_hash",
    "story_id", "events", "entities",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = start_demo_server()
    data = tmp_path_factory.mktemp("export")
    settings = demo_settings(server, data)
    ingest_cycle(settings)
    yield {"server": server, "env": demo_env(server, data), "data": data}
    server.stop()


def test_jsonl_has_one_unique_record_per_article(demo: dict[str, Any]) -> None:
    lines = cli(["export", "--jsonl"], demo["env"]).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == EXPECTED["articles"]
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert all(set(r) >= RECORD_KEYS for r in records)
    canonical = article_id(demo["server"].url + EXPECTED["canonical_path"])
    report = next(r for r in records if r["id"] == canonical)
    for sentence in KEY_SENTENCES:
        assert sentence in report["text"].replace("’", "'")
    assert report["date_source"] == "page"
    assert report["extraction_method"]


def test_csv_and_parquet_hold_the_same_ids_and_texts(demo: dict[str, Any], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    records = {
        r["id"]: r
        for r in map(json.loads, cli(["export", "--jsonl"], demo["env"]).stdout.splitlines())
    }
    out_csv = tmp_path / "a.csv"
    cli(["export", "--csv", "-o", str(out_csv)], demo["env"])
    with out_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["id"]: r["text"] for r in rows} == {k: v["text"] for k, v in records.items()}
    assert all(isinstance(json.loads(r["entities"]), list) for r in rows)

    out_pq = tmp_path / "a.parquet"
    cli(["export", "--parquet", "-o", str(out_pq)], demo["env"])
    table = pq.read_table(out_pq).to_pylist()
    assert {r["id"]: r["text"] for r in table} == {k: v["text"] for k, v in records.items()}
    canonical = article_id(demo["server"].url + EXPECTED["canonical_path"])
    nested = next(r for r in table if r["id"] == canonical)
    assert nested["events"] == [
        {**e, "actors": e["actors"], "places": e["places"]} for e in records[canonical]["events"]
    ]


def test_export_query_matches_search(demo: dict[str, Any]) -> None:
    query = "mobilisation AND Sirte"
    exported = {
        json.loads(line)["id"]
        for line in cli(["export", query, "--jsonl"], demo["env"]).stdout.splitlines()
    }
    found = json.loads(cli(["search", query, "--json", "--limit", "1000"], demo["env"]).stdout)
    assert exported == {h["id"] for h in found["hits"]}
    assert article_id(demo["server"].url + EXPECTED["canonical_path"]) in exported


def test_export_filters_and_stdout_csv(demo: dict[str, Any]) -> None:
    out = cli(["export", "--csv", "--lang", "ar"], demo["env"]).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(r["lang"] == "ar" for r in rows)
    out = cli(["export", "--jsonl", "--since", "2021-01-01"], demo["env"]).stdout
    assert all(json.loads(line)["published"] >= "2021" for line in out.splitlines())


def test_export_needs_exactly_one_format(demo: dict[str, Any]) -> None:
    proc = cli(["export"], demo["env"], check=False)
    assert proc.returncode != 0
    assert "exactly one of --jsonl, --csv, --parquet" in proc.stderr
    proc = cli(["export", "--parquet"], demo["env"], check=False)
    assert proc.returncode == 2 and "-o FILE" in proc.stderr


def test_show_json_and_unknown_id(demo: dict[str, Any]) -> None:
    canonical = article_id(demo["server"].url + EXPECTED["canonical_path"])
    record = json.loads(cli(["show", canonical, "--json"], demo["env"]).stdout)
    assert set(record) >= RECORD_KEYS and record["id"] == canonical
    proc = cli(["show", "does-not-exist", "--json"], demo["env"], check=False)
    assert proc.returncode == 2
    assert "no article with id 'does-not-exist'" in proc.stderr
    assert proc.stdout == ""


def test_ingest_json_is_valid_json_on_a_run_with_failures(tmp_path: Path) -> None:
    server: LocalServer = start_demo_server()
    try:
        env = demo_env(server, tmp_path / "run")
        ingest = subprocess.run(
            [*NEWSWATCH, "ingest", "--json"], env=env, capture_output=True, text=True, timeout=300
        )
        assert ingest.returncode == 0, ingest.stderr
        tool = subprocess.run(
            [sys.executable, "-m", "json.tool"], input=ingest.stdout, capture_output=True, text=True
        )
        assert tool.returncode == 0, tool.stderr
        summary = json.loads(ingest.stdout)
        assert summary["failed"] == EXPECTED["failed"]
        assert set(summary) >= {
            "run_id", "started_at", "finished_at", "feeds", "items_new", "pages_fetched",
            "extracted", "duplicates", "indexed", "pending_index", "failed", "seconds",
        }  # fmt: skip
    finally:
        server.stop()
