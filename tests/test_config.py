"""Settings: defaults, env parsing, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSWATCH_HOST_DELAY")
    s = load_settings()
    assert s.search_backend == "tantivy"
    assert s.search_index_dir == tmp_path / "data" / "search-index"
    assert s.search_timeout == 10.0 and s.index_lock_timeout == 120.0
    assert s.host_delay == 1.0
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'data' / 'newswatch.db').as_posix()}"
    assert s.search_db_path == tmp_path / "data" / "newswatch.db"
    assert (tmp_path / "data").is_dir()


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "127.0.0.1, localhost,127.0.0.2")
    monkeypatch.setenv("NEWSWATCH_ELASTICSEARCH_URL", "http://127.0.0.1:9200,http://127.0.0.1:9201")
    s = load_settings()
    assert s.allow_hosts == ["127.0.0.1", "localhost", "127.0.0.2"]
    assert s.elasticsearch_url == ["http://127.0.0.1:9200", "http://127.0.0.1:9201"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("NEWSWATCH_HOST_DELAY", "-1"),
        ("NEWSWATCH_HOST_DELAY", "soon"),
        ("NEWSWATCH_FETCH_CONCURRENCY", "0"),
        ("NEWSWATCH_FETCH_CONCURRENCY", "eight"),
        ("NEWSWATCH_SEARCH_BACKEND", "solr"),
        ("NEWSWATCH_WATCH_EVERY", "soon"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert var in str(info.value)
    assert value in str(info.value)


def test_settings_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "newswatch.env"
    env_file.write_text("NEWSWATCH_FETCH_CONCURRENCY=7\n")
    monkeypatch.setenv("NEWSWATCH_SETTINGS_FILE", str(env_file))
    assert load_settings().fetch_concurrency == 7


def test_cli_reports_bad_setting_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv("NEWSWATCH_HOST_DELAY", "-3")
    result = CliRunner().invoke(app, ["search", "x"])
    assert result.exit_code == 2
    assert "NEWSWATCH_HOST_DELAY" in result.output
    assert "Traceback" not in result.output
