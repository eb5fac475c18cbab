"""Page fetching on a real local server: caps, redirects, guard, robots, retries, politeness."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.fetch import PageFetcher, fetch_pages, retry_after_seconds
from pipeline.localserver import LocalServer, RequestRecord, Response
from pipeline.models import Failure, Page

HTML = {"Content-Type": "text/html; charset=utf-8"}


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "allow_hosts": ["127.0.0.1"],
        "host_delay": 0.0,
        "retry_backoff": 0.0,
        "connect_timeout": 5.0,
        "read_timeout": 5.0,
    }
    base.update(overrides)
    return Settings(**base)


def fetch_one(s: Settings, url: str) -> Page | Failure:
    return fetch_pages(s, [url])[url]


def page_paths(server: LocalServer) -> list[str]:
    return [p for p in server.paths() if p != "/robots.txt"]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address this process opens a TCP connection to (spy on socket.connect)."""
    seen: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return seen


# ---------------------------------------------------------------- basic answers
def test_ok_page(local_server: LocalServer) -> None:
    local_server.route("/a.html", Response(200, b"<html>hi</html>", {**HTML, "X-Thing": "1"}))
    page = fetch_one(settings(), local_server.url + "/a.html")
    assert isinstance(page, Page)
    assert page.status == 200 and page.body == b"<html>hi</html>"
    assert page.url == page.final_url == local_server.url + "/a.html"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["x-thing"] == "1"
    assert page.fetched_at.tzinfo is not None
    seen = next(r for r in local_server.requests if r.path == "/a.html")
    assert seen.headers["User-Agent"] == Settings().user_agent


def test_custom_user_agent(local_server: LocalServer) -> None:
    local_server.route("/a", Response(200, b"x"))
    fetch_one(settings(user_agent="libya-desk/2"), local_server.url + "/a")
    assert {r.headers["User-Agent"] for r in local_server.requests} == {"libya-desk/2"}


def test_404_is_failure_without_retry(local_server: LocalServer) -> None:
    result = fetch_one(settings(retries=3), local_server.url + "/missing")
    assert isinstance(result, Failure)
    assert (result.stage, result.reason) == ("fetch", "http_404")
    assert "HTTP 404" in result.detail and result.url == local_server.url + "/missing"
    assert page_paths(local_server) == ["/missing"]


def test_read_timeout(local_server: LocalServer) -> None:
    local_server.route("/slow", Response(200, b"late", delay=5.0))
    result = fetch_one(settings(read_timeout=0.3), local_server.url + "/slow")
    assert isinstance(result, Failure) and result.reason == "timeout"
    assert "timed out" in result.detail


@pytest.mark.timeout(60)
def test_giant_streamed_page_is_cut_off(local_server: LocalServer) -> None:
    # 4 GiB of filler: reading it all would take minutes and exhaust memory.
    local_server.route("/huge", Response(200, headers=HTML, chunked_body_size=1 << 32))
    result = fetch_one(settings(max_page_bytes=200_000), local_server.url + "/huge")
    assert isinstance(result, Failure) and result.reason == "too_large"
    assert "200,000-byte cap" in result.detail


@pytest.mark.timeout(60)
def test_declared_content_length_over_cap(local_server: LocalServer) -> None:
    big = 1 << 32
    local_server.route(
        "/big", Response(200, headers={**HTML, "Content-Length": str(big)}, chunked_body_size=big)
    )
    result = fetch_one(settings(max_page_bytes=200_000), local_server.url + "/big")
    assert isinstance(result, Failure) and result.reason == "too_large"
    assert "declares 4,294,967,296 bytes" in result.detail


def test_page_just_under_cap_is_kept(local_server: LocalServer) -> None:
    local_server.route("/fits", Response(200, headers=HTML, chunked_body_size=100_000))
    page = fetch_one(settings(max_page_bytes=100_000), local_server.url + "/fits")
    assert isinstance(page, Page) and len(page.body) == 100_000


