"""The incidents stage: link every newly enriched article's event mentions.

Runs after enrichment in the ingest (``pipeline.run.ingest_cycle``) and from
``newswatch incidents --link``. Each article is read once (``incident_articles``);
a re-run finds nothing to do, so incidents never change by re-running.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.config import Settings
from pipeline.incidents.index import index_pending
from pipeline.incidents.linker import Linker
from pipeline.incidents.mentions import mentions_of, order
from pipeline.store import incidents as state
from pipeline.store.db import Store

CHUNK = 1000


def link_pending(store: Store, chunk: int = CHUNK) -> dict[str, Any]:
    """Link all pending articles; returns counts and the changed incident ids."""
    t0 = time.perf_counter()
    linker = Linker(loader=state.loader(store))
    counts: dict[str, int] = {"articles": 0, "mentions": 0, "changes": 0}
    changed: set[str] = set()
    after = ""
    while True:
        recs = state.pending_articles(store, chunk, after)
        if not recs:
            break
        after = recs[-1]["id"]
        found = []
        for r in recs:
            try:
                found.extend(mentions_of(r))
            except (KeyError, TypeError, ValueError):  # a malformed stored record: skipped, counted
                counts["bad_records"] = counts.get("bad_records", 0) + 1
        ms = order(found)
        linker.prefetch(ms)
        for m in ms:
            linker.link(m)
        changed.update(state.save_links(store, linker, ms, [r["id"] for r in recs], counts))
        counts["articles"] += len(recs)
        counts["mentions"] += len(ms)
    return {
        "counts": {**counts, "incidents_changed": len(changed)},
        "changed": sorted(changed),
        "seconds": time.perf_counter() - t0,
    }


def incidents_stage(
    store: Store, run_id: str | None = None, settings: Settings | None = None
) -> dict[str, int]:
    """The ingest's hook: link, index the changed incidents, record the counts."""
    out = link_pending(store)
    counts = dict(out["counts"])
    seconds = out["seconds"]
    if settings is not None:
        t0 = time.perf_counter()
        counts.update(index_pending(settings, store))
        seconds += time.perf_counter() - t0
    store.add_run_stat(run_id, "incidents", {"counts": counts}, seconds)
    return counts
