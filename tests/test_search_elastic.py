"""ElasticsearchBackend against the real local Elasticsearch (scripts/elasticsearch.sh).

Each test module run uses fresh, uniquely named indices and removes them
afterwards. In CI a missing server fails these tests (tests/servers.py).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from search_corpus import generate_docs
from servers import closed_port, require_elasticsearch, unique_name

from pipeline.config import Settings
from pipeline.errors import BackendUnavailable, QueryError
from pipeline.search.base import SearchDoc, SearchRequest
from pipeline.search.elastic import ElasticsearchBackend, encode_cursor
from pipeline.textnorm import normalise_for_search

pytestmark = pytest.mark.elasticsearch

T0 = datetime(2020, 11, 24, 8, 0, tzinfo=UTC)
INGESTED = datetime(2024, 5, 1, tzinfo=UTC)


def make_doc(doc_id: str, title: str, text: str, **kw: object) -> SearchDoc:
    fields: dict[str, object] = {
        "url": f"https://example.org/{doc_id}",
        "source": "Libya Monitor",
        "lang": "en",
        "published": T0,
        "ingested_at": INGESTED,
        "story_id": doc_id,
    }
    fields.update(kw)
    return SearchDoc(
        id=doc_id,
        title=title,
        text=text,
        title_norm=normalise_for_search(title),
        text_norm=normalise_for_search(text),
        **fields,  # type: ignore[arg-type]
    )


HAND = [
    make_doc(
        "a1",
        "Haftar forces mobilising towards Sirte",
        "Columns of the LNA were seen moving from al-Jufra towards Sirte on Tuesday.",
        events=["mobilisation"],
        entities=["khalifa_haftar", "lna", "sirte", "al_jufra"],
        persons=["khalifa_haftar"],
        actors=["lna", "khalifa_haftar"],
        places=["sirte", "al_jufra"],
        geo=[(31.2, 16.59), (29.1, 15.9)],
        story_id="s-sirte",
    ),
    make_doc(
        "a2",
        "GNA accuses Haftar of troop build-up",
        "The government said forces were mobilising near Sirte, a syndicated report.",
        source="Coastline Wire",
        events=["mobilisation"],
        entities=["sirte"],
        places=["sirte"],
        published=T0 + timedelta(hours=3),
        story_id="s-sirte",
    ),
    make_doc(
        "a3",
        "تحشيدات لقوات حفتر نحو سرت والجُفرة",
        "أفادت مصادر بوصول تعزيزات عسكرية إلى الجفرة",
        source="Al-Waha News",
        lang="ar",
        events=["mobilisation"],
        places=["al_jufra"],
        published=T0 + timedelta(days=1),
    ),
    make_doc(
        "a4",
        "Oil ports shut as NOC declares force majeure",
        "The National Oil Corporation declared force majeure at Ras Lanuf and Es Sider.",
        events=["oil_blockade"],
        entities=["noc", "ras_lanuf"],
        orgs=["noc"],
        places=["ras_lanuf"],
        published=datetime(2020, 1, 18, tzinfo=UTC),
        ingested_at=INGESTED + timedelta(days=2),
    ),
    make_doc(
        "a5",
        "Café owners protest <script> power cuts",
        "Protesters in Tripoli blocked the coastal road over power cuts & fuel prices.",
        events=["protest"],
        places=["tripoli"],
        published=None,
        lang=None,
    ),
]


def settings_for(url: str, index: str) -> Settings:
    return Settings(elasticsearch_url=[url], elasticsearch_index=index, elasticsearch_timeout=30)


def drop(backend: ElasticsearchBackend) -> None:
    client = backend.client
    client.indices.delete(index=f"{backend.alias}-v*", ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(name=backend.template_name)


@pytest.fixture(scope="module")
def es_url() -> str:
    return require_elasticsearch()


@pytest.fixture
def fresh(es_url: str) -> Iterator[ElasticsearchBackend]:
    """An empty backend on its own index, removed after the test."""
    backend = ElasticsearchBackend(settings_for(es_url, unique_name("nwtest")))
    backend.ensure_ready()
    yield backend
    drop(backend)
    backend.close()


@pytest.fixture(scope="module")
def loaded(es_url: str) -> Iterator[ElasticsearchBackend]:
    """The hand-made documents (read-only tests share it)."""
    backend = ElasticsearchBackend(settings_for(es_url, unique_name("nwtest")))
    report = backend.upsert(HAND)
    assert sorted(report.indexed) == sorted(d.id for d in HAND), report.errors
    yield backend
    drop(backend)
    backend.close()


@pytest.fixture(scope="module")
def generated(es_url: str) -> Iterator[tuple[ElasticsearchBackend, list[SearchDoc]]]:
    """2,500 generated documents: more than one iter_ids page."""
    docs = list(generate_docs(2500, seed=11))
    backend = ElasticsearchBackend(settings_for(es_url, unique_name("nwtest")))
    report = backend.upsert(docs)
    assert not report.errors
    yield backend, docs
    drop(backend)
    backend.close()


def ids(backend: ElasticsearchBackend, query: str, **kw: object) -> set[str]:
    return set(backend.iter_ids(SearchRequest(query=query, **kw)))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- set-up


def test_ensure_ready_creates_template_versioned_index_and_alias(fresh: ElasticsearchBackend):
    client = fresh.client
    assert client.indices.exists_index_template(name=fresh.template_name)
    assert fresh.current_indices() == [f"{fresh.alias}-v1"]
    mapping = client.indices.get_mapping(index=fresh.alias)[f"{fresh.alias}-v1"]["mappings"]
    props = mapping["properties"]
    assert mapping["dynamic"] == "strict"
    assert props["geo"]["type"] == "geo_point"
    assert props["published"]["type"] == "date"
    assert props["events"]["type"] == "keyword"
    assert props["title"]["fields"]["keyword"]["type"] == "keyword"
    assert props["entity_records"]["enabled"] is False
    assert props["text_tok"]["analyzer"] == "whitespace"
    # Idempotent: a second backend on the same alias changes nothing.
    again = ElasticsearchBackend(settings_for(fresh.urls[0], fresh.alias))
    again.ensure_ready()
    assert again.current_indices() == [f"{fresh.alias}-v1"]
    again.close()


def test_language_subfields_only_where_the_server_has_the_analyzers(fresh: ElasticsearchBackend):
    have = fresh.available_analyzers()
    props = fresh.client.indices.get_mapping(index=fresh.alias)[f"{fresh.alias}-v1"]["mappings"][
        "properties"
    ]
    subs = set(props["text_norm"].get("fields", {}))
    assert subs == {short for short, name in (("en", "english"), ("ar", "arabic")) if name in have}


# --------------------------------------------------------------------------- operators and fields


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"a1", "a2", "a3", "a4", "a5"}),
        ("*", {"a1", "a2", "a3", "a4", "a5"}),
        ("sirte", {"a1", "a2"}),
        ("SIRTE", {"a1", "a2"}),
        ('"force majeure"', {"a4"}),
        ('"majeure force"', set()),
        ("forces AND sirte", {"a1", "a2"}),
        ("forces sirte", {"a1", "a2"}),
        ("haftar OR majeure", {"a1", "a2", "a4"}),
        ("haftar AND NOT columns", {"a2"}),
        ("haftar -columns", {"a2"}),
        ("+haftar +columns", {"a1"}),
        ("(oil OR cuts) AND NOT protesters", {"a4"}),
        ("NOT sirte", {"a3", "a4", "a5"}),
        ("mobili*", {"a1", "a2"}),
        ("title:haftar", {"a1", "a2"}),
        ("text:haftar", set()),
        ("body:columns", {"a1"}),
        ("title:(oil OR café)", {"a4", "a5"}),
        ("cafe", {"a5"}),
        ("build-up", {"a2"}),
        ("al-Jufra", {"a1"}),
        ("الجفرة", {"a3"}),
        ("الجُفرة", {"a3"}),
        ("تحشيدات", {"a3"}),
        ('source:"Coastline Wire"', {"a2"}),
        ("source:coastline*", {"a2"}),
        ("lang:ar", {"a3"}),
        ("language:EN", {"a1", "a2", "a4"}),
        ("lang:*", {"a1", "a2", "a3", "a4"}),
        ("event:mobilisation", {"a1", "a2", "a3"}),
        ("event:oil-blockade", {"a4"}),
        ("entity:noc", {"a4"}),
        ("person:khalifa_haftar", {"a1"}),
        ("org:noc", {"a4"}),
        ("actor:lna", {"a1"}),
        ("place:al_jufra", {"a1", "a3"}),
        ("place:ras*", {"a4"}),
        ("story:s-sirte", {"a1", "a2"}),
        ("published:[2020-11-24 TO 2020-11-24]", {"a1", "a2"}),
        ("published:{2020-11-24 TO *]", {"a3"}),
        ("published:>=2020-11-24T10:00:00", {"a2", "a3"}),
        ("published:<2020-06", {"a4"}),
        ("date:2020-01", {"a4"}),
        ("published:*", {"a1", "a2", "a3", "a4"}),
        ("NOT published:*", {"a5"}),
        ("ingested:>2024-05-02", {"a4"}),
        ("event:mobilisation AND place:sirte AND NOT source:coastline*", {"a1"}),
    ],
)
def test_query_operators_and_fields(loaded: ElasticsearchBackend, query: str, expected: set[str]):
    assert ids(loaded, query) == expected
    assert loaded.search(SearchRequest(query=query, limit=50)).total == len(expected)


def test_request_filters(loaded: ElasticsearchBackend):
    assert ids(loaded, "", sources=["coastline wire"]) == {"a2"}
    assert ids(loaded, "", langs=["ar", "en"]) == {"a1", "a2", "a3", "a4"}
    assert ids(loaded, "", events=["protest", "oil_blockade"]) == {"a4", "a5"}
    assert ids(loaded, "haftar", places=["sirte"]) == {"a1", "a2"}
    assert ids(loaded, "", since=T0 + timedelta(hours=1)) == {"a2", "a3"}
    assert ids(loaded, "", until=datetime(2020, 6, 1)) == {"a4"}  # naive = UTC
    assert ids(loaded, "", ingested_since=INGESTED + timedelta(days=1)) == {"a4"}


def test_bad_queries_are_query_errors(loaded: ElasticsearchBackend):
    for bad in ("*sirte", "nosuchfield:x", '"unclosed', "title:[a TO b]"):
        with pytest.raises(QueryError):
            loaded.search(SearchRequest(query=bad))


# ------------------------------------------------------------ ranking, hits, snippets


def test_relevance_ranks_title_matches_first_and_date_sort_is_newest_first(loaded):
    res = loaded.search(SearchRequest(query="haftar OR columns"))
    assert res.hits[0].id in {"a1", "a2"}
    assert res.hits[0].score >= res.hits[-1].score
    dated = loaded.search(SearchRequest(query="", sort="date"))
    assert [h.id for h in dated.hits] == ["a3", "a2", "a1", "a4", "a5"]  # undated last


def test_hit_fields_and_escaped_highlight(loaded: ElasticsearchBackend):
    hit = loaded.search(SearchRequest(query="title:café")).hits[0]
    assert hit.id == "a5" and hit.source == "Libya Monitor" and hit.published is None
    assert hit.events == ["protest"]
    res = loaded.search(SearchRequest(query="columns"))
    (one,) = res.hits
    assert "<mark>Columns</mark>" in one.snippet
    assert one.published == T0 and one.story_id == "s-sirte" and one.lang == "en"
    assert one.entities == []  # a1 carries entity ids but no entity records
    amp = loaded.search(SearchRequest(query="fuel")).hits[0]
    assert "&amp;" in amp.snippet and "<mark>fuel</mark>" in amp.snippet
    record = amp.record()
    assert set(record) >= {"id", "title", "url", "source", "lang", "published", "snippet"}


def test_snippet_without_query_words_is_the_start_of_the_text(loaded: ElasticsearchBackend):
    hit = loaded.search(SearchRequest(query="event:oil_blockade")).hits[0]
    assert hit.snippet.startswith("The National Oil Corporation")
    assert "<mark>" not in hit.snippet


# ------------------------------------------------------------ facets, collapse, paging


def test_facets_count_every_matching_document(generated):
    backend, docs = generated
    res = backend.search(SearchRequest(query="", facets=True, limit=1))
    assert dict(res.facets["source"]) == dict(Counter(d.source for d in docs))
    assert dict(res.facets["lang"]) == dict(Counter(d.lang for d in docs if d.lang))
    events = Counter(e for d in docs for e in d.events)
    assert dict(res.facets["event"]) == dict(events)
    places = Counter(p for d in docs for p in d.places)
    assert dict(res.facets["place"]) == dict(places)
    days = Counter(d.published.strftime("%Y-%m-%d") for d in docs if d.published)
    assert res.facets["day"] == sorted(days.items())  # every day, in date order
    entity_top = sorted(
        Counter(e for d in docs for e in d.entities).items(), key=lambda p: (-p[1], p[0])
    )
    assert res.facets["entity"] == entity_top[:20]


def test_collapse_counts_stories(generated):
    backend, docs = generated
    res = backend.search(SearchRequest(query="", collapse=True, limit=200))
    assert res.total == len({d.story_id for d in docs})
    assert len({h.story_id for h in res.hits}) == len(res.hits)
    sizes = Counter(d.story_id for d in docs)
    for hit in res.hits:
        assert hit.collapsed == sizes[hit.story_id] - 1
    # Paging collapsed results with the cursor visits every story once.
    seen: list[str] = []
    cursor = None
    while True:
        page = backend.search(
            SearchRequest(query="forces", collapse=True, limit=300, cursor=cursor)
        )
        seen.extend(h.story_id for h in page.hits)
        cursor = page.next_cursor
        if not cursor:
            break
    matching = {d.story_id for d in docs if d.id in ids(backend, "forces")}
    assert len(seen) == len(set(seen)) and set(seen) == matching


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_cursor_paging_visits_every_id_once(generated, sort: str):
    backend, _docs = generated
    seen: list[str] = []
    cursor = None
    while True:
        page = backend.search(
            SearchRequest(query="forces OR قوات", sort=sort, limit=97, cursor=cursor)
        )  # type: ignore[arg-type]
        seen.extend(h.id for h in page.hits)
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == ids(backend, "forces OR قوات")
    assert page.total == len(seen)


def test_offset_paging_and_bad_cursor(generated):
    backend, _docs = generated
    first = backend.search(SearchRequest(query="", sort="date", limit=10))
    second = backend.search(SearchRequest(query="", sort="date", limit=10, offset=10))
    both = backend.search(SearchRequest(query="", sort="date", limit=20))
    assert [h.id for h in first.hits + second.hits] == [h.id for h in both.hits]
    with pytest.raises(QueryError):
        backend.search(SearchRequest(query="", cursor="not-a-cursor"))
    relevance_cursor = encode_cursor("relevance", False, [1.0, 0, "x"])
    with pytest.raises(QueryError):  # a relevance cursor used for a date sort
        backend.search(SearchRequest(query="", sort="date", cursor=relevance_cursor))


def test_iter_ids_returns_every_match_past_one_page(generated):
    backend, docs = generated
    all_ids = list(backend.iter_ids(SearchRequest()))
    assert len(all_ids) == len(set(all_ids)) == len(docs) == backend.count()


# --------------------------------------------------------------------------- writes


def test_upsert_is_idempotent_and_replaces(fresh: ElasticsearchBackend):
    assert fresh.upsert(HAND).indexed
    assert fresh.upsert(HAND).indexed
    assert fresh.count() == len(HAND)
    changed = make_doc("a4", "Oil ports reopen", "Exports resumed at Ras Lanuf.")
    report = fresh.upsert([changed])
    assert report.indexed == ["a4"] and not report.errors
    assert ids(fresh, "reopen") == {"a4"} and ids(fresh, "majeure") == set()
    assert fresh.count() == len(HAND)


def test_a_document_that_breaks_the_mapping_is_reported_alone(fresh: ElasticsearchBackend):
    bad = make_doc("bad", "Impossible place", "Coordinates out of range.", geo=[(999.0, 999.0)])
    report = fresh.upsert([HAND[0], bad, HAND[1]])
    assert sorted(report.indexed) == ["a1", "a2"]
    assert set(report.errors) == {"bad"} and "geo" in report.errors["bad"]
    assert fresh.count() == 2


def test_delete(fresh: ElasticsearchBackend):
    fresh.upsert(HAND)
    fresh.delete(["a1", "a3", "missing"])
    assert ids(fresh, "") == {"a2", "a4", "a5"}


def test_unreachable_cluster_is_backend_unavailable():
    url = f"http://127.0.0.1:{closed_port()}"
    backend = ElasticsearchBackend(settings_for(url, "nwtest-dead"))
    with pytest.raises(BackendUnavailable, match=re.escape(url)):
        backend.ensure_ready()
    with pytest.raises(BackendUnavailable):
        backend.upsert(HAND)
    with pytest.raises(BackendUnavailable):
        backend.search(SearchRequest(query="sirte"))
    backend.close()


def test_rebuild_swaps_the_alias_while_searches_keep_answering(fresh: ElasticsearchBackend):
    docs = list(generate_docs(3000, seed=5))
    fresh.upsert(docs[:1000])
    reader = ElasticsearchBackend(settings_for(fresh.urls[0], fresh.alias))
    failures: list[str] = []
    totals: list[int] = []
    stop = threading.Event()

    def search_loop() -> None:
        while not stop.is_set():
            try:
                res = reader.search(SearchRequest(query="", limit=1))
            except Exception as exc:  # any error during the swap is the failure
                failures.append(repr(exc))
                continue
            totals.append(res.total)
            if res.total == 0 or not res.hits:
                failures.append("empty result")

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        n = fresh.rebuild(iter(docs))
    finally:
        stop.set()
        thread.join()
        reader.close()
    assert n == len(docs)
    assert not failures, failures[:5]
    assert len(totals) > 3 and set(totals) <= {1000, len(docs)}
    assert fresh.current_indices() == [f"{fresh.alias}-v2"]
    assert not fresh.client.indices.exists(index=f"{fresh.alias}-v1")
    assert fresh.count() == len(docs)
    # Writes after the swap go to the new index.
    fresh.upsert([HAND[0]])
    assert fresh.count() == len(docs) + 1


# ------------------------------------------------------------ ingest with an outage


def test_ingest_with_elasticsearch_down_loses_nothing(es_url: str, tmp_path):
    """One run with Elasticsearch unreachable finishes and leaves N pending; the next
    run, with Elasticsearch back, indexes every article exactly once."""
    from pipeline.config import load_settings
    from pipeline.demo.corpus import DEMO_SETTINGS, start_demo_server, write_feeds_file
    from pipeline.run import ingest_cycle
    from pipeline.store import open_store

    index = unique_name("nwoutage")
    dead = f"http://127.0.0.1:{closed_port()}"
    server = start_demo_server()
    try:
        feeds = write_feeds_file(server.url, tmp_path / "feeds.yaml")
        common = {
            **DEMO_SETTINGS,
            "data_dir": tmp_path / "data",
            "feeds_file": feeds,
            "search_backend": "elasticsearch",
            "elasticsearch_index": index,
        }
        down = ingest_cycle(load_settings(**common, elasticsearch_url=[dead]))
        assert down["extracted"] > 0
        assert down["indexed"] == 0
        assert down["pending_index"] > 0
        assert "backend_unavailable" in down["failed"]

        live_settings = load_settings(**common, elasticsearch_url=[es_url])
        up = ingest_cycle(live_settings)
        assert up["pending_index"] == 0
        assert up["indexed"] == down["pending_index"]
        again = ingest_cycle(live_settings)
        assert again["indexed"] == 0 and again["pending_index"] == 0
    finally:
        server.stop()

    store = open_store(live_settings)
    try:
        article_ids = [r.id for r in store.iter_article_rows()]
    finally:
        store.close()
    backend = ElasticsearchBackend(settings_for(es_url, index))
    try:
        indexed = list(backend.iter_ids(SearchRequest()))
        assert sorted(indexed) == sorted(article_ids)  # each article once, none missing
        assert backend.count() == len(article_ids)
    finally:
        drop(backend)
        backend.close()


def test_time_budget_refuses_a_search_that_runs_out(generated):
    backend, _ = generated
    slow = ElasticsearchBackend(
        Settings(
            elasticsearch_url=backend.urls,
            elasticsearch_index=backend.alias,
            search_timeout=0.000001,  # sent as "1micros"
        )
    )
    req = SearchRequest(query="m* OR f* OR c* OR t* OR b* OR p*", facets=True, collapse=True)
    # Elasticsearch checks the budget as it collects; one microsecond runs out on
    # practically every search, but a lucky one may finish: a few tries at most.
    with pytest.raises(QueryError, match="too broad: it took longer than"):
        for _ in range(200):
            slow.search(req)
    slow.close()
    assert backend.search(req).total > 0
