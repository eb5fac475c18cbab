"""The cluster, really running: scripts/cluster.sh with a scheduler, Celery workers and faults.

One module-scoped cluster (PostgreSQL, Redis, three Elasticsearch nodes,
Airflow 3 with the CeleryExecutor and two workers, all on 127.0.0.1) ingests
a growing news site (~1,800 generated pages over four loopback hosts and
twelve feeds) on a one-minute schedule. Each test is one step of the story, in
file order, and each fault gets its own scheduled run:

1. the first scheduled run stores and indexes every page, mapped fetch tasks
   run on both workers, and ``status`` names every component healthy;
2. SIGKILL one worker's whole process group in the middle of the fetch tasks:
   its tasks are retried on the other worker, nothing lost or doubled;
3. stop one Elasticsearch node: the cluster turns yellow, the run indexes and
   search answers; the node comes back and nothing is left pending;
4. restart the scheduler in the middle of a run: the run completes;
5. restart PostgreSQL between runs: the next run succeeds;
6. every marked mobilisation story reached the SMTP server and the webhook
   exactly once, and every page is stored once and indexed once.

The cluster always comes down in the fixture's teardown, whatever failed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import SmtpSink, WebhookSink
from servers import servers_required

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cluster_bench import (  # noqa: E402
    Cluster,
    NewsSite,
    cluster_environment,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

FIRST_PAGES = 1200
NEW_PAGES = 150  # per run after the first
MARKED = 2  # mobilisation stories per publication
BATCH = 50  # items per mapped fetch task
RUN_TIMEOUT = 360


def _require_tools() -> None:
    missing = []
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        missing.append('Airflow with the Celery provider (pip install -e ".[dev,airflow]")')
    if not (ROOT / ".venv" / "bin" / "airflow").exists():
        missing.append("the project venv (scripts/bootstrap.sh dev,airflow)")
    if missing:
        message = "cannot run the cluster: " + "; ".join(missing)
        if servers_required():
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Story:
    """What the steps share: the cluster, the site, the receivers and the runs seen."""

    cluster: Cluster
    site: NewsSite
    smtp: SmtpSink
    webhook: WebhookSink
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    hostnames: set[str] = field(default_factory=set)

    def publish(self, n: int = NEW_PAGES) -> datetime:
        """Publish new items now (pages first, then the feeds); -> when."""
        when = self.cluster.now()
        self.site.publish(n, marked=MARKED)
        return when

    def seen(self, run: dict[str, Any]) -> dict[str, Any]:
        self.runs[run["run_id"]] = run
        for ti in self.cluster.tries(run["run_id"], "fetch_extract"):
            if ti["hostname"]:
                self.hostnames.add(ti["hostname"])
        return run

    def active_run_fetching(self, since: datetime, host: str | None = None) -> dict[str, Any]:
        """A run still going after ``since`` with a fetch task running (on ``host``)."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            for run in self.cluster.runs():
                if run["state"] != "running":
                    continue
                for ti in self.cluster.task_instances(run["run_id"], "fetch_extract"):
                    if ti["state"] == "running" and host in (None, ti["hostname"]):
                        return run
            time.sleep(0.3)
        raise TimeoutError(f"no run fetched on {host or 'any worker'} after {since}")

    def wait_finished(self, run_id: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = next(r for r in self.cluster.runs() if r["run_id"] == run_id)
            if run["state"] in ("success", "failed"):
                return self.seen(run)
            time.sleep(1)
        raise TimeoutError(f"run {run_id} did not finish within {timeout} s")

    def await_ingested(self, since: datetime, timeout: float = RUN_TIMEOUT) -> None:
        """Until every published page is in state, through scheduled runs that all succeed.

        New items may land in the run that was already polling when they appeared
        or in the next one; every run that ends meanwhile must succeed.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            finished = [
                r
                for r in self.cluster.runs()
                if r["state"] in ("success", "failed") and r["end_date"] >= since
            ]
            for run in finished:
                _assert_success(self, self.seen(run))
            if finished and self.counts()["articles"] == self.site.pages:
                return
            time.sleep(2)
        raise TimeoutError(f"not every page stored {timeout} s after {since}: {self.counts()}")

    def counts(self) -> dict[str, int]:
        """Articles in state, pending index (last run), documents in the cluster."""
        from pipeline.search.base import open_backend
        from pipeline.store import open_store

        settings = self.cluster.settings()
        store = open_store(settings)
        try:
            articles = store.count_articles()
            summary = store.last_run()
            pending = dict(summary.summary).get("pending_index", 0) if summary else 0
        finally:
            store.close()
        backend = open_backend(settings)
        try:
            indexed = backend.count()
        finally:
            backend.close()
        return {"articles": articles, "pending_index": pending, "indexed": indexed}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    _require_tools()
    tmp = tmp_path_factory.mktemp("cluster")
    smtp = SmtpSink().start()
    webhook = WebhookSink().start()
    # 30 ms a page: a fetch task lasts long enough to be interrupted.
    site = NewsSite(hosts=4, feeds=12, delay=0.03).start()
    env = cluster_environment(tmp, site, [smtp.url, webhook.url], batch_size=BATCH)
    cluster = Cluster(env, tmp / "cluster.log")
    try:
        cluster.up()
        cluster.wait_for_dags()
        yield Story(cluster, site, smtp, webhook)
    finally:
        try:
            cluster.down()
        finally:
            site.stop()
            webhook.stop()
            smtp.stop()
            logs = ROOT / ".cache" / "cluster" / "logs"
            print(f"cluster logs: {logs}; script log: {tmp / 'cluster.log'}")


def _assert_success(story: Story, run: dict[str, Any]) -> None:
    if run["state"] != "success":
        bad = [
            ti
            for ti in story.cluster.task_instances(run["run_id"])
            if ti["state"] not in ("success", "skipped")
        ]
        pytest.fail(f"run {run['run_id']} ended {run['state']}: {bad}")


def _assert_stored_once(story: Story, timeout: float = 300) -> dict[str, int]:
    """Every page stored once and indexed once, once the run that stored them indexes.

    Pages are stored by the fetch tasks and indexed by a later task of the same
    run (or the next one), so the counts converge rather than hold at any
    instant: wait for that, bounded, then assert on what is there.
    """
    deadline = time.monotonic() + timeout
    counts = story.counts()
    while time.monotonic() < deadline and not (
        counts["articles"] == story.site.pages
        and counts["indexed"] == counts["articles"]
        and counts["pending_index"] == 0
    ):
        time.sleep(5)
        counts = story.counts()
    assert counts["articles"] == story.site.pages, counts
    assert counts["indexed"] == counts["articles"], counts
    assert counts["pending_index"] == 0, counts
    return counts


# ---------------------------------------------------------------- 1. the scheduled path
def test_status_names_every_component_healthy(story: Story) -> None:
    out = story.cluster.script("status")
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    expected = ["postgres", "redis", "es1", "es2", "es3", "apiserver", "scheduler"]
    expected += ["dagprocessor", "triggerer", "worker1", "worker2"]
    assert list(lines) == expected
    for _name, line in lines.items():
        assert "healthy" in line and "unhealthy" not in line, line
    assert "cluster green, 3 nodes" in lines["es1"]


def test_first_scheduled_run_stores_everything_on_both_workers(story: Story) -> None:
    when = story.publish(FIRST_PAGES)
    story.cluster.airflow("dags", "unpause", "newswatch_alerts")
    story.cluster.airflow("dags", "unpause", "newswatch_ingest")
    first = story.cluster.wait_run(when, ("success", "failed"), timeout=900)
    story.seen(first)
    _assert_success(story, first)
    assert first["run_type"] == "scheduled"
    fetches = story.cluster.task_instances(first["run_id"], "fetch_extract")
    assert len(fetches) == -(-(FIRST_PAGES + MARKED) // BATCH)
    assert {ti["hostname"] for ti in fetches} == {"worker1", "worker2"}
    _assert_stored_once(story)
    # The index has the cluster's layout: 3 primaries, 1 replica each.
    import httpx

    url = story.cluster.es_urls()[0]
    settings = httpx.get(f"{url}/newswatch/_settings", timeout=10).json()
    index = next(iter(settings.values()))["settings"]["index"]
    assert (index["number_of_shards"], index["number_of_replicas"]) == ("3", "1")


# ---------------------------------------------------------------- 2. a worker dies
def test_worker_killed_mid_fetch_its_tasks_run_on_the_other(story: Story) -> None:
    when = story.publish()
    victim = story.active_run_fetching(when, host="worker1")
    story.cluster.kill("worker1")
    killed_at = story.cluster.now()
    try:
        run = story.wait_finished(victim["run_id"])
    finally:
        story.cluster.script("start", "worker1")
    _assert_success(story, run)
    tries = story.cluster.tries(run["run_id"], "fetch_extract")
    retried = {t["map_index"] for t in tries if t["try_number"] > 1}
    assert retried, f"no fetch task was retried after the kill at {killed_at}: {tries}"
    final = {
        t["map_index"]: t for t in story.cluster.task_instances(run["run_id"], "fetch_extract")
    }
    for index in retried:
        assert final[index]["state"] == "success"
        assert final[index]["hostname"] == "worker2", final[index]
    story.await_ingested(when)
    _assert_stored_once(story)


# ---------------------------------------------------------------- 3. an Elasticsearch node stops
def test_elasticsearch_node_down_yellow_indexing_and_search_go_on(story: Story) -> None:

    url = story.cluster.es_urls()[0]
    story.cluster.script("stop", "es3")
    try:
        # If es3 was the master, the other two elect one first (a few seconds).
        health = _health(url, lambda h: h.get("number_of_nodes") == 2, timeout=60)
        assert health["status"] == "yellow", health  # replicas of es3's shards missing
        when = story.publish()
        story.await_ingested(when)
        counts = _assert_stored_once(story)  # indexed with a node down
        # Search answers on the two nodes left.
        from pipeline.search.base import SearchRequest, open_backend

        backend = open_backend(story.cluster.settings())
        try:
            found = backend.search(SearchRequest(query="convoy", limit=1))
        finally:
            backend.close()
        assert found.total == len(story.site.marked)
    finally:
        story.cluster.script("start", "es3")
    health = _health(url, lambda h: (h.get("status"), h.get("number_of_nodes")) == ("green", 3))
    assert health["status"] == "green", health
    assert story.counts() == counts


# ---------------------------------------------------------------- 4. the scheduler restarts
def test_scheduler_restarted_mid_run_the_run_completes(story: Story) -> None:
    when = story.publish()
    running = story.active_run_fetching(when)
    story.cluster.script("restart", "scheduler")
    run = story.wait_finished(running["run_id"])
    _assert_success(story, run)
    story.await_ingested(when)
    _assert_stored_once(story)


# ---------------------------------------------------------------- 5. PostgreSQL restarts
def test_postgres_restarted_between_runs_next_run_succeeds(story: Story) -> None:
    # Between runs: wait (a while) for a moment no ingest run is going.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(r["state"] != "running" for r in story.cluster.runs()):
            break
        time.sleep(0.5)
    before = {r["run_id"] for r in story.cluster.runs()}
    story.cluster.script("restart", "postgres")
    story.cluster.close()
    when = story.publish()
    story.await_ingested(when)
    assert set(story.runs) - before, "no run after the restart"
    _assert_stored_once(story)


# ---------------------------------------------------------------- 6. the whole story
def test_every_run_succeeded_and_each_story_alerted_once(story: Story) -> None:
    assert len(story.runs) >= 5
    assert all(r["state"] == "success" for r in story.runs.values())
    assert {"worker1", "worker2"} <= story.hostnames
    _assert_stored_once(story)

    # The alerts DAG, triggered by the Asset, delivers each marked story once.
    deadline = time.monotonic() + 240
    titles = [_title(url) for url in story.site.marked]
    while time.monotonic() < deadline:
        hooks = json.dumps(story.webhook.payloads(), ensure_ascii=False)
        if all(t in hooks for t in titles) and len(story.smtp.inbox) >= 1:
            break
        time.sleep(1)
    time.sleep(5)  # anything doubled would arrive now
    hooks = [json.dumps(p, ensure_ascii=False) for p in story.webhook.payloads()]
    mails = [
        str(m["Subject"]) + " " + m.get_body(("plain", "html")).get_content()
        for m in story.smtp.inbox
    ]
    for title in titles:
        assert sum(title in h for h in hooks) == 1, (title, hooks)
        assert sum(title in m for m in mails) == 1, (title, [m[:80] for m in mails])
    # One delivery id per (rule, story) and channel: none sent twice.
    ids = story.smtp.delivery_ids()
    assert len(ids) == len(set(ids)), ids
    alert_runs = story.cluster.runs("newswatch_alerts")
    assert alert_runs and all(r["run_type"] == "asset_triggered" for r in alert_runs)


def _title(url: str) -> str:
    number = url.rsplit("/", 1)[-1].removesuffix(".html")
    return f"Armed convoy {number} mobilised"


def _health(url: str, ok: Any, timeout: float = 180) -> dict[str, Any]:
    """The cluster's health once ``ok(health)`` holds (or the last one seen)."""
    import httpx

    health: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"{url}/_cluster/health", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            health = {}
        if ok(health):
            return health
        time.sleep(0.5)
    return health
