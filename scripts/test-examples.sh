#!/usr/bin/env bash
# Builds each example with the default pipeline (the native cloesce binary),
# then runs its end-to-end test against a real local `wrangler dev`
# (scripts/test-e2e.sh): SQL applied and every view queried, tsc --strict on
# the generated TypeScript, D1 migrations, HTTP requests; then the migrations
# loop (tests/e2e/migrations.test.js) on a copy of examples/kennel.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --locked -p cloesce
BIN="$ROOT/target/debug/cloesce"
for example in examples/*/; do
  example="${example%/}"
  echo "==> $example: cloesce run"
  "$BIN" -C "$example" run --quiet
  echo "==> $example: a second run is a no-op"
  out="$("$BIN" -C "$example" run --json | tail -1)"
  case "$out" in
    *'"ran":0'*'"success":true'*) ;;
    *) echo "the second run of $example was not a no-op: $out" >&2; exit 1 ;;
  esac
  echo "==> $example: end-to-end"
  scripts/test-e2e.sh "$example"
done
echo "==> migrations: edit the models, cloesce migrate, apply again on a real local D1"
E2E_TEST_FILE="$ROOT/tests/e2e/migrations.test.js" E2E_CLOESCE_BIN="$BIN" scripts/test-e2e.sh examples/kennel
