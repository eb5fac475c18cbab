"""Incidents: one record per real-world event, across outlets and languages.

Pure logic only (no I/O): ``mentions`` turns stored article records into event
mentions, ``linker`` attaches each mention to an incident through a candidate
lookup by (type, grid cell, day), ``taxonomy`` maps event types to ACLED and
PLOVER codes, ``record`` builds the published incident record. Storage lives in
``pipeline/store``, the stage in ``pipeline/incidents/stage.py``.
"""
