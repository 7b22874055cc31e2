#!/usr/bin/env bash
# Robustness check of the local run (issue 14): N times, `make run` on a fresh data directory,
# then `make demo` against it, then Ctrl-C. Fails on the first demo that does not pass every
# step. Usage: bash deploy/demo-loop.sh [N]   (default 10; uses make run's fixed ports)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-10}"
# Start-up can take minutes on a loaded 2-core machine (Keycloak, Kafka); the demo is what is judged.
startup_limit="${ACCORD_DEMO_LOOP_STARTUP_SECONDS:-600}"
cd "$root"
for i in $(seq 1 "$runs"); do
  data="$(mktemp -d)"
  log="$data/run.log"
  started=$(date +%s)
  setsid bash deploy/run.sh --data-dir "$data/data" >"$log" 2>&1 &
  run_pid=$!
  for _ in $(seq 1 $((startup_limit * 2))); do
    grep -q "Accord is up" "$log" && break
    kill -0 "$run_pid" 2>/dev/null || { echo "run $i: make run exited"; tail -20 "$log"; exit 1; }
    sleep 0.5
  done
  grep -q "Accord is up" "$log" || { echo "run $i: not up after ${startup_limit} s"; kill -INT -- -"$run_pid"; exit 1; }
  up=$(( $(date +%s) - started ))
  if bash deploy/uv.sh run --frozen accord demo --data-dir "$data/data" >"$data/demo.log" 2>&1; then
    result="passed"
  else
    result="FAILED"
  fi
  # The last row of the demo's summary table: ok, failed, skipped.
  summary="$(grep -E "^[^a-z]*[0-9]+ +[^a-z]*[0-9]+ +[^a-z]*[0-9]+" "$data/demo.log" | tail -1 | tr -s ' │┃|' ' ' || true)"
  kill -INT -- -"$run_pid" 2>/dev/null || true
  wait "$run_pid" 2>/dev/null || true
  echo "run $i: up in ${up} s, demo ${result} (ok failed skipped:${summary})"
  if [ "$result" != "passed" ]; then tail -30 "$data/demo.log"; exit 1; fi
  rm -rf "$data"
done
echo "all ${runs} runs passed"
