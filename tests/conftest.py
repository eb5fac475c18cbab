"""Shared fixtures: a real local HTTP server and test-safe settings.

Every test runs with settings that allow only 127.0.0.1 through the
private-address guard, keep data in a temporary directory and wait 0 s
between requests to one host. A test can override any of these with its
own ``monkeypatch.setenv``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.localserver import LocalServer


@pytest.fixture(autouse=True)
def _test_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSWATCH_HOST_DELAY", "0")


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """A started LocalServer on 127.0.0.1 (random port), stopped after the test."""
    with LocalServer("127.0.0.1") as server:
        yield server
