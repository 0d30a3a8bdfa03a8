#!/usr/bin/env bash
# Follows docs/guide.md word for word from an empty folder, then
# docs/migrations.md in the project the guide built
# (tests/guide/guide.test.mjs, over tests/guide/follow.mjs): the release
# tarball, the install, the model and wrangler.toml the guide shows,
# `cloesce run`, `cloesce migrate` with --rename, --allow-drop, --default,
# --check and --amend, the D1 migrations applied by wrangler to its local
# database, a real `wrangler dev`, the docs' curl lines with their answers
# and the output the docs show.
#
#   scripts/test-guide.sh               # builds the tarball first (scripts/build-npm.sh)
#   SKIP_BUILD=1 scripts/test-guide.sh  # reuse $CARGO_TARGET_DIR/npm/cloesce-<v>.tgz
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/npm-tarball.sh"
ensure_tarball

# wrangler, typescript and workers-types at the end-to-end tests' versions
# (the guide's `npm install` is pinned to them, and finds them in npm's cache).
E2E_TOOLS_DIR="$TARGET/e2e-tools" scripts/test-e2e.sh --tools-only

export CLOESCE_TARBALL="$TARBALL"
export E2E_TOOLS="$TARGET/e2e-tools"
exec node --test --test-concurrency=1 "$@" tests/guide/
