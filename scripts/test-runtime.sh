#!/usr/bin/env bash
# Unit tests of the JS runtime (npm-wrapper/package/runtime) with node's
# built-in test runner. Installs the test-only dependencies of tests/runtime
# (better-sqlite3@12, typescript, workers-types) on first use.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/tests/runtime"
if ! node -e 'require("better-sqlite3"); require("typescript")' >/dev/null 2>&1; then
  npm install --no-audit --no-fund --loglevel=error
fi
exec node --test runtime.test.js client.test.js typecheck.test.js
