#!/usr/bin/env bash
# Usage: fuzz/run.sh TARGET [RUNS]    (TARGET: parse | resolve | fmt | manifest; RUNS default 10000000)
#
# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer=..., -Cpasses=sancov-module, ...);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. `-s none` builds without a sanitizer:
# the targets are safe Rust (the crate forbids unsafe code), and ASan would need nightly std.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:?usage: $0 parse|resolve|fmt|manifest [runs]}"
runs="${2:-10000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kpi-fuzz-target}"
export RUSTC_BOOTSTRAP=1

cd "$here"
if [ ! -d "corpus/$target" ] || [ -z "$(ls -A "corpus/$target" 2>/dev/null)" ]; then
    ./seed.sh
fi

log="$(mktemp -t "kpi-fuzz-$target.XXXXXX.log")"
set +e
case "$target" in
    manifest) dict=toml.dict ;;
    *) dict=kpi.dict ;;
esac
# --no-trace-compares: tracing every comparison of every crate took over half of each run; the
# dictionary gives the fuzzer the language's words that comparison tracing would have found.
cargo fuzz run -s none --no-trace-compares "$target" "corpus/$target" -- \
    -dict="$dict" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "---- $target: final stats (full log: $log) ----"
grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|^stat::|SUMMARY|^==[0-9]+== ERROR|Test unit written to' "$log" || true
exit "$status"
