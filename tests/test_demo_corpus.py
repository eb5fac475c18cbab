"""The demo corpus serves what the ingest tests rely on.

Every route is fetched over a real socket from the demo server on 127.0.0.1,
so a broken file, a wrong header or an EXPECTED entry that no longer matches
the site fails here, with a precise message, rather than deep in an
end-to-end test.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
import yaml
from protego import Protego

from pipeline.config import load_settings
from pipeline.dedup import jaccard, minhash
from pipeline.demo import corpus
from pipeline.demo.corpus import EXPECTED
from pipeline.localserver import LocalServer
from pipeline.models import EVENT_TYPES

FIXTURE = Path("/work/shared/fixtures/mobilisation-report-2020-11-24.txt")
_META_DATE = re.compile(r'<meta property="article:published_time" content="([^"]+)"')
_BODY = re.compile(r'<div class="article-body">(.*?)</div>', re.S)
_TAG = re.compile(r"<[^>]+>")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    srv = corpus.start_demo_server()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0, follow_redirects=False, trust_env=False) as c:
        yield c


def _get(client: httpx.Client, server: LocalServer, path: str) -> httpx.Response:
    return client.get(server.url + path)


def _parse(resp: httpx.Response) -> feedparser.FeedParserDict:
    return feedparser.parse(resp.content, response_headers=dict(resp.headers))


def _feed_entries(client: httpx.Client, server: LocalServer) -> dict[str, list[str]]:
    """Feed name -> the URL paths (with query) its entries link to."""
    out = {}
    for feed in corpus.FEEDS:
        if feed.file is None:
            continue
        parsed = _parse(_get(client, server, feed.path))
        out[feed.name] = [
            urlsplit(e.link).path + (f"?{urlsplit(e.link).query}" if urlsplit(e.link).query else "")
            for e in parsed.entries
        ]
    return out


def _body_text(html: str) -> str:
    match = _BODY.search(html)
    assert match, "no article body"
    return _TAG.sub(" ", match.group(1))


# ------------------------------------------------------------------ routes


def test_every_plain_route_answers_with_its_content_type(
    server: LocalServer, client: httpx.Client
) -> None:
    routes = corpus.build_routes(server.url)
    special = {corpus.SLOW_PATH, corpus.GIANT_PATH, corpus.REDIRECT_PATH, corpus.MISSING_PAGE_PATH}
    for path, route in routes.items():
        if path in special:
            continue
        resp = _get(client, server, path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"] == route.headers["Content-Type"], path
        assert resp.content == route.body, path
        assert b"{base}" not in resp.content, f"unfilled placeholder in {path}"
    for path in corpus.ARTICLES:
        assert path in routes, f"article {path} has no route"


def test_problem_routes_fail_each_in_its_own_way(server: LocalServer, client: httpx.Client) -> None:
    redirect = _get(client, server, corpus.REDIRECT_PATH)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == corpus.PRIVATE_REDIRECT_TARGET

    missing = _get(client, server, corpus.MISSING_PAGE_PATH)
    assert missing.status_code == 404 and b"Page not found" in missing.content
    assert _get(client, server, corpus.MISSING_FEED_PATH).status_code == 404

    with client.stream("GET", server.url + corpus.GIANT_PATH) as resp:
        assert resp.status_code == 200
        assert "content-length" not in resp.headers  # streamed: only a byte cap stops it
        seen = 0
        for chunk in resp.iter_bytes():
            seen += len(chunk)
            if seen > corpus.DEMO_SETTINGS["max_page_bytes"]:  # type: ignore[operator]
                break
    assert seen > corpus.DEMO_SETTINGS["max_page_bytes"]  # type: ignore[operator]

    read_timeout = float(corpus.DEMO_SETTINGS["read_timeout"])  # type: ignore[arg-type]
    assert read_timeout < corpus.SLOW_PAGE_DELAY
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            server.url + corpus.SLOW_PATH,
            timeout=httpx.Timeout(5.0, read=read_timeout),
            trust_env=False,
        )
    # Nothing was ever sent anywhere but this loopback server.
    assert all(r.host.startswith("127.0.0.1") for r in server.requests)


def test_robots_allows_all_but_private(server: LocalServer, client: httpx.Client) -> None:
    robots = Protego.parse(_get(client, server, "/robots.txt").text)
    assert not robots.can_fetch(server.url + "/private/x", "newswatch")
    for path in [*corpus.ARTICLES, corpus.SLOW_PATH]:
        assert robots.can_fetch(server.url + path, "newswatch"), path


def test_feeds_answer_304_to_their_validators(server: LocalServer, client: httpx.Client) -> None:
    for feed in corpus.FEEDS:
        if feed.file is None:
            continue
        first = _get(client, server, feed.path)
        assert "etag" in first.headers, feed.name
        again = client.get(server.url + feed.path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, feed.name
    monitor = _get(client, server, "/feeds/libya-monitor.rss")
    since = client.get(
        server.url + "/feeds/libya-monitor.rss",
        headers={"If-Modified-Since": monitor.headers["last-modified"]},
    )
    assert since.status_code == 304


# ------------------------------------------------------------------ feeds


def test_feeds_parse_and_the_malformed_one_still_has_entries(
    server: LocalServer, client: httpx.Client
) -> None:
    counts = {}
    for feed in corpus.FEEDS:
        if feed.file is None:
            continue
        parsed = _parse(_get(client, server, feed.path))
        counts[feed.name] = len(parsed.entries)
        if feed.name == corpus.MALFORMED_FEED:
            assert parsed.bozo, "the malformed feed should be flagged"
        else:
            assert not parsed.bozo, f"{feed.name}: {parsed.get('bozo_exception')}"
        for entry in parsed.entries:
            assert entry.title and entry.link and entry.get("published_parsed"), feed.name
    assert counts == EXPECTED["items_per_feed"]
    assert sum(counts.values()) == EXPECTED["items"]


def test_arabic_feed_is_windows_1256_declared_in_xml_only(
    server: LocalServer, client: httpx.Client
) -> None:
    resp = _get(client, server, "/feeds/al-waha.rss")
    assert "charset" not in resp.headers["content-type"]
    assert resp.content.startswith(b'<?xml version="1.0" encoding="windows-1256"?>')
    with pytest.raises(UnicodeDecodeError):
        resp.content.decode("utf-8")
    parsed = _parse(resp)
    assert parsed.encoding == "windows-1256"
    assert "سرت" in parsed.entries[0].title


# ------------------------------------------------------------------ pages


def test_arabic_probe_page_is_windows_1256_without_any_charset(
    server: LocalServer, client: httpx.Client
) -> None:
    resp = _get(client, server, corpus.ARABIC_PROBE_PATH)
    assert resp.headers["content-type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        resp.content.decode("utf-8")
    assert b"charset" not in resp.content.lower()
    html = resp.content.decode("windows-1256")
    assert corpus.ARABIC_PROBE_WORD in _body_text(html)
    assert html.count("<p>") >= 5  # enough text for detection
    for path in corpus.ARTICLES:  # the probe word finds that page only
        if path != corpus.ARABIC_PROBE_PATH:
            body = corpus.build_routes(server.url)[path].body
            assert corpus.ARABIC_PROBE_WORD.encode("windows-1256") not in body, path
            assert corpus.ARABIC_PROBE_WORD.encode("utf-8") not in body, path


def test_other_arabic_pages_declare_their_charset(
    server: LocalServer, client: httpx.Client
) -> None:
    meta = _get(client, server, corpus.ARABIC_META_CHARSET_PATH)
    assert meta.headers["content-type"] == "text/html"
    assert b'<meta charset="windows-1256">' in meta.content
    utf8 = _get(client, server, corpus.ARABIC_UTF8_PATH)
    assert utf8.headers["content-type"] == "text/html; charset=utf-8"
    assert "النفط" in utf8.content.decode("utf-8")


def test_pages_hold_their_dates(server: LocalServer, client: httpx.Client) -> None:
    routes = corpus.build_routes(server.url)
    for path, info in corpus.ARTICLES.items():
        body = routes[path].body
        html = body.decode("windows-1256" if path in corpus.WINDOWS_1256_PAGES else "utf-8")
        meta = _META_DATE.findall(html)
        if path == corpus.UNDATED_PATH:
            assert not meta and not re.search(r"(19|20)\d\d", html), "undated page has a date"
        elif path == corpus.FUTURE_DATED_PATH:
            assert meta == [info["page_meta_date"]] and meta[0].startswith("2099")
        else:
            assert info["date_source"] == "page"
            assert meta == [info["published"]], path
    # Where the page has no usable date, the feed's date is the expected one.
    entries = {}
    for feed in corpus.FEEDS:
        if feed.file:
            for e in _parse(_get(client, server, feed.path)).entries:
                entries[urlsplit(e.link).path] = e
    for path in (corpus.UNDATED_PATH, corpus.FUTURE_DATED_PATH):
        feed_date = parsedate_to_datetime(entries[path].published)
        assert feed_date == datetime.fromisoformat(str(corpus.ARTICLES[path]["published"]))


def test_canonical_report_and_its_syndicated_copy(
    server: LocalServer, client: httpx.Client
) -> None:
    canonical = _get(client, server, corpus.CANONICAL_PATH).text
    assert "<h1>GNA: Haftar mobilising forces towards Sirte despite political dialogue</h1>" in (
        canonical
    )
    text = " ".join(_body_text(canonical).split())
    if FIXTURE.is_file():  # the shared fixture, when this checkout sits beside it
        for para in FIXTURE.read_text(encoding="utf-8").splitlines():
            if para.strip():
                assert para.strip() in text, para[:40]
    assert "Wagner Group and Sudanese Janjaweed mercenaries" in text
    copy = " ".join(_body_text(_get(client, server, corpus.SYNDICATED_PATH).text).split())
    assert copy != text
    similarity = jaccard(minhash(text), minhash(copy))
    assert similarity >= load_settings().near_duplicate_threshold, similarity


def test_exact_duplicate_is_the_same_page_under_two_urls(
    server: LocalServer, client: httpx.Client
) -> None:
    plain = _get(client, server, corpus.DUPLICATE_PATH)
    tracked = _get(client, server, corpus.DUPLICATE_TRACKED_PATH)
    assert plain.status_code == tracked.status_code == 200
    assert plain.content == tracked.content
    links = _feed_entries(client, server)
    assert corpus.DUPLICATE_TRACKED_PATH in links["libya-monitor"]
    assert corpus.DUPLICATE_PATH in links["coastline-wire"]


# ------------------------------------------------------------------ EXPECTED


def test_expected_matches_the_feeds(server: LocalServer, client: httpx.Client) -> None:
    links = _feed_entries(client, server)
    linked = [p for paths in links.values() for p in paths]
    by_path = Counter(urlsplit(p).path for p in linked)
    failing = EXPECTED["failed_paths"]
    assert isinstance(failing, dict)
    # Every entry leads to a stored article or to an expected failure, and back.
    assert set(by_path) == set(corpus.ARTICLES) | (set(failing) - {corpus.MISSING_FEED_PATH})
    assert sum(n - 1 for n in by_path.values()) == EXPECTED["duplicates"]
    assert EXPECTED["articles"] == len(corpus.ARTICLES) == len(EXPECTED["article_paths"])
    assert Counter(failing.values()) == Counter(EXPECTED["failed"])
    for path, info in corpus.ARTICLES.items():
        assert path in links[str(info["feed"])] or path == corpus.DUPLICATE_PATH, path
    feeds = EXPECTED["feeds"]
    assert isinstance(feeds, dict)
    assert feeds["total"] == len(corpus.FEEDS) == len(corpus.demo_feeds(server.url))
    assert feeds["failed"] == len(EXPECTED["failed_feeds"])
    for info in corpus.ARTICLES.values():
        assert set(info["events"]) <= set(EVENT_TYPES)  # type: ignore[arg-type]


def test_feeds_file_and_settings(server: LocalServer, tmp_path: Path) -> None:
    path = corpus.write_feeds_file(server.url, tmp_path / "feeds.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = [f["name"] for f in data["feeds"]]
    assert names == [f.name for f in corpus.FEEDS]
    assert len(set(names)) == len(names)
    assert all(f["url"].startswith(server.url) for f in data["feeds"])
    settings = load_settings(**corpus.DEMO_SETTINGS)
    assert settings.read_timeout == 2.0 and settings.max_page_bytes == 5_000_000
    assert settings.allow_hosts == ["127.0.0.1"]


def test_default_feeds_file_lists_real_sources_in_both_languages() -> None:
    """The shipped feeds.yaml: unique names, https URLs, English and Arabic sources."""
    repo_feeds = Path(__file__).resolve().parent.parent / "feeds.yaml"
    feeds = yaml.safe_load(repo_feeds.read_text(encoding="utf-8"))["feeds"]
    names = [f["name"] for f in feeds]
    assert len(names) == len(set(names))
    assert {f["lang"] for f in feeds} == {"en", "ar"}
    for f in feeds:
        assert set(f) == {"name", "url", "lang", "interval"}, f
        assert f["url"].startswith("https://"), f
        assert re.fullmatch(r"\d+[smh]?", str(f["interval"])), f
    hosts = " ".join(urlsplit(f["url"]).netloc for f in feeds)
    for site in ("libyaherald", "libyaobserver", "libyareview", "libyaupdate", "alwasat"):
        assert site in hosts, site
    assert any("reliefweb.int" in f["url"] for f in feeds)
    assert any("news.un.org" in f["url"] for f in feeds)
    assert any("news.google.com" in f["url"] and f["lang"] == "ar" for f in feeds)
