#!/usr/bin/env bash
# Install tmux, which the terminal tests use to run the CLI in an 80-column
# terminal and read the screen back (tests/test_terminal.py). Idempotent.
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then
  echo "install-terminal: tmux is present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-terminal: installing tmux"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends tmux
tmux -V
