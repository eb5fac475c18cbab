#!/usr/bin/env bash
# Local single-node Elasticsearch for tests and local use.
#
#   scripts/elasticsearch.sh start    download (once), start, wait for health, print the URL
#   scripts/elasticsearch.sh stop     stop the node started here (by its pid file)
#   scripts/elasticsearch.sh url      print the URL
#   scripts/elasticsearch.sh status   exit 0 if the node answers a yellow/green health
#   scripts/elasticsearch.sh pid      print the node's pid (exit 1 when it is not running)
#   scripts/elasticsearch.sh rundir   print the node's folder (data, logs, pid file)
#
# Why the integ-test zip: it is the smallest official build on Maven Central
# (no bundled JDK, no x-pack), enough for the query DSL the backend uses.
# It needs JDK 21+, which lives beside the default Java here, so we look for it.
#
# Environment: ES_VERSION (default 9.5.0), ES_PORT (default 9200),
# ES_HEAP (default 512m), ES_START_TIMEOUT seconds (default 90).
#
# One node of a multi-node cluster (scripts/cluster.sh starts three this way):
# ES_SEED_HOSTS (comma-separated host:transport-port of the master-eligible
# nodes; set, it replaces discovery.type=single-node), ES_TRANSPORT_PORT
# (default 0: any free port), ES_NODE_NAME, ES_CLUSTER_NAME, ES_INITIAL_MASTERS
# (node names; passed only while this node's data dir is empty, i.e. on the
# cluster's very first start, as Elasticsearch asks), ES_WAIT=0 (return once
# the process runs, without waiting for a healthy cluster, which needs a
# quorum of the other nodes too).
set -euo pipefail

ES_VERSION="${ES_VERSION:-9.5.0}"
ES_PORT="${ES_PORT:-9200}"
ES_HEAP="${ES_HEAP:-512m}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-90}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-0}"
ES_CLUSTER_NAME="${ES_CLUSTER_NAME:-newswatch-test-$ES_PORT}"
ES_NODE_NAME="${ES_NODE_NAME:-}"
ES_SEED_HOSTS="${ES_SEED_HOSTS:-}"
ES_INITIAL_MASTERS="${ES_INITIAL_MASTERS:-}"
ES_WAIT="${ES_WAIT:-1}"
ES_USER="newswatch-es"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/elasticsearch"
DIST="$CACHE/dist"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

# The node runs as an unprivileged user, which must reach its files. When the
# checkout sits under a folder other users cannot enter (a root home, say),
# the distribution and run dirs live under /var/tmp instead; the download
# stays cached in the checkout.
RUNTIME="$(runtime_dir newswatch-es "$CACHE")"
HOME_DIR="$RUNTIME/elasticsearch-$ES_VERSION"
RUN="$RUNTIME/run/$ES_PORT"
PIDFILE="$RUN/es.pid"
URL="http://127.0.0.1:$ES_PORT"