# ---------------------------------------------------------------- redirects
def test_redirect_chain(local_server: LocalServer) -> None:
    local_server.route("/r1", Response(301, headers={"Location": "/r2"}))
    local_server.route("/r2", Response(302, headers={"Location": local_server.url + "/dir/r3"}))
    local_server.route("/dir/r3", Response(307, headers={"Location": "../final?x=1"}))
    local_server.route("/final", Response(200, b"done", HTML))
    page = fetch_one(settings(), local_server.url + "/r1")
    assert isinstance(page, Page) and page.body == b"done"
    assert page.url == local_server.url + "/r1"
    assert page.final_url == local_server.url + "/final?x=1"


def test_redirect_loop(local_server: LocalServer) -> None:
    local_server.route("/a", Response(302, headers={"Location": "/b"}))
    local_server.route("/b", Response(302, headers={"Location": "/a"}))
    result = fetch_one(settings(), local_server.url + "/a")
    assert isinstance(result, Failure) and result.reason == "too_many_redirects"
    assert "loop" in result.detail
    assert page_paths(local_server) == ["/a", "/b"]


def test_too_many_redirects(local_server: LocalServer) -> None:
    for i in range(5):
        local_server.route(f"/h{i}", Response(302, headers={"Location": f"/h{i + 1}"}))
    local_server.route("/h5", Response(200, b"end"))
    result = fetch_one(settings(max_redirects=2), local_server.url + "/h0")
    assert isinstance(result, Failure) and result.reason == "too_many_redirects"
    assert page_paths(local_server) == ["/h0", "/h1", "/h2"]
    ok = fetch_one(settings(max_redirects=5), local_server.url + "/h0")
    assert isinstance(ok, Page) and ok.body == b"end"


def test_redirect_to_private_address_refused_before_connecting(
    local_server: LocalServer, connections: list[Any]
) -> None:
    local_server.route("/go", Response(302, headers={"Location": "http://10.0.0.1/admin"}))
    result = fetch_one(settings(), local_server.url + "/go")
    assert isinstance(result, Failure) and result.reason == "refused_address"
    assert "10.0.0.1 is a private address" in result.detail
    assert "redirected from" in result.detail
    assert connections, "the spy saw no connection at all"
    assert {addr[0] for addr in connections} == {"127.0.0.1"}
    assert page_paths(local_server) == ["/go"]


def test_redirect_to_metadata_address_refused(
    local_server: LocalServer, connections: list[Any]
) -> None:
    local_server.route(
        "/meta", Response(301, headers={"Location": "http://169.254.169.254/latest/"})
    )
    result = fetch_one(settings(), local_server.url + "/meta")
    assert isinstance(result, Failure) and result.reason == "refused_address"
    assert {addr[0] for addr in connections} == {"127.0.0.1"}


def test_not_allow_listed_loopback_is_refused_without_request(connections: list[Any]) -> None:
    with LocalServer("127.0.0.2") as other:
        other.route("/a", Response(200, b"x"))
        result = fetch_one(settings(allow_hosts=["127.0.0.1"]), other.url + "/a")
        assert isinstance(result, Failure) and result.reason == "refused_address"
        assert "127.0.0.2 is a loopback address" in result.detail
        assert other.requests == [] and connections == []


def test_bad_scheme_refused(local_server: LocalServer) -> None:
    result = fetch_one(settings(), "file:///etc/passwd")
    assert isinstance(result, Failure) and result.reason == "refused_address"
    assert "only http and https" in result.detail


