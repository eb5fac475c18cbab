"""Soak: 20 ingests killed at random moments, hostile pages mixed in; then nothing is
left over, lost or doubled.

Runs the real ``newswatch ingest`` against real servers on 127.0.0.1: a site of
a few hundred good pages, and hostile ones beside them (gzip-of-gzip bombs,
pages that drip a byte every 2 s, PDF bytes served as HTML, 404s). Each of 20
ingests is killed after a random moment by SIGKILL or SIGTERM; then ingests run
to the end. Afterwards: no process of any run is alive, every good page is
stored exactly once, every run is closed (ok, terminated or killed), and the
search total equals the export count. Bounded to a few minutes.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.hostile import Hostile, HostileServer, article_html, gzip_gzip_bomb, rss
from tests.test_attacks import HTML, NEWSWATCH, XML, cli, db, descendants, ingest, make_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

GOOD_PAGES = 240
KILLS = 20
SEED = 1414


def _site(good: HostileServer, bad: HostileServer, slow: HostileServer) -> dict[str, str]:
    """Three feeds: good pages, with hostile ones mixed into each feed."""
    bomb = gzip_gzip_bomb(1)
    feeds: dict[str, list[tuple[str, str, str]]] = {"alpha": [], "beta": [], "gamma": []}
    names = list(feeds)
    for i in range(GOOD_PAGES):
        path = f"/a/{i}.html"
        good.routes[path] = Hostile(article_html(f"soak report {i} on Sirte"), headers=HTML)
        feeds[names[i % 3]].append((f"g{i}", good.url + path, f"report {i}"))
    for j, name in enumerate(names):
        hostile = {
            f"/bomb{j}.html": Hostile(bomb, headers={**HTML, "Content-Encoding": "gzip, gzip"}),
            f"/pdf{j}.html": Hostile(b"%PDF-1.4\n%\xe2\xe3\n", headers=HTML),
        }
        for path, answer in hostile.items():
            bad.routes[path] = answer
            feeds[name].append((f"h{path}", bad.url + path, "hostile"))
        slow.routes[f"/drip{j}.html"] = Hostile(article_html("drip"), headers=HTML, drip_body=2.0)
        feeds[name].append((f"drip{j}", slow.url + f"/drip{j}.html", "slow"))
        feeds[name].append((f"h404-{j}", bad.url + f"/missing{j}.html", "gone"))
    urls = {}
    for name, items in feeds.items():
        good.routes[f"/{name}.xml"] = Hostile(rss(items), headers=XML)
        urls[name] = good.url + f"/{name}.xml"
    return urls


def _runs(data_dir: Path) -> int:
    """How many runs the state holds so far (0 before the first one made its file)."""
    path = data_dir / "newswatch.db"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is still being created
        return 0


def _ours(data_dir: Path) -> list[psutil.Process]:
    """Every live process whose environment names this test's data dir."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("NEWSWATCH_DATA_DIR") == str(data_dir):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_twenty_killed_ingests_leave_nothing_behind_and_lose_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data = tmp_path / "data"
    with HostileServer() as good, HostileServer() as bad, HostileServer() as slow:
        env = make_env(
            data,
            _site(good, bad, slow),
            NEWSWATCH_FETCH_DEADLINE="3",
            NEWSWATCH_FETCH_CONCURRENCY="4",
            NEWSWATCH_MAX_ATTEMPTS="50",  # the kills must not use up the good pages' attempts
        )
        seen: set[psutil.Process] = set()
        kinds = []
        for n in range(KILLS):
            sig = signal.SIGKILL if rng.random() < 0.5 else signal.SIGTERM
            after = rng.uniform(0.0, 6.0)
            before = _runs(data)
            proc = subprocess.Popen(
                [*NEWSWATCH, "ingest", "--json"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            # The moment counts from the run's start (the command's own start-up
            # takes a few seconds on a busy machine): a kill before it tests nothing.
            start_by = time.monotonic() + 60
            while _runs(data) <= before and proc.poll() is None and time.monotonic() < start_by:
                seen.update(descendants(proc.pid))
                time.sleep(0.05)
            stop = time.monotonic() + after
            while time.monotonic() < stop and proc.poll() is None:
                seen.update(descendants(proc.pid))
                time.sleep(0.05)
            if proc.poll() is None:
                proc.send_signal(sig)
                kinds.append(sig.name)
            _out, err = proc.communicate(timeout=60)
            assert "Traceback" not in err, f"kill {n} ({sig.name} after {after:.1f}s):\n{err}"
        # Then runs to the end, until nothing good is pending.
        for _ in range(3):
            summary = ingest(env, timeout=240)
            with db(env) as conn:
                pending = conn.execute(
                    "SELECT count(*) FROM items WHERE status = 'pending' AND link LIKE ?",
                    (good.url + "%",),
                ).fetchone()[0]
            if pending == 0:
                break
        assert summary["status"] == "ok"

    deadline = time.monotonic() + 15
    while (_ours(data) or [p for p in seen if p.is_running()]) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _ours(data) + [p for p in seen if p.is_running() and p.status() != "zombie"]
    assert left == [], f"processes left behind: {left}"
    assert kinds.count("SIGKILL") >= 3 and kinds.count("SIGTERM") >= 3, kinds

    with db(env) as conn:
        good_items = dict(
            conn.execute(
                "SELECT status, count(*) FROM items WHERE link LIKE ? GROUP BY status",
                (good.url + "/a/%",),
            )
        )
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        distinct = conn.execute("SELECT count(DISTINCT canonical_url) FROM articles").fetchone()[0]
        runs = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status"))
        leases = conn.execute("SELECT count(*) FROM items WHERE lease_owner IS NOT NULL").fetchone()
        bombs = conn.execute(
            "SELECT status, reason FROM items WHERE link LIKE '%/bomb%'"
        ).fetchall()
    assert good_items == {"done": GOOD_PAGES}, good_items
    assert articles == GOOD_PAGES and distinct == GOOD_PAGES
    assert "running" not in runs, runs
    assert set(runs) <= {"ok", "terminated", "killed"}
    assert sum(runs.values()) >= KILLS + 1
    assert runs.get("killed", 0) >= 3 and runs.get("terminated", 0) >= 3, runs
    assert leases == (0,)
    assert {tuple(b) for b in bombs} == {("failed", "too_large")}

    found = json.loads(cli(["search", "Sirte", "--json", "--limit", "1"], env).stdout)["total"]
    exported = cli(["export", "Sirte", "--jsonl"], env).stdout.splitlines()
    everything = cli(["export", "--jsonl"], env).stdout.splitlines()
    assert found == len(exported) == len(everything) == GOOD_PAGES
