#!/usr/bin/env bash
# Run Airflow on this machine, no Docker: `airflow standalone` with newswatch's DAGs.
#
#   scripts/airflow-standalone.sh          migrate, create the fetch pool, start everything
#   scripts/airflow-standalone.sh init     only migrate the metadata DB and create the pool
#
# Everything lives under data/airflow (metadata DB in SQLite, logs, the generated
# admin password), so a `rm -rf data/airflow` starts over. newswatch itself runs
# on its embedded default (SQLite state + FTS5 search in data/) unless the
# NEWSWATCH_* environment, an Airflow Variable `newswatch_<setting>` or the
# connection AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH says otherwise.
#
# Needs the airflow extra: pip install -e ".[airflow]"
#
# Environment: AIRFLOW_PORT (default 8080), NEWSWATCH_FETCH_POOL_SLOTS (default 4:
# fetch tasks at once over all runs), NEWSWATCH_SCHEDULE (default every 10 minutes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -x "$ROOT/.venv/bin/airflow" ]]; then
	AIRFLOW="$ROOT/.venv/bin/airflow"
elif command -v airflow >/dev/null 2>&1; then
	AIRFLOW="$(command -v airflow)"
else
	echo 'airflow-standalone.sh: Airflow is not installed; run: pip install -e ".[airflow]"' >&2
	exit 1
fi

# standalone starts its components as `airflow ...` subprocesses, found on PATH.
AIRFLOW_BIN="$(dirname "$AIRFLOW")"
export PATH="$AIRFLOW_BIN:$PATH"

AIRFLOW_PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/data/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__PORT="$AIRFLOW_PORT"
# Loopback only: this is a one-person development setup, not a server.
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# The tasks import pipeline/ from this checkout, also when the project is not installed.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# State and the feeds file relative to the checkout, whatever directory a task runs in.
export NEWSWATCH_DATA_DIR="${NEWSWATCH_DATA_DIR:-$ROOT/data}"
export NEWSWATCH_FEEDS_FILE="${NEWSWATCH_FEEDS_FILE:-$ROOT/feeds.yaml}"
mkdir -p "$AIRFLOW_HOME" "$NEWSWATCH_DATA_DIR"

"$AIRFLOW" db migrate >/dev/null
"$AIRFLOW" pools set newswatch_fetch "${NEWSWATCH_FETCH_POOL_SLOTS:-4}" \
	"newswatch page fetch tasks running at once" >/dev/null
echo "airflow-standalone.sh: metadata DB and pool ready in $AIRFLOW_HOME" >&2
[[ "${1:-}" == "init" ]] && exit 0

cat >&2 <<EOF
airflow-standalone.sh: starting Airflow with the DAGs in $AIRFLOW__CORE__DAGS_FOLDER
  log in at  http://localhost:$AIRFLOW_PORT
  user       admin
  password   printed below once generated, and kept in
             $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
  the DAGs start paused: unpause newswatch_ingest in the UI, or
             AIRFLOW_HOME=$AIRFLOW_HOME $AIRFLOW dags unpause newswatch_ingest
EOF
exec "$AIRFLOW" standalone
