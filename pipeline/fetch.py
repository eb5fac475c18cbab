"""Polite HTTP for pages (and the shared GET helper the feed poller uses).

Every request goes through one :class:`PageFetcher`, which enforces, in order:

1. the private-address guard (:mod:`pipeline.netguard`) on the URL and on
   *every* redirect hop, before any connection is made (redirects are
   followed by hand, never by httpx);
2. robots.txt (protego), fetched once per origin and cached for the
   fetcher's life;
3. politeness: at most ``fetch_concurrency`` requests at once overall, at
   most ``per_host_concurrency`` per host, and at least ``host_delay``
   seconds between two requests to one host (or the site's robots.txt
   Crawl-delay, if larger, capped);
4. caps: connect/read timeouts, an overall deadline per request (headers and
   body: a server that drips one byte every few seconds never trips the read
   timeout, but it does trip this), and a body size cap that holds *while
   decoding* every Content-Encoding layer (:class:`pipeline.decode.BodyDecoder`:
   ``gzip, gzip`` bombs stop at the cap) and refuses a larger
   Content-Length up front;
5. retries with exponential backoff on 429 (honouring Retry-After, capped),
   5xx and connection errors. Other 4xx answers fail at once.

Each outcome is a value: a :class:`~pipeline.models.Page` or a
:class:`~pipeline.models.Failure` with a short ``reason`` key and a sentence
a user can act on. One bad URL never raises out of :func:`fetch_pages`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from pipeline.config import Settings
from pipeline.decode import BodyDecoder, BodyTooLarge, EncodingError
from pipeline.models import Failure, Page
from pipeline.netguard import check_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_RETRY_AFTER = 60.0  # seconds: a server asking for longer is not waited for in one run
MAX_CRAWL_DELAY = 30.0  # seconds: cap on a robots.txt Crawl-delay
MAX_ROBOTS_BYTES = 512_000  # Google reads the first 500 KiB of a robots.txt

T = TypeVar("T")
ResultCallback = Callable[[str, Page | Failure], None]


@dataclass(slots=True)
class HttpResult:
    """A final (non-redirect) answer: 2xx, or 304 to a conditional GET."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class _HostGate:
    """Per-host politeness: a slot count and the time the last request got going."""

    slots: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: float = float("-inf")
    delay: float = 0.0


