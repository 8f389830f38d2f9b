#!/usr/bin/env bash
# The project's checks: machine setup, formatting, the rust-version, lints, then every
# test against the real local servers (cargo-nextest runs them in parallel).
#
#   bash scripts/test.sh            # what CI runs
#   bash scripts/test.sh -E 'test(crash)'   # extra arguments go to cargo nextest run (and skip
#                                           # the quick start, which runs last otherwise)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
echo "test: cargo fmt --check"
cargo fmt --all -- --check
echo "test: rust-version"
bash scripts/rust-version.sh
echo "test: cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "test: cargo nextest run"
cargo nextest run --workspace --no-fail-fast "$@"
if (($# == 0)); then
    # The README's quick start, as a new user runs it (release build, capture, projection).
    echo "test: quick start"
    quickstart_began=$SECONDS
    mkdir -p target
    if ! bash scripts/quickstart.sh >target/quickstart.log 2>&1; then
        cat target/quickstart.log
        echo "test: the quick start failed" >&2
        exit 1
    fi
    for expected in "op=c\|  c  " "Linus" "(3 rows)"; do
        grep -q "$expected" target/quickstart.log || {
            cat target/quickstart.log
            echo "test: the quick start did not print $expected" >&2
            exit 1
        }
    done
    echo "test: quick start passed in $((SECONDS - quickstart_began)) s (output in target/quickstart.log)"
fi
