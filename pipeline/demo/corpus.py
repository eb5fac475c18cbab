"""The bundled demo corpus: made-up Libya news outlets served from 127.0.0.1.

``newswatch demo`` and the integration tests ingest this site to show (and
check) the whole product without internet access. It is written to exercise
every hard case the pipeline promises to handle, each in a known place:

* four outlets: RSS 2.0 (Libya Monitor), Atom (Coastline Wire), Arabic RSS in
  windows-1256 (Al-Waha News) and a malformed RSS feed (Tripoli Dispatch);
  a fifth feed (Benghazi Bulletin) has no route and answers 404;
* the canonical mobilisation report, a syndicated near-copy on another outlet
  (same story id), and one page linked under two URLs (tracking parameters)
  that must collapse to one article id;
* an Arabic mobilisation report served as windows-1256 with neither an HTTP
  charset nor a meta charset, so the decoder must detect it;
* a page with no date except the feed's, and a page whose meta date is in 2099
  (rejected: the feed date wins);
* problem routes that a run must report with a reason while everything else
  is ingested: a slow page (timeout), a giant page (too large), a redirect to a
  private address (refused before connecting) and a deleted page (404).

The site is kept as readable files under ``site/``. Absolute links are
written as ``{base}/path`` and the server's URL is substituted at serve time,
since the port is only known once the server has started. Files meant to be
served as windows-1256 are stored as UTF-8 (easier to edit and diff) and
encoded when the routes are built; the Arabic feed's XML declaration already
says ``encoding="windows-1256"``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.localserver import LocalServer, Response
from pipeline.models import FeedSource

SITE_DIR = Path(__file__).resolve().parent / "site"
BASE_PLACEHOLDER = "{base}"

# --- named places in the corpus (URL paths on the demo server)
CANONICAL_PATH = "/news/2020/11/24/haftar-mobilising-forces-towards-sirte.html"
SYNDICATED_PATH = "/wire/2020/11/24/gna-accuses-haftar-of-troop-build-up.html"
DUPLICATE_PATH = "/news/2020/01/18/oil-ports-shut-noc-force-majeure.html"
TRACKING_QUERY = "utm_source=rss&utm_medium=feed"
DUPLICATE_TRACKED_PATH = f"{DUPLICATE_PATH}?{TRACKING_QUERY}"
ARABIC_PROBE_PATH = "/ar/2020/11/25/haftar-forces-mobilise-sirte-jufra.html"
ARABIC_PROBE_WORD = "تحشيدات"  # "mobilisations": only in ARABIC_PROBE_PATH
ARABIC_META_CHARSET_PATH = "/ar/2020/01/13/truce-violation-shelling-ain-zara.html"
ARABIC_UTF8_PATH = "/ar/2022/04/18/protesters-shut-sharara-field.html"
UNDATED_PATH = "/stories/gharyan-municipal-official-abducted.html"
FUTURE_DATED_PATH = "/stories/zawiya-clashes-coastal-road.html"
SLOW_PATH = "/news/2021/03/15/unity-government-sworn-in-tobruk.html"
GIANT_PATH = "/news/2021/04/02/full-text-2021-budget-law.html"
REDIRECT_PATH = "/news/2021/05/06/sebha-council-statement.html"
MISSING_PAGE_PATH = "/news/2021/06/07/benghazi-port-reopens.html"
MISSING_FEED_PATH = "/feeds/benghazi-bulletin.rss"

SLOW_PAGE_DELAY = 4.0  # seconds; the demo reads with a 2 s timeout
GIANT_PAGE_BYTES = 8_000_000  # over the 5 MB cap (NEWSWATCH_MAX_PAGE_BYTES default)
PRIVATE_REDIRECT_TARGET = "http://10.255.255.1/private"  # must be refused, never contacted

# Served as windows-1256 bytes, Content-Type without charset. The first has no
# meta charset either (detection only); the second declares it in a meta tag.
WINDOWS_1256_PAGES = frozenset({ARABIC_PROBE_PATH, ARABIC_META_CHARSET_PATH})

HTML_UTF8 = "text/html; charset=utf-8"
HTML_NO_CHARSET = "text/html"
# A fixed date keeps ETag/Last-Modified stable across runs, so the second poll is a 304.
FEED_LAST_MODIFIED = "Mon, 07 Jun 2021 07:00:00 GMT"


@dataclass(frozen=True, slots=True)
class DemoFeed:
    """One feed of the demo site and how it is served."""

    name: str
    path: str
    lang: str
    file: str | None  # under site/feeds/; None: no route (404)
    content_type: str = "application/rss+xml"
    encoding: str = "utf-8"  # the bytes sent; files are stored as UTF-8
    last_modified: bool = False  # also send Last-Modified (besides ETag)


FEEDS: tuple[DemoFeed, ...] = (
    DemoFeed(
        "libya-monitor",
        "/feeds/libya-monitor.rss",
        "en",
        "libya-monitor.rss",
        content_type="application/rss+xml; charset=utf-8",
        last_modified=True,
    ),
    DemoFeed(
        "coastline-wire",
        "/feeds/coastline-wire.atom",
        "en",
        "coastline-wire.atom",
        content_type="application/atom+xml; charset=utf-8",
    ),
    # No charset in the header: the XML declaration (windows-1256) decides.
    DemoFeed("al-waha", "/feeds/al-waha.rss", "ar", "al-waha.rss", encoding="windows-1256"),
    DemoFeed(
        "tripoli-dispatch",
        "/feeds/tripoli-dispatch.rss",
        "en",
        "tripoli-dispatch.rss",
        content_type="application/rss+xml; charset=utf-8",
    ),
    DemoFeed("benghazi-bulletin", MISSING_FEED_PATH, "en", None),
)
MALFORMED_FEED = "tripoli-dispatch"
# What each deliberate failure of the demo shows, for the demo's closing note.
DELIBERATE_FAILURES: dict[str, str] = {
    "timeout": "a page that answers too slowly",
    "too_large": "an 8 MB page, over the 5,000,000-byte cap (NEWSWATCH_MAX_PAGE_BYTES)",
    "refused_address": "a redirect to a private address, refused before connecting",
    "http_404": "a missing page and a missing feed",
}
MISSING_FEED = "benghazi-bulletin"

DEMO_SETTINGS: dict[str, object] = {
    "read_timeout": 2.0,
    "connect_timeout": 2.0,
    "max_page_bytes": 5_000_000,  # the product default (README): the giant page is 8 MB
    "host_delay": 0.0,
    "allow_hosts": ["127.0.0.1"],
    "retries": 0,
    "retry_backoff": 0.0,
    "fetch_concurrency": 8,
    "per_host_concurrency": 8,
}


# Every page that a demo run must store, for the ingest, enrichment and alert tests:
# "published"/"date_source" are the date the pipeline must keep and where it comes
# from; "events" are the event types the story is written to report (the main
# ones, not an exhaustive list).
ARTICLES: dict[str, dict[str, object]] = {
    CANONICAL_PATH: {
        "feed": "libya-monitor",
        "lang": "en",
        "published": "2020-11-24T11:40:00+02:00",
        "date_source": "page",
        "events": ["mobilisation", "ceasefire_violation", "foreign_forces"],
    },
    SYNDICATED_PATH: {
        "feed": "coastline-wire",
        "lang": "en",
        "published": "2020-11-24T16:05:00+02:00",
        "date_source": "page",
        "events": ["mobilisation", "ceasefire_violation", "foreign_forces"],
    },
    DUPLICATE_PATH: {
        "feed": "libya-monitor",  # also listed (untracked URL) by coastline-wire
        "lang": "en",
        "published": "2020-01-18T19:20:00+02:00",
        "date_source": "page",
        "events": ["oil_blockade"],
    },
    "/news/2020/10/23/geneva-permanent-ceasefire-signed.html": {
        "feed": "libya-monitor",
        "lang": "en",
        "published": "2020-10-23T14:15:00+02:00",
        "date_source": "page",
        "events": ["ceasefire_agreement", "foreign_forces"],
    },
    # Hard negative: "mobilisation of funds" is not a military mobilisation.
    "/news/2020/11/09/tunis-political-dialogue-opens.html": {
        "feed": "libya-monitor",
        "lang": "en",
        "published": "2020-11-09T17:30:00+02:00",
        "date_source": "page",
        "events": ["political_dialogue"],
    },
    "/news/2020/07/05/airstrikes-hit-al-watiya-air-base.html": {
        "feed": "libya-monitor",
        "lang": "en",
        "published": "2020-07-05T21:45:00+02:00",
        "date_source": "page",
        "events": ["airstrike", "foreign_forces"],
    },
    "/news/2020/05/09/rockets-hit-mitiga-airport.html": {
        "feed": "libya-monitor",
        "lang": "en",
        "published": "2020-05-09T13:05:00+02:00",
        "date_source": "page",
        "events": ["shelling"],
    },
    UNDATED_PATH: {
        "feed": "libya-monitor",
        "lang": "en",
        "published": "2022-02-08T14:30:00+02:00",
        "date_source": "feed",
        "events": ["violence_against_civilians"],
    },
    FUTURE_DATED_PATH: {
        "feed": "libya-monitor",
        "lang": "en",
        "published": "2022-01-22T18:00:00+02:00",
        "date_source": "feed",
        "page_meta_date": "2099-01-01T00:00:00+00:00",
        "events": ["armed_clash"],
    },
    "/wire/2023/08/15/tripoli-clashes-444-brigade-radaa.html": {
        "feed": "coastline-wire",
        "lang": "en",
        "published": "2023-08-15T08:50:00+02:00",
        "date_source": "page",
        "events": ["armed_clash", "arrest_detention"],
    },
    "/wire/2019/08/10/car-bomb-kills-un-staff-benghazi.html": {
        "feed": "coastline-wire",
        "lang": "en",
        "published": "2019-08-10T18:30:00+02:00",
        "date_source": "page",
        "events": ["explosion"],
    },
    "/wire/2024/04/20/russian-forces-expand-presence-jufra.html": {
        "feed": "coastline-wire",
        "lang": "en",
        "published": "2024-04-20T10:00:00+02:00",
        "date_source": "page",
        "events": ["foreign_forces"],
    },
    "/dispatch/2020/06/05/gna-forces-enter-tarhuna.html": {
        "feed": "tripoli-dispatch",
        "lang": "en",
        "published": "2020-06-05T16:20:00+02:00",
        "date_source": "page",
        "events": ["territory_change"],
    },
    "/dispatch/2020/06/11/mass-graves-found-in-tarhuna.html": {
        "feed": "tripoli-dispatch",
        "lang": "en",
        "published": "2020-06-11T12:00:00+02:00",
        "date_source": "page",
        "events": ["violence_against_civilians"],
    },
    "/dispatch/2022/03/02/misrata-fuel-smuggling-arrests.html": {
        "feed": "tripoli-dispatch",
        "lang": "en",
        "published": "2022-03-02T09:15:00+02:00",
        "date_source": "page",
        "events": ["arrest_detention"],
    },
    ARABIC_PROBE_PATH: {
        "feed": "al-waha",
        "lang": "ar",
        "published": "2020-11-25T10:30:00+02:00",
        "date_source": "page",
        "events": ["mobilisation", "ceasefire_violation", "foreign_forces"],
    },
    ARABIC_META_CHARSET_PATH: {
        "feed": "al-waha",
        "lang": "ar",
        "published": "2020-01-13T22:10:00+02:00",
        "date_source": "page",
        "events": ["ceasefire_violation", "shelling"],
    },
    ARABIC_UTF8_PATH: {
        "feed": "al-waha",
        "lang": "ar",
        "published": "2022-04-18T12:45:00+02:00",
        "date_source": "page",
        "events": ["oil_blockade", "protest"],
    },
}

# The page behind SLOW_PATH is a real article too: with a generous timeout it
# would be ingested; the demo's 2 s read timeout makes it fail on purpose.
SLOW_ARTICLE: dict[str, object] = {
    "feed": "libya-monitor",
    "lang": "en",
    "published": "2021-03-15T15:00:00+02:00",
    "date_source": "page",
    "events": ["political_dialogue"],
}

EXPECTED: dict[str, object] = {
    "feeds": {"total": len(FEEDS), "ok": len(FEEDS) - 1, "failed": 1},
    "bozo_feeds": [MALFORMED_FEED],
    "failed_feeds": {MISSING_FEED: "http_404"},
    # Entries per feed, and over all feeds (the items a first run sees as new).
    "items_per_feed": {
        "libya-monitor": 12,
        "coastline-wire": 5,
        "al-waha": 3,
        "tripoli-dispatch": 3,
    },
    "items": 23,
    "articles": len(ARTICLES),  # articles stored after the first run
    "article_paths": sorted(ARTICLES),
    # The page listed under two URLs (one with tracking parameters) gives two feed
    # items but one article id: one of the two is a duplicate.
    "duplicates": 1,
    "failed": {"timeout": 1, "too_large": 1, "refused_address": 1, "http_404": 2},
    "failed_paths": {
        SLOW_PATH: "timeout",
        GIANT_PATH: "too_large",
        REDIRECT_PATH: "refused_address",
        MISSING_PAGE_PATH: "http_404",
        MISSING_FEED_PATH: "http_404",
    },
    "exact_duplicates": [(DUPLICATE_TRACKED_PATH, DUPLICATE_PATH)],  # same article id
    "near_duplicates": [(CANONICAL_PATH, SYNDICATED_PATH)],  # same story id
    "canonical_path": CANONICAL_PATH,
    "arabic_probe": {"path": ARABIC_PROBE_PATH, "word": ARABIC_PROBE_WORD},
    # The stories written as mobilisation reports: the canonical one and its
    # syndicated copy (one story, so one alert per rule), and the Arabic report.
    "mobilisation_paths": [CANONICAL_PATH, SYNDICATED_PATH, ARABIC_PROBE_PATH],
}


def _read(rel: str) -> str:
    return (SITE_DIR / rel).read_text(encoding="utf-8")


def _fill(text: str, base_url: str) -> str:
    return text.replace(BASE_PLACEHOLDER, base_url.rstrip("/"))


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _page_files() -> list[Path]:
    """Every article page: the .html files outside the site's meta folders."""
    out = []
    for path in sorted(SITE_DIR.rglob("*.html")):
        rel = path.relative_to(SITE_DIR)
        if rel.parts[0].startswith("_") or rel.as_posix() == "index.html":
            continue
        out.append(path)
    return out


