"""Load test of the explorer (loopback only, bounded): N clients for S seconds against a running
`hotline serve`, each asking in turn for the lead list, a top lead's graph and the path between
two of its calls. Prints p50 / p95 per endpoint, errors, and the server's resident memory sampled
every 5 s, as a Markdown block for BENCHMARKS.md.

Usage: bench_serve.py BASE_URL USER PASSWORD SERVER_PID [CLIENTS=50] [SECONDS=60]
"""

import http.client
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlparse


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    base, user, password, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 50
    seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
    url = urlparse(base)
    assert url.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"

    def connect():
        return http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    c = connect()
    c.request("POST", "/api/login", json.dumps({"user": user, "password": password}), {"content-type": "application/json"})
    r = c.getresponse()
    assert r.status == 200, r.read()
    cookie = r.getheader("set-cookie").split(";")[0]
    r.read()
    headers = {"cookie": cookie}

    def get(conn, path):
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        return r.status, body

    status, body = get(c, "/api/leads?top=10")
    leads = json.loads(body)["leads"]
    paths = []
    for lead in leads:
        _, detail = get(c, f"/api/leads/{lead['lead_id']}")
        calls = json.loads(detail)["call_ids"]
        if len(calls) >= 2:
            paths.append((lead["lead_id"], calls[0], calls[-1]))
    # Warm the caches the first request of each kind fills.
    get(c, f"/api/graph?lead={paths[0][0]}")
    c.close()

    latencies = {"lead list": [], "lead graph": [], "path": []}
    errors = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(i):
        conn = connect()
        n = i
        while time.monotonic() < stop:
            lead, a, b = paths[n % len(paths)]
            for name, path in (("lead list", "/api/leads?top=50"), ("lead graph", f"/api/graph?lead={lead}"), ("path", f"/api/path?from={a}&to={b}")):
                started = time.perf_counter()
                try:
                    status, _ = get(conn, path)
                except Exception as e:  # a dropped connection counts as an error, and is remade
                    status = str(e)
                    conn = connect()
                took = (time.perf_counter() - started) * 1000
                with lock:
                    if status == 200:
                        latencies[name].append(took)
                    else:
                        errors.append((name, status))
            n += 1
        conn.close()

    memory = [rss_mib(pid)]
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(5)
        memory.append(rss_mib(pid))
    for t in threads:
        t.join()

    print(f"{clients} clients for {seconds:.0f} s on loopback; {len(errors)} errors")
    print()
    print("| request | answers | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|")
    for name, xs in latencies.items():
        xs.sort()
        p95 = xs[int(0.95 * (len(xs) - 1))] if xs else float("nan")
        print(f"| {name} | {len(xs)} | {statistics.median(xs) if xs else float('nan'):.1f} | {p95:.1f} |")
    print()
    print(f"server resident memory, every 5 s (MiB): {', '.join(f'{m:.0f}' for m in memory)}")
    if errors:
        print("errors:", errors[:10])
        sys.exit(1)


if __name__ == "__main__":
    main()
