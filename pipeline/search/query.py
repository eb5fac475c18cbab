"""Lucene query-string text -> the backend-neutral tree of :mod:`pipeline.search.ast`.

The language is what Kibana users type, parsed with luqum:

- words and "quoted phrases"; a word that the index splits into several
  tokens (``5+5``, ``al-Wasat``) becomes a phrase of those tokens;
- ``AND``, ``OR``, ``NOT``, ``+word`` (required), ``-word`` (excluded), ``( )``;
- words side by side with no operator are ANDed (``mobilisation Sirte`` means
  ``mobilisation AND Sirte``): a news search narrows as you type, it does not widen;
- ``field:value`` and ``field:(a OR b)`` on the fields of :mod:`ast` (aliases:
  ``body`` -> text, ``language`` -> lang, ``date`` -> published);
- ranges on date fields: ``published:[2020-01 TO 2020-06]``, ``{...}``, ``*``
  for an open end, ``published:>=2020-01-01``; a partial date covers its whole
  period, so an inclusive end ``2020-06`` runs to the end of June;
- trailing wildcards (``mobili*``); leading or inner wildcards are refused
  because neither backend can answer them cheaply;
- a bare ``*`` or an empty query matches everything; ``^boost`` is accepted and
  ignored (ranking is the backend's business); fuzzy ``~`` and ``/regex/``
  are refused with a clear error;
- a bare word matches its light stem (``textnorm.stem``: ``mobilisation``
  finds ``mobilised``, ``مرتزقة`` finds ``والمرتزقة``); a quoted word or
  phrase and a wildcard match the exact word forms only;
- proximity ``"forces Sirte"~10``: the (stemmed) words within 10 words of
  each other, in any order (at most four words).

Any input string gives either a tree or a :class:`QueryError` with a position:
no luqum or Python exception escapes :func:`parse_query`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from luqum import tree as lq
from luqum.exceptions import IllegalCharacterError, ParseError, ParseSyntaxError

from pipeline import textnorm
from pipeline.errors import QueryError
from pipeline.search import ast

if TYPE_CHECKING:
    from pipeline.search.base import SearchRequest

Resolver = Callable[[str, str], str]

MAX_QUERY_CHARS = 4000
MAX_NEAR_WORDS = 4  # proximity compiles to one phrase per word order on some backends
MAX_NEAR_DISTANCE = 100
ALIASES = {"body": "text", "language": "lang", "date": "published"}
ENTITY_FIELDS = ("entity", "person", "org", "actor", "place")
_UNDERSCORED = (*ENTITY_FIELDS, "event")
BOTH_TEXT_FIELDS: tuple[str, ...] = ("title", "text")

# luqum's PLY parser keeps lexer state in module globals.
_PARSE_LOCK = threading.Lock()


# --------------------------------------------------------------------------- tokens


def tokens(text: str) -> list[str]:
    """Split and fold text the way every index does (see :mod:`pipeline.textnorm`)."""
    return textnorm.tokens(text)


# --------------------------------------------------------------------------- keywords


def keyword_value(field: str, value: str) -> str:
    """The canonical stored and compared form of a keyword value.

    Backends store keyword fields through this function and the parser maps
    query values through it, so ``place:Ras-Lanuf`` and a stored ``ras_lanuf``
    meet: case-folded, trimmed, and for entity and event fields spaces and
    hyphens become ``_``.
    """
    out = value.strip().casefold()
    if field == "lang":
        return out.lower()
    if field in _UNDERSCORED:
        out = re.sub(r"[\s\-]+", "_", out)
    return out


GAZETTEER_FIELDS = frozenset({"entity", "person", "org", "actor", "place", "event"})


def default_resolve(field: str, value: str) -> str:
    """Names to canonical ids through the gazetteer (``place:Sirt`` -> ``sirte``).

    Other keyword fields only get their canonical form.
    """
    if field in GAZETTEER_FIELDS:
        from pipeline.enrich.gazetteer import resolve

        return resolve(field, value)
    return keyword_value(field, value)


# --------------------------------------------------------------------------- dates

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(T.+)?)?)?$")


def date_period(value: str) -> tuple[datetime, datetime, bool]:
    """``(start, end, exact)``: the half-open period a date string names.

    ``2020`` -> [2020-01-01, 2021-01-01); ``2020-02`` -> February;
    ``2020-02-03`` -> that day. A full ISO timestamp is an instant
    (``exact`` True, start == end). Naive values are UTC.
    """
    m = _DATE_RE.match(value.strip())
    if not m:
        raise ValueError(value)
    year, month, day, rest = m.groups()
    y = int(year)
    if month is None:
        return datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC), False
    mo = int(month)
    if day is None:
        start = datetime(y, mo, 1, tzinfo=UTC)
        end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=UTC)
        return start, end, False
    start = datetime(y, mo, int(day), tzinfo=UTC)
    if rest is None:
        return start, start + timedelta(days=1), False
    instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    instant = instant.astimezone(UTC)
    return instant, instant, True


def _lower_bound(value: str, inclusive: bool) -> tuple[datetime, bool]:
    start, end, exact = date_period(value)
    if exact:
        return start, inclusive
    return (start, True) if inclusive else (end, True)


def _upper_bound(value: str, inclusive: bool) -> tuple[datetime, bool]:
    start, end, exact = date_period(value)
    if exact:
        return end, inclusive
    return (end, False) if inclusive else (start, False)


# --------------------------------------------------------------------------- errors


def _syntax_error(text: str, exc: ParseError) -> QueryError:
    """Turn luqum's parser messages into something a user can act on."""
    msg = str(exc)
    if isinstance(exc, IllegalCharacterError):
        m = re.search(r"at position (\d+)", msg)
        pos = int(m.group(1)) if m else None
        if pos is not None and text[pos : pos + 1] == '"':
            return QueryError("unclosed quote", pos, text)
        if pos is not None and text[pos : pos + 1] == "\\":
            return QueryError("nothing after the escape character \\", pos, text)
        return QueryError("character not allowed here", pos, text)
    diag = _diagnose(text)
    if diag is not None:
        return diag
    m = re.search(r"unexpected\s+'(.*)' at position (\d+)", msg, re.S)
    if m:
        pos = int(m.group(2))
        shown = m.group(1) if m.group(1) not in ("", "None") else text[pos : pos + 1]
        return QueryError(f"unexpected '{shown}'", pos, text)
    return QueryError("the query ends too early", len(text), text)


