#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/fuzz_targets/, bodies in crates/spillway-fuzz) with cargo-fuzz
# and libFuzzer, SECONDS each (default 60), with debug assertions (overflow checks) on.
# New inputs go to fuzz/corpus/<target>/; crashes, timeouts (an input taking over 10 s) and
# out-of-memory inputs to fuzz/artifacts/<target>/. The corpora
# are replayed by `cargo test -p spillway-fuzz` (so in CI); after a long run, shrink them
# with `cargo fuzz cmin` before committing, and keep each crash as a corpus file once fixed.
#
#   bash scripts/fuzz.sh                     # every target, 60 s each
#   bash scripts/fuzz.sh 600 binlog_rows     # one target, 10 minutes
#
# The toolchain here is stable: RUSTC_BOOTSTRAP lets it take libFuzzer's instrumentation
# flags, and `-s none` leaves out AddressSanitizer (the decoders are safe Rust; libFuzzer
# still catches every panic, overflow and runaway allocation).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
seconds="${1:-60}"
shift || true
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
targets=("$@")
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -s none -a "${targets[@]:0:1}" >/dev/null
for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds}s"
    mkdir -p "corpus/$target"
    cargo fuzz run -s none -a "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 2>&1 |
        grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done)|panicked" || true
    if compgen -G "artifacts/$target/*" >/dev/null; then
        echo "fuzz: $target found crashes in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
