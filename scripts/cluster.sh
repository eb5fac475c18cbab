#!/usr/bin/env bash
# The newswatch cluster on this machine, no Docker: the services docker-compose.yml
# describes, as plain processes on 127.0.0.1.
#
#   scripts/cluster.sh up                 start everything (idempotent), wait until healthy
#   scripts/cluster.sh down               stop exactly what `up` started (by pid files)
#   scripts/cluster.sh status             each component and its health; exit 1 if one is down
#   scripts/cluster.sh env                the environment every Airflow component gets
#   scripts/cluster.sh components         the component names, one a line
#   scripts/cluster.sh start|stop|restart COMPONENT    one component (fault drills, upgrades)
#   scripts/cluster.sh pid COMPONENT      the pid (= process group) of a running component
#   scripts/cluster.sh airflow ARGS...    the airflow CLI against this cluster
#   scripts/cluster.sh purge              after `down`: delete the cluster's data (all of it)
#   scripts/cluster.sh install-redis      apt-get Debian's redis-server when it is missing
#
# Components: postgres (one server, two databases: newswatch state and Airflow's
# metadata), redis (the Celery broker), es1 es2 es3 (one Elasticsearch cluster,
# three processes), and Airflow 3 with the CeleryExecutor: apiserver, scheduler,
# dagprocessor, triggerer, worker1, worker2 (two Celery workers, own hostnames).
#
# Everything lives in .cache/cluster/ (logs, pid files, AIRFLOW_HOME); the
# PostgreSQL and Elasticsearch data dirs are the ones scripts/postgres.sh and
# scripts/elasticsearch.sh keep per port, so this cluster never touches the
# single-node test servers (ports 55432 and 9200). Each Airflow component runs in
# its own process group under a restart loop, as `restart: always` does in
# docker-compose.yml; `down` ends each group, so nothing is left behind.
#
# Environment (defaults in brackets): CLUSTER_PG_PORT [55442], CLUSTER_REDIS_PORT
# [56379], CLUSTER_ES_PORTS [19201,19202,19203] and CLUSTER_ES_TRANSPORT_PORTS
# [19301,19302,19303], CLUSTER_AIRFLOW_PORT [18080], CLUSTER_SCHEDULER_HEALTH_PORT
# [18974], CLUSTER_ES_HEAP [384m], CLUSTER_UP_TIMEOUT seconds [300]; and the
# knobs compose.env.example documents, with the same names and defaults:
# AIRFLOW_WORKER_CONCURRENCY [2], AIRFLOW_TASK_HEARTBEAT_TIMEOUT [300],
# AIRFLOW_TASK_QUEUED_TIMEOUT [600], AIRFLOW_DB_PASSWORD, NEWSWATCH_DB_PASSWORD,
# NEWSWATCH_FETCH_POOL_SLOTS [4], NEWSWATCH_ELASTICSEARCH_SHARDS [3] and _REPLICAS
# [1], NEWSWATCH_SCHEDULE, NEWSWATCH_FETCH_CONCURRENCY, NEWSWATCH_HOST_DELAY,
# NEWSWATCH_BATCH_SIZE. Every NEWSWATCH_* and AIRFLOW__* variable set by the
# caller reaches the components too (feeds file, alert channels ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

BASE="${CLUSTER_DIR:-$ROOT/.cache/cluster}"
PIDS="$BASE/pids"
LOGS="$BASE/logs"
PG_PORT="${CLUSTER_PG_PORT:-55442}"
REDIS_PORT="${CLUSTER_REDIS_PORT:-56379}"
IFS=, read -r -a ES_PORTS <<<"${CLUSTER_ES_PORTS:-19201,19202,19203}"
IFS=, read -r -a ES_TPORTS <<<"${CLUSTER_ES_TRANSPORT_PORTS:-19301,19302,19303}"
API_PORT="${CLUSTER_AIRFLOW_PORT:-18080}"
HEALTH_PORT="${CLUSTER_SCHEDULER_HEALTH_PORT:-18974}"
ES_HEAP="${CLUSTER_ES_HEAP:-384m}"
WORKER_CONCURRENCY="${AIRFLOW_WORKER_CONCURRENCY:-2}"
POOL_SLOTS="${NEWSWATCH_FETCH_POOL_SLOTS:-4}"
UP_TIMEOUT="${CLUSTER_UP_TIMEOUT:-300}"
ES_CLUSTER="newswatch-cluster"
AIRFLOW="$ROOT/.venv/bin/airflow"
PYTHON="$ROOT/.venv/bin/python"

