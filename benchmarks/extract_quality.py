"""Extraction quality by trafilatura mode, on the project's real-looking pages.

Two sets, each page run through ``extract_article`` (decoding, the fallback
chain and all) once per mode:

- the demo site's article pages as its server serves them (English and
  Arabic, several layouts and encodings): the gold text is the source page's
  ``<div class="article-body">``; scored by word-level
  precision, recall and F1 (bags of normalised words, as the public
  article-extraction benchmarks score);
- the extraction test pages (``tests/pages``: boilerplate-heavy, windows-1256,
  table layout, script-rendered, comment container, footer-wrapped): the gold
  is the sentences a reader needs and the boilerplate that must stay out;
  scored as sentences kept and junk leaked.

Run: ``.venv/bin/python -m benchmarks.extract_quality``. Prints a table per
set and a JSON line; ``tests/test_extract_quality.py`` asserts that the
product's mode loses nothing against ``balanced`` here.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.dedup import words
from pipeline.demo import corpus
from pipeline.extract import EXTRACTION_MODES, extract_article
from pipeline.models import Article, FeedItem, Page

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "pipeline" / "demo" / "site"
TEST_PAGES = ROOT / "tests" / "pages"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
_BODY = re.compile(rb'<div class="article-body">(.*?)</div>', re.S)
_TAG = re.compile(r"<[^>]+>")

# tests/pages: (file, content type, sentences that must be kept, junk that must stay out).
# The sentences and junk are those tests/test_extract.py names for each page.
TEST_PAGE_GOLD: tuple[tuple[str, str | None, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "en_boilerplate.html",
        "text/html; charset=utf-8",
        (
            "Residents of the coastal town of Abu Grein said on Tuesday",
            "included pick-up trucks mounted with heavy machine guns and several fuel tankers.",
            "to refrain from any movement of troops that could be seen as a provocation.",
        ),
        (
            "We use cookies",
            "Contact us",
            "ADVERTISEMENT",
            "Sponsored",
            "Related stories",
            "Central bank announces unified exchange rate",
            "This is fake news",
            "Leave a reply",
            "All rights reserved",
            "Subscribe to our newsletter",
            "Share this article",
        ),
    ),
    (
        "ar_cp1256_meta.html",
        "text/html",
        (
            "أفاد شهود عيان في مدينة سرت بأن أرتالا مسلحة تضم عشرات السيارات المزودة بأسلحة ثقيلة",
            "ونفى متحدث باسم القوات التابعة لحكومة الوفاق وجود أي تحشيد جديد",
            "مخاوف من انهيار المسار السياسي الذي ترعاه الأمم المتحدة.",
        ),
        ("جميع الحقوق محفوظة",),
    ),
    (
        "ar_cp1256_nometa.html",
        None,
        (
            "أفاد شهود عيان في مدينة سرت بأن أرتالا مسلحة تضم عشرات السيارات المزودة بأسلحة ثقيلة",
            "ونفى متحدث باسم القوات التابعة لحكومة الوفاق وجود أي تحشيد جديد",
            "مخاوف من انهيار المسار السياسي الذي ترعاه الأمم المتحدة.",
        ),
        ("جميع الحقوق محفوظة",),
    ),
    (
        "utf8_bom.html",
        "text/html",
        ("met again in a café-turned-conference room in Tunis", "“last chance”"),
        (),
    ),
    (
        "ugly_tables.html",
        "text/html",
        (
            "first container ship in three years on Monday",
            "unloaded in under two days — a pace",
            "Dock workers said they had not been paid for four months",
        ),
        ("Best viewed", "Archive"),
    ),
    (
        "script_rendered.html",
        "text/html",
        ("exports would resume from the terminals of Ras Lanuf and Es Sider",),
        ("enable JavaScript",),
    ),
    (
        "footer_wrapped.html",
        "text/html",
        ("pumping station", "return to their homes before the end of the week."),
        (),
    ),
    (
        "comment_container.html",
        "text/html",
        ("three journalists detained in Tripoli last week", "stopped at a checkpoint"),
        (),
    ),
)


@dataclass
class Score:
    precision: float
    recall: float
    f1: float


def word_score(got: str, gold: str) -> Score:
    """Bag-of-words P/R/F1 of an extraction against the gold text."""
    g, r = Counter(words(got)), Counter(words(gold))
    overlap = sum((g & r).values())
    p = overlap / sum(g.values()) if g else 0.0
    rec = overlap / sum(r.values()) if r else 0.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    return Score(p, rec, f1)


def _page(body: bytes, url: str, content_type: str | None) -> Page:
    headers = {"Content-Type": content_type} if content_type else {}
    return Page(url, url, 200, headers, body, NOW)


def _extract(page: Page, mode: str) -> str:
    feed_item = FeedItem(feed="bench", guid=page.url, link=page.url, title="", summary="")
    result = extract_article(page, feed_item, now=NOW, mode=mode)  # type: ignore[arg-type]
    return result.text if isinstance(result, Article) else ""


def demo_pages() -> list[tuple[str, Page, str]]:
    """(path, page as the demo server serves it, gold text) for every demo article page.

    The pages are the demo site's routes (bodies, encodings and Content-Type
    headers as served: two Arabic pages in windows-1256); the gold is the
    article body of the UTF-8 source file.
    """
    base = "http://127.0.0.1:8000"
    out = []
    for path, route in sorted(corpus.build_routes(base).items()):
        source = DEMO_SITE / path.lstrip("/")
        if not path.endswith(".html") or route.status != 200 or not source.is_file():
            continue
        match = _BODY.search(source.read_bytes())
        if not match:
            continue
        gold = htmllib.unescape(_TAG.sub(" ", match.group(1).decode("utf-8")))
        page = Page(base + path, base + path, 200, route.headers, route.body, NOW)
        out.append((path.lstrip("/"), page, gold))
    return out


def score_demo(mode: str) -> dict[str, Score]:
    return {rel: word_score(_extract(page, mode), gold) for rel, page, gold in demo_pages()}


def score_test_pages(mode: str) -> dict[str, tuple[int, int, int, int]]:
    """{page: (sentences kept, sentences, junk leaked, junk)}."""
    out = {}
    for name, ctype, keep, junk in TEST_PAGE_GOLD:
        raw = (TEST_PAGES / name).read_bytes()
        text = _extract(_page(raw, f"https://news.example.ly/{name}", ctype), mode)
        text_flat = " ".join(text.split())
        kept = sum(1 for s in keep if s in text_flat)
        leaked = sum(1 for j in junk if j in text_flat)
        out[name] = (kept, len(keep), leaked, len(junk))
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    summary: dict[str, dict[str, float]] = {}
    demo = {}
    tests = {}
    seconds = {}
    for mode in EXTRACTION_MODES:
        t0 = time.perf_counter()
        demo[mode] = score_demo(mode)
        tests[mode] = score_test_pages(mode)
        seconds[mode] = time.perf_counter() - t0  # the first mode also pays the imports
    print("demo site article pages: word-level P / R / F1 against the article body")
    print(f"{'page':<58} " + "  ".join(f"{m:>20}" for m in EXTRACTION_MODES))
    for rel in demo[EXTRACTION_MODES[0]]:
        cells = [
            f"{s.precision:.3f} {s.recall:.3f} {s.f1:.3f}"
            for s in (demo[m][rel] for m in EXTRACTION_MODES)
        ]
        print(f"{rel:<58} " + "  ".join(f"{c:>20}" for c in cells))
    for mode in EXTRACTION_MODES:
        values = list(demo[mode].values())
        summary[mode] = {
            "demo_pages": len(values),
            "demo_mean_precision": round(_mean([s.precision for s in values]), 4),
            "demo_mean_recall": round(_mean([s.recall for s in values]), 4),
            "demo_mean_f1": round(_mean([s.f1 for s in values]), 4),
        }
    print("\ntests/pages: sentences kept / expected, junk leaked / listed")
    for name in tests[EXTRACTION_MODES[0]]:
        cells = ["{}/{} kept, {}/{} leaked".format(*tests[m][name]) for m in EXTRACTION_MODES]
        print(f"{name:<30} " + "  ".join(f"{c:>24}" for c in cells))
    for mode in EXTRACTION_MODES:
        rows = tests[mode].values()
        summary[mode]["test_sentences_kept"] = sum(r[0] for r in rows)
        summary[mode]["test_sentences"] = sum(r[1] for r in rows)
        summary[mode]["test_junk_leaked"] = sum(r[2] for r in rows)
        summary[mode]["seconds_both_sets"] = round(seconds[mode], 3)
    print()
    for mode, row in summary.items():
        print(
            f"{mode:<9} demo mean F1 {row['demo_mean_f1']:.4f} "
            f"(P {row['demo_mean_precision']:.4f}, R {row['demo_mean_recall']:.4f}); "
            f"test pages {row['test_sentences_kept']}/"
            f"{row['test_sentences']} sentences kept, {row['test_junk_leaked']} junk leaked; "
            f"{row['seconds_both_sets']:.2f} s"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
