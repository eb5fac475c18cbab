"""Incident records in the embedded (Tantivy) index and a real Elasticsearch."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import require_elasticsearch, unique_name

from benchmarks import incident_score
from pipeline.config import Settings
from pipeline.incidents.index import index_pending, open_incident_index
from pipeline.incidents.stage import link_pending
from pipeline.store import incidents as state
from pipeline.store import open_store
from tests.test_incidents import save_records


@pytest.fixture(scope="module")
def labelled() -> list[dict]:
    rows = incident_score.load("dev")[:80]
    return incident_score.records(rows)


@pytest.mark.parametrize(
    "backend", ["tantivy", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]
)
def test_incidents_are_indexed_and_found_by_words_in_either_language(
    backend: str, tmp_path: Path, labelled: list[dict]
) -> None:
    extra: dict = {}
    if backend == "elasticsearch":
        extra = {
            "elasticsearch_url": [require_elasticsearch()],
            "elasticsearch_index": unique_name("inc"),
        }
    settings = Settings(data_dir=tmp_path, search_backend=backend, **extra)
    store = open_store(settings)
    idx = open_incident_index(settings)
    assert idx is not None
    try:
        save_records(store, labelled)
        link_pending(store)
        counts = index_pending(settings, store)
        live = state.list_incidents(store)
        assert counts["incidents_indexed"] >= len(live) and counts["incidents_index_pending"] == 0
        assert index_pending(settings, store)["incidents_indexed"] == 0  # nothing twice
        # an incident reported in both languages is found by an English and an Arabic word
        both = next(i for i in live if set(i["languages"]) == {"en", "ar"} and i["places"])
        place = both["places"][0]["name"]
        hits_en = idx.search(place, types=[both["type"]])
        assert both["id"] in hits_en
        ar_word = next(e["evidence"] for e in both["evidence"] if e["lang"] == "ar").split()[0]
        assert both["id"] in idx.search(ar_word, types=[both["type"]], limit=500)
        other = "protest" if both["type"] != "protest" else "airstrike"
        assert both["id"] not in idx.search(place, types=[other])
        assert set(idx.search("", limit=1000)) == {i["id"] for i in live}
    finally:
        idx.close()
        if backend == "elasticsearch":
            idx2 = open_incident_index(settings)
            idx2.client.indices.delete(index=idx2.name, ignore_unavailable=True)  # type: ignore[attr-defined]
            idx2.close()
        store.close()
