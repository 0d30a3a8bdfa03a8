#!/usr/bin/env bash
# End-to-end test of one example project against a real, local `wrangler dev`.
#
#   scripts/test-e2e.sh EXAMPLE_DIR [--tools-only]
#
# EXAMPLE_DIR must already contain `.generated/` (produced by `cloesce run`):
# cidl.json, workers.ts, client.ts, wrangler.toml, schema.sql; its committed
# migrations/ folder holds the D1 migrations.
# E2E_GENERATED_DIR=<dir> overrides where `.generated/` is taken from (used to
# develop against hand-written fixtures in tests/e2e/fixtures/).
#
# Tools (wrangler, typescript, workers-types) are installed once into
# target/e2e-tools (idempotent) and symlinked into a temp copy of the example.
# The test itself is tests/e2e/<example name>.test.js (node:test).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${E2E_TOOLS_DIR:-$ROOT/target/e2e-tools}"

WRANGLER_VERSION="4.86.0"
TYPESCRIPT_VERSION="5.9.3"
WORKERS_TYPES_VERSION="4.20260426.1"
TOOLS_STAMP="wrangler@$WRANGLER_VERSION typescript@$TYPESCRIPT_VERSION workers-types@$WORKERS_TYPES_VERSION"

install_tools() {
  if [[ -f "$TOOLS/.stamp" && "$(cat "$TOOLS/.stamp")" == "$TOOLS_STAMP" \
        && -x "$TOOLS/node_modules/.bin/wrangler" && -x "$TOOLS/node_modules/.bin/tsc" ]]; then
    return 0
  fi
  echo "e2e: installing $TOOLS_STAMP into $TOOLS" >&2
  mkdir -p "$TOOLS"
  cat >"$TOOLS/package.json" <<EOF
{
  "name": "cloesce-e2e-tools",
  "private": true,
  "devDependencies": {
    "wrangler": "$WRANGLER_VERSION",
    "typescript": "$TYPESCRIPT_VERSION",
    "@cloudflare/workers-types": "$WORKERS_TYPES_VERSION"
  }
}
EOF
  (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error)
  echo "$TOOLS_STAMP" >"$TOOLS/.stamp"
}

install_tools
if [[ "${1:-}" == "--tools-only" ]]; then exit 0; fi

if [[ $# -lt 1 ]]; then
  echo "usage: scripts/test-e2e.sh EXAMPLE_DIR" >&2
  exit 2
fi
EXAMPLE="$(cd "$1" && pwd)"
NAME="$(basename "$EXAMPLE")"
GENERATED="${E2E_GENERATED_DIR:-$EXAMPLE/.generated}"
# E2E_TEST_FILE=<file> runs another test on the example (the migrations loop).
TEST_FILE="${E2E_TEST_FILE:-$ROOT/tests/e2e/$NAME.test.js}"

if [[ ! -d "$GENERATED" ]]; then
  echo "e2e: $GENERATED does not exist: run 'cloesce run' in $EXAMPLE first" >&2
  exit 1
fi
if [[ ! -f "$TEST_FILE" ]]; then
  echo "e2e: no request script $TEST_FILE" >&2
  exit 1
fi

export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_SEND_METRICS=false
export CI=true
export E2E_ROOT="$ROOT"
export E2E_TOOLS="$TOOLS"
export E2E_EXAMPLE="$EXAMPLE"
export E2E_GENERATED="$GENERATED"

exec node --test --test-concurrency=1 "$TEST_FILE"
