"""``GET /api/export``: every matching article record, streamed as JSONL or CSV.

The query is parsed before the first byte is sent, so a broken query is a
422 and never a half-written download. Records come from state in batches
(as ``newswatch export`` reads them), so memory stays flat.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from pipeline.api.auth import read_access
from pipeline.api.models import ErrorBody
from pipeline.api.params import Filters, filters
from pipeline.api.resources import Resources
from pipeline.export import iter_records, write_csv, write_jsonl
from pipeline.search.query import parse_query

router = APIRouter(tags=["export"], dependencies=[Depends(read_access)])

MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def _records(res: Resources, f: Filters) -> Iterator[dict[str, Any]]:
    return iter_records(
        res.settings,
        res.store,
        query=f.q,
        since=f.since,
        until=f.until,
        sources=f.sources,
        langs=f.langs,
        events=f.events,
        places=f.places,
    )


def _chunks(records: Iterator[dict[str, Any]], fmt: str) -> Iterator[bytes]:
    """Write through the CLI's writers into a buffer, flushed every few records."""
    buf = io.StringIO()
    pending = 0

    def tick() -> None:
        nonlocal pending
        pending += 1

    writer = write_jsonl if fmt == "jsonl" else write_csv

    def batches() -> Iterator[list[dict[str, Any]]]:
        while batch := list(islice(records, 100)):
            yield batch

    first = True
    for batch in batches():
        if fmt == "csv" and not first:
            # only the first batch writes the header
            inner = io.StringIO()
            write_csv(batch, inner, tick)
            buf.write(inner.getvalue().split("\r\n", 1)[1])
        else:
            writer(batch, buf, tick)
        first = False
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
    if first and fmt == "csv":
        write_csv([], buf, tick)
        yield buf.getvalue().encode("utf-8")


@router.get(
    "/api/export",
    responses={
        200: {
            "content": {MEDIA["jsonl"]: {"schema": {"type": "string"}}, "text/csv": {}},
            "description": "one article record per line (JSONL) or per row (CSV)",
        },
        401: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
    response_class=StreamingResponse,
    summary="Export matching article records as JSON Lines or CSV (streamed)",
)
def export(
    request: Request,
    f: Annotated[Filters, Depends(filters)],
    format: Annotated[Literal["jsonl", "csv"], Query(description="jsonl or csv")] = "jsonl",
) -> StreamingResponse:
    res: Resources = request.app.state.resources
    parse_query(f.q)  # a broken query is a 422 before anything is streamed
    name = f"newswatch-export.{format}"
    return StreamingResponse(
        _chunks(_records(res, f), format),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
