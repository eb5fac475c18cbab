"""The backend-neutral query tree.

``query.parse_query`` turns Lucene query-string text (parsed by luqum) into
these nodes once; each backend compiles the same tree, which is what makes
the parity test between backends meaningful.

Fields: ``text`` and ``title`` are full-text (a bare term searches both);
``source``, ``lang``, ``event``, ``entity``, ``person``, ``org``, ``actor``,
``place`` are exact keyword fields whose values were resolved to canonical
ids at parse time (``actor`` = a person, armed group or foreign actor; ``org``
= an organisation or institution); ``published`` and ``ingested`` take ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TEXT_FIELDS = ("title", "text")
KEYWORD_FIELDS = ("source", "lang", "event", "entity", "person", "org", "actor", "place", "story")
DATE_FIELDS = ("published", "ingested")
ALL_FIELDS = (*TEXT_FIELDS, *KEYWORD_FIELDS, *DATE_FIELDS)


@dataclass(frozen=True, slots=True)
class Term:
    """One word, as the shared tokenizer (``textnorm``) indexes it.

    ``fields`` is ("title", "text") for a bare term. A bare word matches on
    its stem (``value`` is ``textnorm.stem`` of the token, ``exact`` False); a
    quoted word and a trailing wildcard (``mobili*``, ``prefix`` True) match
    the exact token forms (``exact`` True). Leading wildcards are refused at
    parse time.
    """

    fields: tuple[str, ...]
    value: str
    prefix: bool = False
    exact: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words in a row; or, with ``slop`` N > 0, words within N of each other.

    A quoted phrase matches exact token forms (``exact`` True, ``words`` are
    exact tokens). A word the tokenizer splits (``al-Wasat``) and a proximity
    query (``"forces Sirte"~10``) match stems. Proximity is unordered: every
    word occurs with at most ``slop`` other tokens between the first and the
    last of them (SQLite FTS5 ``NEAR`` semantics, which the other backends
    reproduce).
    """

    fields: tuple[str, ...]
    words: tuple[str, ...]
    exact: bool = True
    slop: int = 0


@dataclass(frozen=True, slots=True)
class Keyword:
    """Exact match on a keyword field (values are canonical ids / names)."""

    field: str
    value: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class DateRange:
    field: str  # published | ingested
    start: datetime | None
    end: datetime | None
    include_start: bool = True
    include_end: bool = True


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class MatchAll:
    pass


Node = Term | Phrase | Keyword | DateRange | And | Or | Not | MatchAll
