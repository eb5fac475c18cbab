"""The query language: luqum text -> backend-neutral tree, and its errors."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime

import pytest

from pipeline.errors import QueryError
from pipeline.search import ast
from pipeline.search.base import SearchRequest
from pipeline.search.query import (
    filters_node,
    keyword_value,
    parse_query,
    positive_terms,
    tokens,
)
from pipeline.textnorm import normalise_for_search

BOTH = ("title", "text")


def T(value: str, fields: tuple[str, ...] = BOTH, prefix: bool = False) -> ast.Term:
    """A bare word (matched on its stem) or, with ``prefix``, a wildcard (exact forms)."""
    return ast.Term(fields, value, prefix, exact=prefix)


def d(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("Mobilisation", T("mobilis")),
        ("mobilisation Sirte", ast.And((T("mobilis"), T("sirt")))),
        ("mobilisation AND Sirte", ast.And((T("mobilis"), T("sirt")))),
        ('"Mobilisation"', ast.Term(BOTH, "mobilisation", exact=True)),
        ("a OR b", ast.Or((T("a"), T("b")))),
        ("a OR b AND c", ast.Or((T("a"), ast.And((T("b"), T("c")))))),
        ("(a OR b) AND c", ast.And((ast.Or((T("a"), T("b"))), T("c")))),
        ("NOT a", ast.Not(T("a"))),
        ("a NOT b", ast.And((T("a"), ast.Not(T("b"))))),
        ("a -b", ast.And((T("a"), ast.Not(T("b"))))),
        ("+a b", ast.And((T("a"), T("b")))),
        ("a^3", T("a")),
        ('"Ras Lanuf"', ast.Phrase(BOTH, ("ras", "lanuf"))),
        ("al-Wasat", ast.Phrase(BOTH, ("al", "wasat"), exact=False)),
        ("5+5", ast.Phrase(BOTH, ("5", "5"), exact=False)),
        ('"forces Sirte"~10', ast.Phrase(BOTH, ("forc", "sirt"), exact=False, slop=10)),
        ('title:"forces Sirte"~2', ast.Phrase(("title",), ("forc", "sirt"), exact=False, slop=2)),
        ("mobili*", T("mobili", prefix=True)),
        ("*", ast.MatchAll()),
        ("", ast.MatchAll()),
        ("   ", ast.MatchAll()),
    ],
)
def test_operators(query: str, tree: ast.Node) -> None:
    assert parse_query(query) == tree


def test_symbol_operators_refused() -> None:
    with pytest.raises(QueryError, match="write AND"):
        parse_query("a && b")
    with pytest.raises(QueryError, match="write OR"):
        parse_query("a || b")


def test_arabic_terms_are_folded() -> None:
    # diacritics, taa marbuta and hamza forms fold to one spelling
    assert parse_query('"الجُفرة"') == ast.Term(BOTH, "الجفره", exact=True)
    assert parse_query("إحتجاجات") == parse_query("احتجاجات")


@pytest.mark.parametrize(
    ("query", "same_as"),
    [
        ("مرتزقة", "والمرتزقة"),
        ("مرتزقة", "ومرتزقة"),
        ("تحشيد", "التحشيد"),
        ("تحشيد", "تحشيدات"),
        ("جفرة", "والجفرة"),
        ("الجُفرة", "بالجفرة"),
        ("mobilisation", "mobilised"),
        ("mobilization", "mobilising"),
        ("colour", "color"),
        ("defence", "defense"),
    ],
)
def test_bare_words_match_their_stem(query: str, same_as: str) -> None:
    assert parse_query(query) == parse_query(same_as)
    assert parse_query(f'"{query}"') != parse_query(f'"{same_as}"')


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"a b c d e"~9', "at most 4 words"),
        ('"a b c d"~1', "use ~2 or more"),
        ('"a b"~1000', "0 to 100"),
        ('place:"Sirte"~3', "text fields"),
    ],
)
def test_bad_proximity(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query)


# --------------------------------------------------------------------------- fields


def test_text_fields_and_aliases() -> None:
    assert parse_query("title:Sirte") == T("sirt", ("title",))
    assert parse_query("body:Sirte") == T("sirt", ("text",))
    assert parse_query("title:(a OR b)") == ast.Or((T("a", ("title",)), T("b", ("title",))))
    assert parse_query('title:"Ras Lanuf"') == ast.Phrase(("title",), ("ras", "lanuf"))
    assert parse_query("text:mobili*") == T("mobili", ("text",), prefix=True)


def test_keyword_fields_default_resolver() -> None:
    assert parse_query("event:Mobilisation") == ast.Keyword("event", "mobilisation")
    assert parse_query('place:"Ras Lanuf"') == ast.Keyword("place", "ras_lanuf")
    assert parse_query("place:ras-lanuf") == ast.Keyword("place", "ras_lanuf")
    assert parse_query('source:"Libya Herald"') == ast.Keyword("source", "libya herald")
    assert parse_query("language:EN") == ast.Keyword("lang", "en")
    assert parse_query("place:sir*") == ast.Keyword("place", "sir", prefix=True)
    assert parse_query("actor:*") == ast.Keyword("actor", "", prefix=True)
    for f in ("entity", "person", "org", "actor", "story"):
        assert parse_query(f"{f}:X") == ast.Keyword(f, "x")


def test_keyword_fields_custom_resolver() -> None:
    gazetteer = {"سرت": "sirte", "sirte": "sirte", "surt": "sirte"}

    def resolve(field: str, value: str) -> str:
        return gazetteer.get(value.casefold(), value) if field == "place" else value

    assert parse_query("place:سرت", resolve) == ast.Keyword("place", "sirte")
    assert parse_query("place:Surt", resolve) == ast.Keyword("place", "sirte")


def test_unknown_field_names_it_and_lists_valid_ones() -> None:
    with pytest.raises(QueryError) as err:
        parse_query("mobilisation AND cty:Sirte")
    assert "cty" in str(err.value)
    assert "title" in str(err.value) and "place" in str(err.value)
    assert err.value.position == 17


def test_nested_fields_refused() -> None:
    with pytest.raises(QueryError, match="inside field"):
        parse_query("title:text:x")


def test_keyword_value_is_idempotent() -> None:
    for field, value in [("place", "Ras Lanuf"), ("event", "armed-clash"), ("lang", "AR")]:
        once = keyword_value(field, value)
        assert keyword_value(field, once) == once


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        (
            "published:[2020-01-01 TO 2020-12-31]",
            ast.DateRange("published", d(2020, 1, 1), d(2021, 1, 1), True, False),
        ),
        (
            "published:[2020 TO 2020-06]",
            ast.DateRange("published", d(2020, 1, 1), d(2020, 7, 1), True, False),
        ),
        (
            "published:{2020 TO 2022}",
            ast.DateRange("published", d(2021, 1, 1), d(2022, 1, 1), True, False),
        ),
        ("published:[2020-02 TO *]", ast.DateRange("published", d(2020, 2, 1), None, True, True)),
        ("published:[* TO 2020]", ast.DateRange("published", None, d(2021, 1, 1), True, False)),
        ("date:>=2020-01-01", ast.DateRange("published", d(2020, 1, 1), None, True, True)),
        ("published:>2020-01-01", ast.DateRange("published", d(2020, 1, 2), None, True, True)),
        ("published:<2020-02", ast.DateRange("published", None, d(2020, 2, 1), True, False)),
        ("published:<=2020-02", ast.DateRange("published", None, d(2020, 3, 1), True, False)),
        (
            "published:2020-12",
            ast.DateRange("published", d(2020, 12, 1), d(2021, 1, 1), True, False),
        ),
        (
            "published:2020-03-04T10:00:00",
            ast.DateRange("published", d(2020, 3, 4, 10), d(2020, 3, 4, 10), True, True),
        ),
        (
            "published:[2020-03-04T10:00:00Z TO 2020-03-05]",
            ast.DateRange("published", d(2020, 3, 4, 10), d(2020, 3, 6), True, False),
        ),
        ("ingested:>=2024", ast.DateRange("ingested", d(2024, 1, 1), None, True, True)),
        ("published:*", ast.DateRange("published", None, None)),
    ],
)
def test_ranges(query: str, tree: ast.Node) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("published:[2020-13 TO 2021]", "not a date"),
        ("published:yesterday", "not a date"),
        ("title:[a TO b]", "ranges work on"),
        ("[2020 TO 2021]", "ranges work on"),
        ("place:>=2020", "ranges work on"),
    ],
)
def test_range_errors(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("*bilisation", "cannot start with a wildcard", 0),
        ("troops ?x", "cannot start with a wildcard", 7),
        ("mob?le", "'?' wildcards", 3),
        ("mo*bile", "only at the end", 2),
        ("(mobilisation OR Sirte", "unbalanced parenthesis", 0),
        ("mobilisation) OR x", "unbalanced parenthesis", 12),
        ("mobilisation AND", "nothing after AND", 13),
        ("a OR", "nothing after OR", 2),
        ("AND a", "nothing before AND", 0),
        ("a AND OR b", "nothing after AND", 2),
        ('"Ras Lanuf', "unclosed quote", 0),
        ("title:", "nothing after 'title:'", 0),
        ("published:[2020 TO", "never closed", 10),
        ("a~", "fuzzy", 0),
        ("/mobili[sz]ation/", "regular expressions", 0),
        ("&&", "write AND", 0),
    ],
)
def test_errors_have_message_and_position(query: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as err:
        parse_query(query)
    assert message in str(err.value)
    assert err.value.position == position
    assert err.value.query == query


def test_only_symbols_is_an_error_not_everything() -> None:
    with pytest.raises(QueryError, match="no words"):
        parse_query("-- ... ,,")


def test_garbage_only_ever_raises_query_error() -> None:
    rng = random.Random(20240611)
    alphabet = [
        *'ab ()[]{}"\\:*?~^+-/<>=!&|.',
        *(" AND ", " OR ", " NOT ", " TO ", "title:", "published:", "place:", "2020-01"),
        *("سرت", "é", "\t", "\x00", "\ue000"),
    ]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 25)))
        try:
            node = parse_query(text)
        except QueryError as exc:
            assert exc.position is None or 0 <= exc.position <= len(text)
        else:
            assert isinstance(
                node,
                ast.Term
                | ast.Phrase
                | ast.Keyword
                | ast.DateRange
                | ast.And
                | ast.Or
                | ast.Not
                | ast.MatchAll,
            )


def test_huge_and_deep_queries_are_query_errors() -> None:
    with pytest.raises(QueryError, match="too long"):
        parse_query("a " * 5000)
    with pytest.raises(QueryError):
        parse_query("(" * 1500 + "a" + ")" * 1500)


# --------------------------------------------------------------------------- helpers


def test_positive_terms_skip_negated_parts() -> None:
    node = parse_query('mobilisation "Ras Lanuf" troop* -Tripoli NOT title:Benghazi event:protest')
    assert positive_terms(node) == ["mobilis", "ras lanuf", "troop*"]


def test_filters_node_from_request() -> None:
    req = SearchRequest(sources=["Libya Herald"], langs=["AR"], since=datetime(2020, 1, 1))
    node = filters_node(req)
    assert node == ast.And(
        (
            ast.DateRange("published", d(2020, 1, 1), None),
            ast.Keyword("source", "libya herald"),
            ast.Keyword("lang", "ar"),
        )
    )
    assert filters_node(SearchRequest()) == ast.MatchAll()


SAMPLES = [
    "5+5 Joint Military Commission met in al-Wasat's office",
    "Café Ǆemal, naïve coöperation — ÉLAN; İstanbul and STRASSE",
    "بدأت قوات حفتر حشدًا عسكريًّا نحو سِرت، وفي الجُفرة (2020)",
    "x’y a_b c.d e/f 3.5% $40 ½ Ⅻ tab\tnew\nline",
    "mixed١٢٣digits and 2020-06-10T10:00:00Z",
]


def test_tokens_match_the_fts5_tokenizer() -> None:
    """tokens() must split and fold exactly as the index does, or phrases would miss."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(t, tokenize = 'unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    for i, text in enumerate(SAMPLES):
        conn.execute("INSERT INTO f (rowid, t) VALUES (?, ?)", (i, normalise_for_search(text)))
        expected = [
            row[0] for row in conn.execute("SELECT term FROM v WHERE doc = ? ORDER BY offset", (i,))
        ]
        assert tokens(text) == expected, text
