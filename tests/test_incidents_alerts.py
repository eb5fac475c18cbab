"""Incident and surge alerts through the real outbox: aiosmtpd SMTP and a webhook.

The demo's canonical mobilisation report and its syndicated copy arrive first
(English feeds only): one incident alert. The Arabic feed follows: the Arabic
twin joins the same incident, which now has three reports in two languages,
and the rule (``grow_languages``) sends exactly one more. A third run sends
nothing. A surge rule fires once on a burst of mobilisation reports near Sirte
over a quiet baseline, not again while the burst lasts, and never on a steady
stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.alerts.incident_alerts import incident_alerts
from pipeline.alerts.incident_rules import SurgeRule, calmed_since, surge_check
from pipeline.alerts.outbox import deliver_due
from pipeline.alerts.settings import load_alert_settings
from pipeline.alerts.stage import alerts_after_index
from pipeline.alerts.tables import AlertRow
from pipeline.config import Settings, load_settings
from pipeline.demo.corpus import DEMO_SETTINGS, demo_feeds, start_demo_server, write_feeds_file
from pipeline.incidents.stage import link_pending
from pipeline.localserver import LocalServer
from pipeline.models import Article, Entity, Event
from pipeline.run import ingest_cycle
from pipeline.store import Store, open_store
from pipeline.store import incidents as inc_state
from tests.alerts_helpers import SmtpSink, WebhookSink

CHANNELS = """
defaults:
  channels:
    - file://alerts/alerts.jsonl
    - ${NEWSWATCH_ALERT_EMAIL_URL}
    - ${NEWSWATCH_ALERT_WEBHOOK_URL}
rules: []
"""


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
def channels_env(monkeypatch: pytest.MonkeyPatch, smtp: SmtpSink, webhook: WebhookSink) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_EMAIL_URL", smtp.url)
    monkeypatch.setenv("NEWSWATCH_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("NEWSWATCH_ALERTS_RETRY_BACKOFF", "0")


@pytest.fixture(scope="module")
def demo_server() -> Iterator[LocalServer]:
    server = start_demo_server()
    yield server
    server.stop()


def _settings(server: LocalServer, data: Path, rules: str) -> Settings:
    data.mkdir(parents=True, exist_ok=True)
    feeds = write_feeds_file(server.url, data / "feeds.yaml")
    (data / "alerts.yaml").write_text(CHANNELS + rules, encoding="utf-8")
    return load_settings(
        **{
            **DEMO_SETTINGS,
            "data_dir": data,
            "feeds_file": feeds,
            "alerts_file": data / "alerts.yaml",
        }
    )


def _incident_mail(smtp: SmtpSink) -> list[str]:
    return [s for s in smtp.subjects() if "Incident" in s]


@pytest.mark.slow
def test_demo_incident_alerts_once_then_once_more_when_the_arabic_twin_joins(
    demo_server: LocalServer,
    tmp_path: Path,
    smtp: SmtpSink,
    webhook: WebhookSink,
    channels_env: None,
) -> None:
    rules = """
incident_rules:
  - name: mobilisation-incidents
    types: [mobilisation]
    places: [Sirte]
    grow_languages: true
"""
    settings = _settings(demo_server, tmp_path / "data", rules)
    feeds = demo_feeds(demo_server.url)
    english = [f for f in feeds if f.lang != "ar"]
    assert len(english) < len(feeds)

    first = ingest_cycle(settings, sources=english, after_index=alerts_after_index)
    assert not [f for f in first["failures"] if f["stage"] == "alerts"]
    mails = _incident_mail(smtp)
    assert len(mails) == 1, smtp.subjects()
    assert "mobilisation in" in mails[0] and "2 reports" in mails[0] and "English" in mails[0]
    assert "Arabic" not in mails[0]

    ingest_cycle(settings, sources=feeds, after_index=alerts_after_index)
    mails = _incident_mail(smtp)
    assert len(mails) == 2, smtp.subjects()
    assert "Incident grew" in mails[1]
    assert "now 3 reports in 3 outlets, English and Arabic" in mails[1]
    hooks = [p for p in webhook.payloads() if "Incident" in p["title"]]
    assert len(hooks) == 2

    store = open_store(settings)
    try:
        sirte = inc_state.list_incidents(store, types=["mobilisation"], place="sirte")
        three = [i for i in sirte if i["reports"] == 3]
        assert len(three) == 1 and three[0]["languages"] == ["en", "ar"]
        paths = sorted(a["url"].split("/")[-1] for a in three[0]["articles"])
        assert "haftar-mobilising-forces-towards-sirte.html" in paths
        assert "haftar-forces-mobilise-sirte-jufra.html" in paths
    finally:
        store.close()

    ingest_cycle(settings, sources=feeds, after_index=alerts_after_index)
    assert len(_incident_mail(smtp)) == 2  # nothing new, nothing sent


# ---------------------------------------------------------------- surge
SURGE = """
surge_rules:
  - name: sirte-surge
    types: [mobilisation]
    place: sirte
    radius_km: 80
    window_hours: 6
    baseline_days: 5
    ratio: 3
    min_count: 4
