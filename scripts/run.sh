#!/usr/bin/env bash
# Quick start, command 1: install into .venv and run one ingest cycle on the
# embedded default (SQLite state + SQLite FTS5 search) over feeds.yaml.
# Extra arguments go to `newswatch ingest` (e.g. --json).
# The install is quiet: pip's output is shown only when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp "${TMPDIR:-/tmp}/newswatch-install.XXXXXX")"
trap 'rm -f "$log"' EXIT
if ! scripts/bootstrap.sh >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: installing newswatch into .venv failed (pip output above)" >&2
  exit 1
fi
rm -f "$log"
trap - EXIT
exec .venv/bin/newswatch ingest "$@"