ES_NODES=(es1 es2 es3)
AIRFLOW_COMPONENTS=(apiserver scheduler dagprocessor triggerer worker1 worker2)
COMPONENTS=(postgres redis "${ES_NODES[@]}" "${AIRFLOW_COMPONENTS[@]}")

log() { printf '%s\n' "cluster.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# ------------------------------------------------------------------ configuration
es_urls() {
	local p out=()
	for p in "${ES_PORTS[@]}"; do out+=("http://127.0.0.1:$p"); done
	(
		IFS=,
		printf '%s\n' "${out[*]}"
	)
}

# The environment of every Airflow component: the same names docker-compose.yml's
# x-airflow-common sets (tests/test_compose.py compares them), with 127.0.0.1
# addresses. Caller-set values win (${VAR:-default}).
cluster_env() {
	local pg="127.0.0.1:$PG_PORT" hosts
	hosts="$(es_urls)"
	cat <<-EOF
		AIRFLOW__CORE__EXECUTOR=CeleryExecutor
		AIRFLOW__CORE__AUTH_MANAGER=${AIRFLOW__CORE__AUTH_MANAGER:-airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager}
		AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg://airflow:${AIRFLOW_DB_PASSWORD:-airflow}@$pg/airflow
		AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=postgresql+psycopg_async://airflow:${AIRFLOW_DB_PASSWORD:-airflow}@$pg/airflow
		AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql+psycopg://airflow:${AIRFLOW_DB_PASSWORD:-airflow}@$pg/airflow
		AIRFLOW__CELERY__BROKER_URL=redis://127.0.0.1:$REDIS_PORT/0
		AIRFLOW__CELERY__WORKER_CONCURRENCY=$WORKER_CONCURRENCY
		AIRFLOW__CORE__FERNET_KEY=${AIRFLOW__CORE__FERNET_KEY:-}
		AIRFLOW__API_AUTH__JWT_SECRET=${AIRFLOW__API_AUTH__JWT_SECRET:-$(jwt_secret)}
		AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$API_PORT/execution/
		AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-true}
		AIRFLOW__CORE__LOAD_EXAMPLES=false
		AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=true
		AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=${AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT:-${AIRFLOW_TASK_HEARTBEAT_TIMEOUT:-300}}
		AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT=${AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT:-${AIRFLOW_TASK_QUEUED_TIMEOUT:-600}}
		NEWSWATCH_DATABASE_URL=postgresql+psycopg://newswatch:${NEWSWATCH_DB_PASSWORD:-newswatch}@$pg/newswatch
		NEWSWATCH_SEARCH_BACKEND=elasticsearch
		AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH={"conn_type": "http", "host": "127.0.0.1", "port": ${ES_PORTS[0]}, "extra": {"hosts": "$hosts"}}
		NEWSWATCH_ELASTICSEARCH_SHARDS=${NEWSWATCH_ELASTICSEARCH_SHARDS:-3}
		NEWSWATCH_ELASTICSEARCH_REPLICAS=${NEWSWATCH_ELASTICSEARCH_REPLICAS:-1}
		NEWSWATCH_SCHEDULE=${NEWSWATCH_SCHEDULE:-*/10 * * * *}
		NEWSWATCH_FETCH_CONCURRENCY=${NEWSWATCH_FETCH_CONCURRENCY:-4}
		NEWSWATCH_HOST_DELAY=${NEWSWATCH_HOST_DELAY:-1}
		NEWSWATCH_BATCH_SIZE=${NEWSWATCH_BATCH_SIZE:-50}
		NEWSWATCH_FETCH_POOL_SLOTS=$POOL_SLOTS
	EOF
	# Only here, not in compose: one machine hosts what compose spreads over
	# containers (own filesystem, own hostname, own ports).
	cat <<-EOF
		# cluster.sh only
		AIRFLOW_HOME=$BASE/airflow
		AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
		AIRFLOW__LOGGING__BASE_LOG_FOLDER=$LOGS/tasks
		AIRFLOW__API__HOST=127.0.0.1
		AIRFLOW__API__PORT=$API_PORT
		AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST=127.0.0.1
		AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=$HEALTH_PORT
		AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS:-true}
		PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
		NEWSWATCH_DATA_DIR=${NEWSWATCH_DATA_DIR:-$BASE/newswatch-data}
		NEWSWATCH_FEEDS_FILE=${NEWSWATCH_FEEDS_FILE:-$ROOT/feeds.yaml}
		NEWSWATCH_ALERTS_FILE=${NEWSWATCH_ALERTS_FILE:-$ROOT/alerts.yaml}
	EOF
}