log() { printf '%s\n' "elasticsearch.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

healthy() {
	# yellow is fine for a single node (replicas cannot be assigned).
	local body
	body="$(curl -fsS --max-time 3 "$URL/_cluster/health" 2>/dev/null)" || return 1
	[[ "$body" == *'"status":"green"'* || "$body" == *'"status":"yellow"'* ]]
}

find_java() {
	# Newest JDK under /usr/lib/jvm whose major version is >= 21.
	local best="" best_major=0 dir major
	for dir in /usr/lib/jvm/*/; do
		dir="${dir%/}"
		[[ -x "$dir/bin/java" ]] || continue
		major="$("$dir/bin/java" -XshowSettings:properties -version 2>&1 |
			sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1)"
		[[ -n "$major" ]] || continue
		if ((major >= 21 && major > best_major)); then
			best="$dir"
			best_major="$major"
		fi
	done
	[[ -n "$best" ]] || die "no JDK 21 or newer found under /usr/lib/jvm (Elasticsearch $ES_VERSION needs one)"
	printf '%s\n' "$best"
}

download() {
	[[ -x "$HOME_DIR/bin/elasticsearch" ]] && return 0
	local zip="$DIST/elasticsearch-$ES_VERSION.zip" t0
	mkdir -p "$DIST"
	if [[ ! -s "$zip" ]]; then
		command -v mvn >/dev/null || die "mvn is needed to download Elasticsearch from Maven Central"
		log "downloading Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central"
		t0=$SECONDS
		mvn -q dependency:copy \
			"-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
			"-DoutputDirectory=$DIST" >&2
		log "downloaded in $((SECONDS - t0)) s"
	fi
	local tmp="$RUNTIME/unzip.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	unzip -q "$zip" -d "$tmp"
	rm -rf "$HOME_DIR"
	mv "$tmp/elasticsearch-$ES_VERSION" "$HOME_DIR"
	rm -rf "$tmp"
}

run_as_user() {
	# Elasticsearch refuses to run as root: use a system user when we are root.
	if [[ "$(id -u)" -eq 0 ]]; then
		if ! id "$ES_USER" >/dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
		fi
		# The user must be able to read the distribution and write the run dirs,
		# and traverse the cache folders above them (ours, so we may open them).
		chown -R "$ES_USER:" "$HOME_DIR" "$RUN"
		if [[ "$RUNTIME" == "$CACHE" ]]; then
			chmod o+rx "$ROOT/.cache" "$CACHE" "$CACHE/run"
		else
			chmod o+rx "$RUNTIME" "$RUNTIME/run"
		fi
		runuser -u "$ES_USER" -- "$@"
	else
		"$@"
	fi
}

pid_alive() {
	# A stale pid file may name an unrelated process after a reboot: check the command.
	local pid
	[[ -s "$PIDFILE" ]] || return 1
	pid="$(cat "$PIDFILE")"
	kill -0 "$pid" 2>/dev/null || return 1
	grep -q "org.elasticsearch" "/proc/$pid/cmdline" 2>/dev/null
}

start() {
	if healthy; then
		printf '%s\n' "$URL"
		return 0
	fi
	command -v curl >/dev/null || die "curl is needed to check the node's health"
	download
	local java_home
	java_home="$(find_java)"
	local discovery=(-Ediscovery.type=single-node)
	if [[ -n "$ES_SEED_HOSTS" ]]; then
		discovery=(-Ediscovery.seed_hosts="$ES_SEED_HOSTS")
		# Bootstrapping is for a brand-new cluster only: a node that has joined
		# once keeps the voting configuration in its data dir.
		if [[ -n "$ES_INITIAL_MASTERS" && -z "$(ls -A "$RUN/data" 2>/dev/null)" ]]; then
			discovery+=(-Ecluster.initial_master_nodes="$ES_INITIAL_MASTERS")
		fi
	fi
	[[ -n "$ES_NODE_NAME" ]] && discovery+=(-Enode.name="$ES_NODE_NAME")
	mkdir -p "$RUN/data" "$RUN/logs" "$RUN/tmp"
	if ! pid_alive; then
		local t0=$SECONDS
		log "starting on $URL with $java_home"
		run_as_user env \
			ES_JAVA_HOME="$java_home" \
			ES_TMPDIR="$RUN/tmp" \
			ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP" \
			"$HOME_DIR/bin/elasticsearch" -d -p "$PIDFILE" \
			"${discovery[@]}" \
			-Expack.security.enabled=false \
			-Enetwork.host=127.0.0.1 \
			-Ehttp.port="$ES_PORT" \
			-Etransport.port="$ES_TRANSPORT_PORT" \
			-Epath.data="$RUN/data" \
			-Epath.logs="$RUN/logs" \
			-Ecluster.name="$ES_CLUSTER_NAME" \
			-Ecluster.routing.allocation.disk.threshold_enabled=false \
			-Eaction.destructive_requires_name=false \
			>"$RUN/stdout.log" 2>&1 || {
			tail -n 40 "$RUN/stdout.log" >&2 || true
			die "Elasticsearch did not start (see $RUN/logs)"
		}
		START_T0=$t0
	fi
	if [[ "$ES_WAIT" == "0" ]]; then
		printf '%s\n' "$URL"
		return 0
	fi
	local deadline=$((SECONDS + ES_START_TIMEOUT))
	until healthy; do
		if ((SECONDS >= deadline)); then
			tail -n 40 "$RUN/logs/$ES_CLUSTER_NAME.log" >&2 2>/dev/null || true
			die "no healthy cluster on $URL after ${ES_START_TIMEOUT}s"
		fi
		if ! pid_alive; then
			tail -n 40 "$RUN/logs/$ES_CLUSTER_NAME.log" >&2 2>/dev/null || true
			die "Elasticsearch exited during start-up (see $RUN/logs)"
		fi
		sleep 1
	done
	[[ -n "${START_T0:-}" ]] && log "healthy after $((SECONDS - START_T0)) s"
	printf '%s\n' "$URL"
}

stop() {
	if ! pid_alive; then
		log "not running (no live pid in $PIDFILE)"
		rm -f "$PIDFILE"
		return 0
	fi
	local pid
	pid="$(cat "$PIDFILE")"
	kill "$pid"
	local deadline=$((SECONDS + 60))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "pid $pid still alive after 60 s; sending KILL"
			kill -9 "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.5
	done
	rm -f "$PIDFILE"
	log "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) printf '%s\n' "$URL" ;;
status)
	# Says what it found (and exits 0 only when healthy), for people and scripts alike.
	if body="$(curl -fsS --max-time 3 "$URL/_cluster/health" 2>/dev/null)"; then
		health="$(printf '%s' "$body" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')"
		if healthy; then
			printf 'elasticsearch: running at %s (cluster health %s)\n' "$URL" "${health:-unknown}"
		else
			printf 'elasticsearch: answering at %s but not healthy (cluster health %s)\n' "$URL" "${health:-unknown}"
			exit 1
		fi
	else
		printf 'elasticsearch: not running (nothing answers at %s)\n' "$URL"
		exit 1
	fi
	;;
pid) pid_alive && cat "$PIDFILE" ;;
rundir) printf '%s\n' "$RUN" ;;
*)
	printf 'usage: %s start|stop|url|status\n' "$0" >&2
	exit 2
	;;
esac
