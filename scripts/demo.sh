#!/usr/bin/env bash
# The main job, end to end with no credentials: set up and build, start the
# built-in sandbox with a generated fleet, and run a real query through
# fleetrun against it over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build

fleetrun=build/runner/fleetrun
work=$(mktemp -d)
"$fleetrun" sandbox --devices 5000 --seed 42 --port 0 --port-file "$work/port" > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null; wait $sandbox_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
[[ -s $work/port ]] || { cat "$work/sandbox.log"; exit 1; }

export LOSANT_API_URL="http://127.0.0.1:$(cat "$work/port")"
export LOSANT_APPLICATION_ID=5f1a2b3c4d5e6f7a8b9c0d1e
export LOSANT_API_TOKEN=sandbox-token   # the sandbox's built-in token, not a secret

echo "== sandbox with 5000 generated devices at $LOSANT_API_URL"
echo "== gateways at site north running firmware 1.x (advanced query):"
"$fleetrun" devices --query '{"deviceClass":"gateway","tags":{"site":"north","fw":{"$in":["1.2.0","1.3.1"]}}}' --limit 10
echo "== devices disconnected since before 2026-06-01:"
"$fleetrun" devices --query '{"connectionStatus":"disconnected","disconnectedAt":{"$lt":"2026-06-01T00:00:00Z"}}' --limit 5