jwt_secret() {
	# One secret for every component (the api-server checks what the others sign),
	# made once per cluster and kept with its files.
	local file="$BASE/jwt_secret"
	if [[ ! -s "$file" ]]; then
		mkdir -p "$BASE"
		(umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n=+/' >"$file")
	fi
	cat "$file"
}

ENV_ARGS=()
load_env() {
	local line
	ENV_ARGS=()
	while IFS= read -r line; do
		[[ -n "$line" && "$line" != "#"* ]] && ENV_ARGS+=("$line")
	done < <(cluster_env)
}

# ------------------------------------------------------------------ processes
pidfile() { printf '%s/%s.pid\n' "$PIDS" "$1"; }

# True when the component's recorded process group still runs our command line
# (a stale pid file after a reboot may name an unrelated process).
group_alive() {
	local file pid
	file="$(pidfile "$1")"
	[[ -s "$file" ]] || return 1
	pid="$(cat "$file")"
	kill -0 "$pid" 2>/dev/null || return 1
	grep -qa "newswatch-cluster:$1" "/proc/$pid/cmdline" 2>/dev/null
}

# Start a long-running command in its own session (process group = its pid)
# under a restart loop; its output goes to logs/NAME.log.
launch() {
	local name="$1"
	shift
	group_alive "$name" && return 0
	mkdir -p "$PIDS" "$LOGS"
	local loop='tag="$1"; shift
while :; do
	"$@"
	rc=$?
	printf "%s exited with %s; restarting in 3 s\n" "$tag" "$rc" >&2
	sleep 3
done'
	(
		cd "$ROOT"
		exec setsid env "${ENV_ARGS[@]}" bash -c "$loop" "newswatch-cluster:$name" \
			"newswatch-cluster:$name" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null
	) &
	printf '%s\n' "$!" >"$(pidfile "$name")"
	log "$name started (pid $!, log $LOGS/$name.log)"
}

# Every descendant of a process, children first found (Airflow puts each task
# process in a process group of its own, so a group signal does not reach it).
descendants() {
	local child
	for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		printf '%s\n' "$child"
		descendants "$child"
	done
}

# End a component's whole process group: TERM, then KILL after a grace period;
# then any of its descendants that live in groups of their own.
end_group() {
	local name="$1" grace="${2:-30}" file pid tree
	file="$(pidfile "$name")"
	if ! group_alive "$name"; then
		rm -f "$file"
		return 0
	fi
	pid="$(cat "$file")"
	tree="$(descendants "$pid")"
	kill -TERM -- "-$pid" 2>/dev/null || true
	local deadline=$((SECONDS + grace))
	while kill -0 -- "-$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "$name: still running after ${grace}s; sending KILL"
			kill -KILL -- "-$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.3
	done
	local left=()
	for pid in $tree; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
	if ((${#left[@]})); then
		log "$name: ending ${#left[@]} leftover task process(es): ${left[*]}"
		kill -KILL "${left[@]}" 2>/dev/null || true
	fi
	rm -f "$file"
	log "$name stopped"
}

# ------------------------------------------------------------------ components
es_env() {
	# The per-node settings scripts/elasticsearch.sh takes; $1 = node index 0..2.
	local i="$1" seeds=() t names
	for t in "${ES_TPORTS[@]}"; do seeds+=("127.0.0.1:$t"); done
	names="$(
		IFS=,
		printf '%s' "${ES_NODES[*]}"
	)"
	printf '%s\n' \
		"ES_PORT=${ES_PORTS[$i]}" \
		"ES_TRANSPORT_PORT=${ES_TPORTS[$i]}" \
		"ES_NODE_NAME=${ES_NODES[$i]}" \
		"ES_CLUSTER_NAME=$ES_CLUSTER" \
		"ES_SEED_HOSTS=$(
			IFS=,
			printf '%s' "${seeds[*]}"
		)" \
		"ES_INITIAL_MASTERS=$names" \
		"ES_HEAP=$ES_HEAP"
}

es_index() {
	local i
	for i in "${!ES_NODES[@]}"; do
		[[ "${ES_NODES[$i]}" == "$1" ]] && printf '%s\n' "$i" && return 0
	done
	return 1
}

es_script() {
	local i="$1"
	shift
	local vars=()
	mapfile -t vars < <(es_env "$i")
	env "${vars[@]}" "$ROOT/scripts/elasticsearch.sh" "$@"
}

es_health() {
	# The cluster's health as one node sees it: "status nodes", empty when it does not answer.
	local body
	body="$(curl -fsS --max-time 3 "http://127.0.0.1:$1/_cluster/health" 2>/dev/null)" || return 1
	printf '%s %s\n' \
		"$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$body")" \
		"$(sed -n 's/.*"number_of_nodes":\([0-9]*\).*/\1/p' <<<"$body")"
}

wait_es_cluster() {
	local want="${1:-${#ES_NODES[@]}}" deadline=$((SECONDS + UP_TIMEOUT)) h
	until h="$(es_health "${ES_PORTS[0]}")" && [[ "$h" =~ ^(green|yellow)\ $want$ ]]; do
		((SECONDS < deadline)) || die "the Elasticsearch cluster did not reach $want nodes (last: ${h:-no answer}; see $LOGS and the node logs)"
		sleep 1
	done
	log "Elasticsearch cluster: ${h% *}, $want nodes"
}

pg_script() { PG_PORT="$PG_PORT" "$ROOT/scripts/postgres.sh" "$@"; }

redis_running() {
	[[ -s "$(pidfile redis)" ]] && kill -0 "$(cat "$(pidfile redis)")" 2>/dev/null &&
		grep -qa "redis-server" "/proc/$(cat "$(pidfile redis)")/cmdline" 2>/dev/null
}

install_redis() {
	command -v redis-server >/dev/null 2>&1 && return 0
	apt_install redis-server >&2 || die "redis-server is missing and could not be installed"
	command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after installing it"
}

start_redis() {
	redis_running && return 0
	install_redis
	mkdir -p "$BASE/redis" "$PIDS" "$LOGS"
	# Loopback only, no persistence: a broker restart re-queues nothing Airflow
	# cannot re-queue itself (the scheduler owns task state).
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
		--daemonize yes --pidfile "$(pidfile redis)" --dir "$BASE/redis" \
		--logfile "$LOGS/redis.log" --save "" --appendonly no >/dev/null
	local deadline=$((SECONDS + 30))
	until redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do
		((SECONDS < deadline)) || die "Redis did not answer on 127.0.0.1:$REDIS_PORT (see $LOGS/redis.log)"
		sleep 0.2
	done
	log "redis on 127.0.0.1:$REDIS_PORT"
}

stop_redis() {
	if redis_running; then
		local pid
		pid="$(cat "$(pidfile redis)")"
		kill -TERM "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
		log "redis stopped"
	fi
	rm -f "$(pidfile redis)"
}

start_postgres() {
	pg_script start >/dev/null
	pg_script database airflow "${AIRFLOW_DB_PASSWORD:-airflow}"
	log "postgres on 127.0.0.1:$PG_PORT (databases newswatch, airflow)"
}

airflow_cmd() {
	local name="$1"
	case "$name" in
	apiserver) printf '%s\n' "$AIRFLOW" api-server --host 127.0.0.1 --port "$API_PORT" --workers 1 ;;
	scheduler) printf '%s\n' "$AIRFLOW" scheduler ;;
	dagprocessor) printf '%s\n' "$AIRFLOW" dag-processor ;;
	triggerer) printf '%s\n' "$AIRFLOW" triggerer --skip-serve-logs ;;
	worker*)
		# The workers read their task logs from the shared log folder, so no log
		# server is started (it would listen beyond loopback).
		printf '%s\n' env "NEWSWATCH_WORKER_HOSTNAME=$name" \
			"AIRFLOW__CORE__HOSTNAME_CALLABLE=pipeline.airflow_tasks.worker_hostname" \
			"$AIRFLOW" celery worker --celery-hostname "$name@%h" \
			--concurrency "$WORKER_CONCURRENCY" --skip-serve-logs
		;;
	*) return 1 ;;
	esac
}

