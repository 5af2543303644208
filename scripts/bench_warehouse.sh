# The query benchmarks' shared warehouses (sourced by bench_sql.sh, bench_memory.sh and
# bench_cluster.sh, so each reuses what the others made in HOTLINE_BENCH_WORK): `bench_warehouse
# BIN WORK CALLS` makes WORK/wh-CALLS from a generated batch (seed 11) unless it is there, resolves
# it (the repeat-call queries count by resolved person), and prints its path.
bench_warehouse() {
  local bin="$1" work="$2" calls="$3"
  local wh="$work/wh-$calls"
  if [ ! -f "$wh/hotline-warehouse.json" ]; then
    "$bin" generate --calls "$calls" --seed 11 --out "$work/batch-$calls" > /dev/null
    "$bin" init --warehouse "$wh" > /dev/null
    "$bin" ingest "$work/batch-$calls/calls.csv" "$work/batch-$calls/work_orders.csv" --warehouse "$wh" > /dev/null
    rm -rf "$work/batch-$calls"
  fi
  # A warehouse resolved before caller_calls existed is resolved again, which writes it.
  [ -d "$wh/caller_entities" ] && [ -d "$wh/caller_calls" ] || "$bin" resolve --warehouse "$wh" > /dev/null
  echo "$wh"
}
