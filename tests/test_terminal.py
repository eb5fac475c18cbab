"""The CLI as an analyst sees it: a real 80-column terminal (tmux), screen read back.

``feeds``, ``alerts list`` and ``search`` run in a tmux pane 80 columns wide
over the ingested demo corpus; the captured screen must read cleanly: no
table row taller than two lines, no line broken by the terminal, long
queries cut with an ellipsis, snippets at most two lines.
``scripts/install-terminal.sh`` installs tmux (CI fails without it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import servers_required

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NEWSWATCH = Path(sys.executable).parent / "newswatch"
WIDTH = 80
DONE = "__newswatch_done__"


def _tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        why = "tmux is not installed (run scripts/install-terminal.sh)"
        if servers_required():
            pytest.fail(f"{why}; NEWSWATCH_REQUIRE_SERVERS=1 makes this a failure", pytrace=False)
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("terminal") / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_") and k != "COLUMNS"}
    subprocess.run(
        [str(NEWSWATCH), "demo", "--data-dir", str(data)],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    env.update(
        NEWSWATCH_DATA_DIR=str(data),
        NEWSWATCH_FEEDS_FILE=str(data / "feeds.yaml"),
        NEWSWATCH_ALERTS_FILE=str(ROOT / "alerts.yaml"),  # its long bilingual rule
    )
    long_query = (
        "(event:mobilisation OR mobilisation OR reinforcements OR convoys) AND "
        "(place:Sirte OR place:Jufra OR place:Tripoli OR place:Benghazi) AND NOT protest"
    )
    subprocess.run(
        [str(NEWSWATCH), "alerts", "add", "sirte-watch-with-a-long-name", "-q", long_query],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    yield env


def screen(env: dict[str, str], *args: str, name: str) -> list[str]:
    """Run ``newswatch ARGS`` in an 80-column tmux pane; the screen's lines."""
    tmux = _tmux()
    sock = f"nw-{uuid.uuid4().hex[:8]}"
    cmd = " ".join(["exec", str(NEWSWATCH), *(f"'{a}'" for a in args)])
    shell = f"{cmd} 2>&1; echo {DONE}; sleep 60"
    base = [tmux, "-L", sock, "-f", "/dev/null"]
    subprocess.run(
        [*base, "new-session", "-d", "-s", "t", "-x", str(WIDTH), "-y", "200"]
        + ["-e", f"PATH={os.environ.get('PATH', '')}"]
        + [x for k, v in env.items() if k.startswith("NEWSWATCH_") for x in ("-e", f"{k}={v}")]
        + ["sh", "-c", shell.replace(f"exec {NEWSWATCH}", str(NEWSWATCH))],
        check=True,
        timeout=30,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            out = subprocess.run(
                [*base, "capture-pane", "-p", "-t", "t", "-S", "-200"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            lines = out.rstrip("\n").split("\n")
            if any(DONE in ln for ln in lines):
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the command did not finish:\n" + "\n".join(lines))
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, timeout=30)
    lines = lines[: next(i for i, ln in enumerate(lines) if DONE in ln)]
    while lines and not lines[-1].strip():
        lines.pop()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"terminal-{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def table_rows(lines: list[str]) -> list[list[list[str]]]:
    """Body rows of a rich table: each a list of screen lines, each a list of cells.

    A line whose first cell is empty continues the row above it.
    """
    rows: list[list[list[str]]] = []
    in_body = False
    for ln in lines:
        if ln.startswith(("┡", "├")):
            in_body = True
            continue
        if ln.startswith("└"):
            in_body = False
            continue
        if not in_body or not ln.startswith("│"):
            continue
        cells = [c.strip() for c in ln.strip("│").split("│")]
        if cells[0] == "" and rows:
            rows[-1].append(cells)
        else:
            rows.append([cells])
    return rows


def assert_clean_table(lines: list[str], min_rows: int) -> list[list[list[str]]]:
    assert all(len(ln) <= WIDTH for ln in lines)
    start = next(i for i, ln in enumerate(lines) if ln.startswith("┏"))
    end = max(i for i, ln in enumerate(lines) if ln.startswith("└"))
    for ln in lines[start : end + 1]:  # no line of the table broken by the terminal
        assert ln[:1] in "┏┃┡│└├", ln
    rows = table_rows(lines)
    assert len(rows) >= min_rows
    tall = [r for r in rows if len(r) > 2]
    assert not tall, "rows over 2 lines:\n" + "\n".join(" | ".join(c) for r in tall for c in r)
    return rows


def test_feeds_reads_cleanly_in_80_columns(demo_env: dict[str, str]) -> None:
    lines = screen(demo_env, "feeds", name="feeds")
    rows = assert_clean_table(lines, min_rows=5)
    names = [r[0][0] for r in rows]
    assert "benghazi-bulletin" in names and "libya-monitor" in names
    assert any("http_404" in " ".join(r[0]) or "failed" in " ".join(r[0]) for r in rows)


def test_alerts_list_reads_cleanly_and_cuts_with_an_ellipsis(demo_env: dict[str, str]) -> None:
    lines = screen(demo_env, "alerts", "list", name="alerts-list")
    rows = assert_clean_table(lines, min_rows=2)
    text = "\n".join(lines)
    assert "…" in text  # the long queries are cut, visibly
    assert "dropped" not in text  # unset channel variables are for `alerts show`
    queries = [" ".join(c[3] for c in r) for r in rows]  # origin is left out below 100
    for q in queries:
        if q.endswith("…"):
            assert re.search(r"[\w)\"']…$", q), q  # cut after a whole word
    show = screen(demo_env, "alerts", "show", "mobilisation", name="alerts-show")
    shown = " ".join(" ".join(show).split())  # lines the terminal wrapped, joined again
    assert "not configured: NEWSWATCH_ALERT_EMAIL_URL not set" in shown
    for repr_ in ("[]", "None", "True", "False"):
        assert repr_ not in shown, repr_


def test_search_reads_cleanly_in_80_columns(demo_env: dict[str, str]) -> None:
    lines = screen(demo_env, "search", "Haftar", "--limit", "6", name="search")
    assert all(len(ln) <= WIDTH for ln in lines)
    starts = [i for i, ln in enumerate(lines) if re.match(r"\d+\. ", ln)]
    assert len(starts) == 6
    for a, b in zip(starts, [*starts[1:], len(lines)], strict=True):
        block = lines[a:b]
        url = next(i for i, ln in enumerate(block) if ln.strip().startswith("http://"))
        events = [i for i, ln in enumerate(block) if ln.strip().startswith("events:")]
        text_end = events[0] if events else url
        assert text_end <= 4, "\n".join(block)  # title (≤ 2 lines) + snippet (≤ 2 lines)