_LEX_RE = re.compile(r'"(?:[^\\"]|\\.)*"|\\.|[()\[\]{}]|[^\s()\[\]{}"\\]+|\S')


def _diagnose(text: str) -> QueryError | None:
    """Find the usual mistakes: unbalanced brackets, dangling operators, empty fields."""
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "]": "[{", "}": "[{"}
    toks = [(m.group(0), m.start()) for m in _LEX_RE.finditer(text)]
    for tok, pos in toks:
        if tok in ("(", "[", "{"):
            stack.append((tok, pos))
        elif tok in pairs:
            if not stack or stack[-1][0] not in pairs[tok]:
                what = "parenthesis" if tok == ")" else "bracket"
                return QueryError(f"unbalanced {what}: '{tok}' closes nothing", pos, text)
            stack.pop()
    if stack:
        tok, pos = stack[-1]
        what = "parenthesis" if tok == "(" else "range bracket"
        return QueryError(f"unbalanced {what}: '{tok}' is never closed", pos, text)
    ops = {"AND", "OR", "NOT", "&&", "||"}
    for i, (tok, pos) in enumerate(toks):
        nxt = toks[i + 1][0] if i + 1 < len(toks) else None
        prev = toks[i - 1][0] if i > 0 else None
        if tok in ops and (nxt is None or nxt == ")" or (nxt in ops and nxt != "NOT")):
            return QueryError(f"nothing after {tok}", pos, text)
        if tok in ("AND", "OR") and (prev is None or prev == "(" or prev in ops):
            return QueryError(f"nothing before {tok}", pos, text)
        if tok.endswith(":") and (nxt is None or nxt == ")" or nxt in ops):
            return QueryError(f"nothing after '{tok}'", pos, text)
        if tok in ("+", "-") and (nxt is None or nxt == ")"):
            return QueryError(f"nothing after '{tok}'", pos, text)
    return None


# --------------------------------------------------------------------------- compile


