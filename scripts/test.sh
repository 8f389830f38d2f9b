#!/usr/bin/env bash
# The project's checks: machine setup, formatting, the rust-version, lints, then every
# test against the real local servers (cargo-nextest runs them in parallel).
#
#   bash scripts/test.sh            # what CI runs
#   bash scripts/test.sh -E 'test(crash)'   # extra arguments go to cargo nextest run
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
