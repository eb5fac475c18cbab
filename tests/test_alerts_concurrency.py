"""Two processes at once on the same state, SQLite and PostgreSQL: still one alert per story.

Each process records the same matches (4 stories, 3 copies each) and then
drains the outbox to a file channel, at the same time as the other. The
unique constraints and the claim (pending -> sending) must leave exactly one
alert per story, every copy counted once, and one line per delivery in the
file. PostgreSQL is the local server of scripts/postgres.sh; in CI a missing
server fails this test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from servers import require_postgres

from pipeline.alerts.tables import AlertMatchRow, AlertRow, DeliveryRow
from pipeline.config import Settings
from pipeline.store import open_store

ROOT = Path(__file__).resolve().parent.parent

WORKER = r"""
import sys, time
from pipeline.alerts import state
from pipeline.alerts.outbox import deliver_due
from pipeline.alerts.rules import Rule
from pipeline.alerts.settings import AlertSettings
from pipeline.config import Settings
from pipeline.store import open_store

url, data, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
store = open_store(Settings(database_url=url, data_dir=data))
rule = Rule(name="r", query="x", channels=["file://out.jsonl"])
refs = [state.MatchRef(f"art-{s}-{c}", f"story-{s}") for s in range(4) for c in range(3)]
while time.time() < start_at:
    time.sleep(0.001)
outcomes = []
for ref in refs:  # one transaction per article: the two processes interleave
    outcomes += state.record_matches(
        store, rule, [ref],
        lambda r: state.AlertDraft(story_id=r.story_id, article_id=r.id, title=r.story_id),
        state.utcnow(),
    )
report = deliver_due(store, data, AlertSettings())
print(outcomes.count("new"), outcomes.count("more"), outcomes.count("seen"), report.sent)
store.close()
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'state.db').as_posix()}"
        return
    admin = require_postgres()
    name = f"nwalerts_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def test_two_processes_raise_one_alert_per_story_and_send_each_once(
    db_url: str, tmp_path: Path
) -> None:
    import time

    data = tmp_path / "data"
    data.mkdir()
    open_store(Settings(database_url=db_url, data_dir=data)).close()  # migrate once
    start_at = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_url, str(data), str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append([int(x) for x in out.split()])
    new = sum(r[0] for r in results)
    more = sum(r[1] for r in results)
    seen = sum(r[2] for r in results)
    sent = sum(r[3] for r in results)
    assert (new, more, seen, sent) == (4, 8, 12, 4)
    store = open_store(Settings(database_url=db_url, data_dir=data))
    try:
        with store.session() as s:
            alerts = list(s.scalars(sa.select(AlertRow)))
            matches = s.scalar(sa.select(sa.func.count()).select_from(AlertMatchRow))
            states = [d.state for d in s.scalars(sa.select(DeliveryRow))]
    finally:
        store.close()
    assert len(alerts) == 4 and sorted(a.more_reports for a in alerts) == [2, 2, 2, 2]
    assert matches == 12 and states == ["sent"] * 4
    lines = [json.loads(ln) for ln in (data / "out.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and len({ln["delivery_ids"][0] for ln in lines}) == 4