init_airflow() {
	[[ -x "$AIRFLOW" ]] || die "Airflow is not installed: scripts/bootstrap.sh dev,airflow"
	mkdir -p "$BASE/airflow" "$LOGS"
	log "migrating Airflow's metadata database and newswatch state"
	env "${ENV_ARGS[@]}" "$AIRFLOW" db migrate >>"$LOGS/init.log" 2>&1 ||
		die "airflow db migrate failed (see $LOGS/init.log)"
	env "${ENV_ARGS[@]}" "$AIRFLOW" pools set newswatch_fetch "$POOL_SLOTS" \
		"newswatch page fetch tasks running at once" >>"$LOGS/init.log" 2>&1 ||
		die "creating the newswatch_fetch pool failed (see $LOGS/init.log)"
	# newswatch state migrated once, here, before mapped tasks open it in parallel.
	env "${ENV_ARGS[@]}" "$PYTHON" -c \
		"from pipeline.config import load_settings; from pipeline.store import open_store; open_store(load_settings()).close()" \
		>>"$LOGS/init.log" 2>&1 || die "migrating newswatch state failed (see $LOGS/init.log)"
}

start_component() {
	local name="$1" i cmd=()
	case "$name" in
	postgres) start_postgres ;;
	redis) start_redis ;;
	es[0-9])
		i="$(es_index "$name")" || die "no Elasticsearch node $name"
		ES_WAIT=0 es_script "$i" start >/dev/null
		;;
	*)
		mapfile -t cmd < <(airflow_cmd "$name") || die "unknown component $name"
		((${#cmd[@]})) || die "unknown component $name (one of: ${COMPONENTS[*]})"
		load_env
		launch "$name" "${cmd[@]}"
		;;
	esac
}

stop_component() {
	local name="$1" i
	case "$name" in
	postgres) pg_script stop ;;
	redis) stop_redis ;;
	es[0-9])
		i="$(es_index "$name")" || die "no Elasticsearch node $name"
		es_script "$i" stop
		;;
	worker*) end_group "$name" 60 ;; # warm shutdown: running tasks may finish
	apiserver | scheduler | dagprocessor | triggerer) end_group "$name" 30 ;;
	*) die "unknown component $name (one of: ${COMPONENTS[*]})" ;;
	esac
}

