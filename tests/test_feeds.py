"""Feeds: the config file, parsing (pure) and polling against a real local server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.feeds import (
    NotAFeed,
    check_feeds,
    load_feeds,
    parse_feed,
    parse_interval,
    poll_feeds,
)
from pipeline.localserver import LocalServer, Response
from pipeline.models import FeedSource

RSS = "application/rss+xml"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"allow_hosts": ["127.0.0.1"], "host_delay": 0.0, "retry_backoff": 0.0}
    base.update(overrides)
    return Settings(**base)


def rss(items: str, lang: str = "en", encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>Test wire</title><link>http://news.example/</link>"
        f"<language>{lang}</language>{items}</channel></rss>"
    )


def item(title: str, link: str, guid: str | None = None, date: str | None = None) -> str:
    g = f"<guid>{guid}</guid>" if guid else ""
    d = f"<pubDate>{date}</pubDate>" if date else ""
    return f"<item><title>{title}</title><link>{link}</link>{g}{d}</item>"


SRC = FeedSource(name="wire", url="http://news.example/feed.xml", lang=None)

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Coast</title><id>urn:coast</id><updated>2022-03-02T10:00:00Z</updated>
  <entry>
    <title>Clashes in Zawiya</title><id>urn:coast:1</id>
    <link rel="alternate" href="/2022/03/02/zawiya.html"/>
    <updated>2022-03-02T09:00:00Z</updated><published>2022-03-02T08:30:00+02:00</published>
    <summary type="html">&lt;p&gt;Armed &lt;b&gt;clashes&lt;/b&gt; broke out.&lt;/p&gt;</summary>
  </entry>
</feed>"""


# ---------------------------------------------------------------- config file
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_feeds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - {name: Libya Herald, url: "https://www.libyaherald.com/feed/", lang: en, interval: 10m}
  - {name: Al Wasat, url: "https://alwasat.ly/rss", lang: AR, interval: 3600}
  - {name: UN News, url: "https://news.un.org/feed/rss.xml"}