"""
SIRTE = {
    "id": "sirte",
    "name": "Sirte",
    "type": "place",
    "lat": 31.209,
    "lon": 16.589,
    "country": "LY",
}
ABU_HADI = {**SIRTE, "id": "abu_hadi", "name": "Abu Hadi", "lat": 31.06, "lon": 16.66}
LNA = {"id": "lna", "name": "Libyan National Army", "type": "armed_group"}


def _save(store: Store, i: int, when: datetime, place: dict[str, Any]) -> None:
    """One mobilisation report near Sirte, as the tagger stores it."""
    ev = {"type": "mobilisation", "confidence": 0.9, "position": "lead", "reported": True,
          "evidence": f"LNA columns moved towards {place['name']} ({i}).", "actors": ["lna"],
          "places": [place["id"]]}  # fmt: skip
    art = Article(
        id=f"surge{i:04d}",
        url=f"http://127.0.0.1/a/{i}",
        canonical_url=f"http://127.0.0.1/a/{i}",
        source=f"outlet{i % 3}",
        title=f"Forces mobilise near {place['name']}",
        text="",
        lang="en",
        published=when,
        fetched_at=when,
        events=[Event(**ev)],
        entities=[Entity(**place), Entity(**LNA)],
    )
    store.save_article(art, tagged=True)
    store.update_enrichment(art.id, lang="en", story_id=art.id, events=[ev], entities=[place, LNA])


def _surge_store(tmp_path: Path, times: list[datetime]) -> tuple[Store, Path]:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    store = open_store(Settings(data_dir=data))
    for i, t in enumerate(times):
        _save(store, i, t, SIRTE if i % 2 else ABU_HADI)
    link_pending(store)
    (data / "alerts.yaml").write_text(CHANNELS + SURGE, encoding="utf-8")
    return store, data


def _surges(store: Store) -> list[AlertRow]:
    with store.session() as s:
        return list(s.scalars(select(AlertRow).where(AlertRow.kind == "surge")))


@pytest.mark.slow
def test_surge_fires_once_on_a_burst_over_a_quiet_baseline(
    tmp_path: Path, smtp: SmtpSink, webhook: WebhookSink, channels_env: None
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    quiet = [now - timedelta(days=3, hours=5)]  # one report in five days
    burst = [now - timedelta(minutes=20 * k) for k in range(1, 7)]  # six in two hours
    store, data = _surge_store(tmp_path, quiet + burst)
    try:
        start = now - timedelta(minutes=1)
        assert incident_alerts(store, data / "alerts.yaml", start, now) == (1, {})
        deliver_due(store, data, load_alert_settings())
        surge_mail = [s for s in smtp.subjects() if "Surge" in s]
        assert len(surge_mail) == 1
        assert "6 mobilisation reports within 80 km of Sirte in the last 6 h" in surge_mail[0]
        body = smtp.inbox[-1].get_body(("plain",)).get_content()
        assert "baseline 1 in the previous 5 days" in body
        assert len([p for p in webhook.payloads() if "Surge" in p["title"]]) == 1
        # the burst goes on: more reports, later evaluations, the same surge: no new alert
        _save(store, 100, now + timedelta(minutes=10), SIRTE)
        link_pending(store)
        assert (
            incident_alerts(store, data / "alerts.yaml", start, now + timedelta(minutes=15))[0] == 0
        )
        assert incident_alerts(store, data / "alerts.yaml", start, now + timedelta(hours=1))[0] == 0
        assert len(_surges(store)) == 1
    finally:
        store.close()


@pytest.mark.slow
def test_surge_stays_silent_on_a_steady_stream(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    steady = [now - timedelta(hours=1.5 * k) for k in range(1, 85)]  # ~4 per 6 h for 5 days
    store, data = _surge_store(tmp_path, steady)
    try:
        for step in range(0, 12):
            at = now + timedelta(minutes=30 * step)
            assert incident_alerts(store, data / "alerts.yaml", now, at) == (0, {})
        assert _surges(store) == []
    finally:
        store.close()


def test_surge_decisions_are_pure_numbers() -> None:
    rule = SurgeRule(name="s", place="sirte", window_hours=6, baseline_days=5, ratio=3, min_count=4)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    burst = sorted(now - timedelta(minutes=30 * k) for k in range(5))
    c = surge_check(rule, burst, now)
    assert (c.fire, c.count, c.baseline) == (True, 5, 0)
    steady = sorted(now - timedelta(hours=1.5 * k) for k in range(80))
    c = surge_check(rule, steady, now)
    assert not c.fire and c.count == 4 and c.ratio < 3
    # after the burst, a calm stretch (window count under min_count) ends the surge
    assert calmed_since(rule, burst, now, now + timedelta(hours=7))
    assert not calmed_since(rule, burst, now, now + timedelta(minutes=30))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("incident_rules: [{name: a, typos: [x]}]", "unknown key(s) typos"),
        ("incident_rules: [{name: a, types: [mobilization]}]", "unknown event type 'mobilization'"),
        ("incident_rules: [{name: a}, {name: a}]", "defined twice"),
        ("incident_rules: [{name: 'a b'}]", "use letters, digits"),
        ("surge_rules: [{name: s}]", "'place' (a place id, e.g. sirte) is required"),
        ("surge_rules: [{name: s, place: sirte, count: words}]", "count must be 'reports'"),
        ("surge_rules: [{name: s, place: sirte, ratio: -1}]", "ratio must be a number"),
        ("surge_rules: [{name: s, place: sirte, window_hours: 0}]", "must be above 0"),
    ],
)
def test_bad_incident_and_surge_rules_are_refused_with_a_clear_message(
    text: str, message: str
) -> None:
    import yaml

    from pipeline.alerts.incident_rules import parse_incident_rules
    from pipeline.alerts.rules import RuleError

    with pytest.raises(RuleError, match=None) as exc:
        parse_incident_rules(yaml.safe_load(text))
    assert message in str(exc.value)


def test_unknown_surge_place_is_a_failing_rule_not_a_crash(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    try:
        path = tmp_path / "alerts.yaml"
        path.write_text("surge_rules: [{name: s, place: atlantis}]", encoding="utf-8")
        raised, failed = incident_alerts(store, path, datetime.now(UTC))
        assert raised == 0 and "unknown place id 'atlantis'" in failed["s"]
    finally:
        store.close()
