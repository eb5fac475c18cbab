"""Search: one query language, pluggable backends (see base.SearchBackend)."""
