#!/usr/bin/env bash
# Quick start, command 2: install the dev dependencies (with Airflow) and the
# headless browser, start the real servers the tests use (Elasticsearch,
# PostgreSQL; all on 127.0.0.1), install Redis for the cluster test (which starts
# its own cluster with scripts/cluster.sh), lint, and run the whole test suite.
# Extra arguments go to pytest.
# With CI=true the servers are required: a test that needs a missing server fails.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
scripts/bootstrap.sh dev,airflow
scripts/install-browser.sh >&2 || echo "!! chromium could not be installed; the page tests will fail in CI" >&2
scripts/install-terminal.sh >&2 || echo "!! tmux could not be installed; the terminal tests will fail in CI" >&2
# The cluster test's Celery broker: Debian's redis-server (scripts/cluster.sh starts it).
scripts/cluster.sh install-redis >&2 || echo "!! redis-server could not be installed; the cluster test will fail in CI" >&2

if [ "${CI:-}" = "true" ]; then
  export NEWSWATCH_REQUIRE_SERVERS=1
fi

# Real servers for the integration tests. A failure to start is reported; in CI
# the tests that need the server then fail (NEWSWATCH_REQUIRE_SERVERS=1).
if es_url=$(scripts/elasticsearch.sh start); then
  export NEWSWATCH_TEST_ELASTICSEARCH_URL="$es_url"
else
  echo "!! the test Elasticsearch did not start; its tests will fail in CI" >&2
fi
if pg_url=$(scripts/postgres.sh start); then
  export NEWSWATCH_TEST_DATABASE_URL="$pg_url"
else
  echo "!! the test PostgreSQL did not start; its tests will fail in CI" >&2
fi

echo "==> ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { echo "!! ruff format would change files (run: .venv/bin/ruff format .)" >&2; exit 1; }

echo "==> pytest" >&2
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "!! pytest ran no test: that is a failure" >&2
  rc=1
fi
echo "==> test.sh finished in $(( $(date +%s) - started ))s with exit code $rc" >&2
exit "$rc"
