"""One network outage of 16 feeds: one health e-mail listing them, one when they recover.

Real parts: the feeds are 16 URLs on a 127.0.0.1 port where nothing listens
(connection refused, as when the network is down), then a LocalServer starts
on that port and serves them; the health channel is a real aiosmtpd server.
The run summary of an all-feeds-failed run is checked on the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipeline.alerts.stage import alerts_after_index
from pipeline.config import Settings, load_settings
from pipeline.localserver import LocalServer, Response
from pipeline.run import OFFLINE_PROBLEM, ingest_cycle
from tests.alerts_helpers import SmtpSink, free_port

pytestmark = pytest.mark.slow

N_FEEDS = 16
RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>http://127.0.0.1/</link>
<description>d</description></channel></rss>"""


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def _settings(tmp_path: Path, port: int, smtp: SmtpSink) -> Settings:
    feeds = {
        "feeds": [
            {"name": f"feed-{i:02d}", "url": f"http://127.0.0.1:{port}/f{i}.rss", "lang": "en"}
            for i in range(N_FEEDS)
        ]
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(feeds))
    (tmp_path / "alerts.yaml").write_text(
        yaml.safe_dump({"rules": [], "health": {"channels": [smtp.url], "feed_failing_runs": 2}})
    )
    return load_settings(
        data_dir=tmp_path / "data",
        feeds_file=tmp_path / "feeds.yaml",
        alerts_file=tmp_path / "alerts.yaml",
        allow_hosts=["127.0.0.1"],
        retries=0,
        connect_timeout=2.0,
        read_timeout=2.0,
        host_delay=0.0,
    )


def test_an_outage_of_16_feeds_sends_one_alert_and_one_recovery(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    port = free_port()
    settings = _settings(tmp_path, port, smtp)

    first = ingest_cycle(settings, after_index=alerts_after_index)
    assert first["status"] == "failed" and first["problem"] == OFFLINE_PROBLEM
    assert "newswatch demo" in first["hint"]
    assert first["feeds"]["failed"] == N_FEEDS
    assert smtp.inbox == []  # one failed poll is not yet an alert

    for _ in range(3):  # the outage goes on: the 2nd run alerts, later runs add nothing
        ingest_cycle(settings, after_index=alerts_after_index)
    subjects = smtp.subjects()
    assert len(subjects) == 1, subjects
    assert f"{N_FEEDS} feeds failing" in subjects[0]
    body = smtp.inbox[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for i in range(N_FEEDS):
        assert f"feed-{i:02d}" in body
    assert "Ingest run" not in " ".join(subjects)  # an all-feeds-failed run is not a 2nd alert

    server = LocalServer("127.0.0.1", port)
    for i in range(N_FEEDS):
        server.route(f"/f{i}.rss", Response(200, RSS, {"Content-Type": "application/rss+xml"}))
    server.start()
    try:
        back = ingest_cycle(settings, after_index=alerts_after_index)
        again = ingest_cycle(settings, after_index=alerts_after_index)
    finally:
        server.stop()
    assert back["status"] == "ok" and "problem" not in back
    assert back["feeds"]["ok"] == N_FEEDS
    subjects = smtp.subjects()
    assert len(subjects) == 2, subjects
    assert f"{N_FEEDS} feeds recovered" in subjects[1]
    assert again["alerts_health"] == 0
