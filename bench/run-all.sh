#!/usr/bin/env bash
# (Copied from the team's peer benchmark, shared/bench/run-all.sh; w4 and cloesce-npm added.)
# Runs every driver on every workload and prints the results table.
# Env: TOOLS (default: all drivers), WORKLOADS (w1,w2,w3,w4), REPS (5), COLD_REPS (3),
#      CASE_BUDGET (seconds per case before reps stop, 60), WORK (/tmp/bench-work)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${WORK:-/tmp/bench-work}"
TOOLS="${TOOLS:-ninja,make,turbo,nx,wireit,task,cloesce,cloesce-npm}"
WORKLOADS="${WORKLOADS:-w1,w2,w3,w4}"
if [ "${SKIP_INSTALL:-0}" != 1 ]; then "$HERE/install-peers.sh"; fi
rm -rf "$WORK/results"
python3 "$HERE/bench.py" --work "$WORK" --tools "$TOOLS" --workloads "$WORKLOADS" \
  --reps "${REPS:-5}" --cold-reps "${COLD_REPS:-3}" --case-budget "${CASE_BUDGET:-60}"
python3 "$HERE/report.py" --work "$WORK" "$@"
