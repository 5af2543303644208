#!/usr/bin/env bash
# Benchmark of every named query (queries/*.sql): hotline against DuckDB (Python package) on the same
# Parquet warehouse, at 1M and 10M calls, in one run. Each query runs three times in each engine;
# the median counts. hotline's figure is its own statement time (plan + run + write to /dev/null),
# DuckDB's is execute + fetch in-process: neither counts process start-up.
# Usage: scripts/bench_sql.sh [SIZES...]   (default: 1000000 10000000). Writes BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000000 10000000)
cargo build --release --locked --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"
bin="$target_dir/release/hotline"
venv="${HOTLINE_BENCH_VENV:-${CARGO_TARGET_DIR:-target}/bench-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import duckdb, pytz" 2>/dev/null || "$venv/bin/pip" install --quiet duckdb pytz
work="${HOTLINE_BENCH_WORK:-$(mktemp -d)}"
export HOTLINE_KEY="${HOTLINE_KEY:-$(printf '5a%.0s' $(seq 32))}"
source scripts/bench_warehouse.sh
for calls in "${sizes[@]}"; do
  bench_warehouse "$bin" "$work" "$calls" > /dev/null
done
"$venv/bin/python" scripts/bench_sql.py "$bin" "$work" "${sizes[@]}"
