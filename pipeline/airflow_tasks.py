"""Thin adapters between the Airflow DAGs in ``dags/`` and the pipeline stages.

The DAG files hold no logic: each task is one call into this module, which
reads the settings (Airflow connection and variables over ``NEWSWATCH_*``
environment variables), calls one stage of ``pipeline.run`` and returns ids or
counts, never page bodies, so XComs stay small.

Nothing here imports Airflow at module import time: the CLI, the tests and a
DAG file's parse all import this module, and parsing a DAG must not touch the
network or a database. Airflow is imported lazily, inside the adapters, and
only where a task is running; outside a task every adapter still works on the
environment alone.

DAG-shape values (schedule, retries, timeouts, batch size) are read from the
environment only, because they are needed while the DAG file is parsed, when
reading an Airflow Variable from the metadata database is exactly what must
not happen. ``AIRFLOW_VAR_NEWSWATCH_SCHEDULE`` counts: Airflow reads it from
the environment too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from pipeline.config import ENV_PREFIX, Settings, load_settings

log = logging.getLogger(__name__)

ARTICLES_ASSET_URI = "newswatch://articles"
ARTICLES_ASSET_NAME = "newswatch_articles"
FETCH_POOL = "newswatch_fetch"
FETCH_POOL_SLOTS = 4
ES_CONN_ID = "newswatch_elasticsearch"
STATE_CONN_ID = "newswatch_state"
VARIABLE_PREFIX = "newswatch_"
DEFAULT_SCHEDULE = "*/10 * * * *"
DEFAULT_BATCH_SIZE = 50
# Airflow refuses to expand a task into more than [core] max_map_length (1024)
# instances; a backlog larger than this many batches waits for the next run.
MAX_BATCHES = 200

# Airflow variables that shape the DAG or the run, not Settings fields.
_DAG_ONLY_VARIABLES = frozenset(
    {"schedule", "batch_size", "airflow_retries", "airflow_retry_delay", "airflow_task_timeout"}
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class FeedDown(RuntimeError):
    """A feed could not be polled; raised so Airflow retries the task."""


# ---------------------------------------------------------------- DAG shape (env only)
def _env(name: str) -> str | None:
    """``NEWSWATCH_<NAME>``, else Airflow's own env form of the variable ``newswatch_<name>``."""
    for key in (ENV_PREFIX + name.upper(), "AIRFLOW_VAR_" + ENV_PREFIX + name.upper()):
        value = os.environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def _env_number(name: str, default: float, minimum: float = 0) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}: not a number (got {raw!r})") from None
    if value < minimum:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}: must be >= {minimum} (got {raw!r})")
    return value


def parse_schedule(value: str | None) -> str | timedelta:
    """A cron expression or preset passes through; ``10m``/``1h``/``30s``/``1d`` become intervals.

    The short form is the one ``newswatch watch`` already uses, so one value
    can drive both the loop and the DAG.
    """
    if not value:
        return DEFAULT_SCHEDULE
    match = _DURATION.match(value)
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        if amount <= 0:
            raise ValueError(f"{ENV_PREFIX}SCHEDULE: the interval must be positive (got {value!r})")
        return timedelta(**{_UNITS[unit]: amount})
    return value


def ingest_schedule() -> str | timedelta:
    """The ingest DAG's schedule: ``NEWSWATCH_SCHEDULE``, default every 10 minutes."""
    return parse_schedule(_env("schedule"))


def task_defaults() -> dict[str, Any]:
    """``default_args`` for every newswatch DAG: retries with exponential backoff, timeouts.

    The retry delay is small in tests (``NEWSWATCH_AIRFLOW_RETRY_DELAY=1``) and
    30 s by default; each retry waits twice as long as the one before.
    """
    delay = _env_number("airflow_retry_delay", 30.0)
    return {
        "owner": "newswatch",
        "retries": int(_env_number("airflow_retries", 2)),
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(seconds=_env_number("airflow_task_timeout", 1800, 1)),
    }


def batch_size() -> int:
    """Pending items per mapped fetch task (``NEWSWATCH_BATCH_SIZE``, default 50)."""
    return int(_env_number("batch_size", DEFAULT_BATCH_SIZE, 1))


def worker_hostname() -> str:
    """The hostname a task instance records (Airflow's ``[core] hostname_callable``).

    ``scripts/cluster.sh`` runs two Celery workers on one machine and names each
    with ``NEWSWATCH_WORKER_HOSTNAME``, so the task instances show which worker
    ran them; elsewhere this is the machine's name, as Airflow's default.
    """
    import socket

    return os.environ.get("NEWSWATCH_WORKER_HOSTNAME") or socket.getfqdn()


