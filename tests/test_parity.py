"""Parity: the same query returns the same set of articles on SQLite and Elasticsearch.

One shared corpus: the demo corpus, ingested for real from the local demo
site (feeds -> pages -> text -> entities and events), plus generated articles
that stress tokenisation (Arabic letter variants and diacritics, Latin
accents, hyphens, ``5+5``), every keyword field, undated articles and shared
stories. Both backends index exactly the same SearchDocs.
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
from pipeline.search.base import SearchDoc, SearchRequest
from pipeline.search.docs import doc_from_article
from pipeline.search.elastic import ElasticsearchBackend
from pipeline.search.sqlite import SqliteBackend
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


@pytest.fixture(scope="module")
def backends(
    corpus: list[SearchDoc], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SqliteBackend, ElasticsearchBackend]]:
    url = require_elasticsearch()
    sqlite = SqliteBackend(tmp_path_factory.mktemp("parity-sqlite") / "search.db")
    elastic = ElasticsearchBackend(
        Settings(elasticsearch_url=[url], elasticsearch_index=unique_name("nwparity"))
    )
    for backend in (sqlite, elastic):
        report = backend.upsert(corpus)
        assert not report.errors, report.errors
        assert backend.count() == len(corpus)
    yield sqlite, elastic
    elastic.client.indices.delete(index=f"{elastic.alias}-v*", ignore_unavailable=True)
    elastic.client.options(ignore_status=404).indices.delete_index_template(
        name=elastic.template_name
    )
    elastic.close()
    sqlite.close()


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
        f"{query!r}: only in sqlite {sorted(want - got)[:5]}, "
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
