#!/usr/bin/env bash
# The main job, end to end with no credentials: set up and build, start the
# built-in sandbox with a generated fleet, preview an example plan (GET
# requests only), apply exactly that preview, and show the run's status.
set -euo pipefail
cd "$(dirname "$0")/.."
# FLEETRUN_BIN=path runs the demo with that binary, set-up skipped (the
# test of this script does); otherwise set up and build the binary only
# (the tests build the rest).
if [[ -n "${FLEETRUN_BIN:-}" ]]; then
  fleetrun="$FLEETRUN_BIN"
else
  FLEETRUN_TARGET=fleetrun scripts/setup.sh build
  fleetrun=build/cli/fleetrun
fi
work=$(mktemp -d)
"$fleetrun" sandbox --devices 5000 --seed 42 --job-threshold 500 --port 0 --port-file "$work/port" > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null; wait $sandbox_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
[[ -s $work/port ]] || { cat "$work/sandbox.log"; exit 1; }

export LOSANT_API_URL="http://127.0.0.1:$(cat "$work/port")"
export LOSANT_APPLICATION_ID=5f1a2b3c4d5e6f7a8b9c0d1e
export LOSANT_API_TOKEN=sandbox-token   # the sandbox's built-in token, not a secret
plan=plans/examples/retag-firmware-cohort.yaml
state="$work/demo.fleetrun.db"

echo "== sandbox: 5000 generated devices at $LOSANT_API_URL"
echo "== 1. preview (dry-run, GET requests only): $plan"
"$fleetrun" plan "$plan" --state "$state"
preview=$("$fleetrun" runs --state "$state" --output json | sed -n 's/.*"run": "\(r-[^"]*\)".*/\1/p' | head -n 1)
echo
echo "== 2. apply exactly preview $preview"
"$fleetrun" apply "$plan" --state "$state" --from-preview "$preview" --yes --log-level warn
echo
echo "== 3. the devices now (first 5 in wave-3):"
"$fleetrun" devices --query '{"tags":{"rollout_wave":"wave-3"}}' --limit 5
echo
echo "== 4. the run's report (fleetrun report --format md|csv|json; the first lines):"
"$fleetrun" report --state "$state" -o "$work/report.md"
head -n 16 "$work/report.md"
