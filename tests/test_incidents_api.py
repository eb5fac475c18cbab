"""``/api/incidents`` over a real server, and the incidents tab and incident view
in real headless Chromium, on the demo corpus."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from apiserver import ingest_demo, running_app
from test_page import CHROMIUM, LAUNCH_ARGS, _need_browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings, demo_url = ingest_demo(tmp_path_factory.mktemp("incapi") / "data")
    with running_app(settings) as url:
        yield {"url": url, "demo_url": demo_url}


def _mobilisation(url: str) -> dict[str, Any]:
    r = httpx.get(url + "/api/incidents", params={"type": "mobilisation", "place": "sirte"})
    assert r.status_code == 200, r.text
    three = [i for i in r.json()["incidents"] if i["reports"] == 3]
    assert len(three) == 1
    return three[0]


def test_api_lists_filters_and_shows_one_incident(site: dict[str, Any]) -> None:
    inc = _mobilisation(site["url"])
    assert inc["languages"] == ["en", "ar"]
    one = httpx.get(f"{site['url']}/api/incidents/{inc['id']}").json()
    assert one["id"] == inc["id"] and len(one["articles"]) == 3
    assert one["sub_event_type"] and one["plover"] == "MOBILIZE"
    later = httpx.get(site["url"] + "/api/incidents", params={"since": "2021-01-01"}).json()
    assert inc["id"] not in {i["id"] for i in later["incidents"]}


def test_api_bad_input_and_unknown_id(site: dict[str, Any]) -> None:
    r = httpx.get(site["url"] + "/api/incidents", params={"type": "mobilization"})
    assert r.status_code == 422 and "not an event type" in r.json()["detail"]
    r = httpx.get(site["url"] + "/api/incidents", params={"since": "24/11/2020"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["detail"]
    r = httpx.get(site["url"] + "/api/incidents/inc_nope")
    assert r.status_code == 404 and "no incident" in r.json()["detail"]


@pytest.mark.browser
def test_incidents_tab_and_incident_view_in_chromium(site: dict[str, Any]) -> None:
    sync_playwright = _need_browser()
    inc = _mobilisation(site["url"])
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        try:
            page = ctx.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(site["url"] + "/")
            page.locator("nav a", has_text="Incidents").click()
            page.wait_for_url("**/incidents")
            page.locator("#inc-type").fill("mobilisation")
            page.locator("#inc-place").fill("Sirte")
            page.locator("#incidents-form button").click()
            link = page.locator(f"#incidents a[href='/incidents/{inc['id']}']")
            link.wait_for()
            link.click()
            page.wait_for_url(f"**/incidents/{inc['id']}")
            page.locator("#incident .timeline li").nth(2).wait_for()
            assert page.locator("#incident .timeline li").count() == 3
            ev = page.locator("#incident .evidence")
            assert ev.locator("h3", has_text="English").count() == 1
            assert ev.locator("h3", has_text="Arabic").count() == 1
            assert ev.locator("ul[lang='ar'] li").count() >= 1
            assert page.locator("#incident svg circle").count() >= 2  # Sirte, Jufra on the map
            assert "PLOVER MOBILIZE" in page.locator("#incident .facts").inner_text()
            assert not problems, problems
        finally:
            ctx.close()
