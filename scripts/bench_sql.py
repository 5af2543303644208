"""Times every named query in hotline and DuckDB on the same warehouses; writes BENCHMARKS.md's sql section."""
import datetime, math, os, pathlib, re, statistics, subprocess, sys, time

import duckdb

from benchmarks import replace_section

binary, work, sizes = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
WHY = """Where hotline loses: the four queries with the 7-day repeat rule (`headline_summary`,
`headline_by_month`, `headline_by_district`, `repeat_call_rate_by_month`) and `repeat_callers`
count by resolved person: they join every call with `caller_entities` on `call_id` (a hash join of
10M string keys) and then sort every original call by person, category and time for a `LAG`
window. DataFusion's join and sort on 2 cores are 3-4x DuckDB's; joining by person cost these
queries about a quarter more than counting by `phone_key` did (geometric mean 1.84 -> 2.26 at 10M,
run of 2026-11-22 against this one). Writing the entity into the calls files (sorted by entity and
time) would remove both the join and most of the sort. The scan-and-aggregate queries are
1.1-1.7x: DuckDB aggregates on the Parquet dictionary codes of platform, category and district,
DataFusion on the decoded strings. Before the repeat rule used LAG (a self-join of each call with
the caller's earlier calls) `headline_summary` took 29.3 s at 10M calls (4.1x), and
`repeat_callers` with three COUNT(DISTINCT) per caller took 137 s (15x).
"""
root = pathlib.Path(__file__).resolve().parent.parent
queries = {}
for path in sorted((root / "queries").glob("*.sql")):
    text = path.read_text()
    defaults = dict(re.findall(r"--\s*param:\s*(\w+)\s*=\s*([^|\n]*)", text))
    sql = re.sub(r"\{\{(\w+)\}\}", lambda m: "'" + defaults[m.group(1)].strip().replace("'", "''") + "'", text)
    queries[path.stem] = sql.strip().rstrip(";")

def duck(warehouse):
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    for table in ("calls", "work_orders"):
        con.sql(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{warehouse}/{table}/*/*.parquet', hive_partitioning = true)")
    for table in ("calls_history", "work_orders_history", "quarantine", "ingest_batches", "ingest_files",
                  "caller_entities", "entities"):
        files = list((warehouse / table).glob("*.parquet"))
        if files:
            con.sql(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{warehouse}/{table}/*.parquet')")
    con.sql(f"CREATE TABLE categories AS SELECT * FROM read_csv('{root}/data/taxonomy.csv', header = true)")
    return con

def time_duck(con, sql):
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)

def time_hotline(warehouse, name):
    runs = []
    for _ in range(3):
        done = subprocess.run([binary, "query", "run", name, "--warehouse", str(warehouse), "--format", "csv",
                               "--out", "/dev/null", "--timing"], capture_output=True, text=True, check=True)
        runs.append(float(re.search(r"time: ([0-9.]+) s", done.stderr).group(1)))
    return statistics.median(runs)

lines = [f"## sql (`scripts/bench_sql.sh {' '.join(sizes)}`, {datetime.date.today()}, {os.cpu_count()} cores, "
         f"DuckDB {duckdb.__version__})", "",
         "Median of three runs of each named query with default parameters on the same warehouse Parquet files.",
         "", "| query | " + " | ".join(f"{int(s)//1000000}M hotline s | {int(s)//1000000}M DuckDB s | ratio" for s in sizes) + " |",
         "|---|" + "---:|---:|---:|" * len(sizes)]
ratios = {s: [] for s in sizes}
rows = {name: [] for name in queries}
for size in sizes:
    warehouse = work / f"wh-{size}"
    con = duck(warehouse)
    for name, sql in queries.items():
        h = time_hotline(warehouse, name)
        d = time_duck(con, sql)
        ratios[size].append(h / d)
        rows[name] += [f"{h:.3f}", f"{d:.3f}", f"{h / d:.2f}"]
for name, cells in rows.items():
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
geo = {s: math.exp(sum(math.log(r) for r in ratios[s]) / len(ratios[s])) for s in sizes}
lines.append("| **geometric mean of ratios** | " + " | ".join(f" | | **{geo[s]:.2f}**" for s in sizes) + " |")
lines.append("")
lines.append(WHY)
section = "\n".join(lines) + "\n"
print(section)
replace_section("sql (", section)
