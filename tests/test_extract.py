"""extract_article: body only, honest dates, trustworthy canonical URLs, clear failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline import dedup
from pipeline.extract import (
    choose_canonical,
    extract_article,
    is_html,
    page_lang,
    split_authors,
    strip_html,
    url_date,
)
from pipeline.models import Article, Failure, FeedItem, Page

PAGES = Path(__file__).parent / "pages"
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
FETCHED = datetime(2024, 3, 10, 11, 59, tzinfo=UTC)

AR_SENTENCES = (
    "أفاد شهود عيان في مدينة سرت بأن أرتالا مسلحة تضم عشرات السيارات المزودة بأسلحة ثقيلة"
    " تحركت خلال الليل على الطريق الساحلي باتجاه الشرق.",
    "ونفى متحدث باسم القوات التابعة لحكومة الوفاق وجود أي تحشيد جديد، واصفا التحركات بأنها"
    " عملية تبديل روتينية للوحدات المتمركزة قرب خطوط التماس.",
    "ويأتي هذا التصعيد بعد أسابيع من الهدوء النسبي الذي شهدته المنطقة منذ توقيع الاتفاق، وسط"
    " مخاوف من انهيار المسار السياسي الذي ترعاه الأمم المتحدة.",
)

BODY_PARAGRAPHS = (
    "Forces loyal to the eastern command moved heavy artillery to positions west of Sirte on"
    " Wednesday, according to residents and local officials.",
    "A spokesman for the western forces said their units were on alert and would respond to any"
    " attack on the city or on the road to Jufra.",
    "The United Nations mission said it was following the reports with concern and called on"
    " both sides to respect the ceasefire agreement.",
)


def article_html(head: str = "", title: str = "Artillery moved west of Sirte") -> str:
    """A small, ordinary news page; ``head`` adds tags to its <head>."""
    paras = "\n".join(f"<p>{p}</p>" for p in BODY_PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Sahel Daily</title>
{head}</head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>{title}</h1>
{paras}
</article>
<footer>&copy; Sahel Daily</footer></body></html>"""


def make_page(
    body: bytes | str,
    url: str = "https://news.example.ly/world/artillery-sirte",
    *,
    final_url: str | None = None,
    content_type: str | None = "text/html; charset=utf-8",
) -> Page:
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {"Content-Type": content_type} if content_type else {}
    return Page(url, final_url or url, 200, headers, body, FETCHED)


def item(**kw: object) -> FeedItem:
    base: dict[str, object] = {
        "feed": "sahel-daily",
        "guid": "g-1",
        "link": "https://news.example.ly/world/artillery-sirte",
        "title": "Feed title",
        "summary": "",
    }
    base.update(kw)
    return FeedItem(**base)  # type: ignore[arg-type]


def extract_ok(page: Page, feed_item: FeedItem | None = None, **kw: object) -> Article:
    result = extract_article(page, feed_item, now=NOW, **kw)  # type: ignore[arg-type]
    assert isinstance(result, Article), result
    return result


def fixture(name: str) -> bytes:
    return (PAGES / name).read_bytes()


# --- body text ---------------------------------------------------------------


def test_english_page_keeps_the_body_and_drops_the_boilerplate() -> None:
    url = "https://news.example.ly/politics/2020/11/24/armed-convoys-sirte?utm_source=rss"
    art = extract_ok(make_page(fixture("en_boilerplate.html"), url), item(link=url))
    assert art.extraction_method == "trafilatura"
    for sentence in (
        "Residents of the coastal town of Abu Grein said on Tuesday",
        "included pick-up trucks mounted with heavy machine guns and several fuel tankers.",
        "to refrain from any movement of troops that could be seen as a provocation.",
    ):
        assert sentence in art.text
    for junk in (
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
    ):
        assert junk not in art.text
    # paragraphs stay apart: the export and the snippets depend on it
    assert "night.\n\nOne shopkeeper" in art.text
    assert art.title == "Armed convoys reported moving towards Sirte"
    assert art.authors == ["Salma Idris", "Omar Khalil"]
    assert art.published == datetime(2020, 11, 24, 6, 30, tzinfo=UTC)
    assert art.date_source == "page"
    assert art.summary.startswith("Residents describe dozens of vehicles")
    assert art.lang == "en"
    assert art.canonical_url == "https://news.example.ly/politics/2020/11/24/armed-convoys-sirte"
    assert art.id == dedup.article_id(art.canonical_url)
    assert art.url == url
    assert art.source == "sahel-daily"
    assert art.fetched_at == FETCHED
    assert art.content_hash == dedup.content_hash(art.text)
    assert art.story_id == ""


