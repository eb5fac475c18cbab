"""The first start of an embedded index: build it from state, with a progress bar.

An install that ran on SQLite FTS5 and starts with the Tantivy default (or
an FTS5 index of an older layout) finds an empty index beside a state full
of articles. Rather than answering every search with nothing until someone
runs ``newswatch reindex``, the process that created the index builds it
from state there and then, saying so on stderr. Articles are marked pending
first, so a build killed halfway leaves them to the next ingest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.search.base import SearchBackend


def build_from_state(settings: Settings, backend: SearchBackend) -> int:
    """Fill a just-created index from every stored article.

    Only when state says articles were indexed (into the backend used
    before); a new install, whose articles are all pending, is left to the
    ingest's own index stage. Returns the articles indexed (0: nothing done).
    """
    from pipeline.progress import RichProgress
    from pipeline.run import reindex
    from pipeline.store import open_store

    backend.created = False  # type: ignore[attr-defined]
    store = open_store(settings)
    try:
        total = store.count_articles()
        indexed_elsewhere = total - store.count_pending_index()
    finally:
        store.close()
    if not indexed_elsewhere:  # a new install: the ingest's own index stage fills it
        return 0
    console = Console(stderr=True)
    console.print(
        f"newswatch: building the {backend.name} search index from the {total} stored "
        f"article(s) (first start; the same as `newswatch reindex`) ...",
        highlight=False,
    )
    with RichProgress(console) as progress:
        return reindex(settings, progress, backend=backend, pending_first=True)
