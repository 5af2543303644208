"""Load test of the PostgreSQL endpoint (loopback only, bounded): C connections for S seconds,
each running the named queries in turn (`SELECT * FROM q_NAME()`), against a running
`hotline serve --pg`; then each named query once through `hotline sql` on the same warehouse.
Prints throughput, p50 / p95 per query, errors and the server's resident memory every 5 s, as
Markdown for BENCHMARKS.md.

Usage: bench_pg.py PORT USER PASSWORD SERVER_PID CONNECTIONS SECONDS HOTLINE_BIN WAREHOUSE
"""

import statistics
import subprocess
import sys
import threading
import time

import psycopg

QUERIES = ["headline_summary", "headline_by_month", "category_mix", "daily_volume", "repeat_callers", "transfer_matrix"]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    port, user, password, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    connections, seconds, binary, warehouse = int(sys.argv[5]), float(sys.argv[6]), sys.argv[7], sys.argv[8]

    def connect():
        return psycopg.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="hotline",
                               sslmode="disable", autocommit=True)

    # Warm: each query once.
    with connect() as conn:
        for q in QUERIES:
            conn.execute(f"SELECT * FROM q_{q}()").fetchall()

    latencies = {q: [] for q in QUERIES}
    errors = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(i):
        conn = connect()
        n = i
        while time.monotonic() < stop:
            q = QUERIES[n % len(QUERIES)]
            n += 1
            started = time.perf_counter()
            try:
                conn.execute(f"SELECT * FROM q_{q}()").fetchall()
                ok = True
            except Exception as e:  # noqa: BLE001 — every failure is counted
                ok = False
                with lock:
                    errors.append(str(e)[:200])
                conn = connect()
            took = (time.perf_counter() - started) * 1000
            if ok:
                with lock:
                    latencies[q].append(took)
        conn.close()

    # What a tool browsing the catalogue meanwhile waits: one more connection, a catalogue query a second.
    probes = []

    def probe():
        conn = connect()
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.execute("SELECT count(*) FROM pg_catalog.pg_class").fetchall()
            probes.append((time.perf_counter() - started) * 1000)
            time.sleep(1)
        conn.close()

    memory = []
    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    threads.append(threading.Thread(target=probe))
    began = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        memory.append(rss_mib(pid))
        time.sleep(5)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    total = sum(len(v) for v in latencies.values())

    # The same queries through `hotline sql`, one process each (what an analyst's script does today).
    cli = {}
    for q in QUERIES:
        started = time.perf_counter()
        out = subprocess.run([binary, "query", "run", q, "--format", "csv", "--warehouse", warehouse],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        cli[q] = (time.perf_counter() - started) * 1000

    print(f"\n{connections} connections for {seconds:.0f} s: {total} statements in {elapsed:.1f} s "
          f"({total / elapsed:.1f} a second), {len(errors)} errors\n")
    print("| named query | answers | p50 ms | p95 ms | `hotline query run` once, ms |")
    print("|---|---:|---:|---:|---:|")
    for q in QUERIES:
        v = latencies[q]
        if v:
            print(f"| {q} | {len(v)} | {statistics.median(v):.1f} | {pct(v, 95):.1f} | {cli[q]:.1f} |")
        else:
            print(f"| {q} | 0 | - | - | {cli[q]:.1f} |")
    if probes:
        print(f"\nA catalogue query on one more connection meanwhile: {len(probes)} answers, "
              f"p50 {statistics.median(probes):.1f} ms, p95 {pct(probes, 95):.1f} ms")
    print("\nServer resident memory every 5 s (MiB): " + ", ".join(f"{m:.0f}" for m in memory))
    if errors:
        print("\nFirst errors: " + "; ".join(errors[:3]))


if __name__ == "__main__":
    main()