def test_extraction_is_deterministic() -> None:
    page = make_page(fixture("en_boilerplate.html"))
    assert extract_ok(page).record() == extract_ok(page).record()


@pytest.mark.parametrize("name", ["ar_cp1256_nometa.html", "ar_cp1256_meta.html"])
@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8", None])
def test_arabic_windows_1256_page(name: str, content_type: str | None) -> None:
    page = make_page(
        fixture(name), "https://wasat.example.ly/news/libya/300123", content_type=content_type
    )
    art = extract_ok(page, item(feed="wasat", lang="ar", title="عنوان من الخلاصة"))
    for sentence in AR_SENTENCES:
        assert sentence in art.text
    assert "\ufffd" not in art.text
    assert "جميع الحقوق محفوظة" not in art.text
    assert art.title == "حشود عسكرية على طريق سرت الجفرة"
    assert art.summary.startswith("شهود عيان يتحدثون عن تحرك أرتال مسلحة")
    assert art.lang == "ar"  # the page declares none: the feed's language stands
    assert art.text.count("\n\n") == len(art.text.split("\n\n")) - 1 >= 5


def test_utf8_page_with_bom() -> None:
    art = extract_ok(make_page(fixture("utf8_bom.html"), content_type="text/html"))
    assert "met again in a café-turned-conference room in Tunis" in art.text
    assert "“last chance”" in art.text
    assert art.title == "Café talks in Tunis"
    assert not art.text.startswith("\ufeff")


def test_old_table_layout_page_gives_the_story_without_menus() -> None:
    art = extract_ok(make_page(fixture("ugly_tables.html"), content_type="text/html"))
    assert "first container ship in three years on Monday" in art.text
    assert "unloaded in under two days — a pace" in art.text
    assert "Dock workers said they had not been paid for four months" in art.text
    assert "Best viewed" not in art.text
    assert "Archive" not in art.text
    assert not any(line.startswith("|") for line in art.text.splitlines())


def test_script_rendered_page_uses_the_embedded_article_body() -> None:
    art = extract_ok(make_page(fixture("script_rendered.html")))
    assert "exports would resume from the terminals of Ras Lanuf and Es Sider" in art.text
    assert "enable JavaScript" not in art.text
    assert art.published == datetime(2020, 9, 19, 10, 0, tzinfo=UTC)
    assert art.date_source == "page"


def test_story_trafilatura_misses_is_found_with_recall() -> None:
    art = extract_ok(make_page(fixture("footer_wrapped.html")))
    assert art.extraction_method == "trafilatura_recall"
    assert "pumping station" in art.text
    assert "return to their homes before the end of the week." in art.text


def test_story_in_a_comments_container_is_found_by_the_baseline() -> None:
    art = extract_ok(make_page(fixture("comment_container.html")))
    assert art.extraction_method == "baseline"
    assert "three journalists detained in Tripoli last week" in art.text
    assert "stopped at a checkpoint" in art.text
    assert art.title == "Statement on detained journalists"


def test_fallback_order_when_every_extractor_gives_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pipeline.extract as ex

    monkeypatch.setattr(ex, "_trafilatura", lambda *a, **k: None)
    monkeypatch.setattr(ex, "_baseline", lambda html: "")
    summary = "<p>" + " ".join(BODY_PARAGRAPHS) + "</p>"
    art = extract_ok(make_page(article_html()), item(summary=summary))
    assert art.extraction_method == "feed_summary"
    assert art.title == "Artillery moved west of Sirte"  # metadata survives the fallbacks


# --- too little, or not a page -------------------------------------------------


