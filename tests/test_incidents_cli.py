"""``newswatch incidents`` and ``newswatch export --incidents`` over the demo corpus."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.demo.corpus import DEMO_SETTINGS, start_demo_server, write_feeds_file
from pipeline.incidents.export import COLUMNS
from pipeline.run import ingest_cycle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    server = start_demo_server()
    data = tmp_path_factory.mktemp("incidents")
    feeds = write_feeds_file(server.url, data / "feeds.yaml")
    ingest_cycle(load_settings(**{**DEMO_SETTINGS, "data_dir": data, "feeds_file": feeds}))
    server.stop()
    env = dict(os.environ, NEWSWATCH_DATA_DIR=str(data), NEWSWATCH_FEEDS_FILE=str(feeds))
    env["COLUMNS"] = "200"
    yield env


def nw(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_incidents_json_filters_by_type_place_actor_and_dates(demo_env: dict[str, str]) -> None:
    res = nw(demo_env, "incidents", "--json", "--type", "mobilisation", "--place", "Sirte")
    assert res.returncode == 0, res.stderr
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    three = [r for r in recs if r["reports"] == 3]
    assert len(three) == 1
    inc = three[0]
    assert inc["languages"] == ["en", "ar"] and len(inc["outlets"]) == 3
    assert inc["event_date"] == "2020-11-24" and inc["plover"] == "MOBILIZE"
    assert {e["lang"] for e in inc["evidence"]} == {"en", "ar"}
    assert all(p.get("lat") is not None for p in inc["places"])
    by_actor = nw(demo_env, "incidents", "--json", "--actor", "khalifa_haftar")
    assert inc["id"] in by_actor.stdout
    later = nw(demo_env, "incidents", "--json", "--since", "2021-01-01", "--type", "mobilisation")
    assert inc["id"] not in later.stdout
    table = nw(demo_env, "incidents", "--type", "mobilisation")
    assert table.returncode == 0 and inc["id"] in table.stdout and "incident(s)" in table.stdout


def test_incidents_bad_input_is_a_clear_error(demo_env: dict[str, str]) -> None:
    res = nw(demo_env, "incidents", "--type", "mobilization")
    assert res.returncode == 2 and "'mobilization' is not an event type" in res.stderr
    res = nw(demo_env, "incidents", "--since", "2020-13-01")
    assert res.returncode == 2 and "--since: expected a date as YYYY-MM-DD" in res.stderr
    res = nw(demo_env, "export", "--incidents", "--parquet")
    assert res.returncode == 2 and "-o FILE" in res.stderr


def test_export_incidents_csv_jsonl_parquet_with_acled_columns(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    res = nw(demo_env, "export", "--incidents", "--csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert tuple(rows[0]) == COLUMNS
    mob = [r for r in rows if r["reports"] == "3" and r["sub_event_type"]]
    assert mob and mob[0]["event_type"] == "Strategic developments"
    assert float(mob[0]["latitude"]) and mob[0]["notes"] and mob[0]["actor1"]
    js = nw(demo_env, "export", "--incidents", "--jsonl")
    assert len(js.stdout.splitlines()) == len(rows)
    out = tmp_path / "inc.parquet"
    pq = nw(demo_env, "export", "--incidents", "--parquet", "-o", str(out))
    assert pq.returncode == 0, pq.stderr
    import pyarrow.parquet as parquet

    table = parquet.read_table(out)
    assert table.num_rows == len(rows) and table.column_names == list(COLUMNS)
    assert str(table.schema.field("latitude").type) == "double"
