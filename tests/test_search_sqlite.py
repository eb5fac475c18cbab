"""The embedded backend on a real SQLite file with FTS5, over a small bilingual corpus."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import QueryError
from pipeline.models import Article, Entity, Event
from pipeline.search.base import SearchBackend, SearchDoc, SearchRequest
from pipeline.search.docs import doc_from_article
from pipeline.search.sqlite import SqliteBackend

INGESTED = datetime(2024, 5, 1, 12, tzinfo=UTC)

SIRTE = Entity("sirte", "Sirte", "place", 31.2, 16.59)
JUFRA = Entity("jufra", "Jufra", "place", 29.1, 16.0)
RAS_LANUF = Entity("ras_lanuf", "Ras Lanuf", "place", 30.5, 18.57)
TRIPOLI = Entity("tripoli", "Tripoli", "place", 32.89, 13.19)
HAFTAR = Entity("haftar", "Khalifa Haftar", "person")
LNA = Entity("lna", "Libyan National Army", "armed_group")
JMC = Entity("jmc", "5+5 Joint Military Commission", "org")
WAGNER = Entity("wagner", "Wagner Group", "foreign_actor")


def art(
    id: str,
    title: str,
    text: str,
    *,
    source: str = "Libya Herald",
    lang: str = "en",
    published: datetime | None = None,
    story: str = "",
    events: tuple[str, ...] = (),
    entities: tuple[Entity, ...] = (),
) -> Article:
    return Article(
        id=id,
        url=f"https://news.example/{id}",
        canonical_url=f"https://news.example/{id}",
        source=source,
        title=title,
        text=text,
        lang=lang,
        published=published,
        story_id=story or id,
        events=[Event(e, 0.9, "evidence") for e in events],
        entities=list(entities),
    )


def day(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


ARTICLES = [
    art(
        "e1",
        "LNA mobilisation near Sirte",
        "Forces loyal to Khalifa Haftar began a mobilisation of troops towards Sirte "
        "and Jufra, violating the ceasefire. Wagner fighters were seen.",
        published=day(2020, 6, 10),
        story="s1",
        events=("mobilisation", "ceasefire_violation", "foreign_forces"),
        entities=(HAFTAR, LNA, SIRTE, JUFRA, WAGNER),
    ),
    art(
        "e2",
        "Troops move towards the coast",
        "The 5+5 Joint Military Commission reported a mobilisation of fighters near Sirte.",
        source="Libya Observer",
        published=day(2020, 6, 11),
        story="s1",
        events=("mobilisation",),
        entities=(JMC, SIRTE),
    ),
    art(
        "e3",
        "Oil blockade at Ras Lanuf",
        "Guards shut the Ras Lanuf terminal and halted exports.",
        published=day(2020, 1, 18),
        events=("oil_blockade",),
        entities=(RAS_LANUF,),
    ),
    art(
        "e4",
        "Port officials meet",
        "Officials from Lanuf met counterparts in Ras al-Hilal.",
        published=day(2020, 2, 2),
    ),
    art(
        "e5",
        "Protest in Tripoli <script>alert(1)</script>",
        "Hundreds protested in Tripoli against power cuts. <b>bold</b> & more.",
        source="Libya Review",
        published=day(2021, 3, 1),
        events=("protest",),
        entities=(TRIPOLI,),
    ),
    art(
        "e6",
        "Ceasefire talks in Geneva",
        "Political dialogue resumed in Geneva; the ceasefire holds.",
        published=datetime(2019, 12, 31, 23, 30, tzinfo=UTC),
        events=("political_dialogue",),
    ),
    art(
        "e7",
        "Call for demobilisation",
        "A call to demobilise militias in Tripoli.",
        published=None,
        entities=(TRIPOLI,),
    ),
    art(
        "e8",
        "Mobilised brigades",
        "Brigades mobilised overnight in Misrata.",
        published=day(2020, 6, 20),
    ),
    art(
        "a1",
        "حشد عسكري قرب سرت",
        "بدأت قوات حفتر حشدًا عسكريًّا نحو سِرت وفي الجُفرة.",
        source="Al Wasat",
        lang="ar",
        published=day(2020, 6, 12),
        events=("mobilisation",),
        entities=(HAFTAR, SIRTE, JUFRA),
    ),
    art(
        "a2",
        "إحتجاجات في طرابلس",
        "خرج المئات في مدينة طرابلس احتجاجاً على انقطاع الكهرباء.",
        source="Al Wasat",
        lang="ar",
        published=day(2021, 3, 2),
        events=("protest",),
        entities=(TRIPOLI,),
    ),
] + [
    art(
        f"f{i:02d}",
        f"Weather report {i}",
        f"Sunny weather in Benghazi on day {i} with light wind.",
        source="Filler",
        published=day(2022, 1, 1 + i % 28, i % 24),
    )
    for i in range(30)
]
ALL_IDS = {a.id for a in ARTICLES}
FILLER = {a.id for a in ARTICLES if a.id.startswith("f")}
NEWS = ALL_IDS - FILLER


def docs() -> list[SearchDoc]:
    return [doc_from_article(a, INGESTED) for a in ARTICLES]


def resolve(field: str, value: str) -> str:
    """A tiny gazetteer: Arabic and variant names to canonical ids."""
    names = {"سرت": "sirte", "surt": "sirte", "الجفرة": "jufra"}
    return names.get(value.casefold(), value) if field in ("place", "entity") else value


@pytest.fixture()
def backend(tmp_path: Path) -> Iterator[SqliteBackend]:
    b = SqliteBackend(tmp_path / "newswatch.db", resolve=resolve)
    report = b.upsert(docs())
    assert sorted(report.indexed) == sorted(ALL_IDS) and not report.errors
    yield b
    b.close()


def ids(b: SqliteBackend, query: str, **kw: object) -> set[str]:
    result = b.search(SearchRequest(query=query, limit=1000, **kw))  # type: ignore[arg-type]
    got = {h.id for h in result.hits}
    assert result.total == len(got)
    assert set(b.iter_ids(SearchRequest(query=query, **kw))) == got  # type: ignore[arg-type]
    return got


def test_is_a_search_backend(backend: SqliteBackend) -> None:
    assert isinstance(backend, SearchBackend)
    assert backend.name == "sqlite"
    assert backend.count() == len(ARTICLES)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mobilisation", {"e1", "e2", "e8"}),  # e8 says only "mobilised"
        ("MOBILISATION", {"e1", "e2", "e8"}),
        ('"mobilisation"', {"e1", "e2"}),  # quoted: the exact word only
        ('"mobilised"', {"e8"}),
        ("mobilization", {"e1", "e2", "e8"}),  # American spelling
        ("mobili*", {"e1", "e2", "e8"}),
        ("mobilisation AND Sirte", {"e1", "e2"}),
        ("mobilisation Jufra", {"e1"}),
        ("mobilisation OR Tripoli", {"e1", "e2", "e5", "e7", "e8"}),
        ('"mobilisation Sirte"~2', {"e1"}),
        ('"mobilisation Sirte"~4', {"e1", "e2"}),
        ('"Sirte mobilisation"~4', {"e1", "e2"}),  # any order
        ('title:"mobilisation Sirte"~4', {"e1"}),
        ("Tripoli AND NOT demobilise", {"e5"}),
        ("Tripoli -demobilise", {"e5"}),
        ("(Tripoli OR Geneva) AND protest*", {"e5"}),
        ("(Sirte OR Geneva) AND NOT (ceasefire OR fighters)", set()),
        ("Sirte OR Geneva", {"e1", "e2", "e6"}),
        ("-weather", NEWS),
        ("NOT weather AND NOT sunny", NEWS),
        ("*", ALL_IDS),
        ("", ALL_IDS),
        ('"Ras Lanuf"', {"e3"}),
        ("Ras Lanuf", {"e3", "e4"}),
        ("5+5", {"e2"}),
        ("al-Hilal", {"e4"}),
        ('"towards the coast"', {"e2"}),
        ('"the coast towards"', set()),
        ("title:Sirte", {"e1"}),
        ("text:Sirte", {"e1", "e2"}),
        ("Sirte -title:Sirte", {"e2"}),
        ("title:(blockade OR brigades)", {"e3", "e8"}),
        ("body:exports", {"e3"}),
        ('title:"Ras Lanuf"', {"e3"}),
        ("title:mobil*", {"e1", "e8"}),
    ],
)
def test_text_operators(backend: SqliteBackend, query: str, expected: set[str]) -> None:
    assert ids(backend, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("سرت", {"a1"}),  # indexed with a kasra: سِرت
        ("الجفرة", {"a1"}),  # indexed as الجُفرة: taa marbuta and damma folded
        ("حشدا", {"a1"}),  # indexed with tanween: حشدًا
        ("احتجاجات", {"a2"}),  # indexed with hamza below: إحتجاجات
        ("أحتجاجات", {"a2"}),
        ("مدينه", {"a2"}),  # taa marbuta written as haa in the query
        ("title:حشد", {"a1"}),
        ('"قوات حفتر"', {"a1"}),
        ("حشد*", {"a1"}),
    ],
)
def test_arabic_folding(backend: SqliteBackend, query: str, expected: set[str]) -> None:
    assert ids(backend, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("event:mobilisation", {"e1", "e2", "a1"}),
        ("event:Oil-Blockade", {"e3"}),
        ("place:Sirte", {"e1", "e2", "a1"}),
        ("place:سرت", {"e1", "e2", "a1"}),  # resolved by the gazetteer
        ('place:"Ras Lanuf"', {"e3"}),
        ("place:sir*", {"e1", "e2", "a1"}),
        ("entity:jufra", {"e1", "a1"}),
        ("person:haftar", {"e1", "a1"}),
        ("actor:haftar", {"e1", "a1"}),  # persons count as actors
        ("actor:lna OR actor:wagner", {"e1"}),
        ("org:jmc", {"e2"}),
        ("org:lna", set()),
        ('source:"libya herald"', {"e1", "e3", "e4", "e6", "e7", "e8"}),
        ('source:"AL WASAT"', {"a1", "a2"}),
        ("lang:AR", {"a1", "a2"}),
        ("story:s1", {"e1", "e2"}),
        ("event:protest AND lang:ar", {"a2"}),
        ("event:mobilisation -place:jufra", {"e2"}),
        ("place:tripoli AND protest*", {"e5"}),
        ("actor:*", {"e1", "a1"}),
    ],
)
def test_keyword_fields(backend: SqliteBackend, query: str, expected: set[str]) -> None:
    assert ids(backend, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("published:[2020-06 TO 2020-06]", {"e1", "e2", "a1", "e8"}),
        ("published:[2020-06-10 TO 2020-06-12]", {"e1", "e2", "a1"}),
        ("published:{2020-06-10 TO 2020-06-12}", {"e2"}),
        ("published:<2020", {"e6"}),
        ("published:2019-12-31", {"e6"}),
        ("published:[2021 TO *]", {"e5", "a2"} | FILLER),
        ("published:>=2022-01-01 AND weather", FILLER),
        ("date:2021-03", {"e5", "a2"}),
        ("published:2019-12-31T23:30:00", {"e6"}),
        ("NOT published:*", {"e7"}),
        ("-published:[2019 TO 2023]", {"e7"}),
        ("Tripoli AND published:[* TO 2030]", {"e5"}),
        ("ingested:2024-05-01", ALL_IDS),
    ],
)
def test_date_ranges(backend: SqliteBackend, query: str, expected: set[str]) -> None:
    assert ids(backend, query) == expected


def test_request_filters(backend: SqliteBackend) -> None:
    assert ids(backend, "mobilisation OR سرت", langs=["AR"]) == {"a1"}
    assert ids(backend, "", sources=["Libya Observer", "libya review"]) == {"e2", "e5"}
    assert ids(backend, "", events=["mobilisation"], places=["sirte"]) == {"e1", "e2", "a1"}
    since, until = datetime(2020, 6, 11), datetime(2020, 6, 30)
    assert ids(backend, "", since=since, until=until, events=["mobilisation"]) == {"e2", "a1"}
    assert ids(backend, "", ingested_since=datetime(2024, 5, 2, tzinfo=UTC)) == set()


def test_title_match_ranks_first(backend: SqliteBackend) -> None:
    hits = backend.search(SearchRequest(query='"mobilisation"')).hits
    assert [h.id for h in hits] == ["e1", "e2"]
    assert hits[0].score > hits[1].score > 0
    hits = backend.search(SearchRequest(query="Sirte")).hits
    assert hits[0].id == "e1"


def test_title_weighs_more_than_text(backend: SqliteBackend) -> None:
    in_title = art("t1", "Statement on the convoy issued by the council today", "Nothing more.")
    in_text = art(
        "t2",
        "Statement issued by the council today on events",
        "A convoy was seen; a second convoy followed the first convoy south.",
    )
    backend.upsert([doc_from_article(a, INGESTED) for a in (in_text, in_title)])
    assert [h.id for h in backend.search(SearchRequest(query="convoy")).hits] == ["t1", "t2"]


def test_date_sort_newest_first_nulls_last(backend: SqliteBackend) -> None:
    hits = backend.search(SearchRequest(query="Tripoli", sort="date")).hits
    assert [h.id for h in hits] == ["e5", "e7"]
    hits = backend.search(SearchRequest(query="-weather", sort="date", limit=100)).hits
    dates = [h.published for h in hits]
    assert dates[-1] is None
    known = [d for d in dates if d is not None]
    assert known == sorted(known, reverse=True)


def test_snippets_mark_matches_and_escape_html(backend: SqliteBackend) -> None:
    (hit,) = backend.search(SearchRequest(query="protest* AND bold")).hits
    assert hit.id == "e5"
    assert "<mark>protested</mark>" in hit.snippet
    assert "<mark>bold</mark>" in hit.snippet
    assert "&lt;b&gt;" in hit.snippet and "&amp;" in hit.snippet
    assert "<b>" not in hit.snippet
    # a query with no words: the start of the text, escaped, no marks
    (hit,) = backend.search(SearchRequest(query='source:"Libya Review"')).hits
    assert hit.snippet.startswith("Hundreds protested in Tripoli")
    assert "<mark>" not in hit.snippet and "&lt;b&gt;" in hit.snippet
    # the title comes back as data, unchanged
    assert hit.title == "Protest in Tripoli <script>alert(1)</script>"


def test_snippet_is_short(backend: SqliteBackend, tmp_path: Path) -> None:
    long_text = " ".join(f"word{i}" for i in range(500)) + " needle " + "tail " * 200
    doc = doc_from_article(art("long", "Long", long_text), INGESTED)
    backend.upsert([doc])
    (hit,) = backend.search(SearchRequest(query="needle")).hits
    assert "<mark>needle</mark>" in hit.snippet
    assert len(hit.snippet.split()) <= 35


def test_hit_fields(backend: SqliteBackend) -> None:
    (hit,) = backend.search(SearchRequest(query="title:blockade")).hits
    assert hit.source == "Libya Herald" and hit.lang == "en"
    assert hit.published == day(2020, 1, 18)
    assert hit.events == ["oil_blockade"]
    assert hit.entities == [
        {"id": "ras_lanuf", "name": "Ras Lanuf", "type": "place", "lat": 30.5, "lon": 18.57}
    ]
    assert hit.url == "https://news.example/e3"


def test_facets_count_all_matches(backend: SqliteBackend) -> None:
    result = backend.search(SearchRequest(query='"mobilisation" OR سرت', facets=True, limit=1))
    assert result.total == 3 and len(result.hits) == 1
    f = result.facets
    assert dict(f["source"]) == {"Libya Herald": 1, "Libya Observer": 1, "Al Wasat": 1}
    assert dict(f["lang"]) == {"en": 2, "ar": 1}
    assert f["event"][0] == ("mobilisation", 3)
    assert dict(f["event"])["ceasefire_violation"] == 1
    assert f["place"][0] == ("sirte", 3)
    assert dict(f["place"])["jufra"] == 2
    assert dict(f["entity"])["haftar"] == 2
    assert dict(f["day"]) == {"2020-06-10": 1, "2020-06-11": 1, "2020-06-12": 1}
    everything = backend.search(SearchRequest(facets=True)).facets
    assert len(everything["day"]) > 20  # every day (the page draws the whole range)
    assert [d for d, _ in everything["day"]] == sorted(d for d, _ in everything["day"])
    assert dict(everything["source"])["Filler"] == 30


def test_collapse_by_story(backend: SqliteBackend) -> None:
    plain = backend.search(SearchRequest(query="Sirte"))
    assert plain.total == 2
    collapsed = backend.search(SearchRequest(query="Sirte", collapse=True))
    assert collapsed.total == 1
    (hit,) = collapsed.hits
    assert hit.id == "e1" and hit.collapsed == 1
    result = backend.search(SearchRequest(query="mobili*", collapse=True))
    assert result.total == 2
    assert {(h.id, h.collapsed) for h in result.hits} == {("e1", 1), ("e8", 0)}


@pytest.mark.parametrize("sort", ["relevance", "date"])
@pytest.mark.parametrize("query", ["*", "weather OR Tripoli OR mobili*", "-Sirte"])
def test_cursor_paging_returns_every_id_once(backend: SqliteBackend, sort: str, query: str) -> None:
    expected = set(backend.iter_ids(SearchRequest(query=query)))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        req = SearchRequest(query=query, sort=sort, limit=7, cursor=cursor)  # type: ignore[arg-type]
        result = backend.search(req)
        seen += [h.id for h in result.hits]
        pages += 1
        cursor = result.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))
    assert pages == -(-len(expected) // 7)
    one_page = backend.search(SearchRequest(query=query, sort=sort, limit=1000))  # type: ignore[arg-type]
    assert [h.id for h in one_page.hits] == seen  # same order as a single page


def test_offset_paging_and_bad_cursor(backend: SqliteBackend) -> None:
    full = [h.id for h in backend.search(SearchRequest(sort="date", limit=100)).hits]
    page = backend.search(SearchRequest(sort="date", limit=5, offset=5))
    assert [h.id for h in page.hits] == full[5:10]
    with pytest.raises(QueryError):
        backend.search(SearchRequest(cursor="not-a-cursor"))
    date_cursor = backend.search(SearchRequest(sort="date", limit=2)).next_cursor
    with pytest.raises(QueryError):
        backend.search(SearchRequest(sort="relevance", cursor=date_cursor))


def test_upsert_is_idempotent(backend: SqliteBackend, tmp_path: Path) -> None:
    before = backend.search(SearchRequest(query="mobilisation OR Tripoli", facets=True))
    report = backend.upsert(docs())
    assert sorted(report.indexed) == sorted(ALL_IDS)
    assert backend.count() == len(ARTICLES)
    after = backend.search(SearchRequest(query="mobilisation OR Tripoli", facets=True))
    assert after.record() == before.record()
    conn = sqlite3.connect(tmp_path / "newswatch.db")
    n_fts = conn.execute("SELECT COUNT(*) FROM search_fts").fetchone()[0]
    n_terms = conn.execute("SELECT COUNT(*) FROM search_terms WHERE field = 'place'").fetchone()[0]
    conn.close()
    assert n_fts == len(ARTICLES)
    assert n_terms == sum(len(d.places) for d in docs())


def test_upsert_replaces_old_content(backend: SqliteBackend) -> None:
    changed = art("e3", "Terminal reopened", "Exports resumed.", events=("territory_change",))
    backend.upsert([doc_from_article(changed, INGESTED)])
    assert ids(backend, "blockade") == set()
    assert ids(backend, "event:oil_blockade") == set()
    assert ids(backend, "reopened") == {"e3"}
    assert ids(backend, "event:territory_change") == {"e3"}
    assert backend.count() == len(ARTICLES)


def test_delete(backend: SqliteBackend) -> None:
    backend.delete(["e1", "missing"])
    assert ids(backend, '"mobilisation"') == {"e2"}
    assert ids(backend, "person:haftar") == {"a1"}
    assert backend.count() == len(ARTICLES) - 1


def test_tables_share_the_file_with_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE articles (id TEXT PRIMARY KEY, title TEXT)")
    conn.execute("INSERT INTO articles VALUES ('x', 'kept')")
    conn.commit()
    b = SqliteBackend(path)
    b.upsert(docs())
    b.rebuild(docs()[:3])
    b.close()
    assert conn.execute("SELECT title FROM articles").fetchall() == [("kept",)]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {n for n in names if not n.startswith("search_")} == {"articles"}
    conn.close()


def test_rebuild_keeps_answering_during_the_swap(backend: SqliteBackend) -> None:
    halfway, resume = threading.Event(), threading.Event()
    new_docs = [d for d in docs() if d.id != "e1"]

    def slow_docs() -> Iterator[SearchDoc]:
        for i, d in enumerate(new_docs):
            if i == len(new_docs) // 2:
                halfway.set()
                assert resume.wait(60)
            yield d

    results: dict[str, int] = {}
    worker = threading.Thread(target=lambda: results.update(n=backend.rebuild(slow_docs())))
    worker.start()
    try:
        assert halfway.wait(60)
        # mid-build: the old index answers in full
        assert ids(backend, '"mobilisation"') == {"e1", "e2"}
        assert backend.count() == len(ARTICLES)
    finally:
        resume.set()
        worker.join(60)
    assert results["n"] == len(new_docs)
    assert ids(backend, '"mobilisation"') == {"e2"}
    assert backend.count() == len(new_docs)


def test_broken_queries_raise_query_error(backend: SqliteBackend) -> None:
    for q in ["(Sirte", "*irte", "foo:bar", 'title:"unclosed', "published:[x TO y]"]:
        with pytest.raises(QueryError):
            backend.search(SearchRequest(query=q))


def test_fuzzed_queries_never_raise_sqlite_errors(backend: SqliteBackend) -> None:
    rng = random.Random(7)
    pieces = [
        *'ab"():*-+^~',
        *(" AND ", " OR ", " NOT ", "title:", "place:", "published:", "2020", " TO "),
        *("Sirte", "سرت", "NEAR", "col:", "{title_norm}", "''", ";", "--"),
    ]
    for _ in range(400):
        q = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        with contextlib.suppress(QueryError):
            backend.search(SearchRequest(query=q, facets=True, collapse=rng.random() < 0.5))


def test_fts_syntax_in_terms_is_data(backend: SqliteBackend) -> None:
    # words that mean something to FTS5 are searched as words
    assert ids(backend, "NEAR") == {"e1", "e2"}
    assert ids(backend, "title:NEAR*") == {"e1"}
    assert ids(backend, "title_norm") == set()
    assert ids(backend, '"Sirte" OR "coast\\""') == {"e1", "e2"}


def test_doc_from_article_fills_entity_fields() -> None:
    first = ARTICLES[0]
    a = dataclasses.replace(first, events=[*first.events, Event("mobilisation", 0.5, "again")])
    doc = doc_from_article(a, INGESTED)
    assert doc.events == ["ceasefire_violation", "foreign_forces", "mobilisation"]
    assert doc.entities == ["haftar", "lna", "sirte", "jufra", "wagner"]
    assert doc.persons == ["haftar"]
    assert doc.orgs == []
    assert doc.actors == ["haftar", "lna", "wagner"]
    assert doc.places == ["sirte", "jufra"]
    assert doc.geo == [(31.2, 16.59), (29.1, 16.0)]
    assert doc.entity_records[0] == {"id": "haftar", "name": "Khalifa Haftar", "type": "person"}
    assert doc.story_id == "s1" and doc.ingested_at == INGESTED
    arabic = doc_from_article(ARTICLES[8], INGESTED)
    assert "سرت" in arabic.text_norm and "سِرت" in arabic.text


def test_time_budget_interrupts_a_slow_search(tmp_path: Path) -> None:
    from search_corpus import generate_docs

    b = SqliteBackend(tmp_path / "budget.db", resolve=resolve, timeout=0.000001)
    b.upsert(generate_docs(300, seed=1))
    with pytest.raises(QueryError, match="too broad: it took longer than"):
        b.search(SearchRequest(query="mobili* OR Sirte OR Tripoli", facets=True, collapse=True))
    b.timeout = 30  # the same connection answers the next search normally
    assert b.search(SearchRequest(query="forces", facets=True)).total > 0
    b.close()