def test_near_empty_page_falls_back_to_a_long_feed_summary() -> None:
    summary = (
        "<p>The <b>Central Bank</b> in Tripoli said on Sunday it would unify the exchange rate"
        " of the dinar from January &amp; lift limits on foreign currency for families.</p>"
        "<p>Economists welcomed the decision but warned that prices of imported goods were"
        " likely to rise in the first months.</p><script>track()</script>"
    )
    art = extract_ok(make_page(fixture("near_empty.html")), item(summary=summary, title="Bank"))
    assert art.extraction_method == "feed_summary"
    assert art.text.startswith("The Central Bank in Tripoli said on Sunday")
    assert "from January & lift limits" in art.text
    assert "<" not in art.text and "track()" not in art.text
    assert "\n\nEconomists welcomed" in art.text
    assert art.title == "Subscribe"  # what the page says; the feed title is only a fallback


def test_near_empty_page_with_short_summary_is_too_short() -> None:
    result = extract_article(
        make_page(fixture("near_empty.html")), item(summary="Read more"), now=NOW
    )
    assert isinstance(result, Failure)
    assert (result.stage, result.reason) == ("extract", "too_short")
    assert result.url == "https://news.example.ly/world/artillery-sirte"
    assert "minimum 200" in result.detail


def test_near_empty_page_without_feed_item_is_too_short() -> None:
    result = extract_article(make_page(fixture("near_empty.html")), None, now=NOW)
    assert isinstance(result, Failure) and result.reason == "too_short"


def test_min_text_chars_is_honoured() -> None:
    page = make_page(article_html())
    assert isinstance(extract_article(page, None, min_text_chars=5000, now=NOW), Failure)
    assert isinstance(extract_article(page, None, min_text_chars=50, now=NOW), Article)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/pdf", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"),
        ("text/html", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),  # a PDF served as HTML
        ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF"),
        (None, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("application/json", b'{"title": "not a page"}'),
    ],
)
def test_non_html_content_is_refused(content_type: str | None, body: bytes) -> None:
    result = extract_article(make_page(body, content_type=content_type), item(), now=NOW)
    assert isinstance(result, Failure)
    assert (result.stage, result.reason) == ("extract", "not_html")


@pytest.mark.parametrize("body", [b"", b"  \r\n\t "])
def test_empty_body(body: bytes) -> None:
    result = extract_article(make_page(body), item(), now=NOW)
    assert isinstance(result, Failure) and result.reason == "empty"


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/plain"])
def test_html_behind_a_vague_content_type_is_still_extracted(content_type: str | None) -> None:
    art = extract_ok(make_page(article_html(), content_type=content_type))
    assert BODY_PARAGRAPHS[1] in art.text


def test_giant_page_still_extracts() -> None:
    related = "".join(
        f"<li><a href='/news/{i}'>Related headline {i} on the economy</a></li>\n"
        for i in range(15000)
    )
    paras = "".join(
        f"<p>Paragraph {i}: officials in Misrata said the port handled a record volume of"
        " cargo, with grain, steel and vehicles arriving from Turkey and Italy.</p>\n"
        for i in range(6000)
    )
    html = (
        "<html><head><title>Port figures</title></head><body><nav><ul>"
        f"{related}</ul></nav><article><h1>Port figures</h1>{paras}</article></body></html>"
    )
    body = html.encode("utf-8")
    assert len(body) > 2_000_000
    art = extract_ok(make_page(body))
    assert "Paragraph 0: officials in Misrata" in art.text
    assert "Paragraph 5999: officials in Misrata" in art.text
    assert "Related headline" not in art.text


# --- dates ------------------------------------------------------------------------


def meta_date(value: str) -> str:
    return f'<meta property="article:published_time" content="{value}">'


def test_page_date_is_converted_to_utc() -> None:
    art = extract_ok(make_page(article_html(meta_date("2024-03-01T14:00:00+02:00"))))
    assert art.published == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert art.date_source == "page"


def test_future_page_date_is_rejected_for_the_feed_date() -> None:
    feed_date = datetime(2024, 3, 9, 18, 0, tzinfo=UTC)
    page = make_page(article_html(meta_date("2031-05-10T09:00:00+00:00")))
    art = extract_ok(page, item(published=feed_date))
    assert (art.published, art.date_source) == (feed_date, "feed")


def test_future_date_later_this_month_is_rejected_not_truncated() -> None:
    page = make_page(article_html(meta_date("2024-03-25T09:00:00+00:00")))
    art = extract_ok(page)
    assert (art.published, art.date_source) == (None, "none")


