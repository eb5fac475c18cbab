"""State: the source of truth (feeds, items, pages, articles, runs).

The search index can always be rebuilt from here. ``open_store`` migrates the
database to the current schema with Alembic before handing it out.
"""

from pipeline.store.db import Store, open_store

__all__ = ["Store", "open_store"]