def build_routes(base_url: str) -> dict[str, Response]:
    """Every route of the demo site, bodies filled with ``base_url``, headers set."""
    routes: dict[str, Response] = {}

    for feed in FEEDS:
        if feed.file is None:
            continue
        body = _fill(_read(f"feeds/{feed.file}"), base_url).encode(feed.encoding)
        headers = {"Content-Type": feed.content_type, "ETag": _etag(body)}
        if feed.last_modified:
            headers["Last-Modified"] = FEED_LAST_MODIFIED
        routes[feed.path] = Response(body=body, headers=headers)

    for file in _page_files():
        path = "/" + file.relative_to(SITE_DIR).as_posix()
        text = _fill(file.read_text(encoding="utf-8"), base_url)
        if path in WINDOWS_1256_PAGES:
            body, ctype = text.encode("windows-1256"), HTML_NO_CHARSET
        else:
            body, ctype = text.encode("utf-8"), HTML_UTF8
        delay = SLOW_PAGE_DELAY if path == SLOW_PATH else 0.0
        routes[path] = Response(body=body, headers={"Content-Type": ctype}, delay=delay)

    routes["/"] = Response(
        body=_fill(_read("index.html"), base_url).encode("utf-8"),
        headers={"Content-Type": HTML_UTF8},
    )
    routes["/robots.txt"] = Response(
        body=_read("robots.txt").encode("utf-8"),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    routes["/static/site.css"] = Response(
        body=_read("static/site.css").encode("utf-8"),
        headers={"Content-Type": "text/css; charset=utf-8"},
    )
    routes[GIANT_PATH] = Response(
        headers={"Content-Type": HTML_UTF8}, chunked_body_size=GIANT_PAGE_BYTES
    )
    routes[REDIRECT_PATH] = Response(
        status=302, headers={"Location": PRIVATE_REDIRECT_TARGET, "Content-Length": "0"}
    )
    routes[MISSING_PAGE_PATH] = Response(
        status=404,
        body=_fill(_read("_errors/not-found.html"), base_url).encode("utf-8"),
        headers={"Content-Type": HTML_UTF8},
    )
    return routes


def start_demo_server(host: str = "127.0.0.1", port: int = 0) -> LocalServer:
    """Start a LocalServer with every demo route registered; the caller stops it."""
    server = LocalServer(host=host, port=port).start()
    try:
        for path, response in build_routes(server.url).items():
            server.route(path, response)
    except BaseException:
        server.stop()
        raise
    return server


def demo_feeds(base_url: str) -> list[FeedSource]:
    """The demo's feeds, including the malformed and the missing (404) one."""
    base = base_url.rstrip("/")
    return [FeedSource(name=f.name, url=base + f.path, lang=f.lang, interval=600) for f in FEEDS]


def write_feeds_file(base_url: str, path: Path) -> Path:
    """Write the demo feeds as a feeds.yaml (same format as the real one)."""
    data = {
        "feeds": [
            {"name": f.name, "url": f.url, "lang": f.lang, "interval": "10m"}
            for f in demo_feeds(base_url)
        ]
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# newswatch demo feeds (served from the local demo server)\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path
