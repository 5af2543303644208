#!/usr/bin/env bash
# Load test of the explorer: bench_serve.sh WAREHOUSE [CLIENTS=50] [SECONDS=60]. Builds the release
# binary, starts `hotline serve` on 127.0.0.1:0 over a linked warehouse with a bench user in a
# users file of its own, and runs scripts/bench_serve.py against it (loopback only).
set -euo pipefail
cd "$(dirname "$0")/.."
wh=$1; clients=${2:-50}; seconds=${3:-60}
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/hotline"
work=$(mktemp -d)
trap 'kill "$pid" 2> /dev/null || true; rm -rf "$work"' EXIT
echo "load test password" | "$bin" users add bench --role analyst --users "$work/users.toml" > /dev/null
"$bin" serve --warehouse "$wh" --listen 127.0.0.1:0 --users "$work/users.toml" > "$work/out" 2> /dev/null &
pid=$!
for _ in $(seq 600); do grep -q http "$work/out" 2> /dev/null && break; sleep 1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/out")
calls=$("$bin" sql --warehouse "$wh" --format csv "SELECT count(*) FROM calls" | tail -1)
echo "warehouse $wh: $calls calls; server up after loading the link graph"
python3 scripts/bench_serve.py "$base" bench "load test password" "$pid" "$clients" "$seconds"
