# Shared helpers for the server scripts (sourced, not run).
# shellcheck shell=bash

# True when every folder from / down to $1 lets other users pass (o+x): a
# server run as an unprivileged user can then reach files under it.
world_traversable() {
	local path="$1"
	while [[ -n "$path" && "$path" != "/" ]]; do
		# others' execute bit, octal (the sticky /tmp shows "t", not "x", in %A)
		(((8#$(stat -c %a "$path") & 1) == 1)) || return 1
		path="$(dirname "$path")"
	done
}

# Where a server's runtime files live: $2 (inside the checkout) when the
# unprivileged user can reach it, else a folder under /var/tmp named after the
# checkout ($1 is a short prefix, e.g. newswatch-es).
runtime_dir() {
	local prefix="$1" inside="$2"
	if [[ "$(id -u)" -eq 0 ]] && ! world_traversable "$ROOT"; then
		printf '/var/tmp/%s-%s\n' "$prefix" "$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
	else
		printf '%s\n' "$inside"
	fi
}

# Install Debian packages when missing (apt-get; with sudo when not root). The
# package lists are refreshed only if the first attempt fails.
apt_install() {
	local sudo=()
	command -v apt-get >/dev/null 2>&1 || {
		printf '%s\n' "apt-get is not available to install: $*" >&2
		return 1
	}
	[[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
	printf '%s\n' "installing $* with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" ||
		{ "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"; }
}
