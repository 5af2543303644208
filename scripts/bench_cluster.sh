#!/usr/bin/env bash
# Benchmark of every named query (queries/*.sql) run by one hotline process against the same query
# on a Ballista cluster of one scheduler and two executors on this machine (`hotline cluster`),
# on the same warehouse, in one run. Each query runs three times each way; the median counts.
# Usage: scripts/bench_cluster.sh [CALLS]   (default: 10000000). Writes BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-10000000}"
cargo build --release --locked --quiet --features cluster
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"
bin="$target_dir/release/hotline"
work="${HOTLINE_BENCH_WORK:-$(mktemp -d)}"
export HOTLINE_KEY="${HOTLINE_KEY:-$(printf '5a%.0s' $(seq 32))}"
source scripts/bench_warehouse.sh
wh=$(bench_warehouse "$bin" "$work" "$calls")

pids=()
# The executors' shuffle files (some 25 GB after the 10M run) go with them.
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"/executor-*
}
trap cleanup EXIT
"$bin" cluster scheduler --bind 127.0.0.1:0 > "$work/scheduler.out" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/scheduler.out" 2> /dev/null && break; sleep 0.1; done
scheduler="$(sed -n 's/^scheduler listening on //p' "$work/scheduler.out")"
for i in 1 2; do
  "$bin" cluster executor --scheduler "$scheduler" --concurrency 1 --work-dir "$work/executor-$i" 2> /dev/null &
  pids+=($!)
done
for _ in $(seq 300); do
  curl -fs "http://$scheduler/readyz" 2> /dev/null | grep -q "ready: 2 executors" && break
  sleep 0.1
done
python3 scripts/bench_cluster.py "$bin" "$wh" "$scheduler" "$calls"
