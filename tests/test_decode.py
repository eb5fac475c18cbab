"""decode_html: which evidence wins, and that a lie never turns into mojibake."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from pipeline.decode import charset_from_content_type, decode_html

PAGES = Path(__file__).parent / "pages"

# Sentences of the Arabic test page, as written (the files hold them in windows-1256).
AR_SENTENCES = (
    "أفاد شهود عيان في مدينة سرت بأن أرتالا مسلحة تضم عشرات السيارات المزودة بأسلحة ثقيلة"
    " تحركت خلال الليل على الطريق الساحلي باتجاه الشرق.",
    "ودعت بعثة الأمم المتحدة للدعم في ليبيا الطرفين إلى احترام اتفاق وقف إطلاق النار الموقع"
    " في جنيف، والامتناع عن أي تحركات قد تعد استفزازا.",
)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def assert_arabic_intact(text: str) -> None:
    for sentence in AR_SENTENCES:
        assert sentence in text
    assert "\ufffd" not in text


def test_arabic_windows_1256_without_any_declaration_is_detected() -> None:
    body = page("ar_cp1256_nometa.html")
    assert b"charset" not in body.lower()
    text, encoding = decode_html(body, "text/html")
    assert encoding == "cp1256"
    assert_arabic_intact(text)


def test_arabic_windows_1256_with_meta_charset() -> None:
    text, encoding = decode_html(page("ar_cp1256_meta.html"), None)
    assert encoding == "cp1256"
    assert_arabic_intact(text)


def test_header_saying_utf8_over_windows_1256_bytes_falls_through() -> None:
    text, encoding = decode_html(page("ar_cp1256_nometa.html"), "text/html; charset=utf-8")
    assert encoding == "cp1256"
    assert_arabic_intact(text)


def test_latin1_header_over_windows_1256_bytes_is_overruled_by_meta() -> None:
    text, encoding = decode_html(page("ar_cp1256_meta.html"), "text/html; charset=ISO-8859-1")
    assert encoding == "cp1256"
    assert_arabic_intact(text)


def test_latin1_header_over_windows_1256_bytes_without_meta_is_overruled_by_detection() -> None:
    text, encoding = decode_html(page("ar_cp1256_nometa.html"), "text/html; charset=iso-8859-1")
    assert encoding == "cp1256"
    assert_arabic_intact(text)


def test_latin1_header_over_utf8_bytes_gives_utf8() -> None:
    """Decided behaviour: a weak Latin header loses to bytes that are valid UTF-8."""
    body = "<html><body><p>Délégués réunis à Genève — «dernière chance».</p></body></html>"
    text, encoding = decode_html(body.encode("utf-8"), "text/html; charset=iso-8859-1")
    assert encoding == "utf-8"
    assert "Délégués réunis à Genève — «dernière chance»." in text


def test_genuine_latin1_page_keeps_its_declared_charset() -> None:
    body = "<html><body><p>Les délégués se sont réunis à Genève pour la troisième fois.</p></body>"
    text, encoding = decode_html(body.encode("latin-1"), "text/html; charset=iso-8859-1")
    assert encoding == "iso8859-1"
    assert "Les délégués se sont réunis à Genève pour la troisième fois." in text


def test_header_charset_wins_when_it_decodes() -> None:
    body = "<html><head><meta charset='windows-1256'></head><body>سرت</body></html>"
    text, encoding = decode_html(body.encode("utf-8"), 'text/html; charset="UTF-8"')
    assert encoding == "utf-8"
    assert "سرت" in text


def test_utf8_bom_is_used_and_stripped() -> None:
    text, encoding = decode_html(page("utf8_bom.html"), None)
    assert encoding == "utf-8"
    assert not text.startswith("\ufeff")
    assert "café-turned-conference room" in text
    assert "“last chance”" in text


def test_bom_beats_a_wrong_header() -> None:
    text, encoding = decode_html(page("utf8_bom.html"), "text/html; charset=windows-1256")
    assert encoding == "utf-8"
    assert "Café talks in Tunis" in text


def test_utf16_with_bom() -> None:
    body = codecs.BOM_UTF16_LE + "<html><body><p>طرابلس</p></body></html>".encode("utf-16-le")
    text, encoding = decode_html(body, "text/html")
    assert encoding == "utf-16"
    assert "<p>طرابلس</p>" in text
    assert not text.startswith("\ufeff")


def test_meta_declaring_utf16_on_ascii_compatible_bytes_means_utf8() -> None:
    body = "<html><head><meta charset='utf-16'></head><body>بنغازي</body></html>".encode()
    text, encoding = decode_html(body, None)
    assert encoding == "utf-8"
    assert "بنغازي" in text


def test_unknown_charset_names_are_skipped() -> None:
    body = "<html><body>مصراتة</body></html>".encode()
    text, encoding = decode_html(body, "text/html; charset=x-no-such-thing")
    assert (text, encoding) == ("<html><body>مصراتة</body></html>", "utf-8")


def test_plain_ascii_without_declaration() -> None:
    text, encoding = decode_html(b"<html><body>Tripoli</body></html>", None)
    assert text == "<html><body>Tripoli</body></html>"
    assert encoding in {"utf-8", "ascii"}


def test_empty_body() -> None:
    assert decode_html(b"", "text/html") == ("", "utf-8")


def test_undecodable_bytes_never_raise() -> None:
    body = bytes(range(256)) * 50
    text, encoding = decode_html(body, "text/html; charset=utf-8")
    assert isinstance(text, str) and text
    assert encoding


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/html; charset=UTF-8", "UTF-8"),
        ('text/html; charset="windows-1256"', "windows-1256"),
        ("text/html;charset='iso-8859-6'", "iso-8859-6"),
        ("text/html", None),
        (None, None),
    ],
)
def test_charset_from_content_type(header: str | None, expected: str | None) -> None:
    assert charset_from_content_type(header) == expected


def test_utf8_bytes_under_a_stale_windows_1256_meta_stay_utf8() -> None:
    """Sites that moved to UTF-8 often keep the old declaration in their templates."""
    body = "<html><head><meta charset='windows-1256'></head><body>قوات في سرت</body></html>"
    text, encoding = decode_html(body.encode("utf-8"), "text/html")
    assert encoding == "utf-8"
    assert "قوات في سرت" in text


def test_utf8_bytes_under_a_windows_1256_header_stay_utf8() -> None:
    body = "<html><body>اشتباكات في الزاوية</body></html>".encode()
    text, encoding = decode_html(body, "text/html; charset=windows-1256")
    assert encoding == "utf-8"
    assert "اشتباكات في الزاوية" in text


def test_header_beats_meta_when_both_decode() -> None:
    body = "<html><head><meta charset='iso-8859-1'></head><body>الجفرة</body></html>"
    text, encoding = decode_html(body.encode("cp1256"), "text/html; charset=windows-1256")
    assert encoding == "cp1256"
    assert "الجفرة" in text
