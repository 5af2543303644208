#!/usr/bin/env bash
# Fuzzes every parser and request handler for a bounded time: the CSV, JSON Lines and Parquet
# readers, the row validator, the SQL guard and session, the HTTP API and the PostgreSQL endpoint
# (tests/fuzz.rs). Usage: scripts/fuzz.sh [SECONDS per target, default 600] [parallel targets,
# default 2]. Prints one FUZZ line per target (inputs tried, accepted, rejected with a reason);
# a panic or a hang fails that target and keeps the input under the test scratch folder, to be
# copied into tests/fuzz/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
threads="${2:-2}"
HOTLINE_FUZZ_SECONDS="$seconds" cargo test --locked --test integration -- fuzz:: \
  --nocapture --test-threads="$threads" 2>&1 | grep -E "^FUZZ|panicked|test result|FAILED"
