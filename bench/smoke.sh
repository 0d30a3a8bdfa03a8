#!/usr/bin/env bash
# Smoke test of the benchmark and of cloesce's cache: W1 and a 50-rule W2,
# one rep per case, native cloesce only. Asserts that every output is right
# and that every case ran exactly the ideal number of rules (cold = all,
# incr = the probe's closure, noop/revert/touch = 0); timings are ignored.
# Builds target/release/cloesce unless CLOESCE_BIN is set.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${CLOESCE_BIN:-}" ]; then
  (cd "$HERE/.." && cargo build --release --quiet -p cloesce)
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cloesce-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
W2_RULES=50 python3 "$HERE/bench.py" --work "$WORK" --tools cloesce --workloads w1,w2 \
  --reps 1 --cold-reps 1 --check