# ---------------------------------------------------------------- settings from Airflow
def elasticsearch_overrides(
    conn_type: str | None,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    schema: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Map an Airflow connection (``http://user:pass@host:9200``) to Settings fields.

    ``https://`` (or ``extra.use_ssl``) selects TLS; the URI's path, if any,
    names the index; ``extra`` may carry ``api_key``, ``ca_certs``, ``index``
    and ``hosts`` (comma-separated URLs, for a multi-node cluster).
    """
    extra = dict(extra or {})
    out: dict[str, Any] = {}
    hosts = extra.get("hosts")
    if hosts:
        out["elasticsearch_url"] = hosts
    elif host:
        scheme = "https" if conn_type == "https" or extra.get("use_ssl") else "http"
        scheme = str(extra.get("scheme", scheme))
        out["elasticsearch_url"] = f"{scheme}://{host}" + (f":{port}" if port else "")
    if login:
        out["elasticsearch_username"] = login
    if password:
        out["elasticsearch_password"] = password
    index = extra.get("index") or (schema.strip("/") if schema else None)
    if index:
        out["elasticsearch_index"] = index
    if extra.get("api_key"):
        out["elasticsearch_api_key"] = extra["api_key"]
    if extra.get("ca_certs"):
        out["elasticsearch_ca_certs"] = extra["ca_certs"]
    # The backend itself stays NEWSWATCH_SEARCH_BACKEND's choice (or the variable
    # newswatch_search_backend): defining the connection alone switches nothing.
    return out


_SQLA_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "sqlite": "sqlite",
}


def state_overrides(
    conn_type: str | None,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    schema: str | None,
) -> dict[str, Any]:
    """Map an Airflow connection (``postgres://user:pass@host:5432/db``) to ``database_url``."""
    driver = _SQLA_DRIVERS.get((conn_type or "").lower(), conn_type or "")
    if driver == "sqlite":
        return {"database_url": f"sqlite:///{host or schema}"}
    if not host:
        return {}
    auth = ""
    if login:
        auth = quote(login, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    url = f"{driver}://{auth}{host}" + (f":{port}" if port else "") + f"/{schema or ''}"
    return {"database_url": url}


def _in_airflow_task() -> bool:
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:
        return False
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def _connection_overrides() -> dict[str, Any]:
    from airflow.sdk import Connection

    out: dict[str, Any] = {}
    for conn_id, mapper in ((STATE_CONN_ID, "state"), (ES_CONN_ID, "es")):
        try:
            conn = Connection.get(conn_id)
        except Exception:  # not defined: the environment decides
            continue
        if mapper == "es":
            out.update(
                elasticsearch_overrides(
                    conn.conn_type,
                    conn.host,
                    conn.port,
                    conn.login,
                    conn.password,
                    conn.schema,
                    conn.extra_dejson,
                )
            )
        else:
            out.update(
                state_overrides(
                    conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.schema
                )
            )
    return out


def _variable_overrides() -> dict[str, Any]:
    """Airflow Variables ``newswatch_<field>`` (metadata DB or ``AIRFLOW_VAR_``) for Settings."""
    from airflow.sdk import Variable

    keys: set[str] = set()
    try:
        keys.update(k.lower() for k in Variable.keys(prefix=VARIABLE_PREFIX))
    except Exception as exc:  # an older API server without the keys call
        log.debug("cannot list Airflow variables: %s", exc)
    env_prefix = "AIRFLOW_VAR_" + VARIABLE_PREFIX.upper()
    keys.update(
        k.lower().removeprefix("airflow_var_") for k in os.environ if k.startswith(env_prefix)
    )
    out: dict[str, Any] = {}
    for key in sorted(keys):
        field = key.removeprefix(VARIABLE_PREFIX)
        if field in _DAG_ONLY_VARIABLES or field not in Settings.model_fields:
            continue
        value = Variable.get(key, default=None)
        if value is not None:
            out[field] = value
    return out


def airflow_settings(**overrides: Any) -> Settings:
    """Settings for a task: env ``NEWSWATCH_*``, then Airflow Variables, then connections.

    Airflow's values win over the environment because they are what an
    operator edits at run time in the UI; with none defined, the environment
    (and the optional settings file) decides, exactly as for the CLI.
    """
    from_airflow: dict[str, Any] = {}
    if _in_airflow_task():
        from_airflow.update(_variable_overrides())
        from_airflow.update(_connection_overrides())
    from_airflow.update(overrides)
    return load_settings(**from_airflow)


# ---------------------------------------------------------------- task context
def _current_attempt() -> tuple[int, int]:
    """(try number, max tries) of the running task; (1, 0) outside Airflow."""
    if not _in_airflow_task():
        return 1, 0
    from airflow.sdk import get_current_context

    try:
        ti = get_current_context()["ti"]
    except Exception:
        return 1, 0
    return int(getattr(ti, "try_number", 1) or 1), int(getattr(ti, "max_tries", 0) or 0)


def _fail_without_retry(message: str) -> BaseException:
    """An exception Airflow does not retry (a permanent feed error), plain outside Airflow."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:
        return FeedDown(message)
    return AirflowFailException(message)


# ---------------------------------------------------------------- ingest DAG tasks
def start_run() -> str:
    from pipeline import run

    return run.start_run(airflow_settings())


def feed_names() -> list[str]:
    """Names of the configured feeds: one mapped poll task each."""
    from pipeline import run

    return [f.name for f in run.configured_feeds(airflow_settings())]


def poll_feed(feed_name: str, run_id: str) -> list[str]:
    """Poll one feed; return the ids of its new items. A failed poll raises.

    Transient failures (connection refused, timeout, 5xx) raise ``FeedDown`` so
    Airflow retries with backoff; permanent ones (404, 410, ...) fail at once.
    The run's feed counts are recorded once per feed, by the attempt that
    decides the outcome (a success, or the last try), so retries do not count
    a feed as failed several times.
    """
    from pipeline import run
    from pipeline.store import open_store
    from pipeline.store.db import PERMANENT_REASONS

    settings = airflow_settings()
    sources = [s for s in run.configured_feeds(settings) if s.name == feed_name]
    if not sources:
        raise KeyError(f"no feed named {feed_name!r} in {settings.feeds_file}")
    try_number, max_tries = _current_attempt()
    store = open_store(settings)
    t0 = time.perf_counter()
    try:
        new_ids = run.poll_stage(settings, sources, run_id=None, store=store)
        row = next((f for f in store.feeds() if f.name == feed_name), None)
        status = (row.last_status if row else None) or "ok"
        error = (row.last_error if row else None) or ""
        reason = error.split(":", 1)[0].strip() or "feed_error"
        permanent = reason in PERMANENT_REASONS
        decisive = status != "failed" or permanent or try_number > max_tries
        if decisive:
            stat: dict[str, Any] = {
                "counts": {f"feeds_{status}": 1, "items_new": len(new_ids)},
                "failed": {},
                "failures": [],
            }
            if status == "failed":
                stat["failed"] = {reason: 1}
                stat["failures"] = [
                    {
                        "stage": "feed",
                        "reason": reason,
                        "url": sources[0].url,
                        "where": feed_name,
                        "detail": error.split(":", 1)[-1].strip(),
                    }
                ]
            store.add_run_stat(run_id, "feeds", stat, time.perf_counter() - t0)
    finally:
        store.close()
    if status == "failed":
        message = f"feed {feed_name!r} failed (try {try_number}): {error}"
        if permanent:
            raise _fail_without_retry(message)
        raise FeedDown(message)
    return new_ids


def item_batches(run_id: str) -> list[list[str]]:
    """Every item pending fetch (this run's and retryable older ones), in batches.

    Read from state rather than from the poll tasks' results, so a failed feed
    neither blocks the others nor strands items a previous run left pending.
    """
    from pipeline import run

    size = batch_size()
    ids = run.pending_item_ids(airflow_settings(), limit=size * MAX_BATCHES)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def fetch_extract(item_ids: list[str], run_id: str) -> list[str]:
    """Fetch and extract one batch; returns the ids of the articles stored."""
    from pipeline import run

    return run.fetch_extract_stage(airflow_settings(), list(item_ids), run_id=run_id)


def enrich_index(run_id: str) -> dict[str, int]:
    """Enrich, dedup and index every stored article not yet indexed."""
    from pipeline import run

    return run.enrich_index_stage(airflow_settings(), run_id=run_id)


def _alerts_stage() -> Any:
    """``pipeline.alerts.stage``, or None while the alerts package is not installed."""
    import importlib

    try:
        return importlib.import_module("pipeline.alerts.stage")
    except ModuleNotFoundError as exc:
        if exc.name in ("pipeline.alerts", "pipeline.alerts.stage"):
            return None
        raise


def evaluate_alerts(run_id: str) -> dict[str, Any]:
    """The run's alert stage, as ``newswatch ingest`` runs it but without sending.

    Syncs the rules file, evaluates every enabled rule over what was indexed
    since its checkpoint and checks pipeline health; the new deliveries wait in
    the outbox for the alerts DAG. Its counts join the run summary. Rule and
    channel problems are counted, never raised (the alerts package's contract).
    """
    stage = _alerts_stage()
    if stage is None:
        log.warning("alerts not installed: no rules evaluated")
        return {"status": "alerts not installed"}
    from pipeline.store import open_store

    settings = airflow_settings()
    store = open_store(settings)
    try:
        t0 = time.perf_counter()
        # Evaluate only: the alerts DAG, triggered by the new-articles Asset,
        # sends what this queued (one sender keeps the outbox story simple).
        counts = dict(stage.alerts_after_index(settings, run_id, store, deliver=False))
        store.add_run_stat(run_id, "alerts", {"counts": counts}, time.perf_counter() - t0)
    finally:
        store.close()
    return counts


def finish(run_id: str) -> dict[str, Any]:
    """Close the run and return its summary (the ``ingest --json`` object)."""
    from pipeline import run

    summary = run.finish_run(airflow_settings(), run_id)
    log.info("run summary: %s", json.dumps(summary, default=str))
    return summary


def asset_extra(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the articles Asset event carries: the run id and its counts, no documents."""
    return {
        "run_id": summary.get("run_id"),
        "indexed": summary.get("indexed", 0),
        "extracted": summary.get("extracted", 0),
        "pending_index": summary.get("pending_index", 0),
        "feeds_failed": (summary.get("feeds") or {}).get("failed", 0),
    }


def stage_failed() -> None:
    """Raised by the ingest DAG's watcher task when a stage task failed."""
    raise RuntimeError("a newswatch stage failed in this run; see the failed task's log")


# ---------------------------------------------------------------- alerts DAG tasks
def run_ids_from_events(events: Any) -> list[str]:
    """Run ids named by the triggering Asset events (oldest first, no repeats)."""
    out: list[str] = []
    try:
        batches = events.values() if hasattr(events, "values") else []
        for batch in batches:
            for event in batch:
                run_id = (getattr(event, "extra", None) or {}).get("run_id")
                if run_id and run_id not in out:
                    out.append(run_id)
    except Exception as exc:  # events are informative only; delivery works without them
        log.debug("cannot read triggering asset events: %s", exc)
    return out


def deliver_alerts(run_ids: list[str] | None = None) -> dict[str, Any]:
    """Send everything due in the alert outbox: retries, throttled sends and digests.

    The outbox claims each delivery before sending it, so this task and an
    ingest run's alert stage never send one alert twice.
    """
    if _alerts_stage() is None:
        log.warning("alerts not installed: nothing to deliver")
        return {"status": "alerts not installed", "runs": list(run_ids or [])}
    from pipeline.alerts import state
    from pipeline.alerts.outbox import deliver_due
    from pipeline.alerts.settings import load_alert_settings
    from pipeline.store import open_store

    settings = airflow_settings()
    store = open_store(settings)
    try:
        report = deliver_due(store, settings.data_dir, load_alert_settings())
        outbox = state.delivery_counts(store)
    finally:
        store.close()
    if report.errors:
        log.warning("alert deliveries failed: %s", report.errors)
    return {
        "runs": list(run_ids or []),
        "delivered": report.sent,
        "messages": report.messages,
        "pending_retry": report.retrying,
        "failed": report.failed,
        "postponed": report.postponed,
        "outbox": outbox,
    }


# ---------------------------------------------------------------- maintenance DAG tasks
def retry_failed_items() -> int:
    from pipeline import run

    return run.retry_failed_items(airflow_settings())


def feed_health_report() -> dict[str, Any]:
    """Every feed's health; feeds failing three polls in a row are listed as ``unhealthy``."""
    from pipeline import run

    feeds = run.feed_health(airflow_settings())
    unhealthy = [f["name"] for f in feeds if (f.get("consecutive_errors") or 0) >= 3]
    if unhealthy:
        log.warning("unhealthy feeds: %s", ", ".join(unhealthy))
    return {"feeds": len(feeds), "unhealthy": unhealthy}


def prune_raw_pages() -> int:
    """Drop stored raw pages older than ``NEWSWATCH_PRUNE_DAYS`` (default 30)."""
    from pipeline import run

    return run.prune_raw_pages(airflow_settings(), int(_env_number("prune_days", 30, 1)))


def check_index() -> dict[str, Any]:
    """Compare state with the search index; a mismatch is logged, not fatal."""
    from pipeline import run

    counts = dict(run.check_index(airflow_settings()))
    expected = counts.get("articles", 0) - counts.get("pending_index", 0)
    counts["in_sync"] = counts.get("indexed_in_backend") == expected
    if not counts["in_sync"]:
        log.warning("index and state disagree: %s (run `newswatch reindex`)", counts)
    return counts
