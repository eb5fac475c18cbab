"""newswatch: watches Libya's news.

The public Python API is small on purpose: ``ingest_cycle`` runs one ingest
cycle, ``load_settings`` reads the settings, ``open_backend`` gives the
configured search backend.
"""

__version__ = "0.1.0"
