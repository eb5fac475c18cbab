"""Parity: the same query returns the same articles on Tantivy, SQLite and Elasticsearch.

One shared corpus: the demo corpus, ingested for real from the local demo
site (feeds -> pages -> text -> entities and events), plus generated articles
that stress tokenisation (Arabic letter variants and diacritics, Latin
accents, hyphens, ``5+5``), every keyword field, undated articles and shared
stories. Every backend indexes exactly the same SearchDocs, and each embedded
backend (Tantivy, the default, and SQLite FTS5) is compared with
Elasticsearch: same id sets, totals (with and without story collapsing),
facets and date order.

The acceptance queries of word forms and proximity run on the demo
articles on every backend, and every backend's snippets quote the text as
written (Arabic with its hamzas and taa marbuta, not the folded index form).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from search_corpus import generate_docs
from servers import require_elasticsearch, unique_name

from pipeline.config import Settings, load_settings
from pipeline.demo.corpus import DEMO_SETTINGS, start_demo_server, write_feeds_file
from pipeline.run import ingest_cycle
from pipeline.search.base import SearchBackend, SearchDoc, SearchRequest
from pipeline.search.docs import doc_from_article
from pipeline.search.elastic import ElasticsearchBackend
from pipeline.search.sqlite import SqliteBackend
from pipeline.search.tantivy import TantivyBackend
from pipeline.store import open_store
from pipeline.store.db import article_from_row

pytestmark = [pytest.mark.elasticsearch, pytest.mark.slow]

QUERIES = [
    # words, case, phrases
    "haftar",
    "HAFTAR",
    "sirte",
    '"force majeure"',
    '"coast guard"',
    '"forces mobilising"',
    # boolean operators and grouping
    "haftar AND sirte",
    "haftar sirte",
    "haftar OR tripoli",
    "haftar AND NOT sirte",
    "haftar -sirte",
    "+oil +port",
    "NOT forces",
    "(forces OR troops) AND NOT (convoy OR brigade)",
    "(oil OR blockade) AND (port OR field) OR ceasefire",
    # wildcards
    "mobili*",
    "m*",
    "title:mobili*",
    # text fields
    "title:haftar",
    "text:haftar",
    "body:forces",
    "title:(oil OR protest)",
    # tokenisation: accents, hyphens, digits, Arabic folding
    "café",
    "cafe",
    "résumé",
    "al-Wasat",
    "5+5",
    "2020",
    "تحشيدات",
    "الجفرة",
    "الجُفرة",
    "حفتر AND سرت",
    '"وقف إطلاق النار"',
    # word forms (light stemming) and exact forms
    "mobilisation",
    "mobilization",
    "mobilised",
    '"mobilised"',
    "مرتزقة",
    "تحشيد",
    "جفرة",
    '"الجفرة"',
    "title:forces",
    # proximity
    '"forces Sirte"~10',
    '"Sirte forces"~3',
    '"haftar forces sirte"~8',
    'title:"oil port"~2',
    '"قوات حفتر"~5',
    "m0*",
    # keyword fields
    'source:"Libya Monitor"',
    "source:coast*",
    "lang:ar",
    "lang:*",
    "event:mobilisation",
    "event:mobil*",
    "event:oil-blockade",
    "entity:*",
    "entity:noc",
    "person:khalifa_haftar",
    "org:noc OR org:unsmil",
    "actor:lna",
    "actor:haftar",
    "place:sirte",
    "place:al_jufra AND NOT place:sirte",
    "place:ras*",
    "story:story-3",
    # dates
    "published:[2020 TO 2021-06]",
    "published:{2020-01-01 TO 2020-12-31}",
    "published:>=2020-11-24",
    "published:<2019-06",
    "date:2020-11",
    "published:*",
    "NOT published:*",
    "ingested:>=2024-01-01T00:10:00",
    # mixed
    "event:mobilisation AND place:sirte AND published:[2020 TO *]",
    "haftar AND (event:mobilisation OR event:armed_clash) AND NOT lang:ar",
    "*",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[SearchDoc]:
    """Demo articles through the real pipeline, plus generated articles."""
    server = start_demo_server()
    try:
        data: Path = tmp_path_factory.mktemp("parity-demo")
        feeds = write_feeds_file(server.url, data / "feeds.yaml")
        settings = load_settings(**{**DEMO_SETTINGS, "data_dir": data, "feeds_file": feeds})
        ingest_cycle(settings)
    finally:
        server.stop()
    store = open_store(settings)
    try:
        demo = [
            doc_from_article(article_from_row(r), r.ingested_at) for r in store.iter_article_rows()
        ]
    finally:
        store.close()
    assert len(demo) >= 10, "the demo ingest produced too few articles to compare"
    return demo + list(generate_docs(1500, seed=3))


EMBEDDED = ["tantivy", "sqlite"]
ALL_BACKENDS = ["tantivy", "sqlite", "elasticsearch"]


@pytest.fixture(scope="module")
def all_backends(
    corpus: list[SearchDoc], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, SearchBackend]]:
    url = require_elasticsearch()
    tantivy = TantivyBackend(tmp_path_factory.mktemp("parity-tantivy") / "search-index")
    sqlite = SqliteBackend(tmp_path_factory.mktemp("parity-sqlite") / "search.db")
    elastic = ElasticsearchBackend(
        Settings(elasticsearch_url=[url], elasticsearch_index=unique_name("nwparity"))
    )
    found: dict[str, SearchBackend] = {
        "tantivy": tantivy,
        "sqlite": sqlite,
        "elasticsearch": elastic,
    }
    for backend in found.values():
        report = backend.upsert(corpus)
        assert not report.errors, report.errors
        assert backend.count() == len(corpus)
    yield found
    elastic.client.indices.delete(index=f"{elastic.alias}-v*", ignore_unavailable=True)
    elastic.client.options(ignore_status=404).indices.delete_index_template(
        name=elastic.template_name
    )
    elastic.close()
    sqlite.close()
    tantivy.close()


@pytest.fixture(params=EMBEDDED)
def backends(
    request: pytest.FixtureRequest, all_backends: dict[str, SearchBackend]
) -> tuple[SearchBackend, SearchBackend]:
    """(an embedded backend, Elasticsearch): each pair must agree."""
    return all_backends[request.param], all_backends["elasticsearch"]


def test_enough_queries_cover_every_field():
    assert len(QUERIES) >= 30
    text = " ".join(QUERIES)
    for field in ("title:", "text:", "source:", "lang:", "event:", "entity:", "person:", "org:"):
        assert field in text
    for op in (" AND ", " OR ", "NOT ", "-", "+", "(", '"', "*", "[", "{", ">=", "<"):
        assert op in text


@pytest.mark.parametrize("query", QUERIES)
def test_same_ids_on_both_backends(backends, query: str):
    sqlite, elastic = backends
    want = set(sqlite.iter_ids(SearchRequest(query=query)))
    got = set(elastic.iter_ids(SearchRequest(query=query)))
    assert got == want, (
        f"{query!r}: only in {sqlite.name} {sorted(want - got)[:5]}, "
        f"only in elasticsearch {sorted(got - want)[:5]}"
    )
    for collapse in (False, True):
        req = SearchRequest(query=query, collapse=collapse, limit=5)
        assert elastic.search(req).total == sqlite.search(req).total


@pytest.mark.parametrize(
    "request_",
    [
        SearchRequest(query="forces", sources=["Libya Monitor", "Sahel Desk"]),
        SearchRequest(query="", langs=["ar"], events=["mobilisation"]),
        SearchRequest(query="haftar", places=["sirte", "al_jufra"]),
    ],
)
def test_same_ids_with_request_filters(backends, request_: SearchRequest):
    sqlite, elastic = backends
    assert set(elastic.iter_ids(request_)) == set(sqlite.iter_ids(request_))


def test_same_facets(backends):
    sqlite, elastic = backends
    req = SearchRequest(query="forces OR قوات", facets=True, limit=1)
    assert elastic.search(req).facets == sqlite.search(req).facets


def test_same_date_order(backends):
    sqlite, elastic = backends
    req = SearchRequest(query="haftar OR forces", sort="date", limit=50)
    assert [h.id for h in elastic.search(req).hits] == [h.id for h in sqlite.search(req).hits]


def test_same_facets_with_collapse_and_filters(backends):
    embedded, elastic = backends
    req = SearchRequest(
        query="mobilisation OR تحشيد", facets=True, collapse=True, limit=3, langs=["en", "ar"]
    )
    a, b = embedded.search(req), elastic.search(req)
    assert a.facets == b.facets and a.total == b.total


# --------------------------------------------------------------------------- acceptance

CANONICAL = "/news/2020/11/24/haftar-mobilising-forces-towards-sirte.html"
SYNDICATED = "/wire/2020/11/24/gna-accuses-haftar-of-troop-build-up.html"  # says "mobilised"
ARABIC = "/ar/2020/11/25/haftar-forces-mobilise-sirte-jufra.html"


def _demo_ids(corpus: list[SearchDoc]) -> dict[str, str]:
    return {
        path: d.id
        for d in corpus
        for path in (CANONICAL, SYNDICATED, ARABIC)
        if d.url.endswith(path)
    }


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_word_forms_and_proximity_on_the_demo_corpus(all_backends, corpus, name: str):
    backend = all_backends[name]
    ids = _demo_ids(corpus)
    assert set(ids) == {CANONICAL, SYNDICATED, ARABIC}

    def found(query: str) -> set[str]:
        return set(backend.iter_ids(SearchRequest(query=query)))

    for word in ("مرتزقة", "تحشيد", "جفرة"):  # the report says ومرتزقة, التحشيد, الجفرة
        assert ids[ARABIC] in found(word), word
    syndicated_text = next(d.text for d in corpus if d.id == ids[SYNDICATED])
    assert "mobilised" in syndicated_text and "mobilisation" not in syndicated_text.lower()
    assert ids[SYNDICATED] in found("mobilisation")
    assert ids[SYNDICATED] in found("mobilization")
    assert ids[CANONICAL] in found('"forces Sirte"~10')
    assert ids[CANONICAL] in found('"Sirte forces"~10')  # any order
    # a quoted phrase still matches the exact words only
    assert ids[SYNDICATED] not in found('"mobilisation"')
    assert ids[CANONICAL] in found('"troop mobilisation"')
    assert ids[SYNDICATED] not in found('"troop mobilisation"')
    assert ids[SYNDICATED] in found('"military mobilised"')
    assert ids[CANONICAL] not in found('"military mobilised"')


def _plain(snippet: str) -> str:
    import html

    return html.unescape(snippet.replace("<mark>", "").replace("</mark>", "")).strip(" …")


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_snippets_quote_the_original_text(all_backends, corpus, name: str):
    backend = all_backends[name]
    ids = _demo_ids(corpus)
    original = next(d.text for d in corpus if d.id == ids[ARABIC])
    result = backend.search(SearchRequest(query="حفتر AND جفرة", limit=1000))
    (hit,) = [h for h in result.hits if h.id == ids[ARABIC]]
    assert "<mark>" in hit.snippet
    assert _plain(hit.snippet) in original  # the words as written, not the folded form
    assert any(ch in _plain(hit.snippet) for ch in "أإآة")
    marked = [m.split("</mark>")[0] for m in hit.snippet.split("<mark>")[1:]]
    assert any("جفر" in m or "جُفر" in m for m in marked) and "حفتر" in marked


def test_snippets_are_the_same_on_every_backend(all_backends):
    req = SearchRequest(query='حفتر OR "forces Sirte"~10 OR mobili*', sort="date", limit=20)
    results = {name: b.search(req) for name, b in all_backends.items()}
    snippets = {name: {h.id: h.snippet for h in r.hits} for name, r in results.items()}
    assert snippets["tantivy"] == snippets["elasticsearch"] == snippets["sqlite"]