def test_future_page_and_feed_dates_fall_to_the_url_date() -> None:
    url = "https://news.example.ly/2024/03/08/artillery-sirte"
    page = make_page(article_html(meta_date("2031-05-10T09:00:00+00:00")), url)
    art = extract_ok(page, item(published=datetime(2030, 1, 1, tzinfo=UTC)))
    assert (art.published, art.date_source) == (datetime(2024, 3, 8, tzinfo=UTC), "url")
    assert art.fetched_at == FETCHED and art.published != FETCHED


def test_date_within_a_day_ahead_is_accepted() -> None:
    """Time zones put some pages a few hours ahead of the fetcher's clock."""
    art = extract_ok(make_page(article_html(meta_date("2024-03-11T02:00:00+00:00"))))
    assert art.published == datetime(2024, 3, 11, 2, 0, tzinfo=UTC)
    assert art.date_source == "page"


def test_date_only_in_the_url() -> None:
    url = "https://news.example.ly/world/2020/11/24/artillery-sirte/"
    art = extract_ok(make_page(article_html(), url), item(published=None))
    assert (art.published, art.date_source) == (datetime(2020, 11, 24, tzinfo=UTC), "url")


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example.ly/news/2020_11_24_artillery-sirte",
        "https://news.example.ly/news/artillery-sirte-2020-11-24.html",
        "https://news.example.ly/news/artillery-sirte?d=2020/11/24",
    ],
)
def test_url_dates_are_never_passed_off_as_page_dates(url: str) -> None:
    art = extract_ok(make_page(article_html(), url))
    assert (art.published, art.date_source) == (datetime(2020, 11, 24, tzinfo=UTC), "url")


def test_feed_date_beats_the_url_date() -> None:
    url = "https://news.example.ly/world/2020/11/24/artillery-sirte"
    feed_date = datetime(2020, 11, 24, 21, 15, tzinfo=UTC)
    art = extract_ok(make_page(article_html(), url), item(published=feed_date))
    assert (art.published, art.date_source) == (feed_date, "feed")


def test_page_date_equal_to_the_url_date_is_still_the_page_date() -> None:
    url = "https://news.example.ly/world/2020/11/24/artillery-sirte"
    page = make_page(article_html(meta_date("2020-11-24T10:00:00Z")), url)
    art = extract_ok(page, item(published=datetime(2020, 11, 25, tzinfo=UTC)))
    assert (art.published, art.date_source) == (datetime(2020, 11, 24, 10, tzinfo=UTC), "page")


def test_no_date_anywhere() -> None:
    art = extract_ok(make_page(article_html()), item(published=None))
    assert (art.published, art.date_source) == (None, "none")


def test_naive_and_offset_feed_dates_become_utc() -> None:
    naive = extract_ok(make_page(article_html()), item(published=datetime(2024, 3, 1, 8, 0)))
    assert naive.published == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    tripoli = timezone(timedelta(hours=2))
    aware = datetime(2024, 3, 1, 10, 0, tzinfo=tripoli)
    art = extract_ok(make_page(article_html()), item(published=aware))
    assert art.published == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert art.published.tzinfo == UTC


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.ly/2020/11/24/story", datetime(2020, 11, 24, tzinfo=UTC)),
        ("https://a.ly/news/2021-02-03-story-slug", datetime(2021, 2, 3, tzinfo=UTC)),
        ("https://a.ly/archive/20190405/story.html", datetime(2019, 4, 5, tzinfo=UTC)),
        ("https://a.ly/2020/02/30/story", None),
        ("https://a.ly/news/300123", None),
        ("https://a.ly/news/2020_11_24_story", datetime(2020, 11, 24, tzinfo=UTC)),
        ("https://a.ly/story?date=2020/11/24", datetime(2020, 11, 24, tzinfo=UTC)),
        ("https://a.ly/2020/11/story", None),
    ],
)
def test_url_date(url: str, expected: datetime | None) -> None:
    assert url_date(url) == expected


# --- canonical URL and identity -----------------------------------------------------


def canonical_link(href: str) -> str:
    return f'<link rel="canonical" href="{href}">'


FINAL = "https://news.example.ly/world/artillery-sirte"


