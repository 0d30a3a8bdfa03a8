#!/usr/bin/env bash
# Fuzzes cloesce's parsers of hostile input with cargo fuzz (libFuzzer):
#   pipeline_load   cloesce.kdl -> pipeline -> graph (real built-ins, library)
#   extract         a .cloesce.ts model file -> IR (builtin "cloesce/extract")
#   workspace_path  WorkspacePath::new
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target, default 20
#
# Short runs (the default) suit CI; run longer by hand, e.g.
# `scripts/fuzz.sh 600 extract`. The corpus grows in fuzz/corpus/<target>/
# (seeded from the repo's fixtures on every run) and is kept between runs.
# A crash leaves its input in fuzz/artifacts/<target>/; copy it to
# rules/tests/fixtures/fuzz/<target>/ (replayed by rules/tests/hostile.rs in
# every `cargo test`) before fixing it. Exits non-zero when any target found
# a crash; prints the executions per target.
#
# The defaults once missed crashes that need a few KB of repetition (6 KB of
# chained `/-`, 14 KB of nested `/*`, 64 KB of `@D1`; issue #12): inputs may
# be 256 KB long, the seeds (fuzz/seeds/) hold deep nesting and long
# repetition just inside the limits for mutations to push past them, and a
# dictionary per target (fuzz/dict/) lets mutations insert whole tokens
# (`/-`, `/*`, `{`, `@D1 `) rather than single bytes.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(pipeline_load extract workspace_path)
fi

# cargo-fuzz, installed once.
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

# libFuzzer's instrumentation needs nightly flags. Use a nightly toolchain
# when one is installed (full sanitizer coverage); otherwise let the stable
# compiler accept them (RUSTC_BOOTSTRAP) without AddressSanitizer.
toolchain=()
sanitizer=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
  sanitizer=(--sanitizer none)
fi

# Seed corpora from the fixtures (copies never overwrite what grew).
seed() {
  local target=$1
  shift
  mkdir -p "fuzz/corpus/$target"
  for file in "$@"; do
    [ -f "$file" ] || continue
    local name
    name=$(printf '%s' "$file" | tr '/' '_')
    cp -n "$file" "fuzz/corpus/$target/seed_$name" 2>/dev/null || true
  done
}
seed pipeline_load cloesce.kdl.example rules/src/default.kdl \
  engine/tests/fixtures/pipeline/*/cloesce.kdl fuzz/seeds/pipeline_load/*
seed extract $(find rules/tests/fixtures examples -name '*.cloesce.ts' -not -path '*/node_modules/*') \
  fuzz/seeds/extract/*
seed workspace_path fuzz/seeds/workspace_path/*

mkdir -p fuzz/logs
status=0
summary=""
for target in "${targets[@]}"; do
  log="fuzz/logs/$target.log"
  echo "fuzz.sh: $target for ${secs}s" >&2
  set +e
  dict=()
  if [ -f "fuzz/dict/$target.dict" ]; then
    dict=(-dict="dict/$target.dict")
  fi
  (cd fuzz && cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" -O "$target" \
    "corpus/$target" -- \
    -max_total_time="$secs" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
    "${dict[@]}" -print_final_stats=1) >"$log" 2>&1
  code=$?
  set -e
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  if [ -z "$runs" ]; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
  fi
  corpus=$(ls "fuzz/corpus/$target" | wc -l)
  if [ $code -ne 0 ]; then
    status=1
    echo "fuzz.sh: $target FAILED (exit $code); see $root/$log and fuzz/artifacts/$target/" >&2
    tail -40 "$log" >&2
  fi
  summary+=$(printf '%-16s %12s executions  corpus %6s  exit %s' "$target" "${runs:-?}" "$corpus" "$code")$'\n'
done
printf '\n%s' "$summary"
exit $status