class _Builder:
    """Walks luqum's tree; one instance per parse (holds the query text for errors)."""

    def __init__(self, text: str, resolve: Resolver) -> None:
        self.text = text
        self.resolve = resolve

    def err(self, message: str, item: lq.Item | None) -> QueryError:
        pos = getattr(item, "pos", None) if item is not None else None
        return QueryError(message, pos, self.text)

    def build(self, item: lq.Item, field: str | None) -> ast.Node | None:
        """None means "no searchable words here" (e.g. ``&&``); parents drop it."""
        if isinstance(item, lq.Group | lq.FieldGroup):
            return self.build(item.expr, field)
        if isinstance(item, lq.AndOperation | lq.UnknownOperation):
            return _and([self.build(c, field) for c in item.children])
        if isinstance(item, lq.OrOperation):
            return _or([self.build(c, field) for c in item.children])
        if isinstance(item, lq.Not | lq.Prohibit):
            inner = self.build(item.a, field)
            return None if inner is None else ast.Not(inner)
        if isinstance(item, lq.Plus):
            return self.build(item.a, field)
        if isinstance(item, lq.Boost):
            return self.build(item.expr, field)
        if isinstance(item, lq.SearchField):
            if field is not None:
                raise self.err(f"field '{item.name}' inside field '{field}'", item)
            return self.build(item.expr, self.field_name(item))
        if isinstance(item, lq.Fuzzy):
            raise self.err("fuzzy search (~) is not supported", item)
        if isinstance(item, lq.Proximity):
            return self.proximity(item, field)
        if isinstance(item, lq.Regex):
            raise self.err("regular expressions (/.../) are not supported", item)
        if isinstance(item, lq.Range):
            return self.range(item, field)
        if isinstance(item, lq.From | lq.To):
            return self.open_range(item, field)
        if isinstance(item, lq.Phrase):
            return self.value(item, field, item.value[1:-1], quoted=True)
        if isinstance(item, lq.Word):
            return self.value(item, field, item.value, quoted=False)
        raise self.err(f"'{item}' is not understood here", item)

    def field_name(self, item: lq.SearchField) -> str:
        name = ALIASES.get(item.name.lower(), item.name.lower())
        if name not in ast.ALL_FIELDS:
            valid = ", ".join(ast.ALL_FIELDS)
            raise self.err(f"unknown field '{item.name}' (valid fields: {valid})", item)
        return name

    # values -------------------------------------------------------------

    def value(self, item: lq.Term, field: str | None, raw: str, quoted: bool) -> ast.Node | None:
        unescaped = re.sub(r"\\(.)", r"\1", raw)
        if field in ast.DATE_FIELDS:
            if not quoted and raw == "*":
                return ast.DateRange(field, None, None)
            return self.date_equals(item, field, unescaped)
        prefix = False
        if not quoted:
            if raw in ("&&", "||", "!"):
                word = {"&&": "AND", "||": "OR", "!": "NOT"}[raw]
                raise self.err(f"write {word} instead of '{raw}'", item)
            if raw == "*":
                if field in ast.KEYWORD_FIELDS:
                    return ast.Keyword(field, "", prefix=True)
                return ast.MatchAll()
            prefix = self.check_wildcards(item, raw)
            if prefix:
                unescaped = re.sub(r"\\(.)", r"\1", raw[:-1])
        if field in ast.KEYWORD_FIELDS:
            if prefix:
                return ast.Keyword(field, keyword_value(field, unescaped), prefix=True)
            resolved = keyword_value(field, self.resolve(field, unescaped))
            return ast.Keyword(field, resolved)
        fields = (field,) if field else BOTH_TEXT_FIELDS
        words = tokens(unescaped)
        if not words:
            return None
        if prefix:
            if len(words) > 1:
                raise self.err("a wildcard works on a single word", item)
            return ast.Term(fields, words[0], prefix=True, exact=True)
        if quoted:  # exact word forms: "mobilised" does not find "mobilisation"
            if len(words) == 1:
                return ast.Term(fields, words[0], exact=True)
            return ast.Phrase(fields, tuple(words), exact=True)
        stemmed = tuple(textnorm.stem(w) for w in words)
        if len(stemmed) == 1:
            return ast.Term(fields, stemmed[0])
        return ast.Phrase(fields, stemmed, exact=False)

    def proximity(self, item: lq.Proximity, field: str | None) -> ast.Node | None:
        """``"forces Sirte"~10``: the words (stemmed) within N of each other, any order."""
        if not isinstance(item.term, lq.Phrase):
            raise self.err('proximity needs a quoted phrase, e.g. "forces Sirte"~10', item)
        if field is not None and field not in ast.TEXT_FIELDS:
            raise self.err(f"proximity works on text fields, not on '{field}'", item)
        try:
            distance = int(item.degree if item.degree is not None else 1)
        except (TypeError, ValueError):
            raise self.err("proximity needs a whole number of words after ~", item) from None
        if not 0 <= distance <= MAX_NEAR_DISTANCE:
            raise self.err(f"proximity distance must be 0 to {MAX_NEAR_DISTANCE}", item)
        unescaped = re.sub(r"\\(.)", r"\1", item.term.value[1:-1])
        words = tuple(textnorm.stem(w) for w in tokens(unescaped))
        if not words:
            return None
        fields = (field,) if field else BOTH_TEXT_FIELDS
        if len(words) == 1:
            return ast.Term(fields, words[0])
        if len(words) > MAX_NEAR_WORDS:
            raise self.err(f"proximity works on at most {MAX_NEAR_WORDS} words", item)
        if distance < len(words) - 2:
            raise self.err(
                f"{len(words)} words cannot be within {distance} of each other; "
                f"use ~{len(words) - 2} or more",
                item,
            )
        return ast.Phrase(fields, words, exact=False, slop=distance)

    def check_wildcards(self, item: lq.Term, raw: str) -> bool:
        """True for one trailing ``*``; any other wildcard is a QueryError."""
        spans = [span for span, _ in item.iter_wildcards()]
        if not spans:
            return False
        base = item.pos or 0
        first, char = spans[0][0], raw[spans[0][0]]
        if first == 0:
            raise QueryError(
                f"a word cannot start with a wildcard ('{raw}'); put * at the end", base, self.text
            )
        if char == "?":
            raise QueryError(
                "'?' wildcards are not supported; use * at the end", base + first, self.text
            )
        if len(spans) > 1 or spans[0][1] != len(raw):
            raise QueryError(
                "a wildcard (*) is allowed only at the end of a word", base + first, self.text
            )
        return True

    # dates --------------------------------------------------------------

    def parse_date(self, item: lq.Item, value: str) -> str:
        try:
            date_period(value)
        except ValueError:
            raise self.err(
                f"'{value}' is not a date (use YYYY, YYYY-MM, YYYY-MM-DD or an ISO timestamp)",
                item,
            ) from None
        return value

    def date_equals(self, item: lq.Item, field: str, value: str) -> ast.Node:
        self.parse_date(item, value)
        start, end, exact = date_period(value)
        return ast.DateRange(field, start, end, True, exact)

    def bound_text(self, item: lq.Item) -> str | None:
        if isinstance(item, lq.Phrase):
            return item.value[1:-1]
        if isinstance(item, lq.Word):
            return None if item.value == "*" else item.value
        raise self.err("a range bound must be a date or *", item)

    def range(self, item: lq.Range, field: str | None) -> ast.Node:
        if field not in ast.DATE_FIELDS:
            raise self.err(
                "ranges work on published and ingested only, e.g. published:[2020 TO 2021]",
                item,
            )
        low, high = self.bound_text(item.low), self.bound_text(item.high)
        start = end = None
        inc_s = inc_e = True
        if low is not None:
            start, inc_s = _lower_bound(self.parse_date(item.low, low), item.include_low)
        if high is not None:
            end, inc_e = _upper_bound(self.parse_date(item.high, high), item.include_high)
        return ast.DateRange(field, start, end, inc_s, inc_e)

    def open_range(self, item: lq.From | lq.To, field: str | None) -> ast.Node:
        if field not in ast.DATE_FIELDS:
            raise self.err(
                f"ranges work on {' and '.join(ast.DATE_FIELDS)} only, e.g. published:>=2020-01-01",
                item,
            )
        raw = self.bound_text(item.a)
        if raw is None:
            return ast.DateRange(field, None, None)
        value = self.parse_date(item.a, raw)
        if isinstance(item, lq.From):
            start, inc = _lower_bound(value, item.include)
            return ast.DateRange(field, start, None, inc, True)
        end, inc = _upper_bound(value, item.include)
        return ast.DateRange(field, None, end, True, inc)