class _Retry(Exception):
    """An attempt that may succeed if tried again (429, 5xx, connection error)."""

    def __init__(self, failure: Failure, wait: float | None = None) -> None:
        super().__init__(failure.detail)
        self.failure = failure
        self.wait = wait


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta or HTTP date), capped; None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _host_key(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class PageFetcher:
    """One polite HTTP client for a run. Use as ``async with PageFetcher(settings) as f``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._global = asyncio.Semaphore(settings.fetch_concurrency)
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, Protego | None] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        # Hosts that missed the deadline once: the rest of their URLs wait for the next
        # run instead of each holding a slot for the whole deadline again.
        self._slow_hosts: set[str] = set()
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            # Only codings the bounded decoder undoes; httpx would add br/zstd when installed.
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=None,  # waiting for a slot is governed by our own semaphores
            ),
            limits=httpx.Limits(
                max_connections=settings.fetch_concurrency + 4,
                max_keepalive_connections=settings.fetch_concurrency,
            ),
            trust_env=False,  # never route through an ambient proxy: the guard checks real hosts
        )

    async def __aenter__(self) -> PageFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------ public
    async def fetch_page(self, url: str) -> Page | Failure:
        """Fetch one article page; never raises for a bad URL or a bad server."""
        try:
            result = await self.get(url, max_bytes=self.settings.max_page_bytes)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one bad item never sinks a run
            return Failure("fetch", "error", f"unexpected error fetching {url}: {exc!r}", url)
        if isinstance(result, Failure):
            return result
        if not 200 <= result.status < 300:
            return Failure(
                "fetch", f"http_{result.status}", f"{url} answered HTTP {result.status}", url
            )
        return Page(
            url=url,
            final_url=result.final_url,
            status=result.status,
            headers=result.headers,
            body=result.body,
            fetched_at=datetime.now(UTC),
        )

    async def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        max_bytes: int | None = None,
        stage: str = "fetch",
        check_robots: bool = True,
    ) -> HttpResult | Failure:
        """GET ``url`` with the guard, robots.txt, politeness, caps, retries and redirects.

        Returns the final 2xx or 304 answer; anything else is a Failure whose
        ``stage`` is ``stage`` (so the feed poller reports its own stage).
        """
        cap = max_bytes if max_bytes is not None else self.settings.max_page_bytes
        visited: list[str] = []
        current = url
        while True:
            refusal = check_url(current, self.settings.allow_hosts)
            if refusal is not None:
                hop = "" if current == url else f" (redirected from {url})"
                verb = "cannot look up" if refusal.reason == "dns_error" else "refused"
                return Failure(stage, refusal.reason, f"{verb} {current}{hop}: {refusal}", url)
            if check_robots and self.settings.respect_robots and not await self._allowed(current):
                return Failure(
                    stage,
                    "robots_disallowed",
                    f"robots.txt of {_origin(current)} disallows {current} "
                    f"for user agent {self.settings.user_agent!r}",
                    url,
                )
            visited.append(current)
            result = await self._with_retries(current, headers or {}, cap, stage, url)
            if isinstance(result, Failure):
                return result
            status, resp_headers, body = result
            if status not in REDIRECT_STATUSES or "location" not in resp_headers:
                if 200 <= status < 300 or status == 304:
                    return HttpResult(url, current, status, resp_headers, body)
                return Failure(stage, f"http_{status}", f"{current} answered HTTP {status}", url)
            target = urljoin(current, resp_headers["location"].strip())
            if target in visited:
                return Failure(
                    stage,
                    "too_many_redirects",
                    f"redirect loop: {current} sends back to {target}",
                    url,
                )
            if len(visited) > self.settings.max_redirects:
                return Failure(
                    stage,
                    "too_many_redirects",
                    f"more than {self.settings.max_redirects} redirects starting at {url}",
                    url,
                )
            current = target

    # ------------------------------------------------------------ robots.txt
    async def _allowed(self, url: str) -> bool:
        """robots.txt verdict. A robots.txt that is missing (4xx) or unreachable
        (5xx, timeout, refused, too large) allows everything: its absence is not
        a prohibition, and one broken file should not stop a whole site."""
        origin = _origin(url)
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self._robots:
                self._robots[origin] = await self._load_robots(origin)
        parser = self._robots[origin]
        if parser is None:
            return True
        return bool(parser.can_fetch(url, self.settings.user_agent))

    async def _load_robots(self, origin: str) -> Protego | None:
        result = await self.get(
            origin + "/robots.txt", max_bytes=MAX_ROBOTS_BYTES, stage="robots", check_robots=False
        )
        if isinstance(result, Failure) or result.status != 200:
            return None
        try:
            parser = Protego.parse(result.body.decode("utf-8", errors="replace"))
        except Exception:  # a garbled robots.txt is treated like a missing one
            return None
        delay = parser.crawl_delay(self.settings.user_agent)
        if delay:
            gate = self._gate(_host_key(origin))
            gate.delay = max(gate.delay, min(float(delay), MAX_CRAWL_DELAY))
        return parser

    # ------------------------------------------------------------ one request
    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = _HostGate(
                slots=asyncio.Semaphore(self.settings.per_host_concurrency),
                delay=self.settings.host_delay,
            )
            self._gates[host] = gate
        return gate

    async def _with_retries(
        self, url: str, headers: dict[str, str], cap: int, stage: str, asked: str
    ) -> tuple[int, dict[str, str], bytes] | Failure:
        attempt = 0
        while True:
            try:
                return await self._attempt(url, headers, cap, stage, asked)
            except _Retry as retry:
                if attempt >= self.settings.retries:
                    return retry.failure
                backoff = self.settings.retry_backoff * (2**attempt)
                await asyncio.sleep(retry.wait if retry.wait is not None else backoff)
                attempt += 1

    async def _attempt(
        self, url: str, headers: dict[str, str], cap: int, stage: str, asked: str
    ) -> tuple[int, dict[str, str], bytes] | Failure:
        """One request. Raises _Retry for answers worth retrying.

        With a host delay, the host's lock is held until the answer's headers
        arrive, and the next request to that host waits ``delay`` from then:
        so the spacing holds as the server sees it, not just as we sent it.
        """
        host = urlsplit(url).netloc.lower()  # host and port: one slow service, not the host
        if host in self._slow_hosts:
            return Failure(
                stage,
                "too_slow",
                f"skipped {url}: {host} did not answer within the "
                f"{self.settings.fetch_deadline:g} s deadline earlier in this run",
                asked,
            )
        gate = self._gate(_host_key(url))
        async with gate.slots:
            await gate.lock.acquire()
            held = True
            try:
                wait = gate.last + gate.delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                async with self._global:
                    gate.last = time.monotonic()
                    if gate.delay <= 0:
                        gate.lock.release()
                        held = False
                    deadline = self.settings.fetch_deadline
                    try:
                        async with asyncio.timeout(deadline):
                            async with self._client.stream("GET", url, headers=headers) as resp:
                                if held:
                                    gate.last = time.monotonic()
                                    gate.lock.release()
                                    held = False
                                return await self._read(resp, url, cap, stage, asked)
                    except TimeoutError:
                        # Not retried: a server this slow would hold the run up again.
                        self._slow_hosts.add(host)
                        return Failure(
                            stage,
                            "too_slow",
                            f"{url} did not finish its answer within {deadline:g} s "
                            "(NEWSWATCH_FETCH_DEADLINE covers headers and body)",
                            asked,
                        )
                    except httpx.TimeoutException as exc:
                        kind = (
                            "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "reading"
                        )
                        failure = Failure(
                            stage,
                            "timeout",
                            f"timed out {kind} {url} ({type(exc).__name__})",
                            asked,
                        )
                        if isinstance(exc, httpx.ConnectTimeout):
                            raise _Retry(failure) from exc
                        return failure
                    except httpx.ConnectError as exc:
                        raise _Retry(
                            Failure(
                                stage, "connect_error", f"could not connect to {url}: {exc}", asked
                            )
                        ) from exc
                    except httpx.TransportError as exc:
                        return Failure(
                            stage, "network_error", f"network error on {url}: {exc!r}", asked
                        )
                    except httpx.DecodingError as exc:
                        return Failure(
                            stage,
                            "bad_encoding",
                            f"{url} sent a body that does not match its Content-Encoding ({exc})",
                            asked,
                        )
            finally:
                if held:
                    gate.last = time.monotonic()
                    gate.lock.release()

    async def _read(
        self, resp: httpx.Response, url: str, cap: int, stage: str, asked: str
    ) -> tuple[int, dict[str, str], bytes] | Failure:
        status = resp.status_code
        resp_headers = {k.lower(): v for k, v in resp.headers.items()}
        if status == 429 or 500 <= status < 600:
            raise _Retry(
                Failure(stage, f"http_{status}", f"{url} answered HTTP {status}", asked),
                wait=retry_after_seconds(resp_headers.get("retry-after"))
                if status == 429
                else None,
            )
        if status in REDIRECT_STATUSES or status == 304 or not 200 <= status < 300:
            return status, resp_headers, b""  # body not needed: don't read it
        declared = resp_headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return Failure(
                stage,
                "too_large",
                f"{url} declares {int(declared):,} bytes, over the {cap:,}-byte cap",
                asked,
            )
        try:
            decoder = BodyDecoder(resp_headers.get("content-encoding"), cap)
            chunks: list[bytes] = []
            async for raw in resp.aiter_raw():
                chunks.extend(decoder.feed(raw))
            chunks.extend(decoder.finish())
        except BodyTooLarge:
            layers = resp_headers.get("content-encoding", "").strip()
            how = f" once its Content-Encoding ({layers}) is undone" if layers else ""
            return Failure(
                stage, "too_large", f"{url} sent more than the {cap:,}-byte cap{how}", asked
            )
        except EncodingError as exc:
            return Failure(
                stage,
                "bad_encoding",
                f"{url} sent a body that does not match its Content-Encoding ({exc})",
                asked,
            )
        return status, resp_headers, b"".join(chunks)


# ---------------------------------------------------------------- sync entry point
async def _fetch_all(
    settings: Settings, urls: Sequence[str], on_result: ResultCallback | None
) -> dict[str, Page | Failure]:
    results: dict[str, Page | Failure] = {}
    async with PageFetcher(settings) as fetcher:

        async def one(url: str) -> None:
            result = await fetcher.fetch_page(url)
            results[url] = result
            if on_result is not None:
                on_result(url, result)

        await asyncio.gather(*(one(u) for u in dict.fromkeys(urls)))
    return results


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    In a plain thread this is ``asyncio.run``; if the calling thread already
    runs a loop (a notebook, an async web handler), a helper thread runs it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["value"]
    return result


def fetch_pages(
    settings: Settings, urls: Sequence[str], on_result: ResultCallback | None = None
) -> dict[str, Page | Failure]:
    """Fetch ``urls`` politely; ``on_result(url, page_or_failure)`` as each one finishes.

    Runs its own event loop (safe from a plain thread); ``on_result`` is
    called on that loop's thread. Duplicate URLs are fetched once.
    """
    return run_sync(lambda: _fetch_all(settings, urls, on_result))
