"""The HTTP API over the ingested demo corpus: search, articles, export, health, rules.

Real parts: the demo site is served and ingested into a real SQLite state
file; most tests use FastAPI's TestClient (the app in-process), and the
tests where the HTTP server is the point run a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiserver import (
    SCRIPT_ID,
    SCRIPT_TITLE,
    add_hostile_article,
    canonical_id,
    ingest_demo,
    running_app,
)
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.auth import check_bind, is_loopback
from pipeline.api.settings import ApiSettings, hash_key, load_api_settings
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.store import open_store

pytestmark = pytest.mark.slow

READ_KEY = "read-key-for-tests"
ADMIN_KEY = "admin-key-for-tests"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings, site = ingest_demo(tmp_path_factory.mktemp("api") / "data")
    add_hostile_article(settings)
    return {"settings": settings, "site": site, "canonical": canonical_id(site)}


@pytest.fixture(scope="module")
def client(demo: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(demo["settings"], ApiSettings())) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(demo: dict[str, Any]) -> Iterator[TestClient]:
    api = ApiSettings(api_read_keys=READ_KEY, api_admin_keys=f"sha256:{hash_key(ADMIN_KEY)}")
    with TestClient(create_app(demo["settings"], api)) as c:
        yield c


# ------------------------------------------------------------------ search


def test_search_returns_the_canonical_report_first(client: TestClient, demo: dict) -> None:
    resp = client.get("/api/search", params={"q": "mobilisation AND Sirte"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] >= 1
    top = body["hits"][0]
    assert top["id"] == demo["canonical"]
    assert "<mark>" in top["snippet"]
    assert "mobilisation" in top["events"]
    assert set(top) >= {"id", "title", "url", "source", "lang", "published", "score"}
    assert set(top) >= {"snippet", "story_id", "events", "entities", "collapsed"}


def test_search_facets_cover_every_dimension(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "Sirte"}).json()
    facets = body["facets"]
    assert set(facets) == {"sources", "languages", "events", "places", "entities", "days"}
    assert any(f["value"] == "mobilisation" for f in facets["events"])
    sirte = next(f for f in facets["places"] if f["value"] == "sirte")
    assert sirte["name"] == "Sirte" and 30 < sirte["lat"] < 32 and 16 < sirte["lon"] < 17
    days = [d["value"] for d in facets["days"]]
    assert days == sorted(days)
    assert sum(f["count"] for f in facets["sources"]) == body["total"]


def test_collapse_counts_other_reports_of_a_story(client: TestClient, demo: dict) -> None:
    flat = client.get("/api/search", params={"q": "mobilisation AND Sirte"}).json()
    folded = client.get(
        "/api/search", params={"q": "mobilisation AND Sirte", "collapse": "true"}
    ).json()
    assert flat["total"] == 2  # the canonical report and its syndicated copy
    assert folded["total"] == 1
    assert folded["hits"][0]["collapsed"] == 1
    story = folded["hits"][0]["story_id"]
    copies = client.get("/api/search", params={"q": f"story:{story}"}).json()
    assert {h["id"] for h in copies["hits"]} == {h["id"] for h in flat["hits"]}


def test_filters_narrow_and_cursor_pages_through_everything(client: TestClient) -> None:
    everything = client.get("/api/search", params={"size": 100}).json()
    ev = client.get("/api/search", params={"event": "mobilisation", "size": 100}).json()
    assert 0 < ev["total"] < everything["total"]
    assert all("mobilisation" in h["events"] for h in ev["hits"])
    ar = client.get("/api/search", params={"lang": "ar", "size": 100}).json()
    assert ar["total"] >= 1 and all(h["lang"] == "ar" for h in ar["hits"])
    seen: list[str] = []
    params: dict[str, Any] = {"size": 3, "sort": "date", "facets": "false"}
    while True:
        page = client.get("/api/search", params=params).json()
        seen += [h["id"] for h in page["hits"]]
        if not page.get("next_cursor"):
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(h["id"] for h in everything["hits"])
    assert len(seen) == everything["total"]


def test_broken_query_is_422_with_the_position(client: TestClient) -> None:
    resp = client.get("/api/search", params={"q": "mobilisation AND (Sirte"})
    assert resp.status_code == 422
    body = resp.json()
    assert body["position"] == 17
    assert "parenthes" in body["detail"]
    bad_field = client.get("/api/search", params={"q": "colour:red"})
    assert bad_field.status_code == 422 and bad_field.json()["position"] == 0
    bad_date = client.get("/api/search", params={"since": "yesterday"})
    assert bad_date.status_code == 422 and "since" in bad_date.json()["detail"]
    bad_cursor = client.get("/api/search", params={"cursor": "nonsense"})
    assert bad_cursor.status_code == 422


# ------------------------------------------------------------------ articles


def test_article_is_the_export_record(client: TestClient, demo: dict) -> None:
    resp = client.get(f"/api/articles/{demo['canonical']}")
    assert resp.status_code == 200
    store = open_store(demo["settings"])
    try:
        expected = store.get_article(demo["canonical"]).record()
    finally:
        store.close()
    assert resp.json() == expected
    ev = next(e for e in resp.json()["events"] if e["type"] == "mobilisation")
    assert ev["evidence"] in resp.json()["text"]


def test_unknown_article_is_a_clear_404(client: TestClient) -> None:
    resp = client.get("/api/articles/0000000000000000")
    assert resp.status_code == 404
    assert "no article with id '0000000000000000'" in resp.json()["detail"]


def test_hostile_title_comes_back_as_data(client: TestClient) -> None:
    hit = client.get("/api/search", params={"q": "hostile"}).json()["hits"][0]
    assert hit["id"] == SCRIPT_ID and hit["title"] == SCRIPT_TITLE
    assert "<script" not in hit["snippet"] and "<img" not in hit["snippet"]


# ------------------------------------------------------------------ export


def test_export_jsonl_streams_the_records_search_finds(client: TestClient) -> None:
    ids = {
        h["id"]
        for h in client.get("/api/search", params={"q": "Sirte", "size": 100}).json()["hits"]
    }
    resp = client.get("/api/export", params={"q": "Sirte"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in resp.text.splitlines()]
    assert {r["id"] for r in records} == ids
    assert all("text" in r and "events" in r for r in records)


def test_export_csv_with_event_filter(client: TestClient) -> None:
    resp = client.get("/api/export", params={"format": "csv", "event": "mobilisation"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert rows and all("mobilisation" in r["events"] for r in rows)
    assert isinstance(json.loads(rows[0]["entities"]), list)
    many = client.get("/api/export", params={"format": "csv"})
    assert many.text.count("id,url,canonical_url") == 1  # one header however many batches


def test_export_broken_query_is_422_before_streaming(client: TestClient) -> None:
    resp = client.get("/api/export", params={"q": "a AND"})
    assert resp.status_code == 422 and resp.json()["position"] is not None


# ------------------------------------------------------------------ health


def test_health_reports_run_feeds_backlog(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["backend"] == "tantivy"
    assert body["articles"] > 10 and body["pending_index"] == 0
    assert body["last_run"]["run_id"]
    names = {f["name"] for f in body["feeds"]}
    assert {"tripoli-dispatch", "benghazi-bulletin"} <= names
    broken = next(f for f in body["feeds"] if f["name"] == "benghazi-bulletin")
    assert broken["consecutive_errors"] >= 1
    assert body["outbox_backlog"] is not None


# ------------------------------------------------------------------ page and headers


def test_page_shell_and_strict_csp(client: TestClient) -> None:
    for path in ("/", "/rules", "/feeds", "/articles/abc"):
        resp = client.get(path)
        assert resp.status_code == 200 and "<main" in resp.text
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "default-src 'none'" in csp
    assert "<script>" not in client.get("/").text  # no inline script
    assert client.get("/static/app.js").status_code == 200


def test_openapi_describes_every_route_with_response_models(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    paths = doc["paths"]
    for path in ("/api/search", "/api/articles/{article_id}", "/api/export", "/api/health"):
        assert path in paths
    assert {"get", "post"} <= set(paths["/api/rules"])
    assert {"get", "patch", "delete"} <= set(paths["/api/rules/{name}"])
    ok = paths["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/SearchResponse")


# ------------------------------------------------------------------ rules and alerts


def test_rules_crud_with_validation(client: TestClient) -> None:
    broken = client.post("/api/rules", json={"name": "r1", "query": "Sirte AND ("})
    assert broken.status_code == 422 and broken.json()["position"] == 10
    bad_name = client.post("/api/rules", json={"name": "bad name!", "query": "Sirte"})
    assert bad_name.status_code == 422
    made = client.post("/api/rules", json={"name": "r1", "query": "Sirte", "languages": ["en"]})
    assert made.status_code == 201 and made.json()["origin"] == "api"
    assert client.post("/api/rules", json={"name": "r1", "query": "x"}).status_code == 409
    assert "r1" in {r["name"] for r in client.get("/api/rules").json()}
    off = client.patch("/api/rules/r1", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    changed = client.patch("/api/rules/r1", json={"query": "Tripoli OR Misrata"})
    assert changed.json()["query"] == "Tripoli OR Misrata"
    assert client.patch("/api/rules/r1", json={"query": "(("}).status_code == 422
    assert client.delete("/api/rules/r1").status_code == 204
    assert client.get("/api/rules/r1").status_code == 404
    assert client.delete("/api/rules/r1").status_code == 404


def test_field_values_are_checked_in_search_and_rules(client: TestClient) -> None:
    typo = client.get("/api/search", params={"q": "event:mobilsation"})
    assert typo.status_code == 422
    assert "mobilisation" in typo.json()["detail"] and typo.json()["position"] == 6
    unknown = client.get("/api/search", params={"q": "place:Atlantis"})
    assert unknown.status_code == 200
    body = unknown.json()
    assert body["total"] == 0 and "Atlantis" in body["warnings"][0]
    assert client.get("/api/search", params={"q": "place:Sirt"}).json()["warnings"] == []
    refused = client.post("/api/rules", json={"name": "atl", "query": "place:Atlantis"})
    assert refused.status_code == 422 and "force" in refused.json()["detail"]
    bad_event = client.post("/api/rules", json={"name": "ev", "query": "event:bogus"})
    assert bad_event.status_code == 422 and "valid events" in bad_event.json()["detail"]
    forced = client.post(
        "/api/rules", json={"name": "atl", "query": "place:Atlantis", "force": True}
    )
    assert forced.status_code == 201
    assert client.patch("/api/rules/atl", json={"query": "place:Narnia"}).status_code == 422
    assert client.delete("/api/rules/atl").status_code == 204


def test_counts_and_histogram_of_a_collapsed_search(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "", "collapse": "true", "size": 100}).json()
    assert body["stories"] == body["total"] == len(body["hits"])
    assert body["articles"] == sum(v["count"] for v in body["facets"]["sources"])
    assert body["articles"] > body["stories"]  # the demo has a story reported twice
    hist = body["histogram"]
    assert sum(b["count"] for b in hist["bins"]) == sum(d["count"] for d in body["facets"]["days"])
    starts = [b["start"] for b in hist["bins"]]
    assert starts == sorted(starts) and all(
        a["end"] == b["start"] for a, b in zip(hist["bins"], hist["bins"][1:], strict=False)
    )  # contiguous: empty periods are bins with 0, not missing


def test_alert_history_lists_the_default_rule_alerts(client: TestClient) -> None:
    resp = client.get("/api/alerts")
    assert resp.status_code == 200
    for alert in resp.json():
        assert {"rule", "article_id", "story_id", "title", "created_at", "deliveries"} <= set(alert)


# ------------------------------------------------------------------ keys


def _routes(doc: dict[str, Any]) -> list[tuple[str, str]]:
    fill = {"{article_id}": "0000000000000000", "{name}": "mobilisation"}
    out = []
    for path, ops in doc["paths"].items():
        for tmpl, value in fill.items():
            path = path.replace(tmpl, value)
        out += [(method.upper(), path) for method in ops]
    return out


def test_every_route_but_health_needs_a_key(keyed: TestClient, client: TestClient) -> None:
    routes = _routes(client.get("/api/openapi.json").json())
    assert len(routes) >= 9
    for method, path in routes:
        body = {"name": "k", "query": "x"} if method in ("POST", "PATCH") else None
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
            resp = keyed.request(method, path, json=body, headers=headers)
            if path == "/api/health":
                assert resp.status_code == 200
                continue
            assert resp.status_code == 401, (method, path, resp.status_code)
            assert set(resp.json()) == {"detail"}  # no data
            assert resp.headers["www-authenticate"] == "Bearer"


def test_read_and_admin_keys(keyed: TestClient) -> None:
    for headers in ({"X-API-Key": READ_KEY}, {"Authorization": f"Bearer {READ_KEY}"}):
        assert keyed.get("/api/search", params={"q": "Sirte"}, headers=headers).status_code == 200
    read = {"X-API-Key": READ_KEY}
    assert (
        keyed.post("/api/rules", json={"name": "k1", "query": "x"}, headers=read).status_code == 403
    )
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert (
        keyed.post("/api/rules", json={"name": "k1", "query": "x"}, headers=admin).status_code
        == 201
    )
    assert keyed.get("/api/search", headers=admin).status_code == 200
    assert keyed.delete("/api/rules/k1", headers=admin).status_code == 204


def test_keys_are_stored_hashed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_API_READ_KEYS", f"plain-one, sha256:{'A' * 64}")
    api = load_api_settings()
    assert api.api_read_keys == [hash_key("plain-one"), "a" * 64]
    assert "plain-one" not in repr(api)


def test_no_key_refuses_a_public_bind() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_bind("127.0.0.1", ApiSettings())
    with pytest.raises(ConfigError, match="NEWSWATCH_API_READ_KEYS"):
        check_bind("0.0.0.0", ApiSettings())
    check_bind("0.0.0.0", ApiSettings(api_read_keys="k"))


def test_serve_command_refuses_public_bind_without_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_API_")}
    env["NEWSWATCH_DATA_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "refusing to listen on 0.0.0.0" in proc.stderr


# ------------------------------------------------------------------ real server


def test_real_uvicorn_server_answers(demo: dict[str, Any]) -> None:
    settings: Settings = demo["settings"]
    with running_app(settings) as url:
        resp = httpx.get(f"{url}/api/search", params={"q": "mobilisation AND Sirte"})
        assert resp.status_code == 200
        assert resp.json()["hits"][0]["id"] == demo["canonical"]
        with httpx.stream("GET", f"{url}/api/export", params={"format": "jsonl"}) as stream:
            lines = [line for line in stream.iter_lines() if line]
        assert len(lines) > 10 and all(json.loads(line)["id"] for line in lines)
        assert httpx.get(f"{url}/api/health").json()["status"] == "ok"
