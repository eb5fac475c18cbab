"""The product's extraction mode loses nothing against trafilatura's balanced mode.

Scored by ``benchmarks/extract_quality.py`` on the demo site's article pages
(word-level F1 against each page's article body) and on the extraction test
pages (sentences kept, boilerplate leaked).
"""

from __future__ import annotations

import pytest

from benchmarks.extract_quality import score_demo, score_test_pages
from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError
from pipeline.extract import extract_article
from pipeline.models import Page


def test_the_default_mode_is_no_worse_than_balanced_on_any_page() -> None:
    mode = Settings().extraction_mode
    chosen, balanced = score_demo(mode), score_demo("balanced")
    assert len(chosen) >= 15
    for page, score in chosen.items():
        assert score.f1 >= balanced[page].f1, page
        assert score.f1 >= 0.99, (page, score)
    pages, reference = score_test_pages(mode), score_test_pages("balanced")
    for name, (kept, expected, leaked, _junk) in pages.items():
        assert kept == expected, name
        assert leaked == 0, name
        assert kept >= reference[name][0] and leaked <= reference[name][2], name


def test_an_unknown_mode_is_refused_with_the_choices() -> None:
    page = Page("http://127.0.0.1/a", "http://127.0.0.1/a", 200, {}, b"<html></html>", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fast, balanced"):
        extract_article(page, None, mode="turbo")  # type: ignore[arg-type]


def test_the_setting_names_the_variable_on_a_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_EXTRACTION_MODE", "turbo")
    with pytest.raises(ConfigError, match=r"(?i)extraction_mode"):
        load_settings()
    monkeypatch.setenv("NEWSWATCH_EXTRACTION_MODE", "balanced")
    assert load_settings().extraction_mode == "balanced"
