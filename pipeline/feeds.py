"""Feed configuration, parsing and polling.

- :func:`load_feeds` reads ``feeds.yaml`` and says exactly which entry is wrong.
- :func:`parse_feed` is pure: bytes in, items and a warning out. A malformed
  ("bozo") feed still yields whatever entries feedparser recovered; the
  warning is kept so the user can tell the publisher.
- :func:`poll_feeds` does the HTTP: a conditional GET per feed (ETag /
  Last-Modified -> 304), concurrently, through the same :class:`PageFetcher`
  as pages (same private-address guard, caps, retries and per-host delay).
  robots.txt is not consulted for feeds: a feed is a URL the user configured
  on purpose, and publishing a feed is an invitation to poll it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import feedparser
import yaml
from feedparser.exceptions import NonXMLContentType
from lxml import html as lxml_html

from pipeline.config import Settings
from pipeline.decode import XML_DECLARATION, decode_xml
from pipeline.errors import ConfigError
from pipeline.fetch import HttpResult, PageFetcher, run_sync
from pipeline.models import Failure, FeedItem, FeedSource
from pipeline.textnorm import normalise_whitespace

DEFAULT_INTERVAL = 600
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between us and the publisher
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"

PollStatus = Literal["ok", "not_modified", "failed"]
Validators = Mapping[str, tuple[str | None, str | None]]


class NotAFeed(ValueError):
    """The body is not RSS or Atom at all (an HTML page, JSON, an empty answer)."""


# ---------------------------------------------------------------- configuration
def parse_interval(value: object) -> int:
    """Seconds from ``600``, ``"600"``, ``"45s"``, ``"10m"``, ``"1h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError(f"interval must be seconds or like '10m', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _INTERVAL_RE.match(value)):
        seconds = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    else:
        raise ValueError(f"interval must be seconds or like '10m', '1h', got {value!r}")
    if seconds < 1:
        raise ValueError(f"interval must be at least 1 second, got {value!r}")
    return int(seconds)


def _url_problem(url: str) -> str | None:
    """None if ``url`` is a well-formed http(s) URL with a host, else what is wrong."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a port that is not a number in 0-65535
    except ValueError as exc:
        return f"bad url {url!r} ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"bad url {url!r} (need an http:// or https:// URL with a host)"
    return None


def _check_url(url: object) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "missing 'url'"
    return _url_problem(url.strip())


def load_feeds(path: Path) -> list[FeedSource]:
    """Read the feeds file: ``feeds: [{name, url, lang, interval?}]``.

    Every problem in the file is reported at once, each naming its entry, so
    a user fixes the file in one go.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"feeds file {path} not found (set NEWSWATCH_FEEDS_FILE to another file)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read feeds file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"feeds file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise ConfigError(f"feeds file {path} must have a top-level 'feeds:' list")

    sources: list[FeedSource] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["feeds"], start=1):
        if not isinstance(entry, dict):
            problems.append(f"entry {index}: expected a mapping with name and url, got {entry!r}")
            continue
        name = entry.get("name")
        label = f"entry {index} ({name!r})" if name else f"entry {index}"
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{label}: missing 'name'")
            continue
        name = name.strip()
        if name in seen:
            problems.append(f"{label}: duplicate name {name!r}")
            continue
        seen.add(name)
        url_problem = _check_url(entry.get("url"))
        if url_problem:
            problems.append(f"{label}: {url_problem}")
            continue
        lang = entry.get("lang")
        if lang is not None and (not isinstance(lang, str) or not lang.strip()):
            problems.append(f"{label}: 'lang' must be a language code like 'en' or 'ar'")
            continue
        try:
            interval = parse_interval(entry.get("interval", DEFAULT_INTERVAL))
        except ValueError as exc:
            problems.append(f"{label}: {exc}")
            continue
        sources.append(
            FeedSource(
                name=name,
                url=str(entry["url"]).strip(),
                lang=lang.strip().lower() if lang else None,
                interval=interval,
            )
        )
    if problems:
        raise ConfigError(f"feeds file {path}: " + "; ".join(problems))
    return sources


