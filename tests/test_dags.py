"""The Airflow DAGs, run for real: DagBag import, then ``dag.test()`` on the demo site.

Each Airflow step runs in a subprocess (this file, run as a script) with its
own ``AIRFLOW_HOME`` and SQLite metadata database, so Airflow's import-time
configuration (logging, ORM, settings) never leaks into the other tests of
the session. The demo site is served from this process on 127.0.0.1; the
tasks in the subprocess fetch from it like any other site.

``dag.test()`` runs the real scheduling loop (mapping, trigger rules, retries
with their delays, Asset events) in one process, without a scheduler.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import closed_port, require_elasticsearch, servers_required, unique_name

from pipeline.config import Settings, load_settings
from pipeline.dedup import article_id
from pipeline.demo.corpus import DEMO_SETTINGS, EXPECTED, start_demo_server, write_feeds_file
from pipeline.localserver import LocalServer
from pipeline.search.base import open_backend
from pipeline.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))
DAG_IDS = {"newswatch_ingest", "newswatch_alerts", "newswatch_maintenance"}
ARTICLES_URI = "newswatch://articles/"
TIMEOUT = 600

# Parse DAG files the way a parser does, in a fresh interpreter (nothing of the
# pipeline imported beforehand), with every outbound connection refused.
GUARDED_IMPORT = """
import importlib.util, json, socket, sys

attempts = []
real_connect = socket.socket.connect

def refuse(self, address):
    if self.family == socket.AF_UNIX:  # local IPC is not network work
        return real_connect(self, address)
    attempts.append(repr(address))
    raise OSError(f"network access during DAG import: {address!r}")

socket.socket.connect = refuse
socket.create_connection = lambda address, *a, **k: refuse(socket.socket(), address)

from airflow.sdk import DAG

