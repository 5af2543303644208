#!/usr/bin/env bash
# Load test of the PostgreSQL endpoint: bench_pg.sh WAREHOUSE [CONNECTIONS=32] [SECONDS=60].
# Builds the release binary, starts `hotline serve --pg 127.0.0.1:0` over the warehouse with a
# bench user of its own, and runs scripts/bench_pg.py (psycopg, loopback only) against it: the
# named queries in turn on every connection, then each named query once through `hotline sql`
# for the same figures. Python packages come from tests/pg/requirements.txt in a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
wh=$1; connections=${2:-32}; seconds=${3:-60}
cargo build --release --quiet
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/hotline"
venv="$target/pg-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/pg/requirements.txt
fi
work=$(mktemp -d)
trap 'kill "$pid" 2> /dev/null || true; rm -rf "$work"' EXIT
echo "load test password" | "$bin" users add bench --role analyst --users "$work/users.toml" > /dev/null
"$bin" serve --pg 127.0.0.1:0 --warehouse "$wh" --users "$work/users.toml" --max-connections 64 > "$work/out" 2> /dev/null &
pid=$!
for _ in $(seq 600); do grep -q PostgreSQL "$work/out" 2> /dev/null && break; sleep 1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$work/out" | head -1 | cut -d: -f2)
calls=$("$bin" sql --warehouse "$wh" --format csv "SELECT count(*) FROM calls" | tail -1)
echo "warehouse $wh: $calls calls"
"$venv/bin/python" scripts/bench_pg.py "$port" bench "load test password" "$pid" "$connections" "$seconds" "$bin" "$wh"