# ---------------------------------------------------------------- parsing
def _plain_text(fragment: str) -> str:
    """Feed summaries are HTML fragments; keep their text only."""
    if not fragment or "<" not in fragment:
        return normalise_whitespace(fragment or "")
    try:
        return normalise_whitespace(lxml_html.fromstring(fragment).text_content())
    except Exception:  # lxml refuses some fragments (e.g. only a comment)
        return normalise_whitespace(re.sub(r"<[^>]+>", " ", fragment))


def _entry_date(entry: Any, now: datetime) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                when = datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
            return None if when > now + FUTURE_TOLERANCE else when
    return None


def _primary_lang(code: object) -> str | None:
    if not isinstance(code, str) or not code.strip():
        return None
    return code.strip().replace("_", "-").split("-")[0].lower() or None


def _as_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The feed re-encoded as UTF-8, decoded the way pages are (:mod:`pipeline.decode`).

    feedparser falls back to windows-1252 when a feed says nothing about its
    encoding, which turns windows-1256 Arabic into Latin mojibake; the
    project's decoder detects it. The XML declaration and the HTTP charset are
    rewritten to say utf-8, so feedparser reads the bytes as they now are.
    """
    text, _codec = decode_xml(body, headers.get("content-type"))
    data = text.encode("utf-8")
    match = XML_DECLARATION.match(data)
    if match:
        data = data[: match.start(1)] + b"utf-8" + data[match.end(1) :]
    media_type = (headers.get("content-type") or "").split(";", 1)[0].strip()
    if media_type:
        headers = {**headers, "content-type": f"{media_type}; charset=utf-8"}
    return data, headers


def parse_feed(
    source: FeedSource,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> tuple[list[FeedItem], str | None]:
    """Items of one feed body and the warning to record (None if clean).

    Raises :class:`NotAFeed` when the body is no RSS/Atom at all. Entries
    without a usable http(s) link, or with a malformed one (a bad port, an
    unclosed IPv6 bracket), are skipped and counted in the warning;
    repeated entries (same guid and link) are kept once. A date in the future
    is dropped (None), never replaced by the fetch time.
    """
    now = now or datetime.now(UTC)
    response_headers = {k.lower(): v for k, v in headers.items()}
    if not body.strip():
        raise NotAFeed(f"{source.url} is not an RSS or Atom feed (the answer was empty)")
    body, response_headers = _as_utf8(body, response_headers)
    parsed = feedparser.parse(body, response_headers=response_headers)
    version = parsed.get("version", "")
    if not version and not parsed.entries:
        why = parsed.get("bozo_exception")
        detail = f" ({type(why).__name__}: {why})" if why else ""
        raise NotAFeed(f"{source.url} is not an RSS or Atom feed{detail}")

    warnings: list[str] = []
    exc = parsed.get("bozo_exception")
    # A feed served as text/html or without a Content-Type is common and harmless:
    # feedparser flags it, but the document itself parsed, so that is no warning.
    if parsed.get("bozo") and not isinstance(exc, NonXMLContentType):
        warnings.append(f"malformed feed: {type(exc).__name__}: {exc}")

    feed_lang = source.lang or _primary_lang(parsed.feed.get("language"))
    items: list[FeedItem] = []
    seen: set[tuple[str, str]] = set()
    no_link = 0
    bad_links: list[str] = []
    for entry in parsed.entries:
        link = (entry.get("link") or "").strip()
        try:  # relative links are resolved against the configured feed URL
            link = urljoin(source.url, link) if link else ""
            scheme = urlsplit(link).scheme
        except ValueError:  # e.g. "http://[::1/": an unclosed IPv6 bracket
            scheme = "http"
        if not link or scheme not in ("http", "https"):
            no_link += 1
            continue
        if _url_problem(link) is not None:
            bad_links.append(link)
            continue
        guid = (entry.get("id") or "").strip() or link
        # The same guid with another link is another article (a recycled guid):
        # kept, and the store files it as a new item and warns.
        if (guid, link) in seen:
            continue
        seen.add((guid, link))
        items.append(
            FeedItem(
                feed=source.name,
                guid=guid,
                link=link,
                title=_plain_text(entry.get("title", "")),
                summary=_plain_text(entry.get("summary", "")),
                published=_entry_date(entry, now),
                lang=feed_lang,
            )
        )
    if no_link:
        warnings.append(f"{no_link} entr{'y' if no_link == 1 else 'ies'} without an http(s) link")
    if bad_links:
        n = len(bad_links)
        warnings.append(
            f"{n} entr{'y' if n == 1 else 'ies'} with a malformed link, e.g. {bad_links[0][:200]!r}"
        )
    return items, "; ".join(warnings) or None


# ---------------------------------------------------------------- polling
@dataclass
class FeedPoll:
    """What one poll of one feed gave."""

    source: FeedSource
    status: PollStatus
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    items: list[FeedItem] = field(default_factory=list)
    warning: str | None = None
    failure: Failure | None = None


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Request headers for a poll: what we accept, and the stored validators."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def poll_result(
    source: FeedSource, result: HttpResult | Failure, previous: tuple[str | None, str | None]
) -> FeedPoll:
    """Turn one HTTP outcome into a FeedPoll (pure: no I/O).

    A failed poll keeps the previous validators, so the next poll can still
    be conditional.
    """
    old_etag, old_lm = previous
    if isinstance(result, Failure):
        status_code = int(result.reason[5:]) if result.reason.startswith("http_") else None
        failure = Failure("feeds", result.reason, result.detail, source.url)
        return FeedPoll(source, "failed", status_code, old_etag, old_lm, failure=failure)
    etag = result.headers.get("etag") or old_etag
    last_modified = result.headers.get("last-modified") or old_lm
    if result.status == 304:
        return FeedPoll(source, "not_modified", 304, etag, last_modified)
    try:
        items, warning = parse_feed(source, result.body, result.headers)
    except NotAFeed as exc:
        failure = Failure("feeds", "not_a_feed", str(exc), source.url)
        return FeedPoll(source, "failed", result.status, old_etag, old_lm, failure=failure)
    except Exception as exc:  # a parser crash on one feed never sinks the run
        failure = Failure("feeds", "parse_error", f"{source.url}: {exc!r}", source.url)
        return FeedPoll(source, "failed", result.status, old_etag, old_lm, failure=failure)
    return FeedPoll(source, "ok", result.status, etag, last_modified, items, warning)


async def _poll_all(
    settings: Settings, sources: list[FeedSource], validators: Validators
) -> list[FeedPoll]:
    async with PageFetcher(settings) as fetcher:

        async def one(source: FeedSource) -> FeedPoll:
            previous = validators.get(source.name, (None, None))
            try:
                result = await fetcher.get(
                    source.url,
                    conditional_headers(*previous),
                    max_bytes=settings.max_feed_bytes,
                    stage="feeds",
                    check_robots=False,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad feed never sinks the run
                result = Failure("feeds", "error", f"{source.url}: {exc!r}", source.url)
            return poll_result(source, result, previous)

        return list(await asyncio.gather(*(one(s) for s in sources)))


def poll_feeds(
    settings: Settings,
    sources: list[FeedSource],
    validators: Validators,
) -> list[FeedPoll]:
    """Poll every feed once (conditional GET), in the order given.

    ``validators`` maps a feed name to its stored ``(etag, last_modified)``.
    """
    if not sources:
        return []
    return run_sync(lambda: _poll_all(settings, sources, validators))


def check_feeds(settings: Settings, sources: list[FeedSource]) -> list[FeedPoll]:
    """``newswatch feeds check``: poll each feed unconditionally, keep no state."""
    return poll_feeds(settings, sources, {})
