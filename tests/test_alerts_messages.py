"""Pure parts of alerts: snippets, rendering, grouping, backoff, health decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pipeline.alerts.channels import send_file, with_delivery_ids
from pipeline.alerts.health import failed_runs, failing_feeds, silent_feeds, usual_gap
from pipeline.alerts.messages import MessageItem, build_message, find_matches, highlight
from pipeline.alerts.outbox import backoff, batches, throttle_until

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def item(**kw: Any) -> MessageItem:
    base: dict[str, Any] = {
        "title": "Haftar mobilising forces towards Sirte",
        "url": "https://example.org/a",
        "source": "libya-monitor",
        "published": NOW,
        "snippet": "",
        "events": ["mobilisation"],
        "entities": [
            {"id": "haftar", "name": "Khalifa Haftar", "type": "person"},
            {"id": "sirte", "name": "Sirte", "type": "place"},
        ],
        "delivery_id": "d1",
    }
    base.update(kw)
    return MessageItem(**base)


def test_matches_follow_the_index_tokens_prefixes_and_phrases() -> None:
    text = "Troop Movements and a CONVOY were reported; convoys again."
    spans = find_matches(text, ["troop movements", "convoy*"])
    assert [text[a:b] for a, b in spans] == ["Troop Movements", "CONVOY", "convoys"]


def test_arabic_terms_match_after_folding() -> None:
    text = "أفادت مصادر بوصول تعزيزات عسكرية وأرتال إلى سرت"
    spans = find_matches(text, ["تعزيزات عسكريه", "ارتال"])
    # "وأرتال" carries the clitic و: its light stem is the term, as in the index
    assert [text[a:b] for a, b in spans] == ["تعزيزات عسكرية", "وأرتال"]


def test_highlight_windows_around_the_first_match() -> None:
    text = "word " * 200 + "the mobilisation began " + "tail " * 200
    snippet, spans = highlight(text, ["mobilisation"], width=120)
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) <= 125
    (a, b), *_ = spans
    assert snippet[a:b] == "mobilisation"


def test_html_escapes_untrusted_text_and_marks_matches() -> None:
    snippet = "<script>alert(1)</script> mobilisation & more"
    _, spans = highlight(snippet, ["mobilisation"])
    msg = build_message(
        "r",
        [
            item(
                title="<img src=x onerror=alert(1)>",
                snippet=snippet,
                highlights=spans,
                url="javascript:alert(1)",
            )
        ],
    )
    assert "<script>" not in msg.html and "&lt;script&gt;" in msg.html
    assert "<img" not in msg.html
    assert "<mark>mobilisation</mark>" in msg.html
    assert "javascript:" not in msg.html  # only http(s) links become links
    assert "[mobilisation]" in msg.text


def test_message_lists_source_time_entities_places_events_link_and_more_reports() -> None:
    msg = build_message("mobilisation", [item(snippet="x", more_reports=3)])
    assert msg.title == "[newswatch: mobilisation] Haftar mobilising forces towards Sirte"
    for part in ("libya-monitor", "2026-03-01 12:00 UTC", "Khalifa Haftar", "Places: Sirte"):
        assert part in msg.text
    assert "Events: mobilisation" in msg.text and "3 more reports" in msg.text
    assert "https://example.org/a" in msg.text and "delivery: d1" in msg.text
    digest = build_message("mobilisation", [item(), item(delivery_id="d2")], digest=True)
    assert digest.title.endswith("2 new reports") and digest.delivery_ids == ["d1", "d2"]


def test_delivery_ids_ride_on_the_channel_url() -> None:
    assert (
        with_delivery_ids("json://h/x", ["a"])
        == "json://h/x?+X-Newswatch-Delivery-Id=a&:delivery_id=a"
    )
    assert with_delivery_ids("mailto://h?to=x@y", ["a", "b"]).endswith(
        "&+X-Newswatch-Delivery-Id=a,b"
    )
    assert with_delivery_ids("tgram://t/c", ["a"]) == "tgram://t/c"


def test_file_channel_never_writes_a_delivery_twice(tmp_path: Path) -> None:
    path = tmp_path / "x" / "alerts.jsonl"
    msg = build_message("r", [item(snippet="s")])
    assert send_file(path, msg, maybe_sent=False).ok
    assert send_file(path, msg, maybe_sent=True).ok  # a retry after an unknown outcome
    assert len(path.read_text().splitlines()) == 1


def test_backoff_throttle_and_batches() -> None:
    assert [backoff(n, 30, 3600).total_seconds() for n in (1, 2, 3, 10)] == [30, 60, 120, 3600]
    assert throttle_until(None, 600, NOW) is None
    assert throttle_until(NOW - timedelta(seconds=100), 600, NOW) == NOW + timedelta(seconds=500)
    assert throttle_until(NOW - timedelta(seconds=700), 600, NOW) is None
    rows: list[Any] = ["a", "b", "c"]
    assert batches(rows, "immediate", 0) == [["a"], ["b"], ["c"]]
    assert batches(rows, "immediate", 60) == [rows]  # held back by a throttle: one message
    assert batches(rows, "digest_daily", 0) == [rows]


def feed(**kw: Any) -> Any:
    base = {
        "name": "f",
        "url": "https://example.org/f.rss",
        "consecutive_errors": 0,
        "last_error": None,
        "last_success_at": NOW - timedelta(hours=1),
        "last_new_item_at": NOW - timedelta(hours=1),
    }
    base.update(kw)
    return SimpleNamespace(**base)


def test_health_decisions() -> None:
    assert failing_feeds([feed(consecutive_errors=2)], 3) == []
    (f,) = failing_feeds([feed(consecutive_errors=3, last_error="http_404")], 3)
    assert "failed 3 polls" in f.title and "http_404" in f.detail
    hourly = [NOW - timedelta(hours=h) for h in range(10)]
    assert usual_gap(hourly) == timedelta(hours=1)
    assert usual_gap(hourly[:2]) is None
    quiet = feed(last_new_item_at=NOW - timedelta(hours=30))
    assert silent_feeds([quiet], {"f": timedelta(hours=1)}, NOW, 4, timedelta(hours=24))
    assert not silent_feeds([feed()], {"f": timedelta(hours=1)}, NOW, 4, timedelta(hours=24))
    slow = feed(last_new_item_at=NOW - timedelta(days=3))
    assert not silent_feeds([slow], {"f": timedelta(days=1)}, NOW, 4, timedelta(hours=24))
    runs = [SimpleNamespace(id="r1", status="failed", started_at=NOW, finished_at=NOW)]
    assert failed_runs(runs)[0].key == "run_failed:r1"
    offline = SimpleNamespace(
        id="r2",
        status="failed",
        started_at=NOW,
        finished_at=NOW,
        summary={"problem": "all_feeds_failed"},
    )
    assert failed_runs([offline]) == []  # the failing-feeds alert says it once per outage


def test_health_findings_of_a_run_are_one_titled_group() -> None:
    from pipeline.alerts.health import Finding, group_detail, group_title, recovery_title

    found = [
        Finding(f"feed_failing:f{i}:never", f"Feed f{i} failed", "x", f"f{i}") for i in range(16)
    ]
    assert group_title(found).startswith("16 feeds failing: f0, f1")
    assert "and 8 more" in group_title(found)
    assert group_detail(found).count("\n") == 15
    assert group_title(found[:1]) == "Feed f0 failed"
    assert recovery_title(["a", "b"]) == "2 feeds recovered: a, b"


def test_snippet_tokens_are_the_index_tokens() -> None:
    from pipeline.alerts.messages import token_spans
    from pipeline.search.query import tokens

    text = "Al-Wasat: 5+5 committee; قوّات حفتر تدفعُ بأرتال — café naïve ﻻ x_y 123abc"
    assert [t for _, _, t in token_spans(text)] == tokens(text)
