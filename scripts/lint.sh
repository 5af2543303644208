#!/usr/bin/env bash
# Lints alone, without the tests: rustfmt and clippy with every warning an error. The test command
# (scripts/test.sh) runs the same lints during its test build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --all-targets --features cluster --locked -- -D warnings
