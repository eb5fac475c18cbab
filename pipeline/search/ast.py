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
    """One word (already normalised with textnorm.normalise_for_search, lower-cased).

    ``fields`` is ("title", "text") for a bare term. ``prefix`` is True for a
    trailing wildcard (``mobili*``); leading wildcards are refused at parse time.
    """

    fields: tuple[str, ...]
    value: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    fields: tuple[str, ...]
    words: tuple[str, ...]  # normalised, lower-cased tokens


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
