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
  echo "Where hotline loses: DuckDB converts text to Parquet; hotline also validates every value against"
  echo "the contract, normalises phones and IDs, makes two HMAC-SHA256 pseudonyms per call, writes a"
  echo "restricted copy, applies the batch rule on keys, spills rows by month and merges each month by key"
  echo "with the warehouse, sorted by time. Rows flow columnar (Arrow batches spilled by month as LZ4 Arrow"
  echo "IPC, one month per table merged at a time), so memory grows with a 32-byte digest entry per key of"
  echo "the batch and one month of each table, not with the warehouse (1M calls about 330 MiB, 10M about"
  echo "1.1 GiB on 2026-11-22). Then caller_calls is brought in step: every original call's caller,"
  echo "category and time in memory (about 24 bytes a call plus a digest entry per caller). The memory"
  echo "the merge freed is handed back to the system before that (glibc's malloc_trim): without it the"
  echo "allocator kept the merge's months and a 10M ingest peaked at 2,002-2,103 MiB; with it, 1,369 MiB"
  echo "(2026-12-07, one run), about what ingest took before caller_calls existed (1,365 MiB)."
  echo "Wall time grew from 88 s (2026-11-22) to 168.7 s (2026-12-07), most of it in narrative masking"
  echo "added in between: it built each naming cue anew at every character of every narrative, 26% of"
  echo "ingest CPU in a 1M-call profile. With the cues built once, and narratives holding no cue and no"
  echo "digit passed through unexamined, 1M ingest took 13.4 and 13.5 s in two runs (15.8 and 15.9"
  echo "before; the same Parquet content) and 10M 138 s instead of 168.7 (2026-12-07). A 1M"
  echo "profile after that: Parquet encoding and zstd about 14%, malloc/free about 12% (each field of"
  echo "each record is an owned string on its way through validation), memcpy 9%, LZ4 spills 5%, CSV"
  echo "parsing and UTF-8 checks 8%, name and counterparty readings 12%; about 1.4 cores busy of 2"
  echo "while reading. Closing the gap needs records validated in place as slices of the read buffer"
  echo "and a fully pipelined read stage; that work is not done."
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
