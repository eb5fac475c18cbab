"""Bad input is normal input: each kind has a clear reason, and the rest of the run goes on.

Real parts only: feeds and pages are served by a LocalServer on 127.0.0.1,
state is a real SQLite file, the CLI runs as a subprocess where the
user-facing message is what is tested. Nothing but loopback is contacted: the
private and link-local links below are refused by the guard before any
connection, and the "down" services are closed ports on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.alerts.rules import RuleError, parse_alerts_yaml
from pipeline.alerts.stage import alerts_after_index
from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError, NewswatchError
from pipeline.export import export
from pipeline.feeds import NotAFeed, load_feeds, parse_feed, poll_feeds
from pipeline.localserver import LocalServer, Response
from pipeline.models import FeedSource
from pipeline.run import ingest_cycle
from pipeline.search.base import open_backend
from pipeline.store import open_store

NEWSWATCH = [sys.executable, "-m", "pipeline.cli"]
RSS = "application/rss+xml"
HTML = "text/html; charset=utf-8"
ARABIC = "قوات حفتر تدفع بأرتال عسكرية نحو سرت وتحشيدات في الجفرة"
STORY = (
    "<p>Forces loyal to the eastern command were reported moving towards Sirte on Tuesday, "
    "local officials said, as talks in Geneva stalled over the ceasefire line. {n}</p>"
)


def page(n: object) -> bytes:
    body = "".join(STORY.format(n=n) for _ in range(4))
    return (
        f"<html><head><title>Story {n}</title></head><body><article>"
        f"<h1>Story {n}</h1>{body}</article></body></html>"
    ).encode()


def rss(links: list[str], declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    items = "".join(
        f"<item><title>Item {i}</title><link>{link}</link><guid>g{i}</guid></item>"
        for i, link in enumerate(links)
    )
    return f'{declaration}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def settings(tmp_path: Path, feeds: list[tuple[str, str]] | None = None, **extra: Any) -> Settings:
    path = tmp_path / "feeds.yaml"
    entries = "".join(f"\n  - {{name: {n}, url: '{u}'}}" for n, u in feeds or [])
    path.write_text(f"feeds:{entries or ' []'}\n")
    extra.setdefault("alerts_file", tmp_path / "no-alerts.yaml")
    return load_settings(
        data_dir=tmp_path / "data",
        feeds_file=path,
        retries=0,
        connect_timeout=2,
        read_timeout=5,
        **extra,
    )


def cli(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "200", **env}
    return subprocess.run(
        [*NEWSWATCH, *args], env=full, capture_output=True, text=True, timeout=120
    )


# ---------------------------------------------------------------- feed items
def test_bad_links_and_bad_pages_fail_one_item_each_and_the_rest_is_ingested(
    local_server: LocalServer, tmp_path: Path
) -> None:
    base = local_server.url
    links = {
        "good1": f"{base}/good1",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "ipv6_loopback": "http://[::1]/admin",
        "localhost": "http://localhost:1/admin",
        "closed_port": "http://127.0.0.1:1/x",
        "loop": f"{base}/loop1",
        "to_file": f"{base}/to-file",
        "to_ftp": f"{base}/to-ftp",
        "bogus_charset": f"{base}/bogus-charset",
        "binary": f"{base}/binary",
        "empty": f"{base}/empty",
        "good2": f"{base}/good2",
    }
    malformed = ["http://[::1/unclosed", "http://127.0.0.1:99999/too-big-port"]
    local_server.route("/feed", Response(200, rss([*links.values(), *malformed]).encode(), {}))
    for n in (1, 2):
        local_server.route(f"/good{n}", Response(200, page(n), {"Content-Type": HTML}))
    local_server.route("/loop1", Response(302, b"", {"Location": "/loop2"}))
    local_server.route("/loop2", Response(302, b"", {"Location": "/loop1"}))
    local_server.route("/to-file", Response(302, b"", {"Location": "file:///etc/passwd"}))
    local_server.route("/to-ftp", Response(301, b"", {"Location": "ftp://127.0.0.1/x"}))
    local_server.route(
        "/bogus-charset",
        Response(200, page("bogus"), {"Content-Type": "text/html; charset=bogus-charset"}),
    )
    local_server.route(
        "/binary", Response(200, bytes(range(256)) * 64, {"Content-Type": "text/html"})
    )
    local_server.route("/empty", Response(200, b"", {"Content-Type": "text/html"}))

    s = settings(tmp_path, [("mixed", f"{base}/feed")])
    summary = ingest_cycle(s)

    assert summary["status"] == "ok"
    assert summary["feeds"]["ok"] == 1
    assert summary["items_new"] == len(links)  # the malformed links were skipped, not stored
    assert summary["extracted"] == 3  # good1, good2, and the page with a bogus charset
    reasons = {f["url"]: f["reason"] for f in summary["failures"]}
    assert reasons[links["metadata"]] == "refused_address"
    assert reasons[links["ipv6_loopback"]] == "refused_address"
    assert reasons[links["localhost"]] in ("refused_address", "connect_error")
    assert reasons[links["closed_port"]] == "connect_error"
    assert reasons[links["loop"]] == "too_many_redirects"
    assert reasons[links["to_file"]] == "refused_address"
    assert reasons[links["to_ftp"]] == "refused_address"
    assert reasons[links["binary"]] == "too_short"
    assert reasons[links["empty"]] == "empty"
    for f in summary["failures"]:
        assert f["detail"], f
    details = {f["url"]: f["detail"] for f in summary["failures"]}
    assert "link-local" in details[links["metadata"]]
    assert "only http and https" in details[links["to_file"]]
    assert "redirect loop" in details[links["loop"]]

    store = open_store(s)
    try:
        feed = {f.name: f for f in store.feeds()}["mixed"]
        titles = {r.title for r in store.iter_article_rows()}
    finally:
        store.close()
    assert feed.last_status == "ok"
    assert "2 entries with a malformed link" in (feed.last_warning or "")
    assert titles == {"Story 1", "Story 2", "Story bogus"}
    assert all(r.host.startswith("127.0.0.1") for r in local_server.requests)


def test_malformed_links_are_skipped_and_named_not_a_feed_failure() -> None:
    source = FeedSource(name="f", url="http://news.example/feed")
    body = rss(["http://[::1/x", "http://news.example:70000/y", "http://news.example/ok"])
    items, warning = parse_feed(source, body.encode(), {})
    assert [i.link for i in items] == ["http://news.example/ok"]
    assert warning == "2 entries with a malformed link, e.g. 'http://[::1/x'"


# ---------------------------------------------------------------- feed bodies
def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9)


def test_broken_feed_bodies_fail_that_feed_with_a_reason(local_server: LocalServer) -> None:
    good = rss([f"http://news.example/{i}" for i in range(3)]).encode()
    bomb = _gzip(b'<?xml version="1.0"?><rss version="2.0"><channel>' + b" " * 30_000_000)
    routes = {
        "/empty": Response(200, b"", {"Content-Type": RSS}),
        "/blank": Response(200, b"  \n\t ", {"Content-Type": RSS}),
        "/bomb": Response(200, bomb, {"Content-Type": RSS, "Content-Encoding": "gzip"}),
        "/bad-gzip": Response(200, b"not gzip", {"Content-Type": RSS, "Content-Encoding": "gzip"}),
        "/truncated": Response(200, good[: len(good) * 2 // 3], {"Content-Type": RSS}),
        "/binary": Response(200, bytes(range(256)) * 40, {"Content-Type": RSS}),
        "/many": Response(200, rss([f"http://news.example/{i}" for i in range(5000)]).encode(), {}),
        "/ok": Response(200, good, {"Content-Type": RSS}),
    }
    for path, response in routes.items():
        local_server.route(path, response)
    sources = [FeedSource(name=p.strip("/"), url=local_server.url + p) for p in routes]
    s = load_settings(retries=0, max_feed_bytes=5_000_000)
    polls = {p.source.name: p for p in poll_feeds(s, sources, {})}

    def failed(name: str) -> tuple[str, str]:
        poll = polls[name]
        assert poll.status == "failed" and poll.failure is not None, name
        return poll.failure.reason, poll.failure.detail

    assert failed("empty") == ("not_a_feed", f"{local_server.url}/empty is not an RSS or "
                               "Atom feed (the answer was empty)")  # fmt: skip
    assert failed("blank")[0] == "not_a_feed"
    reason, detail = failed("bomb")
    assert reason == "too_large" and "5,000,000-byte cap" in detail
    reason, detail = failed("bad-gzip")
    assert reason == "bad_encoding" and "Content-Encoding" in detail
    reason, detail = failed("binary")
    assert reason == "not_a_feed" and "not an RSS or Atom feed" in detail
    assert polls["truncated"].status == "ok" and polls["truncated"].items
    assert (polls["truncated"].warning or "").startswith("malformed feed:")
    assert polls["many"].status == "ok" and len(polls["many"].items) == 5000
    assert polls["ok"].status == "ok" and len(polls["ok"].items) == 3


@pytest.mark.parametrize(
    "declaration",
    [
        "",  # no XML declaration at all
        '<?xml version="1.0"?>',  # a declaration without an encoding
        '<?xml version="1.0" encoding="utf-8"?>',  # a wrong declaration
        '<?xml version="1.0" encoding="iso-8859-1"?>',  # the usual wrong default
    ],
)
@pytest.mark.parametrize("content_type", ["application/xml", "text/xml", None])
def test_windows_1256_feed_without_a_true_declaration_is_read_as_arabic(
    declaration: str, content_type: str | None
) -> None:
    source = FeedSource(name="ar", url="http://news.example/ar.rss")
    body = (
        f'{declaration}<rss version="2.0"><channel><title>{ARABIC}</title>'
        f"<item><title>{ARABIC}</title><link>http://news.example/ar/1</link>"
        f"<description>{ARABIC}</description></item></channel></rss>"
    ).encode("cp1256")
    headers = {"Content-Type": content_type} if content_type else {}
    items, warning = parse_feed(source, body, headers)
    assert items[0].title == ARABIC and items[0].summary == ARABIC
    assert warning is None


def test_windows_1256_feed_without_declaration_over_http(
    local_server: LocalServer, tmp_path: Path
) -> None:
    body = (
        f'<rss version="2.0"><channel><title>t</title><item><title>{ARABIC}</title>'
        f"<link>{local_server.url}/ar/1</link></item></channel></rss>"
    ).encode("cp1256")
    local_server.route("/ar.rss", Response(200, body, {"Content-Type": "application/xml"}))
    s = settings(tmp_path)
    poll = poll_feeds(s, [FeedSource(name="ar", url=local_server.url + "/ar.rss")], {})[0]
    assert poll.status == "ok" and poll.items[0].title == ARABIC and poll.warning is None


# ---------------------------------------------------------------- config files
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1/feed", "Invalid IPv6 URL"),
        ("http://127.0.0.1:99999/feed", "Port out of range"),
        ("file:///etc/passwd", "need an http:// or https:// URL"),
    ],
)
def test_feeds_file_with_a_malformed_url_names_the_entry(
    tmp_path: Path, url: str, message: str
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"feeds:\n  - {{name: ok, url: 'http://a.example/'}}\n  - {{name: B, url: '{url}'}}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_feeds(path)
    assert "entry 2 ('B'): bad url" in str(err.value) and message in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "feeds: [a, b\n  c: :\n",
        "- name: a\n  url: http://127.0.0.1/\n",
        "feeds:\n  - {name: a, url: 'http://[::1/'}\n",
    ],
)
def test_cli_reports_a_broken_feeds_file_in_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    for args in (["ingest"], ["feeds"], ["feeds", "check"]):
        proc = cli(args, NEWSWATCH_FEEDS_FILE=str(path))
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and f"feeds file {path}" in proc.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping with 'rules:'"),
        ("defaults: [1]\nrules: []\n", "'defaults:' must be a mapping"),
        ("health: [1]\n", "'health:' must be a mapping"),
        ("health: {feed_failing_runs: abc}\n", "health.feed_failing_runs must be a number"),
        ("health: {silent_factor: -1}\n", "health.silent_factor must be a number"),
    ],
)
def test_broken_alerts_file_is_listed_and_the_ingest_finishes(
    local_server: LocalServer, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(RuleError, match=message):
        parse_alerts_yaml(text)
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(text)
    local_server.route("/feed", Response(200, rss([f"{local_server.url}/p"]).encode(), {}))
    local_server.route("/p", Response(200, page("p"), {"Content-Type": HTML}))
    s = settings(tmp_path, [("f", f"{local_server.url}/feed")], alerts_file=alerts)
    summary = ingest_cycle(s, after_index=alerts_after_index)
    assert summary["status"] == "ok"
    assert summary["extracted"] == 1 and summary["indexed"] == 1
    (failure,) = [f for f in summary["failures"] if f["reason"] == "alerts_file_invalid"]
    assert failure["where"] == str(alerts) and message in failure["detail"]


def test_unreadable_alerts_file_is_listed(local_server: LocalServer, tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.yaml"
    alerts.write_bytes(b"\xff\xfe\x00 not utf-8")
    s = settings(tmp_path, alerts_file=alerts)
    summary = ingest_cycle(s, after_index=alerts_after_index)
    assert summary["status"] == "ok"
    (failure,) = summary["failures"]
    assert failure["reason"] == "alerts_file_invalid"
    assert "cannot read the alerts file" in failure["detail"]


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize(
    ("env", "commands", "expected"),
    [
        (
            {"NEWSWATCH_MAX_REDIRECTS": "abc"},
            ["ingest", "search", "show"],
            "NEWSWATCH_MAX_REDIRECTS",
        ),
        (
            {"NEWSWATCH_DATABASE_URL": "nonsense://x"},
            ["ingest", "show"],
            "NEWSWATCH_DATABASE_URL: cannot use nonsense://x",
        ),
        (
            {"NEWSWATCH_DATABASE_URL": "not a url"},
            ["ingest", "show"],
            "NEWSWATCH_DATABASE_URL: cannot use a value that is not a URL",
        ),
        (
            {"NEWSWATCH_DATABASE_URL": "postgresql+psycopg://nw:s3cret@127.0.0.1:1/nw"},
            ["ingest", "show"],
            "cannot open the state database postgresql+psycopg://nw:***@127.0.0.1:1/nw",
        ),
        (
            {"NEWSWATCH_SEARCH_BACKEND": "elasticsearch", "NEWSWATCH_ELASTICSEARCH_URL": "nohost"},
            ["search"],
            "NEWSWATCH_ELASTICSEARCH_URL",
        ),
    ],
)
def test_bad_settings_are_one_clear_line(
    tmp_path: Path, env: dict[str, str], commands: list[str], expected: str
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    argv = {"ingest": ["ingest"], "search": ["search", "x"], "show": ["show", "abc"]}
    for command in commands:
        proc = cli(argv[command], NEWSWATCH_FEEDS_FILE=str(feeds), **env)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert expected in " ".join(proc.stderr.split()), proc.stderr
        assert "s3cret" not in proc.stderr


def test_state_database_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = cli(["show", "abc"], NEWSWATCH_DATABASE_URL=f"sqlite:///{blocker}/x.db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot open the state database" in " ".join(proc.stderr.split())
    proc = cli(["show", "abc"], NEWSWATCH_DATA_DIR=str(blocker / "data"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "NEWSWATCH_DATA_DIR: cannot create" in " ".join(proc.stderr.split())


def test_elasticsearch_down_leaves_articles_pending_and_says_why(
    local_server: LocalServer, tmp_path: Path
) -> None:
    local_server.route("/feed", Response(200, rss([f"{local_server.url}/p"]).encode(), {}))
    local_server.route("/p", Response(200, page("p"), {"Content-Type": HTML}))
    s = settings(
        tmp_path,
        [("f", f"{local_server.url}/feed")],
        search_backend="elasticsearch",
        elasticsearch_url=["http://127.0.0.1:1"],
        elasticsearch_timeout=2,
    )
    summary = ingest_cycle(s)
    assert summary["status"] == "ok"
    assert summary["extracted"] == 1 and summary["indexed"] == 0
    assert summary["pending_index"] == 1
    (failure,) = [f for f in summary["failures"] if f["stage"] == "index"]
    assert failure["reason"] == "backend_unavailable"
    assert "not reachable" in failure["detail"] and "indexed on the next run" in failure["detail"]


def test_malformed_elasticsearch_url_is_a_config_error(tmp_path: Path) -> None:
    s = settings(tmp_path, search_backend="elasticsearch", elasticsearch_url=["nohost"])
    with pytest.raises(ConfigError, match="NEWSWATCH_ELASTICSEARCH_URL"):
        open_backend(s)


# ---------------------------------------------------------------- queries, show, export
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("title:", "nothing after 'title:'"),
        ('"unclosed', "unclosed quote"),
        ("((((", "'(' is never closed"),
        ("published:[2020 TO", "'[' is never closed"),
        ("place:", "nothing after 'place:'"),
        ("a " * 5000, "the query is too long"),
    ],
)
def test_broken_queries_are_one_line_for_search_and_export(
    tmp_path: Path, query: str, message: str
) -> None:
    env = {"NEWSWATCH_FEEDS_FILE": str(tmp_path / "none.yaml")}
    for args in (["search", query], ["export", query, "--csv"]):
        proc = cli(args, **env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and message in proc.stderr
        assert proc.stdout == ""  # not even a CSV header before the error


@pytest.mark.parametrize("article_id", ["", "no-such-id", "x" * 5000, "'; drop table articles;--"])
def test_show_with_odd_ids_says_not_found(article_id: str) -> None:
    proc = cli(["show", article_id, "--json"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no article with id" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_to_a_path_that_cannot_be_written(tmp_path: Path, fmt: str) -> None:
    with pytest.raises(NewswatchError, match="cannot write the export to"):
        export(iter([]), fmt, None, str(tmp_path))  # type: ignore[arg-type]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = cli(["export", f"--{fmt}", "-o", str(blocker / "out")])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot write the export to" in " ".join(proc.stderr.split())


def test_not_a_feed_error_is_raised_for_empty_bodies() -> None:
    source = FeedSource(name="f", url="http://news.example/feed")
    with pytest.raises(NotAFeed, match="the answer was empty"):
        parse_feed(source, b"", {"Content-Type": RSS})
