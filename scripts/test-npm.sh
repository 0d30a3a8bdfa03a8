#!/usr/bin/env bash
# Tests the `cloesce` npm package the way users get it:
#   1. builds it (scripts/build-npm.sh) and the native binary (for the
#      native-vs-npm comparisons),
#   2. installs the packed tarball offline into a fresh temp project,
#   3. runs node's test runner over npm-wrapper/test/.
#
#   scripts/test-npm.sh                 # everything
#   SKIP_BUILD=1 scripts/test-npm.sh    # reuse target/npm/*.tgz and target/debug/cloesce
# (target/ is $CARGO_TARGET_DIR when set.)
#   scripts/test-npm.sh --test-name-pattern=lock   # extra args go to node --test
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/npm-tarball.sh"

ensure_tarball
if [ -z "${SKIP_BUILD:-}" ] && [ -z "${CLOESCE_NATIVE_BIN:-}" ]; then
  echo "==> cargo build -p cloesce (native, for comparisons)" >&2
  cargo build -p cloesce
fi

PROJECT="$(mktemp -d "${TMPDIR:-/tmp}/cloesce-npm-XXXXXX")"
trap 'rm -rf "$PROJECT"' EXIT
printf '{ "name": "cloesce-npm-test", "private": true }\n' >"$PROJECT/package.json"
echo "==> npm install --offline $TARBALL (in $PROJECT)" >&2
(cd "$PROJECT" && npm install --offline --no-audit --no-fund --loglevel=error "$TARBALL" >&2)

export CLOESCE_NPM_PROJECT="$PROJECT"
export CLOESCE_TARBALL="$TARBALL"
# The native binary for the native-vs-npm comparisons, from the same target.
if [ -z "${CLOESCE_NATIVE_BIN:-}" ] && [ -x "$TARGET/debug/cloesce" ]; then
  export CLOESCE_NATIVE_BIN="$TARGET/debug/cloesce"
fi
echo "==> node --test npm-wrapper/test/" >&2
node --test "$@" npm-wrapper/test/
