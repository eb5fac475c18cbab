"""Incidents as ACLED-like rows (CSV, JSON Lines, Parquet).

Columns follow ACLED's public export where the product has the information
(event_date, event_type, sub_event_type, actor1, actor2, admin1, location,
latitude, longitude, source, notes) and add what it knows beyond it: the PLOVER
code, the report count, outlets, languages and the article links. ``admin1`` is
the gazetteer's region (Tripolitania, Cyrenaica, Fezzan), not ACLED's district.
Pure: records in, rows out; writing is in ``write``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

from pipeline.errors import NewswatchError

COLUMNS = (
    "event_id_cnty", "event_date", "event_type", "sub_event_type", "plover", "actor1",
    "actor2", "country", "admin1", "location", "latitude", "longitude", "geo_precision",
    "source", "notes", "reports", "languages", "first_report", "last_report",
    "date_provenance", "urls",
)  # fmt: skip
FLOATS = ("latitude", "longitude")
INTS = ("reports", "geo_precision")


def _region(place_id: str) -> str:
    from pipeline.enrich.gazetteer import get_entity

    e = get_entity(place_id)
    return (e.region or "").replace("_", " ").title() if e else ""


def acled_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    places = rec.get("places") or [{}]
    top = places[0]
    actors = [a.get("name", a.get("id", "")) for a in rec.get("actors", [])]
    notes = " | ".join(
        f"[{e.get('lang')}] {e.get('evidence')} ({e.get('source')})"
        for e in rec.get("evidence", [])
    )
    return {
        "event_id_cnty": rec.get("id", ""),
        "event_date": rec.get("event_date", ""),
        "event_type": rec.get("acled_event_type", ""),
        "sub_event_type": rec.get("sub_event_type", ""),
        "plover": rec.get("plover", ""),
        "actor1": actors[0] if actors else "",
        "actor2": actors[1] if len(actors) > 1 else "",
        "country": top.get("country") or "",
        "admin1": _region(top.get("id", "")) if top.get("id") else "",
        "location": top.get("name", ""),
        "latitude": top.get("lat"),
        "longitude": top.get("lon"),
        "geo_precision": 1 if len(places) == 1 else 2,  # ACLED: 1 = the town itself
        "source": "; ".join(rec.get("outlets", [])),
        "notes": notes,
        "reports": rec.get("reports", 0),
        "languages": ";".join(rec.get("languages", [])),
        "first_report": rec.get("first_report") or "",
        "last_report": rec.get("last_report") or "",
        "date_provenance": rec.get("date_provenance", ""),
        "urls": " ".join(a.get("url", "") for a in rec.get("articles", [])),
    }


def write(
    records: Iterable[Mapping[str, Any]], fmt: str, out: IO[str] | None, path: str | None
) -> int:
    """Write rows; Parquet needs a path. Returns the number of incidents written."""
    rows = (acled_row(r) for r in records)
    if fmt == "parquet":
        if not path:
            raise NewswatchError("Parquet is a binary file: give an output file with -o FILE")
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise NewswatchError(
                "Parquet export needs pyarrow: install the parquet extra, "
                "e.g. `.venv/bin/pip install -e '.[parquet]'`"
            ) from None
        fields = [
            (c, pa.float64() if c in FLOATS else pa.int64() if c in INTS else pa.string())
            for c in COLUMNS
        ]
        data = list(rows)
        pq.write_table(pa.Table.from_pylist(data, schema=pa.schema(fields)), path)
        return len(data)
    if path:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            return _write_text(rows, fmt, fh)
    assert out is not None
    if fmt == "csv" and isinstance(out, io.TextIOWrapper):
        out.reconfigure(newline="")
    return _write_text(rows, fmt, out)


def _write_text(rows: Iterable[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
            n += 1
        return n
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n
