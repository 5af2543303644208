#!/usr/bin/env bash
# Peak resident memory of queries that must spill, against `--memory-limit`: each query runs in
# its own `hotline sql` process under /usr/bin/time, writing CSV to /dev/null (the CLI streams
# rows, so the result is never held whole). Usage: scripts/bench_memory.sh LIMIT SIZE... (e.g.
# 512M 1000000 10000000). Warehouses come from HOTLINE_BENCH_WORK (as bench_sql.sh makes them)
# or are generated there (seed 11). HOTLINE_SQL_ARGS adds arguments to every `hotline sql` (e.g.
# --spill-joins). Prints a Markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-512M}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000000 10000000)
cargo build --release --locked --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"
bin="$target_dir/release/hotline"
work="${HOTLINE_BENCH_WORK:-$(mktemp -d)}"
export HOTLINE_KEY="${HOTLINE_KEY:-$(printf '5a%.0s' $(seq 32))}"
read -r -a extra <<< "${HOTLINE_SQL_ARGS:-}"
queries=(
  "window then sort|SELECT name_masked, narrative, count(*) OVER (PARTITION BY phone_key ORDER BY received_at) AS k FROM calls ORDER BY narrative, received_at"
  "sort by text|SELECT call_id, narrative, received_at FROM calls ORDER BY narrative, received_at"
  "join calls × work orders|SELECT c.call_id, c.narrative, w.order_id, w.department FROM calls c JOIN work_orders w ON w.call_id = c.call_id ORDER BY w.department, c.received_at"
  "COUNT(DISTINCT)|SELECT district, category, COUNT(DISTINCT phone_key) AS phones, COUNT(DISTINCT narrative) AS texts FROM calls GROUP BY district, category"
)
source scripts/bench_warehouse.sh
# The process's own footprint (runtime, catalogue, one planned query), the fixed overhead.
base_of() {
  /usr/bin/time -f "%M" "$bin" sql --warehouse "$1" --memory-limit "$limit" "${extra[@]}" --format csv "SELECT 1" 2>&1 >/dev/null | tail -1
}
limit_kb=$(numfmt --from=iec "$limit" | awk '{print int($1/1024)}')
echo "| calls | query | outcome | seconds | peak RSS MB | RSS − fixed | (RSS − fixed) / limit |"
echo "|---:|---|---|---:|---:|---:|---:|"
for calls in "${sizes[@]}"; do
  wh=$(bench_warehouse "$bin" "$work" "$calls")
  base=$(base_of "$wh")
  echo "| $calls | \`SELECT 1\` (fixed overhead) | ok | | $((base / 1024)) | | |"
  for entry in "${queries[@]}"; do
    name="${entry%%|*}"
    sql="${entry#*|}"
    start=$(date +%s.%N)
    if out=$(/usr/bin/time -f "%M" "$bin" sql --warehouse "$wh" --memory-limit "$limit" "${extra[@]}" --format csv "$sql" 2>&1 >/dev/null); then
      outcome=ok
    else
      outcome="failed: $(echo "$out" | head -1 | cut -c1-80)"
    fi
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    rss=$(echo "$out" | tail -1)
    over=$((rss - base))
    printf "| %s | %s | %s | %.1f | %d | %d | %.2f |\n" "$calls" "$name" "$outcome" "$secs" $((rss / 1024)) $((over / 1024)) \
      "$(echo "$over / $limit_kb" | bc -l)"
  done
done
