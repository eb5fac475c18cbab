"""The scheduled cluster, measured: pages/s and feed-to-alert delay through Airflow + Celery.

Brings up ``scripts/cluster.sh`` (PostgreSQL, Redis, three Elasticsearch
nodes, Airflow with two Celery workers), serves the same generated pages as
``pipeline_bench`` from 127.0.0.1, unpauses the ingest DAG on a one-minute
schedule and prints:

- pages/s: pages stored and indexed over the wall time of the scheduled runs
  that ingested them (first run start to last run end), next to the run's own
  stage timings, so the share lost to scheduling and task start-up shows;
- the median delay from an item appearing in a feed to its alert at a real
  webhook receiver, with the schedule interval stated, and what it is made of:
  waiting for the next scheduled run, the ingest run itself, and the wait
  until the Asset-triggered alerts DAG delivers.

Run: ``.venv/bin/python -m benchmarks.cluster_bench --pages 2000 --alerts 6``.
Numbers only; nothing here fails on timing. The harness (a growing news site
over several loopback hosts, cluster control, metadata queries) is shared
with ``tests/test_cluster.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.generate import article_text, page_html, rss
from pipeline.localserver import LocalServer, RequestRecord, Response

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "scripts" / "cluster.sh"
SCHEDULE = "* * * * *"  # every minute
# Mobilisation stories carry this word, which the generated filler never uses,
# so the alert rule below picks out exactly the stories the harness marks.
MARK = "convoy"


# ---------------------------------------------------------------- the news site
def marked_page(n: int, host: str, rng: random.Random) -> tuple[str, str]:
    """-> (title, html) of a mobilisation report the alert rule must catch.

    Generated paragraphs follow the fixed lead, so two reports are different
    stories (not near-duplicates of each other).
    """
    title = f"Armed convoy {n} mobilised toward Sirte"
    extra = "".join(f"<p>{escape(p)}</p>" for p in article_text(rng, 250).split("\n\n"))
    body = extra + (
        f"<p>A convoy of military vehicles carrying reinforcements was mobilised on day {n} "
        "and moved from Misrata toward Sirte, witnesses said. The Libyan National Army "
        f"mobilised troops near Jufra in response, and a second convoy ({host}) was seen "
        "on the coastal road.</p>"
        "<p>Officials said the build-up of forces raised fears of renewed fighting around "
        "the city, while residents reported troop movements through the night and "
        "checkpoints on the main road south of the city.</p>"
    )
    html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        '</title><meta property="article:published_time" content="2026-11-20T08:00:00Z">'
        f"</head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>"
    )
    return title, html


@dataclass
class Feed:
    host: int  # index into NewsSite.servers
    path: str
    items: list[tuple[str, str]] = field(default_factory=list)  # (title, page path)


class NewsSite:
    """Generated news pages over several loopback hosts; feeds grow on ``publish``.

    Each host is a real :class:`LocalServer` (127.0.0.2, .3, ...); each feed
    lists every item published so far. ``delay`` slows each page answer, so a
    fetch task lasts long enough to be interrupted.
    """

    def __init__(self, hosts: int = 4, feeds: int = 12, delay: float = 0.0, seed: int = 42):
        self.servers = [LocalServer(f"127.0.0.{2 + i}") for i in range(hosts)]
        self.feeds = [Feed(i % hosts, f"/feeds/wire{i}.rss") for i in range(feeds)]
        self.delay = delay
        self.rng = random.Random(seed)
        self.pages = 0
        self.marked: list[str] = []  # page URLs of mobilisation stories
        self.published_at: dict[str, float] = {}  # page URL -> time it appeared in its feed
        self._lock = threading.Lock()

    def start(self) -> NewsSite:
        for server in self.servers:
            server.start()
            server.route("/robots.txt", Response(body=b"User-agent: *\nAllow: /\n"))
        for feed in self.feeds:
            self.servers[feed.host].route(feed.path, self._feed_handler(feed))
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    @property
    def hosts(self) -> list[str]:
        return [s.host for s in self.servers]

    def feed_urls(self) -> list[tuple[str, str]]:
        return [(f"wire{i}", self.servers[f.host].url + f.path) for i, f in enumerate(self.feeds)]

    def write_feeds_file(self, path: Path) -> Path:
        lines = ["feeds:"]
        for name, url in self.feed_urls():
            lines.append(f"  - {{name: {name}, url: '{url}', lang: en}}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def _feed_handler(self, feed: Feed) -> Any:
        base = self.servers[feed.host].url

        def answer(_: RequestRecord) -> Response:
            with self._lock:
                items = list(feed.items)
            body = rss(base, items[::-1]).encode()
            return Response(body=body, headers={"Content-Type": "application/rss+xml"})

        return answer

    def add_pages(self, htmls: list[tuple[str, str]], marked: bool = False) -> list[str]:
        """Serve the pages, then list them in the feeds (round robin); returns their URLs."""
        urls: list[str] = []
        staged: list[tuple[Feed, str, str]] = []
        for title, html in htmls:
            feed = self.feeds[self.pages % len(self.feeds)]
            server = self.servers[feed.host]
            path = f"/news/{self.pages}.html"
            server.route(
                path,
                Response(
                    body=html.encode(),
                    headers={"Content-Type": "text/html; charset=utf-8"},
                    delay=self.delay,
                ),
            )
            self.pages += 1
            staged.append((feed, title, path))
            urls.append(server.url + path)
        now = time.time()
        with self._lock:
            for (feed, title, path), url in zip(staged, urls, strict=True):
                feed.items.append((title, path))
                self.published_at[url] = now
        if marked:
            self.marked.extend(urls)
        return urls

    def publish(self, n: int, marked: int = 0) -> list[str]:
        """``n`` generated pages plus ``marked`` mobilisation stories; returns all URLs."""
        pages = [page_html(self.pages + i, self.rng) for i in range(n)]
        urls = self.add_pages(pages)
        for _ in range(marked):
            feed = self.feeds[self.pages % len(self.feeds)]
            urls += self.add_pages(
                [marked_page(self.pages, self.servers[feed.host].host, self.rng)], marked=True
            )
        return urls


def alert_rules(path: Path, channels: list[str]) -> Path:
    """An alerts file whose one rule matches exactly the marked mobilisation stories."""
    lines = ["defaults:", "  channels:"]
    lines += [f"    - '{c}'" for c in channels]
    lines += [
        "rules:",
        "  - name: mobilisation-convoys",
        f"    query: 'event:mobilisation AND {MARK}'",
        "    mode: immediate",
        "    throttle: 0",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- the cluster
class Cluster:
    """``scripts/cluster.sh`` with a given environment, and reads of its state."""

    def __init__(self, env: dict[str, str], log: Path | None = None):
        self.env = env
        self.log = log
        self._meta: Any = None
        self._cluster_env: dict[str, str] | None = None

    def script(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        proc = subprocess.run(
            [str(CLUSTER), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as fh:
                fh.write(f"$ cluster.sh {' '.join(args)} -> {proc.returncode}\n{proc.stderr}\n")
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"cluster.sh {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
            )
        return proc.stdout

    def cluster_env(self) -> dict[str, str]:
        if self._cluster_env is None:
            out = self.script("env")
            self._cluster_env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return self._cluster_env

    def up(self) -> None:
        self.script("down", check=False)
        self.script("purge")
        self.script("up", timeout=900)

    def down(self) -> None:
        self.close()
        self.script("down", timeout=300, check=False)

    def pid(self, component: str) -> int:
        return int(self.script("pid", component).strip())

    def kill(self, component: str) -> None:
        """SIGKILL a component and every process under it: the machine it ran on died.

        Walks the process tree, since Airflow runs each task process in a process
        group of its own.
        """
        import psutil

        leader = psutil.Process(self.pid(component))
        tree = [leader, *leader.children(recursive=True)]
        os.killpg(leader.pid, signal.SIGKILL)
        for proc in tree:
            with suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)

    def airflow(self, *args: str) -> str:
        return self.script("airflow", *args, timeout=300)

    # -- reads
    def settings(self) -> Any:
        """newswatch Settings as the tasks see them (state database, Elasticsearch nodes)."""
        from pipeline.config import load_settings

        env = self.cluster_env()
        conn = json.loads(env["AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH"])
        return load_settings(
            database_url=env["NEWSWATCH_DATABASE_URL"],
            search_backend="elasticsearch",
            elasticsearch_url=conn["extra"]["hosts"],
            data_dir=env["NEWSWATCH_DATA_DIR"],
        )

    def es_urls(self) -> list[str]:
        conn = json.loads(self.cluster_env()["AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH"])
        return conn["extra"]["hosts"].split(",")

    def meta(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows from Airflow's metadata database (reconnects after a PostgreSQL restart)."""
        import psycopg

        url = self.cluster_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        url = url.replace("postgresql+psycopg://", "postgresql://")
        for attempt in range(30):
            try:
                if self._meta is None or self._meta.closed:
                    self._meta = psycopg.connect(url, autocommit=True, connect_timeout=5)
                with self._meta.cursor() as cur:
                    cur.execute(sql, params)
                    return list(cur.fetchall())
            except psycopg.OperationalError:
                self.close()
                if attempt == 29:
                    raise
                time.sleep(1)
        return []

    def close(self) -> None:
        if self._meta is not None:
            with suppress(Exception):
                self._meta.close()
            self._meta = None

    def runs(self, dag_id: str = "newswatch_ingest") -> list[dict[str, Any]]:
        rows = self.meta(
            "SELECT run_id, state, run_type, start_date, end_date FROM dag_run "
            "WHERE dag_id = %s ORDER BY id",
            dag_id,
        )
        keys = ("run_id", "state", "run_type", "start_date", "end_date")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def task_instances(self, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT task_id, map_index, state, try_number, hostname FROM task_instance "
            "WHERE dag_id = 'newswatch_ingest' AND run_id = %s"
        )
        params: list[Any] = [run_id]
        if task_id:
            sql += " AND task_id = %s"
            params.append(task_id)
        keys = ("task_id", "map_index", "state", "try_number", "hostname")
        return [dict(zip(keys, r, strict=True)) for r in self.meta(sql, *params)]

    def tries(self, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of a task in a run (earlier tries are kept in task_instance_history)."""
        keys = ("map_index", "try_number", "state", "hostname")
        old = self.meta(
            "SELECT map_index, try_number, state, hostname FROM task_instance_history "
            "WHERE dag_id = 'newswatch_ingest' AND run_id = %s AND task_id = %s",
            run_id,
            task_id,
        )
        now = self.meta(
            "SELECT map_index, try_number, state, hostname FROM task_instance "
            "WHERE dag_id = 'newswatch_ingest' AND run_id = %s AND task_id = %s",
            run_id,
            task_id,
        )
        return [dict(zip(keys, r, strict=True)) for r in [*old, *now]]

    def wait_for_dags(self, timeout: float = 180) -> None:
        """Until the dag-processor has stored the newswatch DAGs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.meta("SELECT dag_id FROM dag WHERE dag_id LIKE 'newswatch_%%'")
            if {"newswatch_ingest", "newswatch_alerts"} <= {r[0] for r in rows}:
                return
            time.sleep(1)
        raise TimeoutError("the dag-processor did not register the newswatch DAGs")

    def wait_run(
        self,
        after: datetime,
        states: tuple[str, ...] = ("success", "failed"),
        timeout: float = 300,
        dag_id: str = "newswatch_ingest",
    ) -> dict[str, Any]:
        """The first run started at or after ``after`` once it reaches one of ``states``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.runs(dag_id):
                if run["start_date"] and run["start_date"] >= after and run["state"] in states:
                    return run
            time.sleep(1)
        raise TimeoutError(f"no {dag_id} run started after {after} reached {states}")

    def now(self) -> datetime:
        return self.meta("SELECT now()")[0][0]


def _channel_hosts(channels: list[str]) -> list[str]:
    """``host:port`` of each channel URL (an allow entry for that port alone)."""
    out = []
    for url in channels:
        parts = urlsplit(url)
        if parts.hostname:
            out.append(f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname)
    return out


def cluster_environment(
    tmp: Path,
    site: NewsSite,
    channels: list[str],
    batch_size: int = 25,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The caller environment for cluster.sh: newswatch pointed at the site and the channels."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSWATCH_"))}
    env.update(
        NEWSWATCH_SCHEDULE=SCHEDULE,
        NEWSWATCH_FEEDS_FILE=str(site.write_feeds_file(tmp / "feeds.yaml")),
        NEWSWATCH_ALERTS_FILE=str(alert_rules(tmp / "alerts.yaml", channels)),
        NEWSWATCH_DATA_DIR=str(tmp / "newswatch-data"),
        # The news hosts, and the loopback SMTP server and webhook on their own
        # ports only: channels pass the same address guard as fetching.
        NEWSWATCH_ALLOW_HOSTS=",".join([*site.hosts, *_channel_hosts(channels)]),
        NEWSWATCH_HOST_DELAY="0",
        NEWSWATCH_FETCH_CONCURRENCY="8",
        NEWSWATCH_PER_HOST_CONCURRENCY="4",
        NEWSWATCH_BATCH_SIZE=str(batch_size),
        NEWSWATCH_AIRFLOW_RETRIES="3",
        NEWSWATCH_AIRFLOW_RETRY_DELAY="2",
        NEWSWATCH_AIRFLOW_TASK_TIMEOUT="600",
        # A dead worker's running tasks are failed (and retried) after this long
        # without a heartbeat, instead of Airflow's 5 minutes.
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30",
        AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="120",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="true",
    )
    env.update(extra or {})
    return env


@contextmanager
def running_cluster(env: dict[str, str], log: Path | None = None) -> Iterator[Cluster]:
    """Up on entry; always down on exit, whatever happened inside."""
    cluster = Cluster(env, log)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()


# ---------------------------------------------------------------- the benchmark
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=6, help="marked items, one per run")
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from alerts_helpers import WebhookSink

    from benchmarks.pipeline_bench import build_site
    from pipeline.search.base import open_backend
    from pipeline.store import open_store

    webhook = WebhookSink().start()
    site = NewsSite(hosts=1, feeds=10).start()
    htmls, _ = build_site(args.pages)  # the pages pipeline_bench ingests
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            env = cluster_environment(tmp, site, [webhook.url], batch_size=args.batch_size)
            t_up = time.perf_counter()
            with running_cluster(env, tmp / "cluster.log") as cluster:
                up_s = time.perf_counter() - t_up
                cluster.wait_for_dags()
                site.add_pages([(f"page {i}", h) for i, h in enumerate(htmls)])
                t_pub = cluster.now()
                cluster.airflow("dags", "unpause", "newswatch_alerts")
                cluster.airflow("dags", "unpause", "newswatch_ingest")
                settings = cluster.settings()
                first = cluster.wait_run(t_pub, ("success", "failed"), timeout=1800)
                runs = [first]
                store = open_store(settings)
                try:
                    while store.count_articles() < args.pages:
                        runs.append(cluster.wait_run(runs[-1]["end_date"], timeout=1800))
                    stored = store.count_articles()
                    summary = dict(store.last_run().summary) if len(runs) == 1 else {}
                finally:
                    store.close()
                backend = open_backend(settings)
                try:
                    indexed = backend.count()
                finally:
                    backend.close()
                wall = (runs[-1]["end_date"] - runs[0]["start_date"]).total_seconds()
                ingest_seconds = [(r["end_date"] - r["start_date"]).total_seconds() for r in runs]

                # Feed-to-alert delay: one marked item at a time, each in its own run.
                delays: list[float] = []
                parts: list[tuple[float, float, float]] = []
                for _ in range(args.alerts):
                    before = len(webhook.payloads())
                    time.sleep(random.uniform(0, 60))  # appear at a random point of the minute
                    appeared = datetime.now(UTC)
                    site.publish(0, marked=1)
                    deadline = time.monotonic() + 400
                    while len(webhook.payloads()) == before and time.monotonic() < deadline:
                        time.sleep(0.2)
                    if len(webhook.payloads()) == before:
                        print("an alert did not arrive within 400 s", file=sys.stderr)
                        continue
                    got = datetime.now(UTC)
                    delays.append((got - appeared).total_seconds())
                    run = cluster.wait_run(appeared, ("success",), timeout=120)
                    parts.append(
                        (
                            (run["start_date"] - appeared).total_seconds(),
                            (run["end_date"] - run["start_date"]).total_seconds(),
                            (got - run["end_date"]).total_seconds(),
                        )
                    )
    finally:
        site.stop()
        webhook.stop()

    print(f"schedule              every minute ({SCHEDULE!r}), batch size {args.batch_size}")
    print("cluster               3 Elasticsearch nodes, 2 Celery workers x 2 slots, pool 4")
    print(f"cluster up            {up_s:8.1f} s")
    print(f"pages served          {args.pages} on 1 host, 10 feeds (pipeline_bench's pages)")
    print(f"articles stored       {stored}, indexed {indexed}, in {len(runs)} scheduled run(s)")
    print(f"run durations         {', '.join(f'{s:.1f}' for s in ingest_seconds)} s")
    print(f"scheduled ingest      {wall:8.1f} s   {stored / wall:8.1f} pages/s")
    if summary:
        for stage, secs in summary.get("seconds", {}).items():
            print(f"  stage {stage:<15} {secs:8.2f} s (summed over its tasks)")
    if delays:
        waits, ingests, alerts = zip(*parts, strict=True) if parts else ((), (), ())
        print(
            f"feed -> webhook       median {statistics.median(delays):.1f} s over "
            f"{len(delays)} items (min {min(delays):.1f}, max {max(delays):.1f})"
        )
        if parts:
            print(
                f"  made of             waiting for the run {statistics.median(waits):.1f} s, "
                f"the ingest run {statistics.median(ingests):.1f} s, "
                f"run end -> webhook (alerts DAG) {statistics.median(alerts):.1f} s (medians)"
            )
    print(
        json.dumps(
            {
                "pages": args.pages,
                "stored": stored,
                "indexed": indexed,
                "runs": len(runs),
                "scheduled_pps": round(stored / wall, 1),
                "run_seconds": [round(s, 1) for s in ingest_seconds],
                "alert_delay_median_s": round(statistics.median(delays), 1) if delays else None,
                "schedule": SCHEDULE,
            }
        )
    )


if __name__ == "__main__":
    main()