# ------------------------------------------------------------------ health
api_health() {
	curl -fsS --max-time 5 "http://127.0.0.1:$API_PORT/api/v2/monitor/health" 2>/dev/null
}

component_health() {
	# Prints one word (healthy, or why not) for a component; exit 0 when healthy.
	local name="$1" i h body
	case "$name" in
	postgres)
		pg_script status >/dev/null && echo healthy && return 0
		echo "not accepting connections" && return 1
		;;
	redis)
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && echo healthy && return 0
		echo "no PONG" && return 1
		;;
	es[0-9])
		i="$(es_index "$name")"
		h="$(es_health "${ES_PORTS[$i]}")" || {
			echo "not answering on ${ES_PORTS[$i]}"
			return 1
		}
		echo "healthy (cluster ${h% *}, ${h#* } nodes)"
		return 0
		;;
	apiserver)
		api_health >/dev/null && echo healthy && return 0
		echo "no answer on :$API_PORT" && return 1
		;;
	scheduler)
		curl -fsS --max-time 5 "http://127.0.0.1:$HEALTH_PORT/health" >/dev/null 2>&1 && echo healthy && return 0
		echo "no health on :$HEALTH_PORT" && return 1
		;;
	dagprocessor | triggerer)
		local key="$name"
		[[ "$name" == dagprocessor ]] && key="dag_processor"
		body="$(api_health)" || {
			echo "unknown (api-server down)"
			return 1
		}
		if "$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(d[sys.argv[2]]["status"]!="healthy")' "$body" "$key"; then
			echo healthy
			return 0
		fi
		echo "unhealthy (no recent heartbeat)"
		return 1
		;;
	worker*)
		group_alive "$name" || {
			echo "not running"
			return 1
		}
		# Ready since its last (re)start: the restart loop logs each exit.
		if awk -v n="$name@" '/restarting in/ {r = 0} index($0, n) && / ready/ {r = 1} END {exit !r}' \
			"$LOGS/$name.log" 2>/dev/null; then
			echo "healthy (running, registered with the broker)"
			return 0
		fi
		echo "starting"
		return 1
		;;
	esac
}

status() {
	local name state rc=0 running
	for name in "${COMPONENTS[@]}"; do
		running="stopped"
		case "$name" in
		postgres) pg_script status >/dev/null && running="running" ;;
		redis) redis_running && running="running (pid $(cat "$(pidfile redis)"))" ;;
		es[0-9]) running="$(es_script "$(es_index "$name")" pid 2>/dev/null)" && running="running (pid $running)" || running="stopped" ;;
		*) group_alive "$name" && running="running (pid $(cat "$(pidfile "$name")"))" ;;
		esac
		if state="$(component_health "$name")"; then :; else rc=1; fi
		printf '%-13s %-22s %s\n' "$name" "$running" "$state"
	done
	return "$rc"
}

