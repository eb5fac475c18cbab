"""The search page in real headless Chromium (Debian's ``chromium``, driven by Playwright).

The app runs on a real uvicorn server on 127.0.0.1 over the ingested demo
corpus. Each acceptance step saves a screenshot under ``test-artifacts/``.
Without Chromium these tests skip, except in CI (NEWSWATCH_REQUIRE_SERVERS=1),
where they fail: ``scripts/install-browser.sh`` installs it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver import (
    SCRIPT_ID,
    SCRIPT_TITLE,
    add_hostile_article,
    canonical_id,
    ingest_demo,
    running_app,
)
from servers import servers_required

from pipeline.demo.corpus import EXPECTED

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLS_PROBE = """
window.__cls = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
}).observe({ type: "layout-shift", buffered: true });
"""


def _need_browser() -> Any:
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "playwright is not installed (pip install -e '.[dev]')"
    if why is None and not CHROMIUM.exists():
        why = "Chromium is not installed (run scripts/install-browser.sh)"
    if why:
        if servers_required():
            pytest.fail(f"{why}; NEWSWATCH_REQUIRE_SERVERS=1 makes this a failure", pytrace=False)
        pytest.skip(why)
    return sync_playwright


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings, demo_url = ingest_demo(tmp_path_factory.mktemp("page") / "data")
    add_hostile_article(settings)
    with running_app(settings) as url:
        yield {"url": url, "canonical": canonical_id(demo_url), "demo_url": demo_url}


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    sync_playwright = _need_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=LAUNCH_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    pg = browser_context.new_page()
    pg.problems = []  # console errors, page errors, CSP reports, dialogs
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    pg.on(
        "console",
        lambda m: pg.problems.append(f"console: {m.text}") if m.type == "error" else None,
    )
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg
    pg.close()


def search(page: Any, text: str) -> None:
    box = page.locator("#q")
    box.fill("")
    box.type(text)
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#results').getAttribute('aria-busy') === 'false'"
    )


def story_count(page: Any) -> int:
    """Stories in the count line ("18 articles in 17 stories", or "3 articles")."""
    text = page.locator("#result-count").inner_text()
    m = re.search(r"in (\d+) stor", text)
    return int(m.group(1)) if m else int(text.split()[0])


def hit_ids(page: Any) -> list[str]:
    return page.locator("#results > li.hit").evaluate_all("els => els.map(e => e.dataset.id)")


def test_search_chip_and_article_flow(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/")
    search(page, "mobilisation AND Sirte")
    assert "q=mobilisation+AND+Sirte" in page.url
    ids = hit_ids(page)
    assert ids and ids[0] == site["canonical"]
    first = page.locator("#results > li.hit").first
    marks = first.locator(".snippet mark").all_text_contents()
    assert {m.lower() for m in marks} >= {"mobilisation", "sirte"}
    page.screenshot(path=str(ARTIFACTS / "page-01-search.png"), full_page=True)

    before = int(page.locator("#result-count").inner_text().split()[0])
    first.locator("button.chip.event", has_text=re.compile(r"^mobilisation$")).click()
    page.wait_for_url(re.compile(r"event=mobilisation"))
    page.wait_for_function(
        "() => document.querySelector('#results').getAttribute('aria-busy') === 'false'"
    )
    after = int(page.locator("#result-count").inner_text().split()[0])
    assert 1 <= after <= before
    assert page.locator("#active-filters .chip", has_text="event: mobilisation").count() == 1
    for hit in page.locator("#results > li.hit").all():
        assert hit.locator("button.chip.event", has_text="mobilisation").count() >= 1
    assert hit_ids(page)[0] == site["canonical"]
    page.screenshot(path=str(ARTIFACTS / "page-02-event-chip.png"), full_page=True)

    page.locator("#results > li.hit").first.locator("h3 a").click()
    page.wait_for_url(re.compile(r"/articles/" + site["canonical"]))
    evidence = page.locator("mark.evidence[data-event='mobilisation']")
    evidence.first.wait_for()
    article = page.request.get(f"{site['url']}/api/articles/{site['canonical']}").json()
    wanted = next(e["evidence"] for e in article["events"] if e["type"] == "mobilisation")
    assert wanted in evidence.all_text_contents()
    assert page.locator("#article h1").inner_text() == article["title"]
    original = page.locator("#article dd a[rel='noopener noreferrer']")
    assert original.get_attribute("href") == article["url"]
    assert page.locator("#article").get_by_text(article["extraction_method"]).count() >= 1
    page.screenshot(path=str(ARTIFACTS / "page-03-article-evidence.png"), full_page=True)
    assert not [p for p in page.problems if "Content Security Policy" in p or "pageerror" in p]

    page.go_back()  # the search with its filter comes back from the address
    page.wait_for_url(re.compile(r"event=mobilisation"))
    assert page.locator("#q").input_value() == "mobilisation AND Sirte"


def test_event_chip_strictly_narrows_a_mixed_result_list(page: Any, site: dict[str, Any]) -> None:
    """On a query whose hits are not all mobilisation reports, the chip removes the others.

    (Every hit of "mobilisation AND Sirte" already has the event, so the flow above
    cannot tell a chip that filters from one that only changes the address.)
    """
    import httpx

    page.goto(site["url"] + "/")
    search(page, "Haftar")
    before = hit_ids(page)
    with_event = [
        h["id"]
        for h in httpx.get(
            f"{site['url']}/api/search",
            params={"q": "Haftar", "event": "mobilisation", "collapse": "true", "size": 50},
        ).json()["hits"]
    ]
    assert with_event and len(with_event) < len(before)  # the corpus makes this a real test
    chips = page.locator("#results > li.hit button.chip.event", has_text=re.compile(r"^mobil"))
    chips.first.click()
    page.wait_for_url(re.compile(r"event=mobilisation"))
    page.wait_for_function(
        "() => document.querySelector('#results').getAttribute('aria-busy') === 'false'"
    )
    after = hit_ids(page)
    assert sorted(after) == sorted(with_event)
    assert len(after) < len(before)
    assert story_count(page) == len(with_event)


def test_arabic_query_finds_the_arabic_page_right_to_left(page: Any, site: dict[str, Any]) -> None:
    from pipeline.dedup import article_id

    page.goto(site["url"] + "/")
    word = EXPECTED["arabic_probe"]["word"]
    search(page, word)
    assert page.locator("#q").evaluate("e => e.matches(':dir(rtl)')")
    ids = hit_ids(page)
    assert ids[0] == article_id(site["demo_url"] + EXPECTED["arabic_probe"]["path"])
    title = page.locator("#results > li.hit h3").first
    assert title.get_attribute("lang") == "ar"
    assert title.evaluate("e => getComputedStyle(e).direction") == "rtl"
    snippet = page.locator("#results > li.hit .snippet").first
    assert snippet.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert word in snippet.locator("mark").all_text_contents()
    page.screenshot(path=str(ARTIFACTS / "page-04-arabic-results.png"), full_page=True)

    page.locator("#results > li.hit h3 a").first.click()
    page.locator("#article .text p").first.wait_for()
    assert page.locator("#article h1").evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.locator("#article .text").evaluate("e => getComputedStyle(e).direction") == "rtl"
    page.screenshot(path=str(ARTIFACTS / "page-05-arabic-article.png"), full_page=True)


def test_script_title_is_shown_literally(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/?q=hostile")
    page.locator("#results > li.hit").first.wait_for()
    link = page.locator(f"#results > li.hit[data-id='{SCRIPT_ID}'] h3 a")
    assert link.text_content() == SCRIPT_TITLE
    assert page.locator("#results script, #results img, #results b").count() == 0
    assert page.title() != "pwned"
    page.screenshot(path=str(ARTIFACTS / "page-06-script-title.png"), full_page=True)
    link.click()
    page.locator("#article h1").wait_for()
    assert page.locator("#article h1").text_content() == SCRIPT_TITLE
    assert page.locator("#article script, #article img").count() == 0
    assert "<script>alert(2)</script>" in page.locator("#article .text").inner_text()
    assert page.title() != "pwned"
    assert not [p for p in page.problems if p.startswith("dialog")]


def test_broken_query_shows_the_error_in_place(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/")
    search(page, "mobilisation AND (Sirte")
    error = page.locator("#q-error")
    assert "position 17" in error.inner_text()
    assert error.inner_text().splitlines()[-1] == " " * 17 + "^"
    assert page.locator("#q").get_attribute("aria-invalid") == "true"
    assert page.locator("#q").evaluate("e => e.selectionStart") == 17
    page.screenshot(path=str(ARTIFACTS / "page-07-broken-query.png"))


def test_no_layout_shift_while_results_load(browser_context: Any, site: dict[str, Any]) -> None:
    pg = browser_context.new_page()
    pg.add_init_script(CLS_PROBE)
    pg.goto(site["url"] + "/?q=Sirte")
    pg.wait_for_function(
        "() => document.querySelectorAll('#results > li.hit').length > 0 && "
        "document.querySelector('#results').getAttribute('aria-busy') === 'false'"
    )
    pg.wait_for_timeout(300)  # let the last layout settle before reading the score
    cls = pg.evaluate("window.__cls")
    pg.close()
    assert cls < 0.1, f"cumulative layout shift {cls:.3f}"


def test_usable_at_360px_by_keyboard(browser_context: Any, site: dict[str, Any]) -> None:
    pg = browser_context.new_page()
    pg.set_viewport_size({"width": 360, "height": 740})
    pg.goto(site["url"] + "/")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 360
    for _ in range(12):  # keyboard only: tab until the search box has focus
        pg.keyboard.press("Tab")
        if pg.evaluate("document.activeElement.id") == "q":
            break
    assert pg.evaluate("document.activeElement.id") == "q"
    pg.keyboard.type("Sirte")
    pg.keyboard.press("Enter")
    pg.locator("#results > li.hit").first.wait_for()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 360
    pg.screenshot(path=str(ARTIFACTS / "page-08-mobile-360.png"), full_page=True)
    for _ in range(40):  # on to the first result's link, then open it with Enter
        pg.keyboard.press("Tab")
        if pg.evaluate("!!document.activeElement.closest('#results h3')"):
            break
    pg.keyboard.press("Enter")
    pg.locator("#article h1").wait_for()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 360
    pg.close()


def test_rules_and_feed_health_pages(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/rules")
    page.locator("#rules-table tbody tr").first.wait_for()
    assert page.locator("#rules-table tbody", has_text="mobilisation").count() == 1
    form = page.locator("#rule-form")
    form.locator("input[name=name]").fill("page-rule")
    form.locator("input[name=query]").fill("Sirte AND (")
    form.locator("button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#rule-error').textContent !== ''")
    assert "position 10" in page.locator("#rule-error").inner_text()
    form.locator("input[name=query]").fill("event:oil_blockade")
    form.locator("#rule-test").click()
    page.locator("#rule-test-results li.hit").first.wait_for()
    form.locator("button[type=submit]").click()
    page.locator("#rules-table tbody tr", has_text="page-rule").wait_for()
    # An unknown place: refused with the reason, saved once "force" is ticked.
    form.locator("input[name=name]").fill("page-atlantis")
    form.locator("input[name=query]").fill("place:Atlantis")
    form.locator("button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#rule-error').textContent !== ''")
    assert "Atlantis" in page.locator("#rule-error").inner_text()
    form.locator("input[name=force]").check()
    form.locator("button[type=submit]").click()
    page.locator("#rules-table tbody tr", has_text="page-atlantis").wait_for()
    page.screenshot(path=str(ARTIFACTS / "page-09-rules.png"), full_page=True)

    page.locator("nav a", has_text="Feed health").click()
    page.locator("#feeds-table tbody tr").first.wait_for()
    assert page.locator("#feeds-table tbody tr", has_text="benghazi-bulletin").count() == 1
    assert page.locator("#health-summary").get_by_text("tantivy").count() == 1
    page.screenshot(path=str(ARTIFACTS / "page-10-feed-health.png"), full_page=True)


def test_count_line_agrees_with_the_facets(page: Any, site: dict[str, Any]) -> None:
    """Articles in the count line = what the source facet counts; stories = the list."""
    import httpx

    page.goto(site["url"] + "/")
    search(page, "Haftar")
    body = httpx.get(
        f"{site['url']}/api/search", params={"q": "Haftar", "collapse": "true", "size": 50}
    ).json()
    facet_sum = sum(v["count"] for v in body["facets"]["sources"])
    text = page.locator("#result-count").inner_text()
    m = re.fullmatch(r"(\d+) articles?(?: in (\d+) stor(?:y|ies))?", text)
    assert m, text
    articles = int(m.group(1))
    stories = int(m.group(2) or m.group(1))
    assert articles == facet_sum == body["articles"]
    assert stories == body["stories"] == len(hit_ids(page))
    assert articles > stories  # the corpus has a story reported twice: both numbers shown
    shown = page.locator(".facet", has_text="Sources").locator(".n").all_inner_texts()
    assert sum(int(n) for n in shown) == articles


def test_histogram_has_a_labelled_time_axis_with_gaps(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/")
    search(page, "")
    hist = page.request.get(f"{site['url']}/api/search?q=&collapse=true").json()["histogram"]
    bins = hist["bins"]
    assert hist["bucket"] in ("week", "month", "year")  # the demo spans years: not per day
    assert bins[0]["count"] and bins[-1]["count"] and any(b["count"] == 0 for b in bins)
    bars = page.locator("#histogram .bar")
    gaps = page.locator("#histogram .gap")
    assert bars.count() == sum(1 for b in bins if b["count"])
    assert gaps.count() == sum(1 for b in bins if not b["count"])
    ticks = page.locator("#histogram .axis .tick").all_inner_texts()
    assert ticks[0] == bins[0]["label"] and ticks[-1] == bins[-1]["label"]
    assert all(re.fullmatch(r"\d{4}(-\d{2}){0,2}", t) for t in ticks) and len(ticks) >= 3
    # Bars sit at their time: the gap between two bars grows with the time between them.
    boxes = [bars.nth(i).bounding_box() for i in range(bars.count())]
    assert boxes[-1]["x"] - boxes[0]["x"] > 100
    title = page.locator("#histogram-title").inner_text()
    assert title == f"Articles per {hist['bucket']}"
    page.locator("#histogram").screenshot(path=str(ARTIFACTS / "page-histogram.png"))
    page.screenshot(path=str(ARTIFACTS / "page-histogram-full.png"), full_page=True)
    # A bar filters to its own bucket.
    bars.first.click()
    page.wait_for_url(re.compile(r"since=" + bins[0]["start"]))
    assert f"until={bins[0]['end']}" in page.url


def test_unknown_place_is_a_warning_on_the_page(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/")
    search(page, "place:Atlantis")
    warning = page.locator("#q-warnings li")
    assert warning.count() == 1 and "Atlantis" in warning.inner_text()
    search(page, "event:mobilsation")
    assert "mobilisation" in page.locator("#q-error").inner_text()
    assert page.locator("#q-warnings").is_hidden()
