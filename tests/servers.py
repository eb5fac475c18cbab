"""Find the real local servers the integration tests use, or fail/skip clearly.

``scripts/test.sh`` starts them (``scripts/elasticsearch.sh``,
``scripts/postgres.sh``) and exports their URLs. Without those variables
the default local addresses are probed, so a developer who started a server
by hand runs its tests too. In CI (``NEWSWATCH_REQUIRE_SERVERS=1``) a missing
server is a failure, never a skip: a green run must mean the tests ran.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ES_ENV = "NEWSWATCH_TEST_ELASTICSEARCH_URL"
PG_ENV = "NEWSWATCH_TEST_DATABASE_URL"
ES_DEFAULT = "http://127.0.0.1:9200"
PG_DEFAULT = "postgresql+psycopg://newswatch:newswatch@127.0.0.1:55432/newswatch"


def servers_required() -> bool:
    return os.environ.get("NEWSWATCH_REQUIRE_SERVERS", "") not in ("", "0", "false", "no")


def _missing(what: str, how: str) -> None:
    message = f"{what} is not running ({how})"
    if servers_required():
        pytest.fail(f"{message}; NEWSWATCH_REQUIRE_SERVERS=1 makes this a failure", pytrace=False)
    pytest.skip(message)


def elasticsearch_healthy(url: str) -> bool:
    """Health, not ``GET /``: the test build answers 405 there."""
    try:
        resp = httpx.get(f"{url.rstrip('/')}/_cluster/health", timeout=5)
        return resp.status_code == 200 and resp.json().get("status") in ("green", "yellow")
    except (httpx.HTTPError, ValueError):
        return False


def require_elasticsearch() -> str:
    """The URL of a healthy local Elasticsearch; fail (CI) or skip otherwise."""
    url = os.environ.get(ES_ENV) or ES_DEFAULT
    if not elasticsearch_healthy(url):
        _missing(f"Elasticsearch at {url}", "start it with scripts/elasticsearch.sh start")
    return url


def postgres_ready(url: str) -> bool:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def require_postgres() -> str:
    """The SQLAlchemy URL of a reachable local PostgreSQL; fail (CI) or skip otherwise."""
    url = os.environ.get(PG_ENV) or PG_DEFAULT
    if not postgres_ready(url):
        _missing(f"PostgreSQL at {url}", "start it with scripts/postgres.sh start")
    return url


def unique_name(prefix: str) -> str:
    """A fresh index or database name so tests never see each other's data."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def elasticsearch_script(*args: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/elasticsearch.sh (the outage test stops and restarts the node)."""
    return subprocess.run(
        [str(ROOT / "scripts" / "elasticsearch.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
