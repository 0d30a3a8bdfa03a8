#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what the tests
# need (idempotently), then Rust unit/integration tests, the wasm32 build of
# the sans-IO crates, the npm package tests, the JS runtime tests and the
# end-to-end tests with real wrangler. Used by .ci/run; see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
missing=()
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v dot >/dev/null || missing+=(graphviz)
command -v curl >/dev/null || missing+=(curl) # docs/guide.md's requests (scripts/test-guide.sh)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
# Tests that need a tool fail (instead of skipping) when it is missing.
export CLOESCE_REQUIRE_TOOLS=1

step "format"
cargo fmt --all -- --check

step "the sans-IO crates build for wasm32-unknown-unknown (and the rules' wasm probe)"
cargo build --locked -p cloesce-engine -p cloesce-rules --target wasm32-unknown-unknown
cargo build --locked -p cloesce-rules --example wasm_probe --target wasm32-unknown-unknown

step "TypeScript tools for the type-check and end-to-end tests"
scripts/test-e2e.sh --tools-only

step "rust tests (engine, rules incl. tsc --strict and wasm-vs-native, cli integration)"
CLOESCE_TSC_DIR="$PWD/target/e2e-tools" cargo test --workspace --locked

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "benchmark smoke (w1 + 50-rule w2: correctness and minimality, not timing)"
CLOESCE_BIN=target/debug/cloesce bench/smoke.sh

step "fuzz the hostile-input parsers (bounded)"
scripts/fuzz.sh "${CLOESCE_FUZZ_SECONDS:-10}"

step "npm package: build (wasm), install the tarball offline, node tests (incl. the user's init/doctor/run/graph chain)"
scripts/test-npm.sh

step "docs/guide.md, then docs/migrations.md, word for word: the tarball just built, real wrangler dev and local D1, the curl lines"
SKIP_BUILD=1 scripts/test-guide.sh

step "the Rust integration suite again, through the npm package (WebAssembly under node)"
mkdir -p target/npm-shim
printf '#!/bin/sh\nexec node "%s/npm-wrapper/package/bin/cloesce.js" "$@"\n' "$PWD" > target/npm-shim/cloesce
chmod +x target/npm-shim/cloesce
# No test is skipped: the npm host shares the lock protocol and the symlink
# containment with the native one (both in the engine) and handles Ctrl-C the
# same way (lib/interrupt.js).
CLOESCE_TEST_BIN="$PWD/target/npm-shim/cloesce" cargo test --locked -p cloesce --test integration

step "JS runtime unit tests"
scripts/test-runtime.sh

step "examples: default pipeline + real wrangler end-to-end"
scripts/test-examples.sh

step "all tests passed"
