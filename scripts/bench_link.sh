#!/usr/bin/env bash
# Benchmark of `hotline link` + leads on generated calls, in one run: time and peak memory at
# each size (how they grow), every planted group's best lead (rank, precision, recall) against
# truth/rings.csv, the same on data with nothing planted, and `graph expand` from the extortion
# ring's two ordinary disputes (share of the ring and of foreign calls after each step).
# Usage: scripts/bench_link.sh [CALLS ...]   (default 100000 300000 1000000). Writes the figures
# to BENCHMARKS.md. Needs python3 (standard library only).
# HOTLINE_BENCH_WORK=DIR keeps the generated batches and warehouses between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 300000 1000000)
cargo build --release --locked --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
bin="$target_dir/release/hotline"
work="${HOTLINE_BENCH_WORK:-$(mktemp -d)}"
mkdir -p "$work"
export HOTLINE_KEY="${HOTLINE_KEY:-$(printf '5a%.0s' $(seq 32))}"

# warehouse NAME CALLS SEED [--no-plant]: generate, ingest and resolve once.
warehouse() {
    local name=$1 calls=$2 seed=$3
    shift 3
    local batch="$work/batch-$name" wh="$work/wh-$name"
    [ -f "$batch/truth/rings.csv" ] || "$bin" generate --calls "$calls" --seed "$seed" --out "$batch" "$@" > /dev/null
    if [ ! -f "$wh/.resolved" ]; then
        rm -rf "$wh"
        "$bin" init --warehouse "$wh" > /dev/null
        "$bin" ingest "$batch/calls.csv" "$batch/work_orders.csv" --warehouse "$wh" > /dev/null
        "$bin" resolve --warehouse "$wh" > /dev/null
        touch "$wh/.resolved"
    fi
}

runs=()
for calls in "${sizes[@]}"; do
    runs+=("planted-$calls:$calls:11:")
done
last="${sizes[${#sizes[@]}-1]}"
runs+=("unplanted-$last:$last:12:--no-plant")
for run in "${runs[@]}"; do
    IFS=: read -r name calls seed flag <<< "$run"
    warehouse "$name" "$calls" "$seed" $flag
    wh="$work/wh-$name"
    /usr/bin/time -f "%e %M" -o "$work/$name.link.time" "$bin" link --warehouse "$wh" > "$work/$name.link.out"
    "$bin" eval leads --warehouse "$wh" --truth "$work/batch-$name/truth" --json > "$work/$name.eval.json"
    "$bin" leads --warehouse "$wh" --top 10 --format json > "$work/$name.leads.json"
    seeds=$(awk -F, '$4 == "seed" { print $3 }' "$work/batch-$name/truth/rings.csv" | tr '\n' ' ')
    if [ -n "$seeds" ]; then
        # shellcheck disable=SC2086
        /usr/bin/time -f "%e %M" -o "$work/$name.expand.time" \
            "$bin" graph --warehouse "$wh" expand --from $seeds --steps 3 --json > "$work/$name.expand.json"
    fi
done

python3 - "$work" "${runs[@]}" <<'PY'
import csv, datetime, json, pathlib, re, sys

work = pathlib.Path(sys.argv[1])
runs = [r.split(":") for r in sys.argv[2:]]
lines = [
    f"## link (`scripts/bench_link.sh`, {datetime.date.today()}, 2 cores)",
    "",
    "`hotline link` on generated calls (planted: seed 11; nothing planted: seed 12 with `--no-plant`),",
    "after ingest and resolve. Wall time and peak RSS are the whole `hotline link` process: read the",
    "warehouse, find evidence between calls, weigh ties between callers, find and score leads, write",
    "and commit the five tables. Leads are scored against `truth/rings.csv`: for each planted group,",
    "the lead with the best F1 over the group's calls.",
    "",
    "| calls | link wall s | peak RSS MiB | evidence rows | leads | worth a look | of them unplanted |",
    "|---:|---:|---:|---:|---:|---:|---:|",
]
groups = []
expansions = []
for name, calls, seed, flag in runs:
    seconds, kib = open(work / f"{name}.link.time").read().split()
    out = open(work / f"{name}.link.out").read()
    rows = sum(int(n) for n in re.findall(r"evidence: \S+\s+(\d+)", out))
    e = json.load(open(work / f"{name}.eval.json"))
    label = f"{int(calls):,}" + (" (nothing planted)" if flag else "")
    lines.append(f"| {label} | {float(seconds):.1f} | {int(kib) / 1024:.0f} | {rows:,} | {e['leads']:,} | "
                 f"{e['worth_a_look']} | {e['unplanted_worth_a_look']} |")
    for g in e["groups"]:
        groups.append((calls, g))
    expand = work / f"{name}.expand.json"
    if expand.exists() and not flag:
        x = json.load(open(expand))
        ring = {r["call_id"] for r in csv.DictReader(open(work / f"batch-{name}/truth/rings.csv"))
                if r["kind"] == "extortion_ring"}
        series = set(x["seeds"])
        steps = []
        for step in x["steps"]:
            series |= {j["call_id"] for j in step}
            found = len(series & ring)
            steps.append(f"{found / len(ring):.0%} of the ring, {(len(series) - found) / len(series):.0%} foreign")
        t = open(work / f"{name}.expand.time").read().split()
        expansions.append((calls, len(ring), steps, t[0]))
lines += [
    "",
    "| calls | group | kind | calls | rank of best lead | score (bits) | precision | recall |",
    "|---:|---|---|---:|---:|---:|---:|---:|",
]
for calls, g in groups:
    rank = g["rank"] if g["rank"] is not None else "-"
    score = f"{g['score']:.0f}" if g["score"] is not None else "-"
    lines.append(f"| {int(calls):,} | {g['ring_id']} | {g['kind']} | {g['calls']} | {rank} | {score} | "
                 f"{g['precision']:.3f} | {g['recall']:.3f} |")
lines += ["", "`hotline graph expand --from` the extortion ring's two ordinary disputes (truth role `seed`):", ""]
for calls, size, steps, seconds in expansions:
    lines.append(f"- {int(calls):,} calls, ring of {size} calls, {float(seconds):.1f} s: " +
                 "; ".join(f"step {i + 1}: {s}" for i, s in enumerate(steps)))
lines += [
    "",
    "Targets (issue 6, at 1M calls): every planted group among the top 10 leads, the extortion ring",
    "first, each with precision and recall ≥ 0.9; no lead worth a look when nothing is planted;",
    "expansion from the ring's two ordinary disputes reaching ≥ 90% of its calls within 3 steps",
    "with < 10% foreign calls; link ≤ 120 s and ≤ 6 GiB. Time and memory grow about linearly with",
    "the calls (evidence rows track calls; ties and leads are built from far fewer callers).",
    "",
]
section = "\n".join(lines) + "\n"
print(section)
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\n"
text = re.sub(r"## link \(.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
path.write_text(text)
PY
