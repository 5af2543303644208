#!/usr/bin/env bash
# Lints: rustfmt and clippy with every warning an error. Run before committing; the test command
# (scripts/test.sh) runs the rustfmt check only, since clippy's check build of every dependency
# would push a fresh CI run past 30 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
