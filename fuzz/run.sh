#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on the stable toolchain: the `libfuzzer-sys` crate
# (libFuzzer built from its C++ sources by g++) and rustc's own sanitizer-coverage pass, so
# nothing but cargo is needed (no nightly, no cargo-fuzz).
#
#   fuzz/run.sh build                       build every target
#   fuzz/run.sh TARGET SECONDS [ARGS...]    fuzz one target (ARGS go to libFuzzer)
#   fuzz/run.sh smoke [SECONDS]             build, then every target for SECONDS (default 12)
#   fuzz/run.sh repro TARGET FILE...        run the target on these inputs only
#   fuzz/run.sh seeds                       rewrite fuzz/seeds/ from the current code
#   fuzz/run.sh list                        the targets
#
# A crash (panic, failed check, abort, timeout, out-of-memory) exits non-zero and leaves the
# input in fuzz/artifacts/TARGET/. New corpus entries go to fuzz/target/corpus/TARGET (not
# committed); fuzz/seeds/TARGET (committed) is read, never written.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

targets=(token cookie_header keyring store_record derive_decode)
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$here/target}"
host="$(rustc -vV | sed -n 's/^host: //p')"
# FUZZ_BIN_DIR: run binaries built before (a long run keeps a copy, so a rebuild meanwhile
# does not change what it runs); then nothing is built.
bin_dir="${FUZZ_BIN_DIR:-$CARGO_TARGET_DIR/$host/release}"

# The flags cargo-fuzz passes, minus the nightly-only sanitizer: edge coverage with inline
# 8-bit counters and a PC table (what libFuzzer's coverage needs), comparison tracing (so
# libFuzzer learns magic bytes and lengths), `cfg(fuzzing)`, and debug assertions with
# overflow checks on in release code. `--target` keeps these flags off build scripts and proc
# macros, which must link without the libFuzzer runtime.
fuzz_rustflags="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"

# The fuzz crate builds the versions the workspace pins: its lock file starts as a copy of the
# workspace's (cargo then drops what it does not use and adds libFuzzer's few crates), so a
# dependency change in session-core needs nothing here. fuzz/Cargo.lock is not committed.
sync_lock() {
  local stamp="$CARGO_TARGET_DIR/workspace-lock.sha256" sum
  sum="$(sha256sum "$here/../Cargo.lock" | cut -d' ' -f1)"
  if [ ! -f "$here/Cargo.lock" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    cp "$here/../Cargo.lock" "$here/Cargo.lock"
    mkdir -p "$CARGO_TARGET_DIR"
    echo "$sum" >"$stamp"
  fi
}

build() {
  sync_lock
  local args=()
  for t in "${targets[@]}"; do args+=(--bin "$t"); done
  # Flags from the environment would take precedence over (or mix with) these.
  unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
  RUSTC_WRAPPER="$here/rustc-wrapper.sh" RUSTFLAGS="$fuzz_rustflags" cargo build --release --target "$host" "${args[@]}"
}

known() {
  local t
  for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done
  echo "unknown target '$1'; targets: ${targets[*]}" >&2
  exit 2
}

max_len() {
  case "$1" in
    token) echo 4500 ;;   # past the 4096-byte cookie limit
    *) echo 2048 ;;
  esac
}

# fuzz TARGET SECONDS [ARGS...]: one run; prints a summary line; fails on a crash.
fuzz() {
  local target="$1" seconds="$2"
  shift 2
  known "$target"
  local corpus="$CARGO_TARGET_DIR/corpus/$target" artifacts="$here/artifacts/$target"
  local log="$CARGO_TARGET_DIR/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  local dict=()
  [ -f "$here/dict/$target.dict" ] && dict=(-dict="$here/dict/$target.dict")
  local start=$SECONDS status=0
  "$bin_dir/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$target")" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$@" \
    "$corpus" "$here/seeds/$target" >"$log" 2>&1 || status=$?
  local runs cov ft
  runs="$(grep -a '^stat::number_of_executed_units:' "$log" | tail -1 | tr -dc 0-9)"
  # -a: the log holds raw bytes of inputs (crash dumps, dictionary entries).
  cov="$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
  ft="$(grep -ao 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
  if [ "$status" -ne 0 ]; then
    echo "FUZZ CRASH: $target (exit $status) after $((SECONDS - start))s; log: $log" >&2
    grep -a -E -A 30 "panicked|ERROR: libFuzzer|deadly signal|SUMMARY" "$log" | head -60 >&2 || tail -40 "$log" >&2
    ls -1 "$artifacts" >&2 || true
    echo "reproduce: fuzz/run.sh repro $target fuzz/artifacts/$target/<file>" >&2
    return "$status"
  fi
  echo "fuzz $target: ${seconds}s, ${runs:-?} runs, cov ${cov:-?}, ft ${ft:-?}, corpus $(ls "$corpus" | wc -l) (+$(ls "$here/seeds/$target" | wc -l) seeds), 0 crashes"
}

case "${1:-}" in
  build)
    build
    ;;
  smoke)
    seconds="${2:-12}"
    started=$SECONDS
    build
    echo "fuzz build: $((SECONDS - started))s"
    failed=0
    for t in "${targets[@]}"; do fuzz "$t" "$seconds" || failed=1; done
    echo "fuzz smoke: $((SECONDS - started))s in all"
    exit "$failed"
    ;;
  repro)
    known "${2:?target}"
    build >/dev/null
    "$bin_dir/$2" "${@:3}"
    ;;
  seeds)
    sync_lock
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR/plain" cargo run --release --bin make_seeds -- "$here/seeds"
    ;;
  list)
    printf '%s\n' "${targets[@]}"
    ;;
  ""|-h|--help)
    sed -n '2,15p' "$0"
    ;;
  *)
    [ -n "${FUZZ_BIN_DIR:-}" ] || build >/dev/null
    fuzz "$1" "${2:?seconds}" "${@:3}"
    ;;
esac
