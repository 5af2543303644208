#!/usr/bin/env bash
# Benchmark of `hotline resolve` on generated calls, in one run, against two peers on the same
# warehouse Parquet files and the same truth:
#   - the naive baseline: one person per normalised phone;
#   - Splink 5 (DuckDB backend), configured as documented in scripts/bench_resolve_splink.py.
# Also an incremental run: 90% of the calls ingested and resolved, then the last 10% ingested and
# resolved again, timed and scored.
# Usage: scripts/bench_resolve.sh [CALLS]   (default 1000000, issue 5's target size). Writes the
# figures to BENCHMARKS.md. Needs python3; installs duckdb and splink into a venv.
# HOTLINE_BENCH_WORK=DIR keeps the generated batch and warehouses between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-1000000}"
cargo build --release --locked --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"
bin="$target_dir/release/hotline"
venv="${HOTLINE_BENCH_VENV:-${CARGO_TARGET_DIR:-target}/bench-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import duckdb, pytz, splink" 2>/dev/null || "$venv/bin/pip" install --quiet duckdb pytz splink==5.0.0
work="${HOTLINE_BENCH_WORK:-$(mktemp -d)}"
mkdir -p "$work"
export HOTLINE_KEY="${HOTLINE_KEY:-$(printf '5a%.0s' $(seq 32))}"

batch="$work/batch-$calls"
[ -f "$batch/truth/call_person.csv" ] || "$bin" generate --calls "$calls" --seed 11 --out "$batch" > /dev/null

# Full run on every call.
full="$work/resolve-full-$calls"
rm -rf "$full"
"$bin" init --warehouse "$full" > /dev/null
"$bin" ingest "$batch/calls.csv" "$batch/work_orders.csv" --warehouse "$full" > /dev/null
/usr/bin/time -f "%e %M" -o "$work/full.time" "$bin" resolve --warehouse "$full" > "$work/full.out"
read -r full_s full_kib < "$work/full.time"
"$bin" eval resolve --warehouse "$full" --truth "$batch/truth" --json > "$work/full.json"

