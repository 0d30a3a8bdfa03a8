#!/usr/bin/env bash
# Builds the `cloesce` npm package, the release tarball users install: the
# CLI compiled to WebAssembly plus the JS host in npm-wrapper/package/, the
# docs and the LICENSE, packed into $CARGO_TARGET_DIR/npm/cloesce-<v>.tgz
# (target/npm/ by default). The last line printed is the tarball's path.
#
# Idempotent: every tool is installed only when missing or at the wrong
# version. See docs/npm.md.
#
#   scripts/build-npm.sh            # build and pack
#   SKIP_WASM_OPT=1 scripts/...     # skip wasm-opt (faster, bigger .wasm)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Cargo's target folder, absolute (a relative CARGO_TARGET_DIR is relative to
# where the script was started), exported so cargo below uses the same one.
TARGET="$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}")"
export CARGO_TARGET_DIR="$TARGET"
cd "$ROOT"

WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen crate (=0.2.130)
BINARYEN_VERSION=132         # npm's binaryen; Debian's (108) makes broken .wasm
TOOLS="$TARGET/npm-tools"
PKG="$ROOT/npm-wrapper/package"
OUT="$PKG/wasm"
WASM_IN="$TARGET/wasm32-unknown-unknown/wasm/cloesce_wasm.wasm"

step() { printf '==> %s\n' "$*" >&2; }

# 1. Toolchain.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (several minutes, once)"
  # No --locked: its lock file pins a webpki-roots version that is gone.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
WASM_OPT="$TOOLS/node_modules/.bin/wasm-opt"
if [ -z "${SKIP_WASM_OPT:-}" ] && [ ! -x "$WASM_OPT" ]; then
  step "npm install binaryen@$BINARYEN_VERSION into $TOOLS"
  mkdir -p "$TOOLS"
  [ -f "$TOOLS/package.json" ] || printf '{"private":true}\n' >"$TOOLS/package.json"
  npm install --prefix "$TOOLS" --no-audit --no-fund --save-exact "binaryen@$BINARYEN_VERSION" >&2
fi

# 2. Compile, bind, optimise.
step "cargo build -p cloesce-wasm --profile wasm --target wasm32-unknown-unknown"
cargo build -p cloesce-wasm --profile wasm --target wasm32-unknown-unknown

step "wasm-bindgen --target nodejs"
rm -rf "$OUT"
mkdir -p "$OUT"
wasm-bindgen --target nodejs --out-dir "$OUT" "$WASM_IN"

# lib/engine.js compiles the module asynchronously (WebAssembly.compile, off
# the main thread) while the rest of the host loads, and leaves it under
# Symbol.for('cloesce.wasmModule'): the glue takes it from there instead of
# reading and compiling the .wasm synchronously.
node -e "
  const fs = require('fs');
  const file = '$OUT/cloesce_wasm.js';
  const from = 'const wasmBytes = require(\'fs\').readFileSync(wasmPath);\nconst wasmModule = new WebAssembly.Module(wasmBytes);\n';
  const to = 'const wasmModule = globalThis[Symbol.for(\'cloesce.wasmModule\')] || new WebAssembly.Module(require(\'fs\').readFileSync(wasmPath));\n';
  const glue = fs.readFileSync(file, 'utf8');
  if (!glue.includes(from)) { console.error('error: the wasm-bindgen glue no longer reads the module as expected; update scripts/build-npm.sh'); process.exit(1); }
  fs.writeFileSync(file, glue.replace(from, to));
"

if [ -z "${SKIP_WASM_OPT:-}" ]; then
  step "wasm-opt -Oz"
  # Features rustc enables by default for wasm32-unknown-unknown; wasm-opt
  # must accept them in the input and may keep using them.
  "$WASM_OPT" -Oz \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    --enable-simd \
    -o "$OUT/cloesce_wasm_bg.wasm.opt" "$OUT/cloesce_wasm_bg.wasm"
  mv "$OUT/cloesce_wasm_bg.wasm.opt" "$OUT/cloesce_wasm_bg.wasm"
fi

# 3. Versions must agree: Cargo workspace = package.json.
CRATE_VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
PKG_VERSION="$(node -p "require('$PKG/package.json').version")"
if [ "$CRATE_VERSION" != "$PKG_VERSION" ]; then
  echo "error: Cargo.toml says $CRATE_VERSION but npm-wrapper/package/package.json says $PKG_VERSION" >&2
  exit 1
fi
node -e "
  const e = require('$OUT/cloesce_wasm.js');
  if (e.version() !== '$PKG_VERSION') { console.error('error: the built engine says ' + e.version()); process.exit(1); }
"

# 4. What a package user reads: the docs that messages and --help cite
#    (node_modules/cloesce/docs/…) and the workspace's LICENSE. Copies, so the
#    repository keeps one of each (both are git-ignored in the package).
step "copy docs/ and LICENSE into the package"
rm -rf "$PKG/docs"
cp -R "$ROOT/docs" "$PKG/docs"
cp "$ROOT/LICENSE" "$PKG/LICENSE"

# 5. Pack.
step "npm pack"
mkdir -p "$TARGET/npm"
rm -f "$TARGET/npm/cloesce-$PKG_VERSION.tgz"
(cd "$PKG" && npm pack --silent --pack-destination "$TARGET/npm" >/dev/null)
TARBALL="$TARGET/npm/cloesce-$PKG_VERSION.tgz"

size() { wc -c <"$1" | tr -d ' '; }
WASM_SIZE="$(size "$OUT/cloesce_wasm_bg.wasm")"
WASM_GZ="$(gzip -9c "$OUT/cloesce_wasm_bg.wasm" | wc -c | tr -d ' ')"
printf 'wasm:    %s (%s bytes, %s gzipped)\n' "npm-wrapper/package/wasm/cloesce_wasm_bg.wasm" "$WASM_SIZE" "$WASM_GZ"
printf 'tarball: %s (%s bytes)\n' "$TARBALL" "$(size "$TARBALL")"
echo "$TARBALL"
