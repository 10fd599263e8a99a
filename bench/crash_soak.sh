#!/usr/bin/env bash
# The SIGKILL crash test at a larger size: a four-step plan (patch, remove
# data, send a command, delete) on DEVICES sandbox devices, killed over and
# over at spread-out moments and resumed each time, then compared with an
# uninterrupted run on an identical fleet. Prints the kills, the distinct
# points of progress they landed at, and whether the final fleets match.
#   bench/crash_soak.sh [devices=20000] [seeds="9 10 11"]
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-20000}
seeds=${2:-"9 10 11"}
test -x build/tests/fleetrun_integration_tests || scripts/setup.sh build
for seed in $seeds; do
  FLEETRUN_CRASH_DEVICES=$devices FLEETRUN_CRASH_SEED=$seed FLEETRUN_CRASH_MAX_CYCLES=2000 \
    build/tests/fleetrun_integration_tests "a run killed with SIGKILL at many points*" -r compact 2>&1 |
    grep -E "killed [0-9]+ times|passed|failed" | sed "s/^/seed $seed, $devices devices: /"
done