def _and(items: list[ast.Node | None]) -> ast.Node | None:
    kept = [i for i in items if i is not None and not isinstance(i, ast.MatchAll)]
    if not kept:
        return ast.MatchAll() if any(isinstance(i, ast.MatchAll) for i in items) else None
    flat: list[ast.Node] = []
    for i in kept:
        flat.extend(i.items if isinstance(i, ast.And) else (i,))
    return flat[0] if len(flat) == 1 else ast.And(tuple(flat))


def _or(items: list[ast.Node | None]) -> ast.Node | None:
    kept = [i for i in items if i is not None]
    if not kept:
        return None
    if any(isinstance(i, ast.MatchAll) for i in kept):
        return ast.MatchAll()
    flat: list[ast.Node] = []
    for i in kept:
        flat.extend(i.items if isinstance(i, ast.Or) else (i,))
    return flat[0] if len(flat) == 1 else ast.Or(tuple(flat))


def _luqum_parse(text: str) -> lq.Item:
    from luqum.parser import lexer, parser

    with _PARSE_LOCK:
        lexer.lineno = 1
        return parser.parse(text, lexer=lexer)


def parse_query(text: str, resolve: Resolver | None = None) -> ast.Node:
    """Parse a user's query; raise QueryError (with a position) for anything wrong."""
    if text is None or not text.strip() or text.strip() == "*":
        return ast.MatchAll()
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is too long (at most {MAX_QUERY_CHARS} characters)", None, text
        )
    try:
        tree = _luqum_parse(text)
    except (ParseSyntaxError, IllegalCharacterError) as exc:
        raise _syntax_error(text, exc) from None
    except ParseError as exc:
        raise QueryError(f"the query could not be read: {exc}", None, text) from None
    except RecursionError:
        raise QueryError("the query is nested too deeply", None, text) from None
    except Exception as exc:  # a parser bug must still reach the user as a QueryError
        raise QueryError(
            f"the query could not be read ({type(exc).__name__})", None, text
        ) from None
    try:
        node = _Builder(text, resolve or default_resolve).build(tree, None)
    except QueryError:
        raise
    except RecursionError:
        raise QueryError("the query is nested too deeply", None, text) from None
    except Exception as exc:
        raise QueryError(
            f"the query could not be read ({type(exc).__name__})", None, text
        ) from None
    if node is None:
        raise QueryError("the query has no words to search for", 0, text)
    return node


