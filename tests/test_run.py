"""Run orchestration pieces that are pure logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.demo.corpus import EXPECTED, start_demo_server
from pipeline.models import FeedSource
from pipeline.run import due_feeds, ingest_cycle
from tests.test_ingest_e2e import demo_settings


def test_due_feeds_follow_each_feeds_interval() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    fast = FeedSource("fast", "http://127.0.0.1/a", interval=600)
    slow = FeedSource("slow", "http://127.0.0.1/b", interval=3600)
    new = FeedSource("new", "http://127.0.0.1/c", interval=600)
    polled = {"fast": now - timedelta(minutes=11), "slow": now - timedelta(minutes=11)}
    assert [f.name for f in due_feeds([fast, slow, new], polled, now)] == ["fast", "new"]
    polled = {"fast": now - timedelta(minutes=5), "slow": now - timedelta(hours=2)}
    assert [f.name for f in due_feeds([fast, slow], polled, now)] == ["slow"]


def test_watch_cycles_skip_feeds_polled_within_their_interval(tmp_path: Path) -> None:
    server = start_demo_server()
    try:
        settings = demo_settings(server, tmp_path / "data")
        first = ingest_cycle(settings, due_only=True)
        assert first["feeds"]["not_due"] == 0
        assert first["extracted"] == EXPECTED["articles"]
        before = len(server.requests)
        second = ingest_cycle(settings, due_only=True)  # the demo feeds poll every 10+ min
        assert second["feeds"]["not_due"] == EXPECTED["feeds"]["total"]
        feed_requests = [r for r in server.requests[before:] if "/feeds/" in r.path]
        assert feed_requests == []
    finally:
        server.stop()


def test_watch_command_runs_cycles_and_reports_not_due_feeds(tmp_path: Path) -> None:
    from tests.test_ingest_e2e import cli, demo_env

    server = start_demo_server()
    try:
        env = demo_env(server, tmp_path / "w")
        proc = cli(["watch", "--every", "0s", "--max-runs", "2"], env)
    finally:
        server.stop()
    assert proc.stderr.count("Run 20") == 2  # two closing tables
    assert "feeds not due (interval)" in proc.stderr
    assert "warning" in proc.stderr and "tripoli-dispatch" in proc.stderr  # the bozo feed


def test_all_feeds_failed_blames_the_network_only_for_network_failures() -> None:
    from pipeline.run import ALL_FAILED_HINT, OFFLINE_HINT, all_failed_hint

    assert all_failed_hint({"network_error": 12, "dns_error": 4}) == OFFLINE_HINT
    assert all_failed_hint({"timeout": 1, "connect_error": 2}) == OFFLINE_HINT
    # A lone bomb or 404 is the publisher's fault, not an unreachable network.
    assert all_failed_hint({"too_large": 1}) == ALL_FAILED_HINT
    assert all_failed_hint({"network_error": 3, "http_404": 1}) == ALL_FAILED_HINT
    assert "newswatch demo" in ALL_FAILED_HINT
