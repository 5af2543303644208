#!/usr/bin/env bash
# How often a query that must spill finishes, fails or stalls: runs it RUNS times under
# `--memory-limit LIMIT` on each warehouse size, each run stopped after STALL seconds (default
# 240). Usage: scripts/bench_repeat.sh LIMIT RUNS SIZE... (e.g. 512M 20 1000000 10000000).
# Warehouses come from HOTLINE_BENCH_WORK as bench_memory.sh makes them; HOTLINE_SQL_ARGS adds
# arguments (e.g. --spill-joins); HOTLINE_BENCH_SQL replaces the query (default: two
# COUNT(DISTINCT)s by district and category, the query that once stalled). Prints a Markdown row
# per size for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:?LIMIT}"
runs="${2:?RUNS}"
shift 2
[ $# -gt 0 ] || { echo "usage: $0 LIMIT RUNS SIZE..." >&2; exit 2; }
cargo build --release --locked --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"
bin="$target_dir/release/hotline"
work="${HOTLINE_BENCH_WORK:?set HOTLINE_BENCH_WORK to the folder bench_memory.sh filled}"
stall="${STALL:-240}"
export HOTLINE_KEY="${HOTLINE_KEY:-$(printf '5a%.0s' $(seq 32))}"
read -r -a extra <<< "${HOTLINE_SQL_ARGS:-}"
sql="${HOTLINE_BENCH_SQL:-SELECT district, category, COUNT(DISTINCT phone_key) AS phones, COUNT(DISTINCT narrative) AS texts FROM calls GROUP BY district, category}"
echo "| calls | arguments | runs | finished | failed | stopped after ${stall} s | slowest finished, s |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for calls in "$@"; do
  wh="$work/wh-$calls"
  [ -f "$wh/hotline-warehouse.json" ] || { echo "no warehouse at $wh (run bench_memory.sh first)" >&2; exit 1; }
  finished=0 failed=0 stopped=0 slowest=0
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    set +e
    timeout --signal=KILL "$stall" "$bin" sql --warehouse "$wh" --memory-limit "$limit" "${extra[@]}" --format csv "$sql" > /dev/null 2>&1
    rc=$?
    set -e
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    case $rc in
      0) finished=$((finished + 1)); slowest=$(echo "if ($secs > $slowest) $secs else $slowest" | bc) ;;
      137) stopped=$((stopped + 1)) ;;
      *) failed=$((failed + 1)) ;;
    esac
  done
  printf "| %s | %s | %d | %d | %d | %d | %.1f |\n" "$calls" "${HOTLINE_SQL_ARGS:-(none)}" "$runs" "$finished" "$failed" "$stopped" "$slowest"
done
