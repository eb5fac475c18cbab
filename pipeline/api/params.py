"""The filters every search-like route shares, parsed once into a SearchRequest.

Dates are parsed here rather than by FastAPI so a bad date is the same kind
of 422 as a broken query: one message that says which parameter and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Query

from pipeline.errors import QueryError
from pipeline.search.base import SearchRequest
from pipeline.search.query import MAX_QUERY_CHARS

QUERY_DOC = (
    'Lucene syntax: terms, "phrases", AND/OR/NOT, (groups), field:value '
    "(title text source lang event entity person org actor place), "
    "published:[2020-01-01 TO 2020-12-31], prefix*. Empty = everything."
)


class ParamError(QueryError):
    """A filter parameter (not the query) has a bad value."""


def parse_day(value: str | None, name: str) -> datetime | None:
    """``YYYY-MM-DD`` or full ISO 8601; naive times are UTC."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ParamError(f"{name}: {value!r} is not a date (use YYYY-MM-DD)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class Filters:
    q: str
    since: datetime | None
    until: datetime | None
    sources: list[str]
    langs: list[str]
    events: list[str]
    places: list[str]

    def request(self, **extra: object) -> SearchRequest:
        return SearchRequest(
            query=self.q,
            since=self.since,
            until=self.until,
            sources=self.sources,
            langs=self.langs,
            events=self.events,
            places=self.places,
            **extra,  # type: ignore[arg-type]
        )


def filters(
    q: Annotated[str, Query(description=QUERY_DOC, max_length=MAX_QUERY_CHARS)] = "",
    since: Annotated[str | None, Query(description="published on or after (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, Query(description="published before (YYYY-MM-DD)")] = None,
    source: Annotated[list[str], Query(description="only these sources (repeat)")] = [],  # noqa: B006
    lang: Annotated[list[str], Query(description="only these languages (repeat)")] = [],  # noqa: B006
    event: Annotated[list[str], Query(description="only these event types (repeat)")] = [],  # noqa: B006
    place: Annotated[list[str], Query(description="only these places (repeat)")] = [],  # noqa: B006
) -> Filters:
    """FastAPI dependency: the shared filters of search and export."""
    return Filters(
        q=q,
        since=parse_day(since, "since"),
        until=parse_day(until, "until"),
        sources=[s for s in source if s],
        langs=[s for s in lang if s],
        events=[s for s in event if s],
        places=[s for s in place if s],
    )


Sort = Literal["relevance", "date"]
