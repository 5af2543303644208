"""Times every named query in one hotline process and on a Ballista cluster; writes BENCHMARKS.md's cluster section."""
import datetime, os, pathlib, re, statistics, subprocess, sys

from benchmarks import replace_section

binary, warehouse, scheduler, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
WHY = """
What it shows: on one 2-core machine a cluster cannot be faster. The scheduler and both executors
share the two cores the single process uses alone, and every stage boundary writes its rows to
Arrow IPC files and reads them back over Arrow Flight. The scans and aggregates (`daily_volume`,
`department_sla`, `headline_summary`, the repeat-rule queries, which now read `caller_calls` and
filter on `previous_at` instead of joining and sorting) cost about the same either way
(0.95-1.15); the queries that join the orders with the calls (`headline_by_district`,
`orphan_orders`) pay for the shuffle of both sides by `call_id` (2.0-2.2); the small ones pay the
per-job start (scheduling, planning on the scheduler, two round trips), about 0.15 s, which is why
`quarantine_summary` (12 ms alone) shows 13x. Every named query runs on the cluster now;
`repeat_callers`, which failed locally at 10M calls in the run before (its CTE, a join of every
call with `caller_entities`, was computed once per reference), answers in 5.0 s here and 5.7 s
there.

What a real cluster would change: executors on their own machines add cores, memory and disk
bandwidth per node, so the scan-bound queries would shrink with the number of executors, and the
joins of orders with calls would be split by hash of `call_id` across them (that is the shuffle
measured here). It stays worth it only when the data outgrows one machine: below some tens
of millions of calls one process is as fast or faster, and the warehouse must be on a shared file
system that every executor reads at the same path.
"""
root = pathlib.Path(__file__).resolve().parent.parent
names = sorted(p.stem for p in (root / "queries").glob("*.sql"))

def timed(name, cluster):
    runs = []
    for _ in range(3):
        command = [binary, "query", "run", name, "--warehouse", warehouse, "--format", "csv", "--out", "/dev/null",
                   "--timing"] + (["--cluster", scheduler] if cluster else [])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return None, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        runs.append(float(re.search(r"time: ([0-9.]+) s", done.stderr).group(1)))
    return statistics.median(runs), None

size = f"{calls // 1000000}M" if calls >= 1000000 else f"{calls // 1000}k"
lines = [f"## SQL on a cluster (`scripts/bench_cluster.sh {calls}`, {datetime.date.today()}, {os.cpu_count()} cores)", "",
         f"Median of three runs of each named query with default parameters on one {size}-call warehouse: one",
         "hotline process (DataFusion, both cores) against the same statement sent with `--cluster` to a",
         "Ballista 55 scheduler and two executors of one task slot each, all on this machine. The time is",
         "the statement's own (plan, run, results written to /dev/null), without process start-up.", "",
         f"| query | local s | cluster s | cluster / local |", "|---|---:|---:|---:|"]
ratios = []
for name in names:
    here, local_error = timed(name, False)
    there, cluster_error = timed(name, True)
    if here is None or there is None:
        show = lambda t, e: f"{t:.3f}" if t is not None else f"failed: {e}"
        lines.append(f"| {name} | {show(here, local_error)} | {show(there, cluster_error)} | |")
        continue
    ratios.append(there / here)
    lines.append(f"| {name} | {here:.3f} | {there:.3f} | {there / here:.2f} |")
if ratios:
    import math
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    lines.append(f"| **geometric mean** | | | **{geo:.2f}** |")
lines.append("")
lines.append(WHY.strip())
section = "\n".join(lines) + "\n"
print(section)
replace_section("SQL on a cluster (", section)
