"""Page -> Article: decode, extract the main text and metadata, date it honestly.

Pure: takes a fetched :class:`Page` (and its feed item, if any) and returns an
:class:`Article` or a :class:`Failure`. No network, no clock unless ``now`` is
omitted.

Text comes from the first method in this chain that yields at least
``min_text_chars`` characters, and the method is recorded:

- ``trafilatura``: balanced settings, comments excluded, tables kept (unless
  the whole page is a layout table);
- ``trafilatura_recall``: the same with ``favor_recall``;
- ``baseline``: trafilatura's plain fallback (embedded JSON article bodies,
  ``<article>``, paragraphs, then the whole body text);
- ``feed_summary``: the feed item's summary, HTML stripped.

The HTML is parsed once: trafilatura's text extraction, the metadata and the
date search all start from the same lxml tree (trafilatura and htmldate each
work on their own copy of it, so one cannot spoil the other's input).

``mode`` (setting ``NEWSWATCH_EXTRACTION_MODE``) chooses trafilatura's
extraction: ``fast`` skips its comparison with the readability/jusText
fallback algorithms, which costs about a third of a page's extraction time;
``balanced`` keeps it. ``benchmarks/extract_quality.py`` compares the two on the
project's real-looking pages; the recall and baseline steps of the chain below
still catch a page whose main text the first pass misses.

Dates keep their provenance (page, feed, URL, none). trafilatura's date search
is told to search only markup (no free-text guessing), to prefer the original
publication date, and to consult the URL last; a date that only the URL gave is
labelled ``url``, and a date in the future is refused at its step rather than
replaced by the fetch time.
"""

from __future__ import annotations

import contextlib
import html as htmllib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import lxml.html
from htmldate import find_date
from lxml import etree
from trafilatura import bare_extraction, baseline
from trafilatura import metadata as trafilatura_metadata
from trafilatura.utils import load_html

from pipeline import dedup
from pipeline.decode import decode_html
from pipeline.models import Article, DateSource, Failure, FeedItem, Page
from pipeline.textnorm import normalise_whitespace

__all__ = ["EXTRACTION_MODES", "extract_article", "is_html", "parse_page_date", "url_date"]

ExtractionMode = Literal["fast", "balanced"]
EXTRACTION_MODES: tuple[ExtractionMode, ...] = ("fast", "balanced")
DEFAULT_EXTRACTION_MODE: ExtractionMode = "fast"

FUTURE_TOLERANCE = timedelta(days=1)
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

# Content types that are certainly not a web page.
_NOT_HTML_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_NOT_HTML_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/json",
        "application/javascript",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/rss+xml",
        "application/atom+xml",
        "text/css",
        "text/javascript",
        "text/csv",
    }
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Magic numbers of formats that servers mislabel as text/html.
_BINARY_MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
    b"OggS",
    b"ID3",
)
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|p|div|article|title|meta)\b", re.IGNORECASE)
# What the magic bytes are, for the message: say what was sent, not what it was called.
_MAGIC_NAMES = {
    b"%PDF-": "PDF",
    b"\x89PNG": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"GIF8": "GIF image",
    b"PK\x03\x04": "ZIP archive",
    b"\x1f\x8b": "gzip",
    b"RIFF": "RIFF media",
    b"OggS": "Ogg media",
    b"ID3": "MP3 audio",
}

# The same shape htmldate looks for (so that a date it read from the URL is
# recognised as such), plus compact /YYYYMMDD/ path segments.
_URL_DATE = re.compile(
    r"\D(?P<y>(?:19|20)\d{2})[/_-](?P<m>0?[1-9]|1[0-2])[/_-](?P<d>0?[1-9]|[12]\d|3[01])(?:\D|$)"
)
_URL_DATE_COMPACT = re.compile(
    r"/(?P<y>(?:19|20)\d{2})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])/"
)

