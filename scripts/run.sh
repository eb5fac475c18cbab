#!/usr/bin/env bash
# Quick start, command 1: install into .venv and run one ingest cycle on the
# embedded default (SQLite state + SQLite FTS5 search) over feeds.yaml.
# Extra arguments go to `newswatch ingest` (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/newswatch ingest "$@"
