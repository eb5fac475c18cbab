#!/usr/bin/env bash
# Validate docker-compose.yml without a Docker engine (CI has none).
#
#   scripts/validate-compose.sh          validate; exit non-zero on any problem
#
# `config` only parses, interpolates and checks the file: it needs no daemon.
# Uses `docker compose` (the v2 plugin) when present, else `docker-compose`; when
# neither is installed and apt-get can run, installs Debian's docker-compose
# package (v1.29, enough for `config`), since the plugin is not packaged there.
#
# Checks: the file with compose.env.example is valid, with and without the
# kibana profile; and it refuses to render when the required secrets are unset.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '%s\n' "validate-compose.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

find_compose() {
	if docker compose version >/dev/null 2>&1; then
		COMPOSE=(docker compose)
	elif command -v docker-compose >/dev/null 2>&1; then
		COMPOSE=(docker-compose)
	else
		return 1
	fi
}

if ! find_compose; then
	command -v apt-get >/dev/null 2>&1 || die "no docker compose and no apt-get to install docker-compose"
	SUDO=()
	if [[ "$(id -u)" != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "installing docker-compose needs root (or sudo)"
		SUDO=(sudo)
	fi
	log "installing Debian's docker-compose package"
	if ! "${SUDO[@]}" apt-get install -y -q docker-compose >/dev/null; then
		"${SUDO[@]}" apt-get update -q >/dev/null
		"${SUDO[@]}" apt-get install -y -q docker-compose >/dev/null
	fi
	find_compose || die "docker-compose still not found after installing it"
fi
log "using: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || echo '?'))"

FILE=(-f docker-compose.yml)
"${COMPOSE[@]}" --env-file compose.env.example "${FILE[@]}" config -q ||
	die "docker-compose.yml is invalid with compose.env.example"
"${COMPOSE[@]}" --env-file compose.env.example "${FILE[@]}" --profile kibana config -q ||
	die "docker-compose.yml is invalid with the kibana profile"

# Without the secrets, rendering must fail (no stack with a default admin password).
empty="$(mktemp)"
trap 'rm -f "$empty"' EXIT
if env -u AIRFLOW_JWT_SECRET -u AIRFLOW_ADMIN_PASSWORD \
	"${COMPOSE[@]}" --env-file "$empty" "${FILE[@]}" config -q >/dev/null 2>&1; then
	die "docker-compose.yml rendered without AIRFLOW_JWT_SECRET/AIRFLOW_ADMIN_PASSWORD"
fi

log "docker-compose.yml is valid"