# ---------------------------------------------------------------- robots.txt
def test_robots_disallow_and_cached(local_server: LocalServer) -> None:
    local_server.route(
        "/robots.txt",
        Response(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"}),
    )
    local_server.route("/private/x", Response(200, b"secret"))
    local_server.route("/public/a", Response(200, b"a"))
    local_server.route("/public/b", Response(200, b"b"))
    base = local_server.url
    results = fetch_pages(settings(), [base + "/private/x", base + "/public/a", base + "/public/b"])
    blocked = results[base + "/private/x"]
    assert isinstance(blocked, Failure) and blocked.reason == "robots_disallowed"
    assert "robots.txt" in blocked.detail
    assert isinstance(results[base + "/public/a"], Page)
    assert local_server.paths().count("/robots.txt") == 1
    assert "/private/x" not in local_server.paths()


def test_robots_for_our_user_agent(local_server: LocalServer) -> None:
    local_server.route("/robots.txt", Response(200, b"User-agent: newswatch\nDisallow: /\n"))
    local_server.route("/a", Response(200, b"a"))
    result = fetch_one(settings(), local_server.url + "/a")
    assert isinstance(result, Failure) and result.reason == "robots_disallowed"
    other = fetch_one(settings(user_agent="otherbot/1"), local_server.url + "/a")
    assert isinstance(other, Page)


@pytest.mark.parametrize("status", [404, 500])
def test_robots_missing_or_broken_allows(local_server: LocalServer, status: int) -> None:
    local_server.route("/robots.txt", Response(status, b"nope"))
    local_server.route("/a", Response(200, b"a"))
    assert isinstance(fetch_one(settings(retries=0), local_server.url + "/a"), Page)


def test_robots_can_be_turned_off(local_server: LocalServer) -> None:
    local_server.route("/robots.txt", Response(200, b"User-agent: *\nDisallow: /\n"))
    local_server.route("/a", Response(200, b"a"))
    assert isinstance(fetch_one(settings(respect_robots=False), local_server.url + "/a"), Page)
    assert "/robots.txt" not in local_server.paths()


# ---------------------------------------------------------------- retries
def _flaky(first: Response, then: Response):
    calls = {"n": 0}

    def answer(_req: RequestRecord) -> Response:
        calls["n"] += 1
        return first if calls["n"] == 1 else then

    return answer


def test_503_then_200_is_retried(local_server: LocalServer) -> None:
    local_server.route("/f", _flaky(Response(503, b"busy"), Response(200, b"ok")))
    page = fetch_one(settings(retries=2), local_server.url + "/f")
    assert isinstance(page, Page) and page.body == b"ok"
    assert page_paths(local_server) == ["/f", "/f"]


def test_persistent_5xx_gives_up(local_server: LocalServer) -> None:
    local_server.route("/down", Response(502, b"bad gateway"))
    result = fetch_one(settings(retries=2), local_server.url + "/down")
    assert isinstance(result, Failure) and result.reason == "http_502"
    assert page_paths(local_server) == ["/down"] * 3


def test_429_with_retry_after(local_server: LocalServer) -> None:
    local_server.route(
        "/rl", _flaky(Response(429, b"slow down", {"Retry-After": "0"}), Response(200, b"ok"))
    )
    page = fetch_one(settings(retries=1, retry_backoff=30.0), local_server.url + "/rl")
    # retry_backoff=30 would make this test hang: Retry-After: 0 was honoured instead
    assert isinstance(page, Page) and page.body == b"ok"


def test_connection_refused_is_retried_then_fails() -> None:
    with LocalServer("127.0.0.1") as gone:
        url = gone.url + "/x"
    result = fetch_one(settings(retries=1), url)
    assert isinstance(result, Failure) and result.reason == "connect_error"


def test_retry_after_parsing() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("0") == 0.0
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("100000") == 60.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# ---------------------------------------------------------------- politeness
def test_host_delay_spaces_requests(local_server: LocalServer) -> None:
    for name in ("a", "b", "c"):
        local_server.route(f"/{name}", Response(200, name.encode()))
    s = settings(host_delay=1.0, per_host_concurrency=2, fetch_concurrency=8, respect_robots=False)
    base = local_server.url
    results = fetch_pages(s, [base + "/a", base + "/b", base + "/c"])
    assert all(isinstance(r, Page) for r in results.values())
    times = sorted(r.time for r in local_server.requests)
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0, gaps


def test_pages_on_several_hosts_fetched_concurrently() -> None:
    hosts = [f"127.0.0.{i}" for i in range(2, 6)]
    # Each page answers only once all 8 page requests are in flight at the same
    # time; fetched one by one (or one per host) they would wait in vain.
    barrier = threading.Barrier(8, timeout=20)

    def answer(_req: RequestRecord) -> Response:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return Response(500, b"requests were not concurrent")
        return Response(200, b"x")

    servers = [LocalServer(h).start() for h in hosts]
    try:
        urls = []
        for server in servers:
            for name in ("p1", "p2"):
                server.route(f"/{name}", answer)
                urls.append(f"{server.url}/{name}")
        s = settings(
            allow_hosts=hosts,
            host_delay=0.0,
            fetch_concurrency=8,
            per_host_concurrency=2,
            read_timeout=30.0,
            retries=0,
        )
        results = fetch_pages(s, urls)
        assert all(isinstance(r, Page) for r in results.values()), results
        arrivals = [r for srv in servers for r in srv.requests if r.path != "/robots.txt"]
        assert len(arrivals) == 8
    finally:
        barrier.abort()
        for server in servers:
            server.stop()


def test_global_concurrency_limit(local_server: LocalServer) -> None:
    for i in range(4):
        local_server.route(f"/p{i}", Response(200, b"x", delay=0.3))
    s = settings(fetch_concurrency=1, per_host_concurrency=4, respect_robots=False)
    fetch_pages(s, [f"{local_server.url}/p{i}" for i in range(4)])
    times = sorted(r.time for r in local_server.requests)
    # one at a time: each request arrives only after the previous one was answered
    assert all(b - a >= 0.3 for a, b in itertools.pairwise(times))


# ---------------------------------------------------------------- the sync entry point
def test_fetch_pages_mixed_batch_and_callback(local_server: LocalServer) -> None:
    local_server.route("/ok", Response(200, b"fine"))
    base = local_server.url
    urls = [base + "/ok", base + "/missing", "not a url", "http://10.0.0.1/", base + "/ok"]
    seen: list[tuple[str, str]] = []

    def on_result(url: str, result: Page | Failure) -> None:
        seen.append((url, "page" if isinstance(result, Page) else result.reason))

    results = fetch_pages(settings(), urls, on_result=on_result)
    assert set(results) == set(urls)
    assert isinstance(results[base + "/ok"], Page)
    assert sorted(seen) == sorted(
        [
            (base + "/ok", "page"),
            (base + "/missing", "http_404"),
            ("not a url", "refused_address"),
            ("http://10.0.0.1/", "refused_address"),
        ]
    )
    assert page_paths(local_server).count("/ok") == 1


def test_fetch_pages_inside_running_loop(local_server: LocalServer) -> None:
    local_server.route("/ok", Response(200, b"fine"))

    async def caller() -> dict[str, Page | Failure]:
        return fetch_pages(settings(), [local_server.url + "/ok"])

    results = asyncio.run(caller())
    assert isinstance(results[local_server.url + "/ok"], Page)


def test_shared_get_helper_passes_conditional_headers(local_server: LocalServer) -> None:
    local_server.route("/feed", Response(200, b"<rss/>", {"ETag": '"e1"'}))

    async def go() -> Any:
        async with PageFetcher(settings()) as fetcher:
            first = await fetcher.get(local_server.url + "/feed", check_robots=False)
            second = await fetcher.get(
                local_server.url + "/feed", {"If-None-Match": '"e1"'}, check_robots=False
            )
            return first, second

    first, second = asyncio.run(go())
    assert first.status == 200 and first.headers["etag"] == '"e1"'
    assert second.status == 304 and second.body == b""


def test_robots_crawl_delay_is_honoured(local_server: LocalServer) -> None:
    local_server.route("/robots.txt", Response(200, b"User-agent: *\nCrawl-delay: 1\n"))
    for name in ("a", "b"):
        local_server.route(f"/{name}", Response(200, name.encode()))
    base = local_server.url
    results = fetch_pages(settings(host_delay=0.0), [base + "/a", base + "/b"])
    assert all(isinstance(r, Page) for r in results.values())
    pages = sorted(r.time for r in local_server.requests if r.path != "/robots.txt")
    assert pages[1] - pages[0] >= 1.0