def test_canonical_to_the_home_page_is_ignored() -> None:
    art = extract_ok(make_page(article_html(canonical_link("https://news.example.ly/"))))
    assert art.canonical_url == FINAL
    assert art.id == dedup.article_id(FINAL)


def test_canonical_to_another_host_is_ignored() -> None:
    head = canonical_link("https://wire.example.com/world/artillery-sirte")
    art = extract_ok(make_page(article_html(head)))
    assert art.canonical_url == FINAL


def test_canonical_on_the_same_host_is_used() -> None:
    head = canonical_link("https://www.news.example.ly/world/2024/artillery-sirte-123")
    page = make_page(article_html(head), FINAL + "?page=amp")
    art = extract_ok(page)
    assert art.canonical_url == "https://www.news.example.ly/world/2024/artillery-sirte-123"
    assert art.url == FINAL + "?page=amp"


def test_tracking_parameters_do_not_change_the_id() -> None:
    clean = extract_ok(make_page(article_html(), FINAL))
    tracked_url = FINAL + "?utm_source=facebook&utm_medium=social&fbclid=AbC123"
    tracked = extract_ok(make_page(article_html(), tracked_url))
    assert tracked.id == clean.id
    assert tracked.canonical_url == FINAL
    assert tracked.url == tracked_url


def test_redirected_page_is_identified_by_its_final_url() -> None:
    page = make_page(article_html(), "https://short.example/x1", final_url=FINAL)
    art = extract_ok(page)
    assert art.canonical_url == FINAL
    assert art.url == "https://short.example/x1"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (None, FINAL),
        ("https://news.example.ly/", FINAL),
        ("https://news.example.ly", FINAL),
        ("/", FINAL),
        ("ftp://news.example.ly/world/artillery-sirte", FINAL),
        ("https://evil.example/world/artillery-sirte", FINAL),
        ("/world/artillery-sirte-2", "https://news.example.ly/world/artillery-sirte-2"),
        ("https://news.example.ly/?p=4411", "https://news.example.ly/?p=4411"),
    ],
)
def test_choose_canonical(declared: str | None, expected: str) -> None:
    assert choose_canonical(declared, FINAL) == expected


# --- small helpers -----------------------------------------------------------------


def test_title_falls_back_to_the_feed_title() -> None:
    html = "<html><body><div>" + "".join(f"<p>{p}</p>" for p in BODY_PARAGRAPHS) + "</div>"
    art = extract_ok(make_page(html), item(title="  Artillery   near Sirte "))
    assert art.title == "Artillery near Sirte"


def test_summary_falls_back_to_the_feed_summary_as_plain_text() -> None:
    art = extract_ok(make_page(article_html()), item(summary="<p>Guns &amp; <i>roses</i></p>"))
    assert art.summary == "Guns & roses"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Salma Idris; Omar Khalil", ["Salma Idris", "Omar Khalil"]),
        ("Salma Idris;  salma idris ; ", ["Salma Idris"]),
        (None, []),
        ("", []),
    ],
)
def test_split_authors(value: str | None, expected: list[str]) -> None:
    assert split_authors(value) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<html lang="en-GB"><head>', "en"),
        ("<HTML LANG=ar dir=rtl>", "ar"),
        ('<html><head><meta http-equiv="Content-Language" content="fr">', "fr"),
        ('<html><head><meta property="og:locale" content="ar_LY">', "ar"),
        ("<html><head><title>x</title>", None),
    ],
)
def test_page_lang(html: str, expected: str | None) -> None:
    assert page_lang(html) == expected


def test_strip_html() -> None:
    assert strip_html("") == ""
    assert strip_html("Plain &amp; simple") == "Plain & simple"
    assert strip_html("<p>One</p><p>Two<br>Three</p><style>p{}</style>") == "One\n\nTwo\n\nThree"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html; charset=utf-8", b"<p>x</p>", True),
        ("application/xhtml+xml", b"<?xml version='1.0'?><html>", True),
        (None, b"<!DOCTYPE html><html>", True),
        (None, b"just some words", False),
        ("application/pdf", b"<html>", False),
        ("video/mp4", b"\x00\x00\x00\x18ftypmp42", False),
    ],
)
def test_is_html(content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_html(content_type, body) is expected
