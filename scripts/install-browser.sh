#!/usr/bin/env bash
# Install the headless browser the page tests drive: Debian's chromium, plus an
# Arabic-capable font when the system has none. Idempotent: does nothing when
# both are present. Playwright drives this browser (executable_path), so no
# browser build is ever downloaded.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=ar 2>/dev/null)" ]; then
  need+=(fonts-noto-core fontconfig)
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "install-browser: chromium and an Arabic font are present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-browser: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
/usr/bin/chromium --version
