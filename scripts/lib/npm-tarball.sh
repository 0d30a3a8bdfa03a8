# Sourced by the scripts that need the release tarball (test-npm.sh,
# test-guide.sh). Sets ROOT, TARGET (Cargo's target folder, absolute, also
# exported as CARGO_TARGET_DIR so every cargo call agrees), VERSION and
# TARBALL ($TARGET/npm/cloesce-<version>.tgz), and cds to ROOT.
# ensure_tarball builds it with scripts/build-npm.sh unless SKIP_BUILD is set,
# and fails when it is missing.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET="$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}")"
export CARGO_TARGET_DIR="$TARGET"
cd "$ROOT"
VERSION="$(node -p "require('./npm-wrapper/package/package.json').version")"
TARBALL="$TARGET/npm/cloesce-$VERSION.tgz"

ensure_tarball() {
  if [ -z "${SKIP_BUILD:-}" ]; then
    scripts/build-npm.sh >&2
  fi
  [ -f "$TARBALL" ] || { echo "error: $TARBALL is missing; run scripts/build-npm.sh" >&2; exit 1; }
}
