#!/usr/bin/env bash
# Installs what fleetrun needs on a Debian 12 machine (as root, or with sudo)
# and builds it. Safe to run again: it installs only what is missing and
# rebuilds only what changed. Usage: scripts/setup.sh [build-dir] [cmake args...]
# FLEETRUN_TARGET=fleetrun builds the binary only (the demo), not the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build ccache pkg-config git openssl curl nodejs npm
          libpoco-dev libssl-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev
          catch2 nlohmann-json3-dev libcli11-dev)
# The whole build and the tests need more: pandoc (fleetrun-plan(5)),
# dpkg-dev and lintian (the package and its check), systemd (systemd-analyze),
# bsdutils (script). Tests fail under CI=true without them. The demo
# (FLEETRUN_TARGET=fleetrun) needs none of them.
if [[ -z "${FLEETRUN_TARGET:-}" ]]; then
  packages+=(pandoc dpkg-dev lintian systemd bsdutils)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere than Debian's packages; then keep them.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build_dir="${1:-build}"
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" > /dev/null
cmake --build "$build_dir" ${FLEETRUN_TARGET:+--target "$FLEETRUN_TARGET"}