dag_ids, schedule = [], ""
for i, path in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location(f"dagfile_{i}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for value in vars(module).values():
        if isinstance(value, DAG):
            dag_ids.append(value.dag_id)
            if value.dag_id == "newswatch_ingest":
                schedule = str(value.schedule.total_seconds())
heavy = ("pipeline.store", "pipeline.run", "pipeline.search.elastic", "pipeline.fetch")
loaded = [m for m in heavy if m in sys.modules]
out = {"attempts": attempts, "dag_ids": dag_ids, "schedule": schedule, "loaded": loaded}
print(json.dumps(out))
"""


def require_airflow() -> None:
    """Airflow comes with the ``airflow`` extra; in CI its absence is a failure."""
    try:
        import airflow  # noqa: F401
    except ImportError:
        message = 'Airflow is not installed (pip install -e ".[dev,airflow]")'
        if servers_required():
            pytest.fail(message + "; NEWSWATCH_REQUIRE_SERVERS=1 makes this a failure")
        pytest.skip(message)


# ---------------------------------------------------------------- Airflow in a subprocess
def airflow_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSWATCH_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    return env


def run_script(mode: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run this file as a script in ``mode`` (or the guard script); it prints JSON last."""
    script = ["-c", GUARDED_IMPORT] if mode == "import-guarded" else [__file__, mode]
    proc = subprocess.run(
        [sys.executable, *script, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(
            f"{mode} failed (exit {proc.returncode})\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-8000:]}"
        )
    return json.loads(lines[-1])


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite metadata database with the fetch pool, shared by the session."""
    require_airflow()
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(home)
    airflow = [sys.executable, "-m", "airflow"]
    for cmd in (
        [*airflow, "db", "migrate"],
        [*airflow, "pools", "set", "newswatch_fetch", "4", "newswatch page fetches"],
    ):
        proc = subprocess.run(
            cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return home


@pytest.fixture(scope="module")
def demo_server() -> Iterator[LocalServer]:
    server = start_demo_server()
    yield server
    server.stop()


def demo_env(
    home: Path, server: LocalServer, data_dir: Path, extra_feeds: list[dict[str, str]] = ()
) -> dict[str, str]:
    """Airflow env plus the demo's newswatch settings, as a deployment would set them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    feeds = write_feeds_file(server.url, data_dir / "feeds.yaml")
    if extra_feeds:
        import yaml

        doc = yaml.safe_load(feeds.read_text(encoding="utf-8"))
        doc["feeds"].extend(extra_feeds)
        feeds.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    env = airflow_env(home)
    for key, value in DEMO_SETTINGS.items():
        text = ",".join(value) if isinstance(value, list) else str(value)
        env[f"NEWSWATCH_{key.upper()}"] = text
    env.update(
        NEWSWATCH_DATA_DIR=str(data_dir),
        NEWSWATCH_FEEDS_FILE=str(feeds),
        NEWSWATCH_AIRFLOW_RETRIES="1",
        NEWSWATCH_AIRFLOW_RETRY_DELAY="1",
        NEWSWATCH_BATCH_SIZE="8",
    )
    return env


def settings_for(env: dict[str, str]) -> Settings:
    """The settings the tasks saw, rebuilt here to read state and the index."""
    overrides = {
        k.removeprefix("NEWSWATCH_").lower(): v
        for k, v in env.items()
        if k.startswith("NEWSWATCH_")
        and k.removeprefix("NEWSWATCH_").lower() in Settings.model_fields
    }
    return load_settings(**overrides)


def task_states(result: dict[str, Any], task_id: str) -> dict[str, dict[str, Any]]:
    """{map key (feed name for polls, index otherwise): ti} for one task."""
    return {
        (ti["rendered_map_index"] or str(ti["map_index"])): ti
        for ti in result["tis"]
        if ti["task_id"] == task_id
    }


def count_articles(settings: Settings) -> tuple[int, int]:
    """(articles in state, documents in the search index)."""
    store = open_store(settings)
    backend = open_backend(settings)
    try:
        backend.ensure_ready()
        return store.count_articles(), backend.count()
    finally:
        backend.close()
        store.close()


def last_summary(settings: Settings) -> dict[str, Any]:
    store = open_store(settings)
    try:
        run = store.last_run()
        assert run is not None
        return dict(run.summary)
    finally:
        store.close()


# ---------------------------------------------------------------- tests
@pytest.mark.slow
def test_dag_folder_imports_without_errors(airflow_home: Path) -> None:
    result = run_script("dagbag", airflow_env(airflow_home))
    assert result["import_errors"] == {}
    assert set(result["dag_ids"]) == DAG_IDS
    assert result["warnings"] == {}
    ingest = result["dags"]["newswatch_ingest"]
    assert ingest["max_active_runs"] == 1
    assert ingest["catchup"] is False
    assert ingest["pools"] == {"fetch_extract": "newswatch_fetch"}
    assert ingest["outlets"] == {"finish": [ARTICLES_URI]}
    assert ingest["mapped"] == ["fetch_extract", "poll_feed"]
    assert ingest["schedule"] == "*/10 * * * *"
    assert result["dags"]["newswatch_alerts"]["schedule_assets"] == [ARTICLES_URI]
    assert ingest["tasks"]["stage_failed"]["retries"] == 0  # the run-level watcher
    for task_id, task in ingest["tasks"].items():
        if task_id == "stage_failed":
            continue
        assert task["retries"] >= 1
        assert task["retry_exponential_backoff"] > 0
        assert task["execution_timeout"] > 0


@pytest.mark.slow
def test_dag_import_does_no_network_or_database_work(tmp_path: Path) -> None:
    """Parse every DAG file with sockets refused and unreachable databases configured."""
    require_airflow()
    env = airflow_env(tmp_path)
    env.update(
        # A file in a directory that does not exist: any query would fail.
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'missing' / 'airflow.db'}",
        NEWSWATCH_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none",
        NEWSWATCH_SEARCH_BACKEND="elasticsearch",
        NEWSWATCH_ELASTICSEARCH_URL="http://127.0.0.1:9",
        NEWSWATCH_SCHEDULE="15m",
    )
    result = run_script("import-guarded", env, *map(str, DAG_FILES))
    assert result["attempts"] == []
    assert result["loaded"] == []  # no state store or search client is even imported
    assert sorted(result["dag_ids"]) == sorted(DAG_IDS)
    assert result["schedule"] == "900.0"  # NEWSWATCH_SCHEDULE=15m, read from the environment


@pytest.mark.slow
def test_ingest_dag_into_sqlite(
    airflow_home: Path, demo_server: LocalServer, tmp_path: Path
) -> None:
    env = demo_env(airflow_home, demo_server, tmp_path / "data")
    settings = settings_for(env)

    first = run_script("test", env, "newswatch_ingest")
    assert first["state"] == "success", first
    polls = task_states(first, "poll_feed")
    assert set(polls) == {f["name"] for f in _feeds(settings)}
    # The demo's 404 feed fails at once (a permanent error is not retried).
    assert polls[EXPECTED_MISSING]["state"] == "failed"
    assert polls[EXPECTED_MISSING]["try_number"] == 1
    assert all(ti["state"] == "success" for name, ti in polls.items() if name != EXPECTED_MISSING)
    assert len(task_states(first, "fetch_extract")) >= 2  # mapped over batches of 8

    articles, indexed = count_articles(settings)
    assert articles == EXPECTED["articles"]
    assert indexed == articles
    summary = last_summary(settings)
    assert summary["feeds"]["failed"] == 1
    assert summary["failures"][0]["where"] == EXPECTED_MISSING or any(
        f["where"] == EXPECTED_MISSING for f in summary["failures"]
    )
    assert summary["extracted"] == EXPECTED["articles"]
    assert first["asset_events"][-1]["extra"]["run_id"] == summary["run_id"]

    second = run_script("test", env, "newswatch_ingest")
    assert second["state"] == "success", second
    assert count_articles(settings) == (articles, indexed)
    again = last_summary(settings)
    assert again["run_id"] != summary["run_id"]
    assert again["items_new"] == 0
    assert again["extracted"] == 0
    assert len(second["asset_events"]) == len(first["asset_events"]) + 1


@pytest.mark.slow
@pytest.mark.elasticsearch
def test_ingest_dag_into_elasticsearch(
    airflow_home: Path, demo_server: LocalServer, tmp_path: Path
) -> None:
    """Same run, the index in the real test Elasticsearch, named by an Airflow connection."""
    es_url = require_elasticsearch().rstrip("/")
    index = unique_name("newswatch-dagtest")
    env = demo_env(airflow_home, demo_server, tmp_path / "data")
    env["NEWSWATCH_SEARCH_BACKEND"] = "elasticsearch"
    # The connection must win: the environment names a port where nothing listens.
    env["NEWSWATCH_ELASTICSEARCH_URL"] = f"http://127.0.0.1:{closed_port()}"
    env["AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH"] = f"{es_url}/{index}"
    settings = settings_for(env).model_copy(
        update={"elasticsearch_url": [es_url], "elasticsearch_index": index}
    )
    try:
        result = run_script("test", env, "newswatch_ingest")
        assert result["state"] == "success", result
        articles, indexed = count_articles(settings)
        assert articles == EXPECTED["articles"]
        assert indexed == articles
        assert last_summary(settings)["pending_index"] == 0

        again = run_script("test", env, "newswatch_ingest")
        assert again["state"] == "success", again
        assert count_articles(settings) == (articles, indexed)
        assert last_summary(settings)["extracted"] == 0
    finally:
        _drop_index(es_url, index)


@pytest.mark.slow
def test_articles_asset_triggers_the_alerts_dag_and_each_alert_is_delivered_once(
    airflow_home: Path, demo_server: LocalServer, tmp_path: Path
) -> None:
    """Ingest updates the Asset, which queues the alerts DAG; no story is ever sent twice."""
    data = tmp_path / "data"
    env = demo_env(airflow_home, demo_server, data)
    env["NEWSWATCH_ALERTS_FILE"] = str(ROOT / "alerts.yaml")  # ships the mobilisation rule
    settings = settings_for(env)

    ingest = run_script("test", env, "newswatch_ingest")
    assert ingest["state"] == "success", ingest
    assert "newswatch_alerts" in ingest["queued"]
    # The ingest DAG only queued the alerts: nothing is sent before the alerts DAG runs.
    sent_file = data / "alerts" / "alerts.jsonl"
    assert not sent_file.exists() or not _mobilisation_stories(sent_file)
    alerts = run_script("test", env, "newswatch_alerts")
    assert alerts["state"] == "success", alerts
    assert [t["state"] for t in alerts["tis"]] == ["success"]
    # A second cycle of both finds nothing new to send.
    assert run_script("test", env, "newswatch_ingest")["state"] == "success"
    assert run_script("test", env, "newswatch_alerts")["state"] == "success"

    sent = _mobilisation_stories(data / "alerts" / "alerts.jsonl")
    canonical = article_id(demo_server.url + EXPECTED["canonical_path"])
    store = open_store(settings)
    try:
        row = store.get_article(canonical)
        assert row is not None
        assert sent.get(row.story_id) == 1, sent
    finally:
        store.close()
    assert all(n == 1 for n in sent.values()), sent


def _mobilisation_stories(path: Path) -> dict[str, int]:
    """{story id: times sent} over the mobilisation alerts the file channel wrote."""
    counts: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for item in json.loads(line)["alerts"]:
            if "mobilisation" in item.get("events", []):
                counts[item["story_id"]] = counts.get(item["story_id"], 0) + 1
    return counts


@pytest.mark.slow
def test_feed_down_is_retried_and_the_rest_of_the_run_succeeds(
    airflow_home: Path, demo_server: LocalServer, tmp_path: Path
) -> None:
    dead = {"name": "dead-wire", "url": f"http://127.0.0.1:{closed_port()}/feed.rss", "lang": "en"}
    env = demo_env(airflow_home, demo_server, tmp_path / "data", extra_feeds=[dead])
    settings = settings_for(env)

    result = run_script("test", env, "newswatch_ingest")
    assert result["state"] == "success", result
    polls = task_states(result, "poll_feed")
    assert polls["dead-wire"]["state"] == "failed"
    assert polls["dead-wire"]["try_number"] == 2  # the first try and one retry
    ok = [n for n in polls if n not in ("dead-wire", EXPECTED_MISSING)]
    assert ok and all(polls[n]["state"] == "success" for n in ok)
    for task_id in ("item_batches", "enrich_index", "finish"):
        assert [ti["state"] for ti in task_states(result, task_id).values()] == ["success"]

    assert count_articles(settings)[0] == EXPECTED["articles"]
    summary = last_summary(settings)
    assert summary["feeds"]["failed"] == 2  # counted once each, not once per try
    failed_feeds = {f["where"] for f in summary["failures"] if f["stage"] == "feed"}
    assert failed_feeds == {"dead-wire", EXPECTED_MISSING}


# ---------------------------------------------------------------- adapters, no Airflow needed
def test_elasticsearch_connection_maps_to_settings() -> None:
    from pipeline.airflow_tasks import elasticsearch_overrides

    got = elasticsearch_overrides("http", "es.local", 9200, "elastic", "s3cret", "news", {})
    assert got == {
        "elasticsearch_url": "http://es.local:9200",
        "elasticsearch_username": "elastic",
        "elasticsearch_password": "s3cret",
        "elasticsearch_index": "news",
    }
    tls = elasticsearch_overrides("https", "es.local", None, None, None, None, {"api_key": "k"})
    assert tls == {"elasticsearch_url": "https://es.local", "elasticsearch_api_key": "k"}
    many = elasticsearch_overrides("http", "a", 1, None, None, None, {"hosts": "http://a,http://b"})
    assert load_settings(**many).elasticsearch_url == ["http://a", "http://b"]


def test_state_connection_maps_to_database_url() -> None:
    from pipeline.airflow_tasks import state_overrides

    got = state_overrides("postgres", "db", 5432, "nw", "p@ss/word", "newswatch")
    assert got == {"database_url": "postgresql+psycopg://nw:p%40ss%2Fword@db:5432/newswatch"}


def test_schedule_and_task_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from pipeline import airflow_tasks as at

    assert at.ingest_schedule() == "*/10 * * * *"
    monkeypatch.setenv("NEWSWATCH_SCHEDULE", "1h")
    assert at.ingest_schedule() == timedelta(hours=1)
    monkeypatch.setenv("NEWSWATCH_SCHEDULE", "@hourly")
    assert at.ingest_schedule() == "@hourly"
    monkeypatch.setenv("NEWSWATCH_AIRFLOW_RETRY_DELAY", "5")
    defaults = at.task_defaults()
    assert defaults["retry_delay"] == timedelta(seconds=5)
    assert defaults["retry_exponential_backoff"] > 1
    monkeypatch.setenv("NEWSWATCH_AIRFLOW_RETRIES", "many")
    with pytest.raises(ValueError, match="NEWSWATCH_AIRFLOW_RETRIES"):
        at.task_defaults()


def test_adapters_work_outside_airflow() -> None:
    """Without a running task, settings come from the environment alone."""
    from pipeline import airflow_tasks as at

    settings = at.airflow_settings()
    assert settings.data_dir == Path(os.environ["NEWSWATCH_DATA_DIR"])
    assert at.airflow_settings(search_backend="elasticsearch").search_backend == "elasticsearch"


EXPECTED_MISSING = next(iter(EXPECTED["failed_feeds"]))  # type: ignore[call-overload]


def _feeds(settings: Settings) -> list[dict[str, Any]]:
    import yaml

    return yaml.safe_load(Path(settings.feeds_file).read_text(encoding="utf-8"))["feeds"]


def _drop_index(es_url: str, index: str) -> None:
    """Remove the test's versioned indices (behind the alias) and its template."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(es_url)
    try:
        client.indices.delete(index=f"{index}-v*", ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=f"{index}-template")
    finally:
        client.close()


# ---------------------------------------------------------------- script side (subprocess)
def _describe(dag: Any) -> dict[str, Any]:
    tasks = {}
    for t in dag.tasks:
        timeout = t.execution_timeout.total_seconds() if t.execution_timeout else 0
        tasks[t.task_id] = {
            "retries": t.retries,
            "retry_exponential_backoff": float(t.retry_exponential_backoff or 0),
            "execution_timeout": timeout,
        }
    timetable = dag.timetable
    assets = getattr(getattr(timetable, "asset_condition", None), "objects", None) or []
    return {
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "schedule": str(dag.schedule) if isinstance(dag.schedule, str) else None,
        "schedule_assets": [a.uri for a in assets],
        "tasks": tasks,
        "pools": {t.task_id: t.pool for t in dag.tasks if t.pool != "default_pool"},
        "outlets": {t.task_id: [o.uri for o in t.outlets] for t in dag.tasks if t.outlets},
        "mapped": sorted(t.task_id for t in dag.tasks if getattr(t, "is_mapped", False)),
    }


def _script_dagbag() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS), known_pools={"default_pool", "newswatch_fetch"})
    return {
        "import_errors": bag.import_errors,
        "dag_ids": sorted(bag.dag_ids),
        "warnings": {k: list(v) for k, v in bag.captured_warnings.items()},
        "dags": {dag_id: _describe(dag) for dag_id, dag in bag.dags.items()},
    }


def _script_test(dag_id: str) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = DagBag(dag_folder=str(DAGS), known_pools={"default_pool", "newswatch_fetch"})
    assert not bag.import_errors, bag.import_errors
    dr = bag.dags[dag_id].test()
    with create_session() as session:
        tis = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "rendered_map_index": ti.rendered_map_index,
                "state": str(getattr(ti.state, "value", ti.state)),
                "try_number": ti.try_number,
            }
            for ti in dr.get_task_instances(session=session)
        ]
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == ARTICLES_URI)
            .order_by(AssetEvent.id)
        ).all()
        asset_events = [{"extra": e.extra} for e in events]
        # What the scheduler would start next because of those events.
        queued = sorted(set(session.scalars(select(AssetDagRunQueue.target_dag_id)).all()))
    state = dr.state.value if hasattr(dr.state, "value") else str(dr.state)
    return {"state": state, "tis": tis, "asset_events": asset_events, "queued": queued}


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "dagbag":
        out = _script_dagbag()
    elif mode == "test":
        out = _script_test(rest[0])
    else:
        raise SystemExit(textwrap.dedent(f"unknown mode {mode!r}"))
    print(json.dumps(out, default=str))
