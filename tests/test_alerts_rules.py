"""Rules: validation, alerts.yaml, the CLI, failing rules, once-per-story under concurrency.

State is a real SQLite file and search the real FTS5 backend; documents are
indexed directly (no feeds) so each case controls exactly what is new.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline.alerts import state
from pipeline.alerts.evaluate import due_time, window_start
from pipeline.alerts.rules import (
    Rule,
    RuleError,
    expand_channel,
    parse_alerts_yaml,
    validate_rule,
)
from pipeline.alerts.stage import alerts_after_index, run_alerts
from pipeline.alerts.tables import AlertRow, DeliveryRow
from pipeline.cli import app
from pipeline.config import Settings, load_settings
from pipeline.errors import QueryError
from pipeline.models import Article, Event
from pipeline.run import start_run
from pipeline.search.base import open_backend
from pipeline.search.docs import doc_from_article
from pipeline.store import open_store

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- pure
def test_a_broken_query_is_refused_with_the_parser_message_and_position() -> None:
    with pytest.raises(QueryError) as info:
        validate_rule(Rule(name="bad", query='mobilisation AND (Sirte OR "Jufra'))
    assert "rule 'bad': invalid query" in str(info.value)
    assert info.value.position is not None


def test_rule_fields_are_checked() -> None:
    with pytest.raises(RuleError, match="mode"):
        validate_rule(Rule(name="r", query="sirte", mode="weekly"))
    with pytest.raises(RuleError, match="reserved"):
        validate_rule(Rule(name="health", query="sirte"))
    with pytest.raises(RuleError, match="apprise"):
        validate_rule(Rule(name="r", query="sirte", channels=["nosuchscheme://x"]))


def test_shipped_alerts_file_has_the_bilingual_mobilisation_rule() -> None:
    af = parse_alerts_yaml((ROOT / "alerts.yaml").read_text(), env={})
    rule = next(r for r in af.rules if r.name == "mobilisation")
    assert "event:mobilisation" in rule.query
    for word in ("mobilisation", "mobilization", "reinforcements", "convoys", "تحشيد", "رتل"):
        assert word in rule.query
    # With no variables set, only the file channel is left: nobody is mailed by default.
    usable = [c for c in rule.channels if expand_channel(c, {}) is not None]
    assert usable == ["file://alerts/alerts.jsonl"]
    assert any("NEWSWATCH_ALERT_EMAIL_URL not set" in n for n in af.notes)


def test_env_substitution_in_channels() -> None:
    assert expand_channel("json://${H}/x", {"H": "127.0.0.1:9"}) == "json://127.0.0.1:9/x"
    assert expand_channel("${NOPE}", {}) is None


def test_lenient_load_keeps_good_rules_and_reports_the_broken_one() -> None:
    text = """
rules:
  - {name: good, query: sirte}
  - {name: broken, query: 'sirte AND ('}
  - {name: weird, query: sirte, mode: weekly}