# --------------------------------------------------------------------------- helpers


def positive_nodes(node: ast.Node) -> list[ast.Term | ast.Phrase]:
    """Terms and phrases that count for ranking and highlighting (not under a NOT)."""
    if isinstance(node, ast.Term | ast.Phrase):
        return [node]
    if isinstance(node, ast.And | ast.Or):
        out: list[ast.Term | ast.Phrase] = []
        for item in node.items:
            for n in positive_nodes(item):
                if n not in out:
                    out.append(n)
        return out
    return []


def positive_terms(node: ast.Node) -> list[str]:
    """The words (``mobili*`` for a prefix) and phrases (space-joined) to highlight.

    Bare words appear as their stems, quoted ones as written (folded).
    """
    out: list[str] = []
    for n in positive_nodes(node):
        s = (n.value + ("*" if n.prefix else "")) if isinstance(n, ast.Term) else " ".join(n.words)
        if s not in out:
            out.append(s)
    return out


def filters_node(request: SearchRequest) -> ast.Node:
    """The SearchRequest filters as one tree, ANDed with the query by every backend."""
    items: list[ast.Node] = []
    if request.since is not None or request.until is not None:
        items.append(ast.DateRange("published", _utc(request.since), _utc(request.until)))
    if request.ingested_since is not None:
        items.append(ast.DateRange("ingested", _utc(request.ingested_since), None))
    for fld, values in (
        ("source", request.sources),
        ("lang", request.langs),
        ("event", request.events),
        ("place", request.places),
    ):
        if values:
            kws = [ast.Keyword(fld, keyword_value(fld, v)) for v in values]
            items.append(kws[0] if len(kws) == 1 else ast.Or(tuple(kws)))
    if not items:
        return ast.MatchAll()
    return items[0] if len(items) == 1 else ast.And(tuple(items))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
