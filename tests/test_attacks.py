"""Attacks, through the real commands: hostile publishers, a careless admin, killed runs.

Each test runs ``newswatch`` as a subprocess against real servers on
127.0.0.1 (:mod:`tests.hostile` for byte-level hostility, LocalServer for
well-behaved sites) and asserts the clear message, that the run finishes and
that nothing is lost or doubled. docs/security.md lists what each guards.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.hostile import Hostile, HostileServer, article_html, gzip_gzip_bomb, rss

NEWSWATCH = [sys.executable, "-m", "pipeline.cli"]
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/rss+xml"}


# ---------------------------------------------------------------- helpers
def write_feeds(path: Path, feeds: dict[str, str]) -> Path:
    lines = ["feeds:"] + [f"  - {{name: {n}, url: '{u}'}}" for n, u in feeds.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_env(data: Path, feeds: dict[str, str], **extra: str) -> dict[str, str]:
    data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        NEWSWATCH_DATA_DIR=str(data),
        NEWSWATCH_FEEDS_FILE=str(write_feeds(data / "feeds.yaml", feeds)),
        NEWSWATCH_ALLOW_HOSTS="127.0.0.1",
        NEWSWATCH_HOST_DELAY="0",
        NEWSWATCH_RETRIES="0",
        NEWSWATCH_ALERTS_FILE=str(data / "no-alerts.yaml"),
        COLUMNS="250",
    )
    env.update(extra)
    return env


def cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*NEWSWATCH, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def ingest(env: dict[str, str], timeout: float = 120, exit_code: int = 0) -> dict[str, Any]:
    """Run an ingest; exit 1 is expected where every feed of the run fails."""
    proc = cli(["ingest", "--json"], env, timeout)
    assert proc.returncode == exit_code, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def db(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["NEWSWATCH_DATA_DIR"]) / "newswatch.db")


def good_site(server: HostileServer, n: int = 3, prefix: str = "good") -> str:
    """A feed of ``n`` good articles on ``server``; returns the feed URL."""
    items = []
    for i in range(n):
        path = f"/{prefix}/{i}.html"
        server.routes[path] = Hostile(article_html(f"{prefix} report {i}"), headers=HTML)
        items.append((f"{prefix}-{i}", server.url + path, f"{prefix} report {i}"))
    server.routes[f"/{prefix}.xml"] = Hostile(rss(items), headers=XML)
    return server.url + f"/{prefix}.xml"


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


# ---------------------------------------------------------------- 1. layered compression
def test_gzip_gzip_bomb_in_a_feed_and_a_page_stops_at_the_cap(tmp_path: Path) -> None:
    bomb = gzip_gzip_bomb(1)  # 1 GiB of zeros in a few kilobytes
    assert len(bomb) < 100_000
    with HostileServer() as srv:
        bomb_headers = {"Content-Encoding": "gzip, gzip"}
        srv.routes["/bomb.xml"] = Hostile(bomb, headers={**XML, **bomb_headers})
        srv.routes["/bomb.html"] = Hostile(bomb, headers={**HTML, **bomb_headers})
        items = [("b", srv.url + "/bomb.html", "bomb page")]
        srv.routes["/mixed.xml"] = Hostile(rss(items), headers=XML)
        good = good_site(srv)
        env = make_env(
            tmp_path / "data",
            {"good": good, "bombfeed": srv.url + "/bomb.xml", "mixed": srv.url + "/mixed.xml"},
        )
        proc = subprocess.Popen(
            [*NEWSWATCH, "ingest", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out)
    failures = {f["url"]: f for f in summary["failures"]}
    feed_fail = failures[srv.url + "/bomb.xml"]
    assert feed_fail["reason"] == "too_large"
    assert "gzip, gzip" in feed_fail["detail"]
    page_fail = failures[srv.url + "/bomb.html"]
    assert page_fail["reason"] == "too_large"
    assert summary["extracted"] == 3
    assert summary["feeds"]["ok"] == 2 and summary["feeds"]["failed"] == 1


def _vm_hwm_kib(pid: int) -> int:
    """Peak resident memory (KiB) of a live process, 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_gzip_gzip_bomb_memory_stays_bounded(tmp_path: Path) -> None:
    """Resident memory of the ingest stays far below what the bomb expands to."""
    bomb = gzip_gzip_bomb(1)
    with HostileServer() as srv:
        srv.routes["/bomb.xml"] = Hostile(bomb, headers={**XML, "Content-Encoding": "gzip, gzip"})
        env = make_env(tmp_path / "data", {"bombfeed": srv.url + "/bomb.xml"})
        proc = subprocess.Popen(
            [*NEWSWATCH, "ingest", "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        peak_kib = 0
        while True:
            # VmHWM is the high-water mark of the ingest's own address space. The
            # rusage of wait4 is not: Linux carries the parent's (this test
            # process's) peak over fork and exec, so it measured pytest's size.
            peak_kib = max(peak_kib, _vm_hwm_kib(proc.pid))
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            assert time.monotonic() < deadline, "the ingest did not finish"
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    peak_mib = peak_kib / 1024  # of the ingest process: the fetch runs in it
    assert peak_mib > 20, "the ingest's memory was never read"
    assert proc.returncode == 1  # its only feed failed: the run is "failed", not a crash
    assert peak_mib < 400, f"peak resident memory {peak_mib:.0f} MiB"


# ---------------------------------------------------------------- 2. slow publishers
def test_a_dripping_publisher_does_not_stall_the_run(tmp_path: Path) -> None:
    with HostileServer() as slow, HostileServer() as fine:
        body = rss([("s", slow.url + "/p.html", "slow")])
        slow.routes["/drip-body.xml"] = Hostile(body, headers=XML, drip_body=2.0)
        slow.routes["/drip-head.xml"] = Hostile(body, headers=XML, drip_head=2.0)
        good = good_site(fine)
        slowpage = fine.url + "/slowpage.html"
        fine.routes["/slowpage.xml"] = Hostile(rss([("sp", slowpage, "slow page")]), headers=XML)
        env = make_env(
            tmp_path / "data",
            {
                "good": good,
                "dripbody": slow.url + "/drip-body.xml",
                "driphead": slow.url + "/drip-head.xml",
            },
            NEWSWATCH_FETCH_DEADLINE="5",
        )
        started = time.monotonic()
        try:
            summary = ingest(env, timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail("the ingest hung on a publisher sending one byte every 2 s")
        took = time.monotonic() - started
    assert took < 60
    assert summary["status"] == "ok"
    assert summary["feeds"]["ok"] == 1 and summary["feeds"]["failed"] == 2
    assert summary["extracted"] == 3
    reasons = {f["where"]: f for f in summary["failures"]}
    for name in ("dripbody", "driphead"):
        assert reasons[name]["reason"] == "too_slow"
        assert "5 s" in reasons[name]["detail"]
    with db(env) as conn:
        statuses = dict(conn.execute("SELECT name, last_status FROM feeds"))
        runs = [r[0] for r in conn.execute("SELECT status FROM runs")]
    assert statuses == {"good": "ok", "dripbody": "failed", "driphead": "failed"}
    assert runs == ["ok"]


def test_a_dripping_page_fails_alone_and_stays_pending(tmp_path: Path) -> None:
    with HostileServer() as slow, HostileServer() as fine:
        slow.routes["/drip.html"] = Hostile(article_html("slow"), headers=HTML, drip_body=2.0)
        items = [("d", slow.url + "/drip.html", "drip")]
        fine.routes["/mixed.xml"] = Hostile(rss(items), headers=XML)
        good = good_site(fine)
        env = make_env(
            tmp_path / "data",
            {"good": good, "mixed": fine.url + "/mixed.xml"},
            NEWSWATCH_FETCH_DEADLINE="4",
        )
        summary = ingest(env, timeout=90)
    assert summary["extracted"] == 3
    assert summary["failed"] == {"too_slow": 1}
    with db(env) as conn:
        (status, reason) = conn.execute(
            "SELECT status, reason FROM items WHERE link = ?", (slow.url + "/drip.html",)
        ).fetchone()
    assert (status, reason) == ("pending", "too_slow")  # retried next run, not lost


# ---------------------------------------------------------------- 3. CSV formula injection
HOSTILE_TITLES = [
    '=HYPERLINK("http://127.0.0.1/x?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tTabbed title",
    "\rReturn title",
]


@pytest.fixture(scope="module")
def hostile_titles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("csv") / "data"
    with HostileServer() as srv:
        items = []
        for i, title in enumerate(HOSTILE_TITLES):
            path = f"/t{i}.html"
            srv.routes[path] = Hostile(article_html(title), headers=HTML)
            items.append((f"t{i}", srv.url + path, title))
        srv.routes["/titles.xml"] = Hostile(rss(items), headers=XML)
        env = make_env(data, {"titles": srv.url + "/titles.xml"})
        summary = ingest(env)
    assert summary["extracted"] == len(HOSTILE_TITLES)
    yield env


def neutralised(title: str) -> str:
    return "'" + title if title.startswith(("=", "+", "-", "@", "\t", "\r")) else title


def _csv_titles(text: str) -> list[str]:
    return sorted(row["title"] for row in csv.DictReader(io.StringIO(text, newline="")))


def _exact_titles(env: dict[str, str]) -> list[str]:
    out = cli(["export", "--jsonl"], env).stdout
    return sorted(json.loads(line)["title"] for line in out.splitlines())


def test_export_csv_neutralises_formula_cells(hostile_titles: dict[str, str]) -> None:
    exact = _exact_titles(hostile_titles)
    # JSONL keeps them exact (extraction trims the leading tab and CR of a title:
    # those two are checked on the writer below).
    assert {t[0] for t in exact} >= {"=", "+", "-", "@"}
    proc = cli(["export", "--csv"], hostile_titles)
    assert proc.returncode == 0, proc.stderr
    titles = _csv_titles(proc.stdout)
    assert titles == sorted(neutralised(t) for t in exact)
    for row in csv.DictReader(io.StringIO(proc.stdout, newline="")):
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_csv_writer_neutralises_tab_and_carriage_return_too() -> None:
    from pipeline.export import FIELDS, write_csv

    buf = io.StringIO(newline="")
    record = dict.fromkeys(FIELDS, "")
    records = [{**record, "title": t, "summary": "-1"} for t in HOSTILE_TITLES]
    write_csv(records, buf, lambda: None)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue(), newline="")))
    assert [r["title"] for r in rows] == ["'" + t for t in HOSTILE_TITLES]
    assert {r["summary"] for r in rows} == {"'-1"}


