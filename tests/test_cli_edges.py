"""What an analyst trips over in the CLI: typos in field values, an offline first run,
help text, a busy port, a Parquet export without pyarrow, the quick-start script.

Every case runs the real command (a subprocess, or typer's runner on the real
app) against real local servers and real state.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import QueryError
from pipeline.search.fieldcheck import check_query_fields, nearest
from tests.alerts_helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
NEWSWATCH = Path(sys.executable).parent / "newswatch"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(tmp_path / "data"),
        NEWSWATCH_ALERTS_FILE=str(tmp_path / "alerts.yaml"),
        COLUMNS="100",
    )
    env.update(extra)
    return env


# ---------------------------------------------------------------- field values
def test_a_misspelled_event_is_an_error_naming_the_right_one() -> None:
    with pytest.raises(QueryError) as info:
        check_query_fields("event:mobilsation AND Sirte")
    assert "unknown event 'mobilsation'" in str(info.value)
    assert "did you mean mobilisation" in str(info.value)
    assert info.value.position == len("event:")
    with pytest.raises(QueryError, match="valid events: mobilisation"):
        check_query_fields("event:bogus")
    assert check_query_fields("event:mobilization OR event:تحشيد") == []  # labels are fine
    assert nearest("armed clash", ["armed_clash", "airstrike"]) == ["armed_clash"]


def test_unknown_names_are_warnings_and_known_variants_are_not() -> None:
    (w,) = check_query_fields("place:Atlantis")
    assert "Atlantis" in w and "gazetteer" in w
    assert check_query_fields("place:Sirt AND actor:Hafter AND entity:حفتر") == []
    assert check_query_fields("place:Sirt* OR Atlantis") == []  # prefixes and text: no check


def test_search_cli_exits_2_on_an_event_typo_and_warns_on_a_place(tmp_path: Path) -> None:
    env = _env(tmp_path)
    bad = CliRunner().invoke(app, ["search", "event:mobilsation"], env=env)
    assert bad.exit_code == 2
    assert "mobilisation" in bad.output and "unknown event" in bad.output
    warned = CliRunner().invoke(app, ["search", "place:Atlantis", "--json"], env=env)
    assert warned.exit_code == 0
    record = json.loads(warned.stdout)
    assert record["total"] == 0 and "Atlantis" in record["warnings"][0]


def test_alerts_add_refuses_an_unknown_place_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text("rules: []\n")
    env = _env(tmp_path)
    run = CliRunner().invoke
    refused = run(app, ["alerts", "add", "atl", "-q", "place:Atlantis"], env=env)
    assert refused.exit_code == 2 and "--force" in refused.output
    typo = run(app, ["alerts", "add", "mob", "-q", "event:mobilsation"], env=env)
    assert typo.exit_code == 2 and "mobilisation" in typo.output
    listed = run(app, ["alerts", "list", "--json"], env=env)
    assert json.loads(listed.stdout) == []
    forced = run(app, ["alerts", "add", "atl", "-q", "place:Atlantis", "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert [r["name"] for r in json.loads(run(app, ["alerts", "list", "--json"], env=env).stdout)]


# ---------------------------------------------------------------- offline first run
def test_an_all_feeds_fail_run_exits_non_zero_with_the_offline_hint(tmp_path: Path) -> None:
    port = free_port()  # nothing listens: connection refused, as with no network
    feeds = {
        "feeds": [{"name": f"f{i}", "url": f"http://127.0.0.1:{port}/{i}.rss"} for i in range(12)]
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(feeds))
    (tmp_path / "alerts.yaml").write_text("rules: []\n")
    env = _env(
        tmp_path,
        NEWSWATCH_FEEDS_FILE=str(tmp_path / "feeds.yaml"),
        NEWSWATCH_ALLOW_HOSTS="127.0.0.1",
        NEWSWATCH_RETRIES="0",
        COLUMNS="80",
    )
    proc = subprocess.run(
        [str(NEWSWATCH), "ingest"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    err = " ".join(proc.stderr.split())
    assert "network seems unreachable" in err and "newswatch demo" in err
    assert "Nothing new" not in err
    assert "failed" in err  # the status row
    # Twelve identical failures are one row with a count, not twelve rows.
    rows = [ln for ln in proc.stderr.splitlines() if ln.startswith("│ feeds │")]
    assert len(rows) == 1, proc.stderr
    assert "│ 12 │" in rows[0] and "f0" in rows[0]
    as_json = subprocess.run(
        [str(NEWSWATCH), "ingest", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    summary = json.loads(as_json.stdout)
    assert as_json.returncode == 1
    assert summary["status"] == "failed" and summary["problem"] == "all_feeds_failed"


def test_nothing_new_only_when_feeds_answered() -> None:
    from pipeline.cli import print_summary

    base = {
        "run_id": "r",
        "status": "ok",
        "feeds": {"ok": 3, "failed": 0, "not_modified": 1},
        "items_new": 0,
        "pages_fetched": 0,
        "extracted": 0,
        "pending_index": 0,
        "failed": {},
        "failures": [],
        "seconds": {},
    }
    from pipeline import cli

    with cli.err.capture() as cap:
        print_summary(base)
    assert "Nothing new" in cap.get()
    with cli.err.capture() as cap:
        print_summary({**base, "feeds": {"ok": 0, "failed": 0, "not_modified": 0}})
    assert "Nothing new" not in cap.get()


# ---------------------------------------------------------------- help, serve, export
def test_help_has_plain_types_and_mode_choices() -> None:
    env = {"COLUMNS": "120"}
    for args in (["search", "--help"], ["alerts", "add", "--help"], ["export", "--help"]):
        out = CliRunner().invoke(app, args, env=env).output
        assert "<bool>" not in out and "<str>" not in out and "list[str]" not in out, out
    add = CliRunner().invoke(app, ["alerts", "add", "--help"], env=env).output
    assert "immediate|digest_hourly|digest_daily" in add
    search = CliRunner().invoke(app, ["search", "--help"], env=env).output
    assert "relevance|date" in search


def test_help_starts_without_the_heavy_imports() -> None:
    code = (
        "import sys, runpy; sys.argv=['newswatch','--help']\n"
        "from pipeline.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy=[m for m in ('sqlalchemy','alembic','pipeline.alerts.state','pipeline.alerts.cli',"
        "'pipeline.enrich.gazetteer','scipy','pipeline.config') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_serve_on_a_busy_port_says_so_and_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [str(NEWSWATCH), "serve", "--port", str(port)],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert "already in use" in proc.stderr and str(port) in proc.stderr
    assert "serving" not in proc.stderr and "Traceback" not in proc.stderr


def test_parquet_export_without_pyarrow_leaves_no_file(tmp_path: Path) -> None:
    blocker = tmp_path / "nopyarrow"
    blocker.mkdir()
    (blocker / "pyarrow").mkdir()  # a namespace without the module: find_spec still finds
    # it, so hide pyarrow properly: a sitecustomize that makes importing it fail.
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _No:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyarrow' or name.startswith('pyarrow.'):\n"
        "            raise ImportError('no pyarrow here')\n"
        "sys.meta_path.insert(0, _No())\n"
    )
    (blocker / "pyarrow").rmdir()
    out = tmp_path / "out.parquet"
    env = _env(tmp_path, PYTHONPATH=str(blocker))
    proc = subprocess.run(
        [str(NEWSWATCH), "export", "--parquet", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "pyarrow" in proc.stderr
    assert not out.exists()


# ---------------------------------------------------------------- scripts
@pytest.mark.slow
def test_run_sh_installs_quietly(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    (tmp_path / "alerts.yaml").write_text("rules: []\n")
    env = _env(tmp_path, NEWSWATCH_FEEDS_FILE=str(tmp_path / "feeds.yaml"))
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts/run.sh"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert "setuptools" not in proc.stderr and "editable" not in proc.stderr.lower()
    assert "==> installing" not in proc.stderr
    assert json.loads(proc.stdout)["run_id"]


def test_server_scripts_status_prints_what_it_found() -> None:
    for script in ("elasticsearch.sh", "postgres.sh"):
        proc = subprocess.run(
            ["bash", str(ROOT / "scripts" / script), "status"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        name = script.removesuffix(".sh")
        assert proc.stdout.startswith(f"{name}: "), proc.stdout + proc.stderr
        assert ("running" in proc.stdout) == (proc.returncode == 0)