wait_healthy() {
	local name deadline=$((SECONDS + UP_TIMEOUT)) left
	for name in "$@"; do
		until component_health "$name" >/dev/null; do
			if (($(grep -c "restarting in" "$LOGS/$name.log" 2>/dev/null || true) >= 3)); then
				tail -n 30 "$LOGS/$name.log" >&2 2>/dev/null || true
				die "$name keeps exiting (see $LOGS/$name.log)"
			fi
			if ((SECONDS >= deadline)); then
				tail -n 30 "$LOGS/$name.log" >&2 2>/dev/null || true
				die "$name is not healthy after ${UP_TIMEOUT}s (see $LOGS/$name.log)"
			fi
			sleep 1
		done
		left=$((deadline - SECONDS))
		log "$name healthy (${left}s of the start budget left)"
	done
}

# ------------------------------------------------------------------ verbs
up() {
	local t0=$SECONDS name i
	mkdir -p "$BASE" "$PIDS" "$LOGS"
	start_postgres
	start_redis
	for i in "${!ES_NODES[@]}"; do ES_WAIT=0 es_script "$i" start >/dev/null; done
	wait_es_cluster
	log "servers ready after $((SECONDS - t0)) s"
	load_env
	init_airflow
	log "databases migrated after $((SECONDS - t0)) s"
	for name in "${AIRFLOW_COMPONENTS[@]}"; do start_component "$name"; done
	wait_healthy "${AIRFLOW_COMPONENTS[@]}"
	log "cluster up in $((SECONDS - t0)) s: Airflow http://127.0.0.1:$API_PORT, Elasticsearch $(es_urls)"
}

down() {
	local name i
	# Airflow first (workers get a warm shutdown), then the servers they use.
	for name in worker1 worker2 triggerer dagprocessor scheduler apiserver; do end_group "$name" 60; done
	for i in "${!ES_NODES[@]}"; do es_script "$i" stop || true; done
	stop_redis
	pg_script stop || true
	log "cluster down"
}

purge() {
	# Refuses while anything of the cluster still runs.
	local name i dir
	for name in "${COMPONENTS[@]}"; do
		if [[ "$name" == postgres ]]; then
			! pg_script status >/dev/null || die "purge: postgres still runs (scripts/cluster.sh down first)"
		elif [[ "$name" == es[0-9] ]]; then
			! es_script "$(es_index "$name")" pid >/dev/null 2>&1 || die "purge: $name still runs"
		elif [[ "$name" == redis ]]; then
			! redis_running || die "purge: redis still runs"
		else
			! group_alive "$name" || die "purge: $name still runs"
		fi
	done
	for i in "${!ES_NODES[@]}"; do
		dir="$(es_script "$i" rundir)"
		[[ "$dir" == */run/"${ES_PORTS[$i]}" ]] && rm -rf "$dir"
	done
	dir="$(pg_script datadir)"
	[[ "$dir" == */data-"$PG_PORT" ]] && rm -rf "$dir"
	rm -rf "$BASE"
	log "cluster data deleted"
}

case "${1:-}" in
components) printf '%s\n' "${COMPONENTS[@]}" ;;
up) up ;;
purge) purge ;;
down) down ;;
status) status ;;
env) cluster_env ;;
start | stop | restart)
	verb="$1"
	[[ -n "${2:-}" ]] || die "$verb needs a component: ${COMPONENTS[*]}"
	[[ "$verb" == start ]] || stop_component "$2"
	[[ "$verb" == stop ]] || start_component "$2"
	;;
pid)
	case "${2:-}" in
	es[0-9]) es_script "$(es_index "$2")" pid ;;
	redis) redis_running && cat "$(pidfile redis)" ;;
	*) group_alive "${2:-}" && cat "$(pidfile "$2")" ;;
	esac
	;;
airflow)
	shift
	load_env
	exec env "${ENV_ARGS[@]}" "$AIRFLOW" "$@"
	;;
install-redis) install_redis ;;
*)
	printf 'usage: %s up|down|status|purge|env|components|start|stop|restart COMPONENT|pid COMPONENT|airflow ARGS|install-redis\n' "$0" >&2
	exit 2
	;;
esac