def test_parquet_export_stays_exact(hostile_titles: dict[str, str], tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "a.parquet"
    proc = cli(["export", "--parquet", "-o", str(out)], hostile_titles)
    assert proc.returncode == 0, proc.stderr
    assert sorted(pq.read_table(out).column("title").to_pylist()) == _exact_titles(hostile_titles)


def test_api_export_csv_neutralises_formula_cells(hostile_titles: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    from pipeline.api.app import create_app
    from pipeline.api.settings import ApiSettings
    from pipeline.config import load_settings

    settings = load_settings(data_dir=Path(hostile_titles["NEWSWATCH_DATA_DIR"]))
    with TestClient(create_app(settings, ApiSettings())) as client:
        resp = client.get("/api/export", params={"format": "csv"})
        jsonl = client.get("/api/export", params={"format": "jsonl"})
    assert resp.status_code == 200
    exact = sorted(json.loads(line)["title"] for line in jsonl.text.splitlines())
    assert exact == _exact_titles(hostile_titles)
    assert _csv_titles(resp.text) == sorted(neutralised(t) for t in exact)


# ---------------------------------------------------------------- 4. a careless admin's channels
@pytest.fixture
def admin_api(tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from pipeline.api.app import create_app
    from pipeline.api.settings import ApiSettings
    from pipeline.config import load_settings

    settings = load_settings(data_dir=tmp_path / "data", alerts_file=tmp_path / "none.yaml")
    with TestClient(create_app(settings, ApiSettings())) as client:
        yield client


@pytest.mark.parametrize(
    ("channel", "fragment"),
    [
        ("file:///tmp/newswatch-evil.jsonl", "must write inside"),
        ("file://../../outside.jsonl", "must write inside"),
        ("file://alerts/../../../etc/cron.d/x", "must write inside"),
        ("json://127.0.0.2:{port}/hook", "127.0.0.2 is a loopback address"),
        ("jsons://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("form://169.254.169.254/latest", "link-local"),
        ("json://127.0.0.1:1/hook", "only on port"),
    ],
)
def test_refused_channels_are_a_422_naming_the_channel(
    admin_api: Any, channel: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HostileServer("127.0.0.2") as receiver:
        channel = channel.replace("{port}", str(receiver.port))
        monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "127.0.0.1:8080")
        resp = admin_api.post(
            "/api/rules", json={"name": "r", "query": "Sirte", "channels": [channel]}
        )
        assert resp.status_code == 422, resp.text
        detail = json.dumps(resp.json())
        assert fragment in detail
        assert channel.split("?")[0][:20] in detail
        assert receiver.hits == []  # refused without connecting


def test_file_channel_inside_the_folder_is_accepted(admin_api: Any) -> None:
    resp = admin_api.post(
        "/api/rules", json={"name": "ok", "query": "Sirte", "channels": ["file://alerts/a.jsonl"]}
    )
    assert resp.status_code in (200, 201), resp.text


def test_alerts_yaml_with_an_escaping_file_channel_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = make_env(data, {})
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "rules:\n  - name: evil\n    query: Sirte\n    channels: ['file:///etc/evil.jsonl']\n",
        encoding="utf-8",
    )
    env["NEWSWATCH_ALERTS_FILE"] = str(rules)
    proc = cli(["alerts", "list"], env)
    assert "file:///etc/evil.jsonl" in proc.stderr + proc.stdout
    assert "must write inside" in proc.stderr + proc.stdout
    assert not Path("/etc/evil.jsonl").exists()


def test_a_send_re_checks_the_channel_without_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel saved while allowed, then refused (allow-list changed): no connection."""
    from pipeline.alerts.channels import send
    from pipeline.alerts.messages import Message

    with HostileServer("127.0.0.2") as receiver:
        monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "127.0.0.1")
        message = Message(title="t", text="x", html="x", delivery_ids=["d1"], items=[])
        result = send(f"json://127.0.0.2:{receiver.port}/hook", message, tmp_path)
        assert not result.ok
        assert "refused channel" in result.error and "loopback" in result.error
        escape = send("file://../escape.jsonl", message, tmp_path / "data")
        assert not escape.ok and "must write inside" in escape.error
        assert receiver.hits == []
    assert not (tmp_path / "escape.jsonl").exists()


# ---------------------------------------------------------------- 5. killed runs
def _slow_site(server: HostileServer, n: int) -> str:
    """``n`` pages that each take a moment: a run long enough to be killed midway."""
    items = []
    for i in range(n):
        path = f"/k/{i}.html"
        server.routes[path] = Hostile(article_html(f"killed run page {i}"), headers=HTML)
        items.append((f"k{i}", server.url + path, f"page {i}"))
    server.routes["/k.xml"] = Hostile(rss(items), headers=XML)
    return server.url + "/k.xml"


class _Throttle:
    """Makes every page of a HostileServer drip its head slowly (0.2 s a page)."""

    def __init__(self, server: HostileServer) -> None:
        for path, answer in server.routes.items():
            if path.endswith(".html"):
                server.routes[path] = Hostile(answer.body, headers=answer.headers, drip_head=0.004)


def _start_and_wait_for_workers(env: dict[str, str]) -> tuple[subprocess.Popen, list]:
    proc = subprocess.Popen(
        [*NEWSWATCH, "ingest", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    kids: list[psutil.Process] = []
    while time.monotonic() < deadline:
        kids = alive(descendants(proc.pid))
        if len(kids) >= 3:  # forkserver, resource tracker, at least one worker
            time.sleep(0.5)
            return proc, alive(descendants(proc.pid))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no extraction workers appeared ({kids}); stderr: {proc.communicate()[1]}")


def _gone_within(procs: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    left = alive(procs)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = alive(procs)
    return left


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_a_killed_ingest(tmp_path: Path, sig: signal.Signals) -> None:
    with HostileServer() as srv:
        feed = _slow_site(srv, 120)
        _Throttle(srv)
        env = make_env(tmp_path / "data", {"k": feed}, NEWSWATCH_FETCH_CONCURRENCY="2")
        proc, kids = _start_and_wait_for_workers(env)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
        left = _gone_within(kids, 10)
        assert left == [], f"left behind after {sig.name}: {[p.cmdline() for p in left]}"
        with db(env) as conn:
            status = conn.execute("SELECT status FROM runs").fetchone()[0]
        if sig == signal.SIGTERM:
            assert proc.returncode == 143
            assert status == "terminated"
            assert "stopped by SIGTERM" in err
            assert "Traceback" not in err
        else:
            assert status == "running"  # nobody could close it ...
            summary = ingest(env, timeout=180)  # ... so the next run does, and resumes
            with db(env) as conn:
                runs = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status"))
                articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
                items = dict(conn.execute("SELECT status, count(*) FROM items GROUP BY status"))
            assert runs == {"killed": 1, "ok": 1}
            assert summary["status"] == "ok"
            assert articles == 120
            assert items == {"done": 120}


# ---------------------------------------------------------------- 6. a full disk
def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full-disk test needs root to mount a small tmpfs")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)


def test_a_full_disk_is_one_line_naming_the_database(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "700k")
    try:
        with HostileServer() as srv:
            items = []
            for i in range(40):
                path = f"/f/{i}.html"
                srv.routes[path] = Hostile(article_html(f"full disk {i}", 40), headers=HTML)
                items.append((f"f{i}", srv.url + path, f"full {i}"))
            srv.routes["/f.xml"] = Hostile(rss(items), headers=XML)
            env = make_env(disk / "data", {"f": srv.url + "/f.xml"})
            proc = cli(["ingest"], env)
            assert proc.returncode == 2, proc.stderr[-3000:]
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            assert "Traceback" not in proc.stderr
            last = " ".join(proc.stderr.split())
            assert "disk is full" in last
            assert (
                str(disk / "data" / "newswatch.db") in last.replace(" ", "")
                or str(disk / "data" / "newswatch.db") in last
            )
            assert len(lines) <= 3, proc.stderr  # one message (wrapped by the console)
            # Nothing lost: with space again, the next run stores every page once.
            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
            summary = ingest(env)
            assert summary["status"] == "ok"
            with db(env) as conn:
                n = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
                dup = conn.execute(
                    "SELECT count(*) FROM (SELECT canonical_url FROM articles "
                    "GROUP BY canonical_url HAVING count(*) > 1)"
                ).fetchone()[0]
            assert n == 40 and dup == 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


# ---------------------------------------------------------------- partials: two ingests at once
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    import uuid

    import sqlalchemy as sa

    from tests.servers import require_postgres

    admin = require_postgres()
    name = f"nwtest_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def test_two_ingests_at_once_fetch_each_page_once(tmp_path: Path, state_url: str | None) -> None:
    import sqlalchemy as sa

    with HostileServer() as srv:
        feed = _slow_site(srv, 40)
        _Throttle(srv)
        extra = {"NEWSWATCH_DATABASE_URL": state_url} if state_url else {}
        env = make_env(tmp_path / "data", {"k": feed}, NEWSWATCH_FETCH_CONCURRENCY="2", **extra)
        procs = [
            subprocess.Popen(
                [*NEWSWATCH, "ingest", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=180) for p in procs]
        pages = [h for h in srv.hits if h.endswith(".html")]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    assert len(pages) == 40 and len(set(pages)) == 40, "a page was fetched twice"
    url = state_url or f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT status, count(*) FROM items GROUP BY status")).all()
        items = {status: n for status, n in rows}
        articles = conn.execute(sa.text("SELECT count(*) FROM articles")).scalar()
    engine.dispose()
    assert items == {"done": 40}
    assert articles == 40


# ---------------------------------------------------------------- partials: guid reuse
def test_a_reused_guid_with_a_new_link_is_a_new_article_and_a_warning(tmp_path: Path) -> None:
    with HostileServer() as srv:
        for name in ("first", "second"):
            srv.routes[f"/{name}.html"] = Hostile(article_html(f"the {name} story"), headers=HTML)
        srv.routes["/g.xml"] = Hostile(rss([("42", srv.url + "/first.html", "first")]), headers=XML)
        env = make_env(tmp_path / "data", {"recycler": srv.url + "/g.xml"})
        assert ingest(env)["extracted"] == 1
        srv.routes["/g.xml"] = Hostile(
            rss([("42", srv.url + "/second.html", "second")]), headers=XML
        )
        summary = ingest(env)
    assert summary["extracted"] == 1
    (warning,) = summary["warnings"]
    assert warning["feed"] == "recycler"
    assert "guid '42' reused for a new link" in warning["warning"]
    with db(env) as conn:
        titles = sorted(r[0] for r in conn.execute("SELECT title FROM articles"))
    assert titles == ["the first story", "the second story"]


# ---------------------------------------------------------------- partials: allow-list ports
def test_allow_hosts_with_a_port_allows_only_that_port(tmp_path: Path) -> None:
    with HostileServer() as allowed, HostileServer() as other:
        good = good_site(allowed)
        elsewhere = good_site(other, 1, "other")
        env = make_env(
            tmp_path / "data",
            {"allowed": good, "elsewhere": elsewhere},
            NEWSWATCH_ALLOW_HOSTS=f"127.0.0.1:{allowed.port}",
        )
        summary = ingest(env)
        assert other.hits == []  # refused before connecting
    assert summary["extracted"] == 3
    (fail,) = summary["failures"]
    assert fail["reason"] == "refused_address"
    assert f"allows it only on port {allowed.port}, not {other.port}" in fail["detail"]
    assert "add 127.0.0.1" not in fail["detail"]


@pytest.mark.parametrize("entry", ["http://127.0.0.1/", "127.0.0.1:http", "host:99999", "a b"])
def test_an_unparseable_allow_entry_stops_start_up(tmp_path: Path, entry: str) -> None:
    env = make_env(tmp_path / "data", {}, NEWSWATCH_ALLOW_HOSTS=f"127.0.0.1,{entry}")
    proc = cli(["ingest"], env)
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert "NEWSWATCH_ALLOW_HOSTS" in message and entry in message
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- partials: health without a key
def test_health_without_a_key_says_only_up_and_counts(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from pipeline.api.app import create_app
    from pipeline.api.settings import ApiSettings
    from pipeline.config import load_settings

    with HostileServer() as srv:
        good = good_site(srv)
        srv.routes["/broken.xml"] = Hostile(b"<html>no feed</html>", headers=HTML)
        env = make_env(tmp_path / "data", {"good": good, "secret-feed": srv.url + "/broken.xml"})
        ingest(env)
    settings = load_settings(data_dir=Path(env["NEWSWATCH_DATA_DIR"]))
    api = ApiSettings(api_read_keys="read-key")
    with TestClient(create_app(settings, api)) as client:
        anonymous = client.get("/api/health")
        wrong = client.get("/api/health", headers={"X-API-Key": "nope"})
        keyed = client.get("/api/health", headers={"X-API-Key": "read-key"})
    for resp in (anonymous, wrong):
        assert resp.status_code == 200
        body = resp.json()
        assert body["status"] == "ok" and body["details"] is False
        assert body["articles"] == 3 and body["feeds_total"] == 2 and body["feeds_failing"] == 1
        assert body["feeds"] is None and body["last_run"] is None
        assert srv.url not in resp.text and "secret-feed" not in resp.text
    full = keyed.json()
    assert full["details"] is True
    assert {f["name"] for f in full["feeds"]} == {"good", "secret-feed"}
    assert full["last_run"]["status"] == "ok"


# ---------------------------------------------------------------- partials: messages
def test_pdf_bytes_served_as_html_are_named_pdf(tmp_path: Path) -> None:
    with HostileServer() as srv:
        srv.routes["/doc.html"] = Hostile(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", headers=HTML)
        srv.routes["/p.xml"] = Hostile(rss([("p", srv.url + "/doc.html", "a pdf")]), headers=XML)
        env = make_env(tmp_path / "data", {"p": srv.url + "/p.xml"})
        summary = ingest(env)
    (fail,) = summary["failures"]
    assert fail["reason"] == "not_html"
    assert "PDF bytes (served as text/html)" in fail["detail"]


def test_a_name_that_does_not_resolve_is_dns_error_not_the_guard(tmp_path: Path) -> None:
    # An empty DNS label fails in the resolver's encoder: no query leaves the machine.
    env = make_env(tmp_path / "data", {"nowhere": "http://bad..host/feed.xml"})
    summary = ingest(env, exit_code=1)  # the run's only feed failed
    assert summary["status"] == "failed"
    (fail,) = summary["failures"]
    assert fail["reason"] == "dns_error"
    assert "does not resolve" in fail["detail"]


def test_refusals_read_as_english() -> None:
    from pipeline.netguard import refusal_reason

    assert "is an unspecified" in (refusal_reason("0.0.0.0", ["0.0.0.0"], []) or "")
    mapped = refusal_reason("x.example", ["::ffff:127.0.0.1"], []) or ""
    assert "an IPv6 address embedding 127.0.0.1, a loopback" in mapped
    assert " a unspecified" not in mapped and " a IPv6" not in mapped


# ---------------------------------------------------------------- the bounded decoder itself
def test_body_decoder_reads_what_servers_send_and_stops_bombs() -> None:
    import gzip
    import zlib

    from pipeline.decode import BodyDecoder, BodyTooLarge, EncodingError

    def run(header: str | None, data: bytes, cap: int = 10_000_000, step: int = 997) -> bytes:
        dec = BodyDecoder(header, cap)
        parts = [p for i in range(0, len(data), step) for p in dec.feed(data[i : i + step])]
        return b"".join(parts + dec.finish())

    text = "مرحبا Sirte ".encode() * 20_000
    assert run(None, text) == text
    assert run("identity", text) == text
    assert run("gzip", gzip.compress(text)) == text
    assert run("x-gzip", gzip.compress(text)) == text
    assert run("gzip", gzip.compress(text[:10]) + gzip.compress(text[10:])) == text  # 2 members
    assert run("deflate", zlib.compress(text)) == text
    raw = zlib.compressobj(wbits=-15)
    assert run("deflate", raw.compress(text) + raw.flush()) == text  # raw deflate, no wrapper
    assert run("gzip, gzip", gzip.compress(gzip.compress(text))) == text
    assert run("deflate, gzip", gzip.compress(zlib.compress(text))) == text
    with pytest.raises(BodyTooLarge):
        run("gzip, gzip", gzip_gzip_bomb(1), cap=5_000_000)
    with pytest.raises(BodyTooLarge):
        run("gzip", gzip.compress(b"\0" * 6_000_000), cap=5_000_000)
    with pytest.raises(EncodingError, match="cut short"):
        run("gzip", gzip.compress(text)[:500])
    with pytest.raises(EncodingError, match="not valid gzip"):
        run("gzip", b"this is not gzip at all")
    with pytest.raises(EncodingError, match="unsupported Content-Encoding 'br'"):
        BodyDecoder("br", 100)


_FETCH_TASK = (
    "import json, sys\n"
    "from pipeline import airflow_tasks as t\n"
    "print(json.dumps(t.fetch_extract(json.loads(sys.argv[1]), sys.argv[2])))\n"
)


def test_two_airflow_fetch_tasks_on_the_same_items_fetch_each_page_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Airflow fetch task, twice at once over the same batch and run id."""
    with HostileServer() as srv:
        feed = _slow_site(srv, 30)
        _Throttle(srv)
        env = make_env(tmp_path / "data", {"k": feed}, NEWSWATCH_FETCH_CONCURRENCY="2")
        for key in ("NEWSWATCH_DATA_DIR", "NEWSWATCH_FEEDS_FILE", "NEWSWATCH_RETRIES"):
            monkeypatch.setenv(key, env[key])
        from pipeline import airflow_tasks

        run_id = airflow_tasks.start_run()
        ids = airflow_tasks.poll_feed("k", run_id)
        assert len(ids) == 30
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _FETCH_TASK, json.dumps(ids), run_id],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=180) for p in procs]
        pages = [h for h in srv.hits if h.endswith(".html")]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    stored = [json.loads(out.strip().splitlines()[-1]) for out, _err in outs]
    assert sorted(stored[0] + stored[1]) == sorted(set(stored[0] + stored[1]))
    assert len(stored[0]) + len(stored[1]) == 30
    assert len(pages) == 30 and len(set(pages)) == 30, "a page was fetched twice"
    with db(env) as conn:
        items = dict(conn.execute("SELECT status, count(*) FROM items GROUP BY status"))
    assert items == {"done": 30}