""",
    )
    feeds = load_feeds(path)
    assert [f.name for f in feeds] == ["Libya Herald", "Al Wasat", "UN News"]
    assert [f.interval for f in feeds] == [600, 3600, 600]
    assert [f.lang for f in feeds] == ["en", "ar", None]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90),
        ("90", 90),
        ("45s", 45),
        ("10m", 600),
        ("1h", 3600),
        ("1.5h", 5400),
        ("1d", 86400),
        (" 2 M ", 120),
    ],
)
def test_parse_interval(value: object, seconds: int) -> None:
    assert parse_interval(value) == seconds


@pytest.mark.parametrize("value", ["soon", "10 minutes", "", 0, -5, "0m", True, None, [1]])
def test_bad_interval(value: object) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_interval(value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("feeds:\n  - {url: 'https://a.example/rss'}\n", "entry 1: missing 'name'"),
        ("feeds:\n  - {name: A}\n", "entry 1 ('A'): missing 'url'"),
        (
            "feeds:\n  - {name: A, url: 'https://a.example/'}\n  - {name: A, url: 'https://b.example/'}\n",
            "entry 2 ('A'): duplicate name 'A'",
        ),
        ("feeds:\n  - {name: A, url: 'ftp://a.example/'}\n", "entry 1 ('A'): bad url 'ftp://a"),
        ("feeds:\n  - {name: A, url: 'a.example/rss'}\n", "bad url"),
        ("feeds:\n  - {name: A, url: 'https://a.example/', interval: soon}\n", "interval"),
        ("feeds:\n  - just a string\n", "entry 1: expected a mapping"),
        ("feeds: nope\n", "top-level 'feeds:' list"),
        ("[1, 2]\n", "top-level 'feeds:' list"),
        ("feeds: [\n", "not valid YAML"),
    ],
)
def test_bad_feeds_file(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_feeds(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds:\n  - {name: A}\n  - {url: 'https://b.example/'}\n")
    with pytest.raises(ConfigError) as err:
        load_feeds(path)
    assert "entry 1 ('A')" in str(err.value) and "entry 2" in str(err.value)


def test_missing_feeds_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NEWSWATCH_FEEDS_FILE"):
        load_feeds(tmp_path / "nope.yaml")


# ---------------------------------------------------------------- parsing (pure)
def test_parse_rss() -> None:
    body = rss(
        item(
            "Forces move on Sirte",
            "http://news.example/a",
            "g-a",
            "Wed, 25 Nov 2020 10:30:00 +0200",
        )
        + item("Second", "/b")
    ).encode()
    items, warning = parse_feed(SRC, body, {"Content-Type": RSS}, now=NOW)
    assert warning is None
    assert [i.guid for i in items] == ["g-a", "http://news.example/b"]
    first = items[0]
    assert (first.feed, first.link, first.title, first.lang) == (
        "wire",
        "http://news.example/a",
        "Forces move on Sirte",
        "en",
    )
    assert first.published == datetime(2020, 11, 25, 8, 30, tzinfo=UTC)
    assert items[1].published is None


def test_parse_atom_relative_link_and_html_summary() -> None:
    src = FeedSource(name="coast", url="http://coast.example/feeds/all.atom", lang="en")
    items, warning = parse_feed(src, ATOM.encode(), {"Content-Type": "application/atom+xml"})
    assert warning is None and len(items) == 1
    entry = items[0]
    assert entry.guid == "urn:coast:1"
    assert entry.link == "http://coast.example/2022/03/02/zawiya.html"
    assert entry.summary == "Armed clashes broke out."
    assert entry.published == datetime(2022, 3, 2, 6, 30, tzinfo=UTC)


def test_config_lang_wins_over_feed_lang() -> None:
    body = rss(item("x", "http://news.example/x"), lang="fr").encode()
    assert parse_feed(SRC, body, {})[0][0].lang == "fr"
    src = FeedSource(name="wire", url=SRC.url, lang="ar")
    assert parse_feed(src, body, {})[0][0].lang == "ar"


def test_region_subtag_dropped() -> None:
    body = rss(item("x", "http://news.example/x"), lang="ar-LY").encode()
    assert parse_feed(SRC, body, {})[0][0].lang == "ar"


def test_malformed_feed_still_yields_entries() -> None:
    body = (
        rss(
            item("Good one", "http://news.example/1")
            + item("Broken &nbsp <b>", "http://news.example/2")
        )
        .replace("</channel></rss>", "")
        .encode()
    )
    items, warning = parse_feed(SRC, body, {"Content-Type": RSS}, now=NOW)
    assert warning is not None and warning.startswith("malformed feed:")
    assert [i.link for i in items][:1] == ["http://news.example/1"]
    assert len(items) >= 1


def test_duplicate_entries_kept_once_a_reused_guid_with_a_new_link_kept() -> None:
    """Same guid and link: one item. Same guid, another link: another article."""
    body = rss(
        item("A", "http://news.example/a", "same")
        + item("A again", "http://news.example/a2", "same")
        + item("B", "http://news.example/b")
        + item("B again", "http://news.example/b")
    ).encode()
    items, _ = parse_feed(SRC, body, {})
    assert [(i.guid, i.title) for i in items] == [
        ("same", "A"),
        ("same", "A again"),
        ("http://news.example/b", "B"),
    ]


def test_entries_without_link_skipped_and_counted() -> None:
    body = rss(
        "<item><title>No link</title></item>"
        + item("Script", "javascript:alert(1)")
        + item("Ok", "http://news.example/ok")
    ).encode()
    items, warning = parse_feed(SRC, body, {})
    assert [i.title for i in items] == ["Ok"]
    assert warning == "2 entries without an http(s) link"


def test_future_date_dropped() -> None:
    body = rss(
        item("Future", "http://news.example/f", date="Mon, 01 Jan 2035 10:00:00 GMT")
    ).encode()
    items, _ = parse_feed(SRC, body, {}, now=NOW)
    assert items[0].published is None


def test_windows_1256_arabic_feed() -> None:
    title = "قوات حفتر تدفع بأرتال عسكرية نحو سرت"
    body = rss(item(title, "http://news.example/ar/1"), lang="ar", encoding="windows-1256")
    raw = body.encode("cp1256")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    items, warning = parse_feed(SRC, raw, {"Content-Type": RSS})
    assert warning is None
    assert items[0].title == title and items[0].lang == "ar"


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"<html><body><h1>Welcome</h1><p>no feed here</p></body></html>", "text/html"),
        (b"", "application/rss+xml"),
        (b'{"items": []}', "application/json"),
    ],
)
def test_not_a_feed(body: bytes, ctype: str) -> None:
    with pytest.raises(NotAFeed, match="not an RSS or Atom feed"):
        parse_feed(SRC, body, {"Content-Type": ctype})


def test_empty_but_valid_feed() -> None:
    assert parse_feed(SRC, rss("").encode(), {}) == ([], None)


# ---------------------------------------------------------------- polling (real server)
def source(server: LocalServer, path: str, name: str | None = None) -> FeedSource:
    return FeedSource(name=name or path.strip("/"), url=server.url + path, lang="en")


def test_poll_ok_rss_and_atom(local_server: LocalServer) -> None:
    local_server.route(
        "/wire.rss",
        Response(
            200,
            rss(item("A", "http://x.example/a")).encode(),
            {"Content-Type": RSS, "ETag": '"w1"'},
        ),
    )
    local_server.route(
        "/coast.atom", Response(200, ATOM.encode(), {"Content-Type": "application/atom+xml"})
    )
    polls = poll_feeds(
        settings(), [source(local_server, "/wire.rss"), source(local_server, "/coast.atom")], {}
    )
    assert [p.status for p in polls] == ["ok", "ok"]
    assert polls[0].etag == '"w1"' and polls[0].http_status == 200
    assert [i.title for i in polls[0].items] == ["A"]
    assert polls[1].items[0].link == local_server.url + "/2022/03/02/zawiya.html"
    assert "/robots.txt" not in local_server.paths()


def test_poll_304_with_etag(local_server: LocalServer) -> None:
    local_server.route(
        "/f.rss",
        Response(
            200,
            rss(item("A", "http://x.example/a")).encode(),
            {"Content-Type": RSS, "ETag": '"v7"'},
        ),
    )
    src = source(local_server, "/f.rss", "f")
    first = poll_feeds(settings(), [src], {})[0]
    assert first.status == "ok" and first.etag == '"v7"'
    second = poll_feeds(settings(), [src], {"f": (first.etag, first.last_modified)})[0]
    assert second.status == "not_modified" and second.http_status == 304
    assert second.items == [] and second.etag == '"v7"'
    assert local_server.requests[-1].headers["If-None-Match"] == '"v7"'


def test_poll_304_with_last_modified(local_server: LocalServer) -> None:
    lm = "Wed, 25 Nov 2020 10:30:00 GMT"
    local_server.route(
        "/f.rss",
        Response(
            200,
            rss(item("A", "http://x.example/a")).encode(),
            {"Content-Type": RSS, "Last-Modified": lm},
        ),
    )
    src = source(local_server, "/f.rss", "f")
    first = poll_feeds(settings(), [src], {})[0]
    assert first.status == "ok" and first.last_modified == lm and first.etag is None
    second = poll_feeds(settings(), [src], {"f": (None, lm)})[0]
    assert second.status == "not_modified" and second.last_modified == lm
    assert local_server.requests[-1].headers["If-Modified-Since"] == lm


def test_poll_404_fails_with_reason_and_keeps_validators(local_server: LocalServer) -> None:
    src = source(local_server, "/gone.rss", "gone")
    poll = poll_feeds(settings(), [src], {"gone": ('"old"', None)})[0]
    assert poll.status == "failed" and poll.http_status == 404
    assert poll.failure is not None
    assert (poll.failure.stage, poll.failure.reason) == ("feeds", "http_404")
    assert poll.failure.url == src.url and "404" in poll.failure.detail
    assert poll.etag == '"old"'


def test_poll_not_a_feed(local_server: LocalServer) -> None:
    local_server.route(
        "/page.html",
        Response(200, b"<html><body>hello</body></html>", {"Content-Type": "text/html"}),
    )
    poll = poll_feeds(settings(), [source(local_server, "/page.html")], {})[0]
    assert poll.status == "failed" and poll.failure is not None
    assert poll.failure.reason == "not_a_feed"


def test_poll_malformed_feed_ok_with_warning(local_server: LocalServer) -> None:
    body = rss(item("Good", "http://x.example/g") + "<item><title>Bad &nope; <i></title>")
    local_server.route("/bad.rss", Response(200, body.encode(), {"Content-Type": RSS}))
    poll = poll_feeds(settings(), [source(local_server, "/bad.rss")], {})[0]
    assert poll.status == "ok" and poll.warning and "malformed" in poll.warning
    assert [i.title for i in poll.items][:1] == ["Good"]


def test_poll_timeout_too_large_refused(local_server: LocalServer) -> None:
    local_server.route("/slow.rss", Response(200, b"<rss/>", delay=5.0))
    local_server.route(
        "/huge.rss", Response(200, headers={"Content-Type": RSS}, chunked_body_size=1 << 30)
    )
    s = settings(read_timeout=0.3, max_feed_bytes=50_000)
    with LocalServer("127.0.0.2") as other:
        other.route("/f.rss", Response(200, rss("").encode()))
        sources = [
            source(local_server, "/slow.rss"),
            source(local_server, "/huge.rss"),
            FeedSource(name="other", url=other.url + "/f.rss"),
            FeedSource(name="meta", url="http://169.254.169.254/feed"),
        ]
        polls = poll_feeds(s, sources, {})
        assert other.requests == []
    assert [p.status for p in polls] == ["failed"] * 4
    assert [p.failure.reason for p in polls if p.failure] == [
        "timeout",
        "too_large",
        "refused_address",
        "refused_address",
    ]
    assert all(p.failure and p.failure.stage == "feeds" for p in polls)


def test_one_bad_feed_does_not_sink_the_others(local_server: LocalServer) -> None:
    local_server.route("/ok.rss", Response(200, rss(item("A", "http://x.example/a")).encode()))
    polls = poll_feeds(
        settings(),
        [source(local_server, "/missing.rss"), source(local_server, "/ok.rss")],
        {},
    )
    assert [p.status for p in polls] == ["failed", "ok"]
    assert [p.source.name for p in polls] == ["missing.rss", "ok.rss"]


def test_windows_1256_feed_over_http_without_charset(local_server: LocalServer) -> None:
    title = "محتجون يغلقون حقل الشرارة"
    body = rss(item(title, "http://x.example/ar"), lang="ar", encoding="windows-1256")
    local_server.route("/ar.rss", Response(200, body.encode("cp1256"), {"Content-Type": RSS}))
    poll = poll_feeds(settings(), [FeedSource(name="ar", url=local_server.url + "/ar.rss")], {})[0]
    assert poll.status == "ok" and poll.items[0].title == title and poll.items[0].lang == "ar"


def test_check_feeds_sends_no_validators(local_server: LocalServer) -> None:
    local_server.route("/f.rss", Response(200, rss("").encode(), {"ETag": '"x"'}))
    polls = check_feeds(settings(), [source(local_server, "/f.rss")])
    assert polls[0].status == "ok"
    assert "If-None-Match" not in local_server.requests[-1].headers


def test_poll_nothing() -> None:
    assert poll_feeds(settings(), [], {}) == []
