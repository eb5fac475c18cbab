#!/usr/bin/env bash
# Local PostgreSQL for the state tests.
#
#   scripts/postgres.sh start   install (if needed), init (once), start, create role/db, print URL
#   scripts/postgres.sh stop    stop the cluster started here
#   scripts/postgres.sh url     print the SQLAlchemy URL
#   scripts/postgres.sh status  exit 0 if the server accepts connections
#   scripts/postgres.sh datadir print the server's data folder
#   scripts/postgres.sh database NAME PASSWORD
#                               create (once) a role NAME with PASSWORD owning a database
#                               NAME on the running server (scripts/cluster.sh: Airflow's)
#
# The cluster lives in .cache/postgres/ (git-ignored), listens on 127.0.0.1
# only, and keeps its unix socket in the same folder so it never collides
# with a system-wide server.
#
# Environment: PG_PORT (default 55432).
set -euo pipefail

PG_PORT="${PG_PORT:-55432}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT/.cache/postgres"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

# The server runs as the postgres user, which must reach its data dir: under a
# checkout that other users cannot enter, the cluster lives under /var/tmp.
BASE="$(runtime_dir newswatch-pg "$BASE")"
DATA="$BASE/data-$PG_PORT"
SOCK="$BASE/sock"
LOGFILE="$BASE/postgres-$PG_PORT.log"
URL="postgresql+psycopg://newswatch:newswatch@127.0.0.1:$PG_PORT/newswatch"

log() { printf '%s\n' "postgres.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

find_bin() {
	# The newest installed major version's bin dir; install the server if none.
	local dir
	dir="$(find_installed)"
	if [[ -z "$dir" ]]; then
		[[ "$(id -u)" -eq 0 ]] || die "PostgreSQL is not installed and we are not root to apt-get it"
		log "installing PostgreSQL with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get update >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
		dir="$(find_installed)"
		[[ -n "$dir" ]] || die "PostgreSQL installed but no bin dir under /usr/lib/postgresql"
	fi
	printf '%s\n' "$dir"
}

find_installed() {
	local d
	shopt -s nullglob
	local dirs=(/usr/lib/postgresql/*/bin)
	shopt -u nullglob
	((${#dirs[@]})) || return 0
	while IFS= read -r d; do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
			printf '%s\n' "$d"
			return 0
		fi
	done < <(printf '%s\n' "${dirs[@]}" | sort -V -r)
}

as_owner() {
	# initdb and postgres refuse to run as root: use the postgres system user.
	if [[ "$(id -u)" -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
		(cd / && runuser -u postgres -- "$@") # its own cwd may be closed to it
	else
		"$@"
	fi
}

ready() {
	local bin="$1"
	as_owner "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1
}

psql_admin() {
	local bin="$1"
	shift
	as_owner "$bin/psql" -v ON_ERROR_STOP=1 -qtA -h "$SOCK" -p "$PG_PORT" -d postgres "$@"
}

start() {
	local bin
	bin="$(find_bin)"
	mkdir -p "$BASE" "$SOCK"
	if [[ "$(id -u)" -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
		chown postgres: "$SOCK"
		[[ "$BASE" == "$ROOT/.cache/postgres" ]] && chmod o+rx "$ROOT/.cache"
		chmod o+rx "$BASE"
	fi
	if [[ ! -s "$DATA/PG_VERSION" ]]; then
		mkdir -p "$DATA"
		[[ "$(id -u)" -eq 0 ]] && chown postgres: "$DATA"
		log "initialising a cluster in $DATA"
		as_owner "$bin/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >&2 ||
			as_owner "$bin/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-locale >&2
		# Local socket and 127.0.0.1 only; password auth over TCP for the app role.
		cat >"$DATA/pg_hba.conf" <<-EOF
			local all all trust
			host all postgres 127.0.0.1/32 trust
			host all all 127.0.0.1/32 scram-sha-256
		EOF
		[[ "$(id -u)" -eq 0 ]] && chown postgres: "$DATA/pg_hba.conf"
	fi
	if ! ready "$bin"; then
		log "starting on 127.0.0.1:$PG_PORT"
		[[ "$(id -u)" -eq 0 ]] && touch "$LOGFILE" && chown postgres: "$LOGFILE"
		as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SOCK -c max_connections=100 -c fsync=off" \
			start >&2 || {
			tail -n 30 "$LOGFILE" >&2 || true
			die "PostgreSQL did not start (see $LOGFILE)"
		}
	fi
	if [[ "$(psql_admin "$bin" -c "SELECT 1 FROM pg_roles WHERE rolname='newswatch'")" != "1" ]]; then
		psql_admin "$bin" -c "CREATE ROLE newswatch LOGIN PASSWORD 'newswatch' CREATEDB"
	fi
	if [[ "$(psql_admin "$bin" -c "SELECT 1 FROM pg_database WHERE datname='newswatch'")" != "1" ]]; then
		psql_admin "$bin" -c "CREATE DATABASE newswatch OWNER newswatch"
	fi
	printf '%s\n' "$URL"
}

database() {
	local name="${1:?database NAME PASSWORD}" password="${2:?database NAME PASSWORD}" bin
	[[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "database: '$name' is not a plain lower-case name"
	[[ "$password" != *"'"* ]] || die "database: the password must not contain a quote"
	bin="$(find_bin)"
	ready "$bin" || die "PostgreSQL is not running on 127.0.0.1:$PG_PORT (scripts/postgres.sh start)"
	if [[ "$(psql_admin "$bin" -c "SELECT 1 FROM pg_roles WHERE rolname='$name'")" != "1" ]]; then
		psql_admin "$bin" -c "CREATE ROLE $name LOGIN PASSWORD '$password'"
	fi
	if [[ "$(psql_admin "$bin" -c "SELECT 1 FROM pg_database WHERE datname='$name'")" != "1" ]]; then
		psql_admin "$bin" -c "CREATE DATABASE $name OWNER $name"
	fi
}

stop() {
	local bin
	bin="$(find_installed)"
	if [[ -z "$bin" || ! -s "$DATA/postmaster.pid" ]]; then
		log "not running"
		return 0
	fi
	as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >&2
}

status() {
	# Says what it found (and exits 0 only when the server accepts connections).
	local bin
	bin="$(find_installed)"
	if [[ -z "$bin" ]]; then
		printf 'postgres: not installed (scripts/postgres.sh start installs it)\n'
		return 1
	fi
	if ready "$bin"; then
		printf 'postgres: running, accepting connections at %s\n' "$URL"
	else
		printf 'postgres: not running (nothing accepts connections at %s)\n' "$URL"
		return 1
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) printf '%s\n' "$URL" ;;
status) status ;;
datadir) printf '%s\n' "$DATA" ;;
database)
	shift
	database "$@"
	;;
*)
	printf 'usage: %s start|stop|url|status|database NAME PASSWORD\n' "$0" >&2
	exit 2
	;;
esac