# Incremental: 90% first, then the rest.
incr="$work/resolve-incr-$calls"
rm -rf "$incr"
"$venv/bin/python" - "$batch/calls.csv" "$work" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
header, body = rows[0], rows[1:]
cut = len(body) * 9 // 10
for name, part in (("part1", body[:cut]), ("part2", body[cut:])):
    with open(f"{sys.argv[2]}/{name}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(part)
PY
"$bin" init --warehouse "$incr" > /dev/null
"$bin" ingest "$work/part1.csv" --warehouse "$incr" > /dev/null
/usr/bin/time -f "%e %M" -o "$work/first.time" "$bin" resolve --warehouse "$incr" > /dev/null
read -r first_s first_kib < "$work/first.time"
"$bin" ingest "$work/part2.csv" --warehouse "$incr" > /dev/null
/usr/bin/time -f "%e %M" -o "$work/incr.time" "$bin" resolve --warehouse "$incr" > "$work/incr.out"
read -r incr_s incr_kib < "$work/incr.time"
"$bin" eval resolve --warehouse "$incr" --truth "$batch/truth" --json > "$work/incr.json"

# Splink and the baseline (timed inside the script, from reading Parquet to cluster ids).
/usr/bin/time -f "%e %M" -o "$work/splink.time" \
  "$venv/bin/python" scripts/bench_resolve_splink.py "$full" "$batch/truth" "$work/splink.json" > "$work/splink.out"
read -r splink_process_s splink_kib < "$work/splink.time"

"$venv/bin/python" - "$work" "$calls" "$full_s" "$full_kib" "$incr_s" "$incr_kib" "$first_s" "$splink_kib" <<'PY'
import datetime, json, os, pathlib, re, sys
work = pathlib.Path(sys.argv[1])
calls, full_s, full_kib, incr_s, incr_kib, first_s, splink_kib = sys.argv[2:]
full = json.loads((work / "full.json").read_text())
incr = json.loads((work / "incr.json").read_text())
splink = json.loads((work / "splink.json").read_text())
mib = lambda kib: f"{int(kib) / 1024:.0f}"
row = lambda name, s, seconds, rss: (f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | "
                                     f"{float(seconds):.1f} | {rss} |")
full_out = (work / "full.out").read_text()
incr_out = (work / "incr.out").read_text()
def stages(out):
    found = re.search(r"committed snapshot \d+ in [\d.]+ s \(([^)]*)\)", out)
    return found.group(1) if found else "?"
def read_calls(out):
    found = re.search(r"^calls read.*?(\d+)\s*$", out, flags=re.M)
    return int(found.group(1)) if found else 0
sp = splink["splink"]
base = splink["baseline"]
lines = [
    f"## resolve (`scripts/bench_resolve.sh {calls}`, {datetime.date.today()}, {os.cpu_count()} cores, Splink {sp.get('version', '?')})",
    "",
    f"{int(calls):,} generated calls (seed 11; {full['calls']:,} after quarantine, {full['people']:,} true people).",
    "Pairwise precision, recall and F1 against `truth/call_person.csv`, counted from cluster sizes.",
    "Wall time of hotline is the whole `hotline resolve` process (read the warehouse, train, compare,",
    "cluster, write and commit the tables); Splink's and the baseline's are measured inside the script",
    "from reading the Parquet files to having cluster ids.",
    "",
    "| method | precision | recall | F1 | wall s | peak RSS MiB |",
    "|---|---:|---:|---:|---:|---:|",
    row("hotline resolve (full)", full["resolve"], full_s, mib(full_kib)),
    row(f"hotline resolve, incremental (last 10% after the first 90%, which took {float(first_s):.1f} s)",
        incr["resolve"], incr_s, mib(incr_kib)),
    row("same normalised phone (baseline)", base, base["seconds"], "-"),
    row(f"Splink {sp.get('version', '')} (DuckDB), threshold {sp.get('threshold')}", sp, sp["seconds"], mib(splink_kib)),
    "",
    f"F1 hotline − Splink: {full['resolve']['f1'] - sp['f1']:+.4f}; time ratio hotline / Splink: "
    f"{float(full_s) / sp['seconds']:.2f} (Splink's process peak RSS includes the baseline's data).",
    "",
    "Splink's threshold was fixed before looking at the truth; the same predictions clustered at other",
    "thresholds (untimed): " + "; ".join(
        f"{t} → P {v['precision']:.4f}, R {v['recall']:.4f}, F1 {v['f1']:.4f}"
        for t, v in sp.get("threshold_sweep", {}).items()) + ".",
    "hotline's default threshold (6 bits) was chosen on a different seed (3) at 1M calls: 4 bits gave",
    "F1 0.9765 (precision 0.9932), 6 bits 0.9769 (0.9989), 8 bits 0.9667 (0.9995); below 4 bits wrong",
    "early links block right ones and precision collapses (2 bits: 0.9585).",
    "",
    "Where the time goes (hotline, from `resolve`'s own stage timer): full run " + stages(full_out) + ".",
    f"The incremental run read {read_calls(incr_out):,} of {full['calls']:,} calls (the new ones, every call",
    "sharing a phone, an ID or a name's pinyin with one, and every call of the entities those belong",
    "to), skipped training, compared only pairs touching new calls and wrote only new or changed rows",
    f"of `caller_entities` and `entities`: {float(incr_s) / float(full_s):.0%} of the full run's time, stages " + stages(incr_out) + ".",
    "The full run computes `caller_calls` from every call; the incremental run patches the earlier",
    "table for the callers whose calls changed (the entities new calls joined and those they left).",
    "",
]
section = "\n".join(lines) + "\n"
print(section)
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\n"
text = re.sub(r"## resolve \(.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
path.write_text(text)
PY