_HTML_LANG = re.compile(
    r"<html\b[^>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])", re.IGNORECASE
)
_META_LANG = re.compile(
    r"<meta\b[^>]*?(?:http-equiv\s*=\s*[\"']?content-language|property\s*=\s*[\"']?og:locale)"
    r"[^>]*?content\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])",
    re.IGNORECASE,
)
LANG_SCAN_CHARS = 16384


# --- content type ---------------------------------------------------------


def _header(headers: dict[str, str], name: str) -> str | None:
    name = name.lower()
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def is_html(content_type: str | None, body: bytes) -> bool:
    """Whether a body is worth handing to an HTML extractor.

    The bytes have the last word over the header: a PDF served as text/html is
    not HTML. A missing or vague header (octet-stream, text/plain) is accepted
    when the first bytes look like markup.
    """
    head = body[:1024].lstrip()
    if head.startswith(_BINARY_MAGIC):
        return False
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in _HTML_TYPES:
        return True
    if mime in _NOT_HTML_TYPES or mime.startswith(_NOT_HTML_PREFIXES):
        return False
    return bool(_MARKUP.search(body[:4096]))


# --- dates ----------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_page_date(value: str | None) -> datetime | None:
    """A date string from htmldate/trafilatura -> aware UTC datetime (midnight if no time)."""
    if not value:
        return None
    value = value.strip()
    for fmt in (_DATE_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return _aware(datetime.strptime(value, fmt))
        except ValueError:
            continue
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def url_date(url: str) -> datetime | None:
    """A date written in a URL: /2020/11/24/, /2020-11-24-slug, _2020_11_24, /20201124/."""
    parts = urlsplit(url)
    where = f"{parts.path}?{parts.query}" if parts.query else parts.path
    for pattern in (_URL_DATE, _URL_DATE_COMPACT):
        match = pattern.search(where)
        if match:
            try:
                day = date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                continue
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return None


def _not_future(value: datetime | None, now: datetime) -> datetime | None:
    if value is None or value > now + FUTURE_TOLERANCE:
        return None
    return value


def _date_params() -> dict[str, Any]:
    """htmldate settings: markup only, original date, URL consulted last.

    ``max_date`` is left far ahead on purpose: given a nearer bound, htmldate
    drops a future date and may fall back to a truncated guess (the first of
    that month); a future date is refused here instead, by :func:`_choose_date`.
    """
    return {
        "original_date": True,
        "extensive_search": False,
        "deferred_url_extractor": True,
        "max_date": "2999-12-31",
        "outputformat": _DATE_FORMAT,
    }


def _page_date(html: Any, found: str | None, urls: tuple[str, ...]) -> datetime | None:
    """The page's own date, not one htmldate read from the URL.

    htmldate only falls back to the URL when the markup gave nothing, so a
    result equal to a URL's date is suspect: the markup is searched once more
    without any URL to tell the two apart.
    """
    value = parse_page_date(found)
    if value is None:
        return None
    from_urls = {d.date() for u in urls if u and (d := url_date(u)) is not None}
    if value.date() not in from_urls:
        return value
    params = {k: v for k, v in _date_params().items() if k != "deferred_url_extractor"}
    return parse_page_date(find_date(html, url="", **params))


def _choose_date(
    page_value: datetime | None, item: FeedItem | None, urls: tuple[str, ...], now: datetime
) -> tuple[datetime | None, DateSource]:
    candidate = _not_future(page_value, now)
    if candidate is not None:
        return candidate, "page"
    if item is not None and item.published is not None:
        candidate = _not_future(_aware(item.published), now)
        if candidate is not None:
            return candidate, "feed"
    for url in urls:
        candidate = _not_future(url_date(url), now) if url else None
        if candidate is not None:
            return candidate, "url"
    return None, "none"


# --- canonical URL, language, small text helpers ---------------------------


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def choose_canonical(declared: str | None, final_url: str) -> str:
    """The declared canonical URL if trustworthy, else the final URL, normalised.

    Trusted only when it is http(s), on the same host as the final URL (``www.``
    ignored) and not the site's home page: sites often declare the home page or
    a syndication partner as canonical, which would merge unrelated articles.
    """
    chosen = final_url
    if declared:
        absolute = urljoin(final_url, declared.strip())
        parts = urlsplit(absolute)
        if (
            parts.scheme in {"http", "https"}
            and _host(absolute) == _host(final_url)
            and (parts.path.strip("/") or parts.query)
        ):
            chosen = absolute
    return dedup.canonical_url(chosen)


def page_lang(html: str) -> str | None:
    """Two-letter language declared by the page (<html lang>, content-language, og:locale)."""
    head = html[:LANG_SCAN_CHARS]
    for pattern in (_HTML_LANG, _META_LANG):
        match = pattern.search(head)
        if match:
            code = match.group(1).lower()
            if len(code) == 2:
                return code
    return None


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment (feed summaries often carry markup and entities)."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment:
        return normalise_whitespace(htmllib.unescape(fragment))
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ValueError, etree.ParserError):
        return normalise_whitespace(htmllib.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    for bad in root.xpath(".//script|.//style"):
        bad.drop_tree()
    for br in root.xpath(".//br|.//p|.//div|.//li"):
        br.tail = "\n\n" + (br.tail or "")
    return normalise_whitespace(root.text_content())


def paragraphs(text: str | None) -> str:
    """One paragraph per line from trafilatura -> paragraphs separated by blank lines."""
    if not text:
        return ""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def split_authors(value: str | None) -> list[str]:
    if not value:
        return []
    seen: dict[str, None] = {}
    for name in value.split(";"):
        name = " ".join(name.split())
        if name and name.casefold() not in {s.casefold() for s in seen}:
            seen[name] = None
    return list(seen)


# --- text extraction chain -------------------------------------------------


def _mostly_table(text: str) -> bool:
    """Whether trafilatura's text is a page-layout table (nav and footer cells and all)."""
    rows = sum(len(line) for line in text.splitlines() if line.lstrip().startswith("|"))
    return rows * 2 > len(text)


def _trafilatura(tree: Any, url: str, *, recall: bool, fast: bool, tables: bool = True) -> Any:
    try:
        return bare_extraction(
            tree,  # trafilatura works on a copy of a tree it is given
            url=url,
            fast=fast,
            favor_recall=recall,
            include_comments=False,
            include_tables=tables,
            with_metadata=False,
            date_extraction_params=_date_params(),
        )
    except (ValueError, TypeError, AttributeError):
        # trafilatura signals "nothing usable" with None, but odd trees can
        # still raise from deep inside lxml; treat both the same way.
        return None


def _metadata(tree: Any, url: str) -> Any:
    """Title, author, canonical URL, description and date: what the Article uses.

    The same steps as ``trafilatura.metadata.extract_metadata`` up to the date,
    without the site name, categories, tags and licence, which the pipeline
    does not keep and which cost about a third of a page's extraction time.
    """
    m = trafilatura_metadata
    try:
        doc = m.examine_meta(tree)
        if doc.author and " " not in doc.author:
            doc.author = None  # a single word is rarely a byline (as trafilatura does)
        with contextlib.suppress(Exception):  # malformed JSON-LD: keep the meta tags' values
            doc = m.extract_meta_json(tree, doc)
        doc.title = doc.title or m.extract_title(tree)
        doc.author = doc.author or m.extract_author(tree)
        doc.url = doc.url or m.extract_url(tree, url)
        params = {**_date_params(), "url": doc.url}
        doc.date = find_date(tree, **params)
        doc.clean_and_trim()
        return doc
    except (ValueError, TypeError, AttributeError):
        return None


def _baseline(html: str) -> str:
    try:
        _, text, _ = baseline(html)
    except (ValueError, TypeError, AttributeError):
        return ""
    return text


def _extract_text(
    html: str, tree: Any, url: str, item: FeedItem | None, min_chars: int, fast: bool
) -> tuple[Any, str, str, int]:
    """-> (metadata document or None, text, method, longest length seen)."""
    doc = _trafilatura(tree, url, recall=False, fast=fast) if tree is not None else None
    meta = _metadata(tree, url) if tree is not None else None
    text = paragraphs(doc.text if doc is not None else None)
    if text and _mostly_table(text):
        # Tables are kept for data tables inside articles; an old site laid out
        # in tables instead yields its menus and footer as table cells.
        untabled = _trafilatura(tree, url, recall=False, fast=fast, tables=False)
        plain = paragraphs(untabled.text if untabled is not None else None)
        if len(plain) >= min_chars:
            text = plain
    best = len(text)
    if best >= min_chars:
        return meta, text, "trafilatura", best

    recall = _trafilatura(tree, url, recall=True, fast=fast) if tree is not None else None
    text = paragraphs(recall.text if recall is not None else None)
    best = max(best, len(text))
    if len(text) >= min_chars:
        return meta, text, "trafilatura_recall", best

    text = paragraphs(_baseline(html))
    best = max(best, len(text))
    if len(text) >= min_chars:
        return meta, text, "baseline", best

    text = strip_html(item.summary) if item is not None else ""
    best = max(best, len(text))
    if len(text) >= min_chars:
        return meta, text, "feed_summary", best
    return meta, "", "", best


# --- the stage ---------------------------------------------------------------


def extract_article(
    page: Page,
    item: FeedItem | None,
    *,
    min_text_chars: int = 200,
    now: datetime | None = None,
    mode: ExtractionMode = DEFAULT_EXTRACTION_MODE,
) -> Article | Failure:
    """Decode and extract one fetched page into an Article, or say why not."""
    if mode not in EXTRACTION_MODES:
        raise ValueError(f"extraction mode {mode!r} is not one of {', '.join(EXTRACTION_MODES)}")
    now = _aware(now) if now is not None else datetime.now(UTC)
    content_type = _header(page.headers, "content-type")
    if not page.body or not page.body.strip():
        return Failure("extract", "empty", "the page body is empty", url=page.url)
    if not is_html(content_type, page.body):
        mime = (content_type or "unknown").split(";", 1)[0].strip()
        head = page.body[:1024].lstrip()
        kind = next((name for magic, name in _MAGIC_NAMES.items() if head.startswith(magic)), None)
        detail = (
            f"the body is {kind} bytes (served as {mime}), not a web page"
            if kind
            else f"content type {mime} is not a web page"
        )
        return Failure("extract", "not_html", detail, page.url)

    html, encoding = decode_html(page.body, content_type)
    final_url = page.final_url or page.url
    try:
        tree = load_html(html)
    except (ValueError, TypeError, etree.ParserError):
        tree = None  # the trafilatura steps find nothing; the baseline and feed summary may
    meta, text, method, best = _extract_text(
        html, tree, final_url, item, min_text_chars, fast=mode == "fast"
    )
    if not text:
        return Failure(
            "extract",
            "too_short",
            f"longest text found is {best} characters (minimum {min_text_chars}); "
            f"decoded as {encoding}",
            url=page.url,
        )

    declared = getattr(meta, "url", None)
    canonical = choose_canonical(declared, final_url)
    urls = (final_url, canonical, page.url)
    page_value = _page_date(tree if tree is not None else html, getattr(meta, "date", None), urls)
    published, date_source = _choose_date(page_value, item, urls, now)

    title = " ".join((getattr(meta, "title", None) or "").split())
    description = " ".join((getattr(meta, "description", None) or "").split())
    return Article(
        id=dedup.article_id(canonical),
        url=page.url,
        canonical_url=canonical,
        source=item.feed if item is not None else "",
        title=title or (" ".join(item.title.split()) if item is not None else ""),
        text=text,
        lang=page_lang(html) or (item.lang if item is not None else None),
        authors=split_authors(getattr(meta, "author", None)),
        published=published,
        date_source=date_source,
        fetched_at=page.fetched_at,
        summary=description or (strip_html(item.summary) if item is not None else ""),
        extraction_method=method,
        content_hash=dedup.content_hash(text),
        story_id="",
    )
