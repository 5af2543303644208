#!/usr/bin/env bash
# Benchmark of `hotline ingest` against DuckDB on the same generated CSV files, in one run:
#   hotline: init + ingest (validate, normalise, pseudonymise, merge, partition, commit)
#   DuckDB:  COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet), per table
# Usage: scripts/bench_ingest.sh [CALLS]   (default 1000000; issue 3's target size is 10000000)
# Writes the figures to BENCHMARKS.md. Needs python3; installs the duckdb package into a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-1000000}"
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/hotline"
venv="${HOTLINE_BENCH_VENV:-${CARGO_TARGET_DIR:-target}/bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import duckdb" 2>/dev/null || "$venv/bin/pip" install --quiet duckdb
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$bin" generate --calls "$calls" --seed 11 --out "$work/batch" > /dev/null
rows=$(( $(wc -l < "$work/batch/calls.csv") + $(wc -l < "$work/batch/work_orders.csv") - 2 ))

"$bin" init --warehouse "$work/wh" > /dev/null
/usr/bin/time -f "%e %M" -o "$work/hotline.time" \
  "$bin" ingest "$work/batch/calls.csv" "$work/batch/work_orders.csv" --warehouse "$work/wh" > /dev/null
read -r h_s h_kib < "$work/hotline.time"

cat > "$work/duck.py" <<PY
import duckdb
con = duckdb.connect()
for table in ("calls", "work_orders"):
    con.sql(f"COPY (SELECT * FROM read_csv('$work/batch/{table}.csv', all_varchar = true, ignore_errors = true)) "
            f"TO '$work/{table}.parquet' (FORMAT parquet)")
PY
/usr/bin/time -f "%e %M" -o "$work/duck.time" "$venv/bin/python" "$work/duck.py"
read -r d_s d_kib < "$work/duck.time"
duck_version=$("$venv/bin/python" -c "import duckdb; print(duckdb.__version__)")

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
mib() { python3 -c "print(f'{$1/1024:.0f}')"; }
{
  echo "## ingest (\`scripts/bench_ingest.sh $calls\`, $(date -u +%Y-%m-%d), $(nproc) cores, DuckDB $duck_version)"
  echo
  echo "$calls generated calls plus their work orders: $rows CSV rows in two files."
  echo
  echo "| tool | wall s | peak RSS MiB | time ratio hotline / DuckDB |"
  echo "|---|---:|---:|---:|"
  echo "| hotline ingest (validate, normalise, pseudonymise, merge, commit) | $h_s | $(mib "$h_kib") | $(ratio "$h_s" "$d_s") |"
  echo "| DuckDB COPY read_csv → Parquet | $d_s | $(mib "$d_kib") | 1.00 |"
  echo
  echo "Where hotline loses: it does more (contract validation of every value, phone/ID normalisation,"
  echo "two HMACs per call, a restricted copy, merge by key against the warehouse, month partitions"
  echo "sorted by time) but mostly it holds every row as a vector of boxed values in one hash map and"
  echo "converts them to Arrow at the end: a 1M-call profile spends about a third of its time in"
  echo "malloc/free and page faults. Issue 3's target (≤ 1.0× DuckDB, < 2 GiB at 10M calls) needs a"
  echo "columnar, month-at-a-time merge; until then 10M calls do not fit the memory target."
  echo
} > "$work/section.md"
cat "$work/section.md"
python3 - "$work/section.md" <<'PY'
import re, sys, pathlib
section = pathlib.Path(sys.argv[1]).read_text()
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\n"
text = re.sub(r"## ingest \(.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
path.write_text(text)
PY
