"""Alerts end to end on the demo corpus, with a real SMTP server and a real webhook.

The demo site is served on 127.0.0.1, ingested with the alerts stage as the
CLI runs it, and the shipped alerts.yaml is used as is: its default rule's
email and webhook channels are switched on through the environment variables
the file names, pointed at an aiosmtpd server and a LocalServer route.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from pipeline.alerts.stage import alerts_after_index
from pipeline.alerts.tables import AlertRow, DeliveryRow
from pipeline.config import Settings, load_settings
from pipeline.dedup import article_id
from pipeline.demo.corpus import (
    CANONICAL_PATH,
    DEMO_SETTINGS,
    EXPECTED,
    start_demo_server,
    write_feeds_file,
)
from pipeline.localserver import LocalServer
from pipeline.run import ingest_cycle
from pipeline.store import open_store
from tests.alerts_helpers import SmtpSink, WebhookSink

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SYNDICATED_PATH = EXPECTED["near_duplicates"][0][1]  # type: ignore[index]


@pytest.fixture(scope="module")
def demo_server() -> Iterator[LocalServer]:
    server = start_demo_server()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    sink = WebhookSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def channels_env(
    monkeypatch: pytest.MonkeyPatch, smtp: SmtpSink, webhook: WebhookSink
) -> dict[str, str]:
    env = {
        "NEWSWATCH_ALERT_EMAIL_URL": smtp.url,
        "NEWSWATCH_ALERT_WEBHOOK_URL": webhook.url,
        "NEWSWATCH_ALERTS_RETRY_BACKOFF": "0",  # the "next run" below comes right away
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def settings_for(server: LocalServer, data: Path) -> Settings:
    data.mkdir(parents=True, exist_ok=True)
    feeds = write_feeds_file(server.url, data / "feeds.yaml")
    return load_settings(
        **{
            **DEMO_SETTINGS,
            "data_dir": data,
            "feeds_file": feeds,
            "alerts_file": ROOT / "alerts.yaml",
        }
    )


def run(settings: Settings) -> dict[str, Any]:
    return ingest_cycle(settings, after_index=alerts_after_index)


def canonical_ids(server: LocalServer, settings: Settings) -> tuple[str, str, str]:
    """(article id, story id, title) of the canonical report, from state."""
    store = open_store(settings)
    try:
        row = store.get_article_row(article_id(server.url + CANONICAL_PATH))
        assert row is not None, "the canonical report was not ingested"
        return row.id, row.story_id, row.title
    finally:
        store.close()


def syndicated_title(server: LocalServer, settings: Settings) -> str:
    store = open_store(settings)
    try:
        row = store.get_article_row(article_id(server.url + SYNDICATED_PATH))
        assert row is not None
        return row.title
    finally:
        store.close()


def test_demo_ingest_sends_the_mobilisation_alert_once_per_channel_and_then_nothing(
    demo_server: LocalServer,
    tmp_path: Path,
    smtp: SmtpSink,
    webhook: WebhookSink,
    channels_env: dict[str, str],
) -> None:
    settings = settings_for(demo_server, tmp_path / "data")
    summary = run(settings)
    assert summary["alerts"] >= 1
    assert not [f for f in summary["failures"] if f["stage"] == "alerts"]
    art, story, title = canonical_ids(demo_server, settings)
    other_title = syndicated_title(demo_server, settings)
    assert other_title != title  # the near-copy is a different page with its own title

    # Email: one message for the canonical story, none for its syndicated copy.
    about_canonical = [m for m in smtp.inbox if title in str(m["Subject"])]
    assert len(about_canonical) == 1
    assert not [m for m in smtp.inbox if other_title in str(m["Subject"])]
    mail = about_canonical[0]
    assert mail.get_content_type() == "multipart/alternative"
    html_part = mail.get_body(("html",))
    text_part = mail.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert "<mark>mobilisation</mark>" in html.lower() or "<mark>mobilising</mark>" in html.lower()
    assert demo_server.url + CANONICAL_PATH in html
    assert "Sirte" in html  # places
    assert "1 more report" in text_part.get_content()  # the syndicated copy, counted
    # Every email is a different delivery: no delivery id twice.
    assert len(set(smtp.delivery_ids())) == len(smtp.inbox)

    # Webhook: one POST for the canonical story, with its stable delivery id.
    hooks = webhook.payloads()
    canonical_hooks = [p for p in hooks if title in p["title"]]
    assert len(canonical_hooks) == 1
    assert canonical_hooks[0]["delivery_id"]
    assert len({p["delivery_id"] for p in hooks}) == len(hooks)
    assert mail["X-Newswatch-Delivery-Id"] != canonical_hooks[0]["delivery_id"]  # per channel

    # State: one alert for the story, with the copy counted; every delivery sent.
    store = open_store(settings)
    try:
        with store.session() as s:
            alerts = list(s.scalars(select(AlertRow).where(AlertRow.story_id == story)))
            deliveries = list(s.scalars(select(DeliveryRow)))
    finally:
        store.close()
    assert len(alerts) == 1 and alerts[0].article_id == art and alerts[0].more_reports == 1
    assert deliveries and {d.state for d in deliveries} == {"sent"}

    # The file channel (the default) holds the same alert once.
    lines = (settings.data_dir / "alerts" / "alerts.jsonl").read_text().splitlines()
    assert sum(title in json.loads(ln)["title"] for ln in lines) == 1

    # A second run finds nothing new and sends nothing.
    n_mail, n_hooks = len(smtp.inbox), len(hooks)
    again = run(settings)
    assert again["alerts"] == 0 and again["alerts_delivered"] == 0
    assert len(smtp.inbox) == n_mail
    assert len(webhook.payloads()) == n_hooks


def test_smtp_down_leaves_the_alert_pending_and_the_next_run_delivers_it_once(
    demo_server: LocalServer,
    tmp_path: Path,
    smtp: SmtpSink,
    webhook: WebhookSink,
    channels_env: dict[str, str],
) -> None:
    settings = settings_for(demo_server, tmp_path / "data")
    smtp.stop()
    first = run(settings)
    assert first["alerts"] >= 1
    assert first["failed"].get("alert_delivery_failed", 0) >= 1  # reported in the run
    _, story, title = canonical_ids(demo_server, settings)
    store = open_store(settings)
    try:
        with store.session() as s:
            alert = s.scalar(select(AlertRow).where(AlertRow.story_id == story))
            assert alert is not None
            states = {
                d.channel: (d.state, d.attempts, d.last_error)
                for d in s.scalars(select(DeliveryRow).where(DeliveryRow.alert_id == alert.id))
            }
    finally:
        store.close()
    mail_state = states["${NEWSWATCH_ALERT_EMAIL_URL}"]
    assert mail_state[0] == "pending" and mail_state[1] == 1 and mail_state[2]
    assert states["${NEWSWATCH_ALERT_WEBHOOK_URL}"][0] == "sent"  # other channels unaffected
    assert len([p for p in webhook.payloads() if title in p["title"]]) == 1

    smtp.start()
    second = run(settings)
    assert second["alerts"] == 0  # nothing new was raised ...
    assert second["alerts_delivered"] >= 1  # ... but the pending email went out
    assert len([m for m in smtp.inbox if title in str(m["Subject"])]) == 1
    assert len([p for p in webhook.payloads() if title in p["title"]]) == 1  # not re-sent

    third = run(settings)
    assert third["alerts"] == 0
    assert len([m for m in smtp.inbox if title in str(m["Subject"])]) == 1
    # Third failed poll in a row of the demo's missing feed: a health alert, same channels.
    failing = [m for m in smtp.inbox if "benghazi-bulletin failed 3 polls" in str(m["Subject"])]
    assert len(failing) == 1
    assert len([p for p in webhook.payloads() if "benghazi-bulletin" in p["title"]]) == 1


def test_a_crash_between_send_and_record_resends_with_the_same_delivery_id(
    demo_server: LocalServer,
    tmp_path: Path,
    smtp: SmtpSink,
    webhook: WebhookSink,
    channels_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented at-least-once window: the repeat carries the id receivers dedup on."""
    monkeypatch.setenv("NEWSWATCH_ALERTS_SENDING_LEASE", "1")
    settings = settings_for(demo_server, tmp_path / "data")
    run(settings)
    _, story, title = canonical_ids(demo_server, settings)
    first_ids = [
        str(m["X-Newswatch-Delivery-Id"]) for m in smtp.inbox if title in str(m["Subject"])
    ]
    assert len(first_ids) == 1
    # Put the rows back the way a sender that died after sending leaves them.
    store = open_store(settings)
    try:
        with store.session() as s:
            alert_id = s.scalar(select(AlertRow.id).where(AlertRow.story_id == story))
            s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.alert_id == alert_id)
                .values(state="sending", sent_at=None, claimed_at=DeliveryRow.created_at)
            )
    finally:
        store.close()
    run(settings)
    again = [str(m["X-Newswatch-Delivery-Id"]) for m in smtp.inbox if title in str(m["Subject"])]
    assert again == first_ids * 2  # sent again, same id: the receiver can drop it
    hooks = [p["delivery_id"] for p in webhook.payloads() if title in p["title"]]
    assert len(hooks) == 2 and hooks[0] == hooks[1]
    # The file channel checks its own file: still one line for the story.
    lines = (settings.data_dir / "alerts" / "alerts.jsonl").read_text().splitlines()
    assert sum(title in json.loads(ln)["title"] for ln in lines) == 1


def test_history_json_lists_alerts_with_their_delivery_states(
    demo_server: LocalServer,
    tmp_path: Path,
    smtp: SmtpSink,
    webhook: WebhookSink,
    channels_env: dict[str, str],
) -> None:
    settings = settings_for(demo_server, tmp_path / "data")
    run(settings)
    art, story, title = canonical_ids(demo_server, settings)
    env = {
        **os.environ,
        "NEWSWATCH_DATA_DIR": str(settings.data_dir),
        "NEWSWATCH_ALERTS_FILE": str(ROOT / "alerts.yaml"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "alerts", "history", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    records = json.loads(proc.stdout)
    assert isinstance(records, list)
    mine = [r for r in records if r["story_id"] == story]
    assert len(mine) == 1
    rec = mine[0]
    assert rec["rule"] == "mobilisation" and rec["article_id"] == art and rec["title"] == title
    assert rec["created_at"] and rec["more_reports"] == 1
    assert {d["state"] for d in rec["deliveries"]} == {"sent"}
    assert len(rec["deliveries"]) == 3  # file, email, webhook
    # Secrets in channel URLs never reach the history: the variables are shown as written.
    assert all(smtp.url not in d["channel"] for d in rec["deliveries"])