"""
    with pytest.raises(QueryError):
        parse_alerts_yaml(text, env={})
    af = parse_alerts_yaml(text, env={}, strict=False)
    assert [r.name for r in af.rules] == ["good", "broken"]  # broken is kept, fails on evaluation
    assert set(af.errors) == {"broken", "weird"}


def test_window_start_and_digest_due_times() -> None:
    cp = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)
    ov = timedelta(minutes=10)
    assert window_start(cp, False, ov, None) == cp  # a new rule: no history
    assert window_start(cp, True, ov, None) == cp - ov
    late = cp - timedelta(hours=5)
    assert window_start(cp, True, ov, late) == late  # indexed late, ingested long ago
    assert window_start(cp, True, ov, late, floor=cp - ov / 2) == cp - ov / 2  # no history
    assert due_time("immediate", cp) == cp
    assert due_time("digest_hourly", cp) == datetime(2026, 1, 1, 13, tzinfo=UTC)
    assert due_time("digest_daily", cp) == datetime(2026, 1, 2, tzinfo=UTC)


# ---------------------------------------------------------------- with state
def _settings(tmp_path: Path, alerts_yaml: str) -> Settings:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "alerts.yaml"
    path.write_text(alerts_yaml)
    return load_settings(data_dir=data, alerts_file=path)


def _article(
    n: int, text: str, story: str | None = None, events: list[str] | None = None
) -> Article:
    return Article(
        id=f"a{n:015d}",
        url=f"https://example.org/{n}",
        canonical_url=f"https://example.org/{n}",
        source="test-feed",
        title=f"Report {n}",
        text=text,
        lang="en",
        published=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
        story_id=story or f"s{n}",
        events=[Event(type=e, confidence=0.9, evidence="") for e in (events or [])],
    )


def _ingest(settings: Settings, articles: list[Article]) -> None:
    """Store and index articles the way the pipeline does (state first, then the index)."""
    store = open_store(settings)
    backend = open_backend(settings)
    try:
        backend.ensure_ready()
        for a in articles:
            store.save_article(a)
            store.update_enrichment(
                a.id,
                lang=a.lang,
                story_id=a.story_id,
                events=[e.record() for e in a.events],
                entities=[],
            )
        rows = list(store.iter_article_rows([a.id for a in articles]))
        from pipeline.store.db import article_from_row

        report = backend.upsert(
            [doc_from_article(article_from_row(r), r.ingested_at) for r in rows]
        )
        store.mark_indexed(report.indexed)
    finally:
        backend.close()
        store.close()


def _env(settings: Settings) -> dict[str, str]:
    return {
        "NEWSWATCH_DATA_DIR": str(settings.data_dir),
        "NEWSWATCH_ALERTS_FILE": str(settings.alerts_file),
    }


def _alerts(settings: Settings) -> list[AlertRow]:
    store = open_store(settings)
    try:
        with store.session() as s:
            return list(s.scalars(select(AlertRow).where(AlertRow.kind == "match")))
    finally:
        store.close()


def _run(settings: Settings) -> dict[str, Any]:
    store = open_store(settings)
    try:
        run_id = start_run(settings, store)
        return alerts_after_index(settings, run_id, store)
    finally:
        store.close()


FILE_RULES = """
defaults:
  channels: [file://out.jsonl]
rules:
  - name: sirte
    query: sirte AND convoy*
"""


def test_a_file_rule_fires_on_its_first_run_and_once_per_story(tmp_path: Path) -> None:
    settings = _settings(tmp_path, FILE_RULES)
    store = open_store(settings)
    run_id = start_run(settings, store)  # the rule is created by the run that ingests
    store.close()
    _ingest(
        settings,
        [
            _article(1, "A convoy of armed vehicles moved towards Sirte.", story="s1"),
            _article(2, "Convoys were seen near Sirte, a copy of the same report.", story="s1"),
            _article(3, "Nothing about that city here."),
        ],
    )
    store = open_store(settings)
    try:
        counts = alerts_after_index(settings, run_id, store)
    finally:
        store.close()
    assert counts["alerts"] == 1 and counts["alerts_delivered"] == 1
    (alert,) = _alerts(settings)
    assert alert.story_id == "s1" and alert.article_id == "a000000000000001"
    assert alert.more_reports == 1
    assert _run(settings)["alerts"] == 0  # the overlap window sees them again: no repeat
    assert _alerts(settings)[0].more_reports == 1  # and does not count them twice
    lines = (settings.data_dir / "out.jsonl").read_text().splitlines()
    assert len(lines) == 1


def test_a_rule_added_from_the_cli_starts_now_unless_backfill(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "rules: []\n")
    _ingest(settings, [_article(1, "Reinforcements reached Jufra.")])
    env = _env(settings)
    runner = CliRunner()
    out = runner.invoke(
        app, ["alerts", "add", "now", "-q", "reinforcements", "-c", "file://now.jsonl"], env=env
    )
    assert out.exit_code == 0, out.output
    assert "saved in state" in out.output
    out = runner.invoke(
        app,
        ["alerts", "add", "back", "-q", "reinforcements", "-c", "file://b.jsonl", "--backfill"],
        env=env,
    )
    assert out.exit_code == 0, out.output
    _run(settings)
    assert {a.rule for a in _alerts(settings)} == {"back"}
    _ingest(settings, [_article(2, "More reinforcements reached Jufra.")])
    _run(settings)
    assert sorted(a.rule for a in _alerts(settings)) == ["back", "back", "now"]


def test_cli_add_rejects_a_broken_query_with_a_clear_message(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "rules: []\n")
    env = _env(settings)
    out = CliRunner().invoke(app, ["alerts", "add", "bad", "-q", "sirte AND (convoy"], env=env)
    assert out.exit_code == 2
    assert "invalid query" in out.output and "position" in out.output
    listed = CliRunner().invoke(app, ["alerts", "list", "--json"], env=env)
    assert '"bad"' not in listed.stdout  # nothing was stored


def test_a_rule_that_starts_failing_is_reported_in_the_run_and_by_a_health_alert(
    tmp_path: Path,
) -> None:
    good = FILE_RULES + "  - {name: other, query: jufra}\n"
    settings = _settings(tmp_path, good)
    _run(settings)
    # The file is edited and the query breaks.
    settings.alerts_file.write_text(good.replace("query: jufra", "query: 'jufra AND ('"))
    _ingest(settings, [_article(1, "A convoy moved towards Sirte.")])
    store = open_store(settings)
    try:
        run_id = start_run(settings, store)
        counts = alerts_after_index(settings, run_id, store)
        stats = [r.data for r in store.run_stats(run_id)]
        rule = state.get_rule(store, "other")
    finally:
        store.close()
    assert counts["alerts_rules_failed"] == 1
    assert counts["alerts"] == 1  # the good rule still fired
    failures = [f for d in stats for f in d.get("failures", [])]
    assert any(f["reason"] == "rule_invalid" and f["where"] == "other" for f in failures)
    assert rule.failing_since is not None and "position" in (rule.last_error or "")
    health = (settings.data_dir / "out.jsonl").read_text()
    assert "Alert rule other is failing" in health
    # Once per failure streak: the next run does not repeat the health alert.
    _run(settings)
    lines = (settings.data_dir / "out.jsonl").read_text().splitlines()
    assert sum("Alert rule other is failing" in ln for ln in lines) == 1


def test_a_backend_error_fails_the_rules_and_keeps_their_checkpoints(tmp_path: Path) -> None:
    settings = _settings(tmp_path, FILE_RULES)
    _run(settings)
    store = open_store(settings)
    before = state.get_rule(store, "sirte").checkpoint
    broken = settings.model_copy(
        update={
            "search_backend": "elasticsearch",
            "elasticsearch_url": ["http://127.0.0.1:9"],
            "elasticsearch_timeout": 1.0,
        }
    )
    outcome = run_alerts(broken, store, state.utcnow())
    after = state.get_rule(store, "sirte")
    store.close()
    assert "sirte" in outcome.evaluation.failed
    assert after.checkpoint == before and after.consecutive_errors == 1


def test_two_processes_recording_the_same_story_raise_one_alert(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "rules: []\n")
    rule = Rule(name="r", query="x", channels=["file://c.jsonl"])
    stores = [open_store(settings) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        barrier.wait()
        draft = state.AlertDraft(story_id="story", article_id=f"art{i}", title="t")
        outcomes.append(state.record_match(stores[i], rule, draft, state.utcnow()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with stores[0].session() as s:
        alerts = list(s.scalars(select(AlertRow)))
        deliveries = list(s.scalars(select(DeliveryRow)))
    for st in stores:
        st.close()
    assert sorted(outcomes) == ["more", "more", "more", "new"]
    assert len(alerts) == 1 and alerts[0].more_reports == 3
    assert len(deliveries) == 1


DIGEST_RULES = """
rules:
  - name: digest
    query: sirte
    mode: digest_hourly
    channels: [file://digest.jsonl]
  - name: slow
    query: jufra
    throttle: 3600
    channels: [file://slow.jsonl]
"""


def test_digests_wait_for_the_period_end_and_throttles_hold_and_bundle(tmp_path: Path) -> None:
    from pipeline.alerts.outbox import deliver_due
    from pipeline.alerts.settings import AlertSettings

    settings = _settings(tmp_path, DIGEST_RULES)
    _run(settings)  # creates the rules
    _ingest(
        settings,
        [
            _article(1, "Forces gathered in Sirte."),
            _article(2, "Sirte again, another story."),
            _article(3, "A column reached Jufra."),
        ],
    )
    _run(settings)
    digest_file = settings.data_dir / "digest.jsonl"
    slow_file = settings.data_dir / "slow.jsonl"
    assert not digest_file.exists()  # held until the end of the hour
    assert len(slow_file.read_text().splitlines()) == 1  # first send of a throttled rule
    _ingest(settings, [_article(4, "Jufra: more columns."), _article(5, "Jufra, third.")])
    _run(settings)
    assert len(slow_file.read_text().splitlines()) == 1  # throttled: waits
    store = open_store(settings)
    try:
        later = state.utcnow() + timedelta(hours=1, seconds=5)
        report = deliver_due(store, settings.data_dir, AlertSettings(), now=later)
    finally:
        store.close()
    assert report.sent == 4 and report.messages == 2
    import json

    (digest,) = [json.loads(x) for x in digest_file.read_text().splitlines()]
    assert len(digest["alerts"]) == 2 and "2 new reports" in digest["title"]
    bundle = json.loads(slow_file.read_text().splitlines()[1])
    assert len(bundle["alerts"]) == 2


def test_alerts_test_shows_matches_and_sends_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, FILE_RULES)
    _ingest(settings, [_article(1, "A convoy moved towards Sirte.")])
    out = CliRunner().invoke(app, ["alerts", "test", "sirte", "--json"], env=_env(settings))
    assert out.exit_code == 0, out.output
    import json

    result = json.loads(out.stdout)
    assert result["total"] == 1 and result["hits"][0]["id"] == "a000000000000001"
    assert not (settings.data_dir / "out.jsonl").exists()
    assert _alerts(settings) == []
