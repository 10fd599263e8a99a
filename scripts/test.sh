#!/usr/bin/env bash
# Builds fleetrun and runs every test: unit, integration (real binary, real
# sandbox over loopback) and wire compatibility with Losant's official client
# (npm packages installed in tests/compat). Usage: scripts/test.sh [build-dir] [cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true
scripts/setup.sh "$build_dir" "$@"
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
ctest --test-dir "$build_dir" -j2 --output-on-failure
