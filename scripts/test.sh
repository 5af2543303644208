#!/usr/bin/env bash
# Every test: installs what the tests need from the Debian archive if missing (chromium and
# fonts-noto-cjk, for the report's headless-browser test and the notebooks' charts;
# postgresql-client, openssl, a JDK and pgjdbc, for the PostgreSQL endpoint's tests), runs the
# Rust test suite, then builds a warehouse from the committed sample and executes every notebook
# headless in a virtual environment with notebooks/requirements.txt (made once, re-made when the
# requirements change), runs the PostgreSQL endpoint's client test (psycopg, SQLAlchemy, pandas,
# pgjdbc),
# and drives the explorer (`hotline serve`) in headless Chromium. The
# README's test command; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium > /dev/null 2>&1 || missing+=(chromium)
command -v psql > /dev/null 2>&1 || missing+=(postgresql-client)
command -v openssl > /dev/null 2>&1 || missing+=(openssl)
command -v javac > /dev/null 2>&1 || missing+=(default-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
cjk_fonts="$( (fc-list :lang=zh family 2> /dev/null || true) | grep -c "Noto Sans CJK" || true)"
[ "${cjk_fonts:-0}" -gt 0 ] || missing+=(fonts-noto-cjk fontconfig)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from the Debian archive" >&2
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

cargo fmt --check
# Clippy lints this crate while the test build compiles it: clippy-driver stands in for rustc on
# the workspace's own crates only, so the lints cost no second build of the dependencies (a
# separate `cargo clippy` check build took a fresh 2-core CI run past 30 minutes). Every lint
# warning is an error, as with `cargo clippy --all-targets -- -D warnings`.
command -v clippy-driver > /dev/null 2>&1 || rustup component add clippy
# The `cluster` feature (Ballista's scheduler, executor and client) is built and tested here; the
# demo's release build leaves it out.
RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" \
    CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
    cargo test --locked --features cluster

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
bin="$target_dir/debug/hotline"
work="$target_dir/notebooks"
rm -rf "$work"
mkdir -p "$work/data"
wh="$work/warehouse"
echo "notebooks: building a warehouse from data/sample" >&2
"$bin" init --warehouse "$wh" > /dev/null
"$bin" ingest data/sample/calls.csv data/sample/work_orders.csv --warehouse "$wh" > /dev/null
"$bin" resolve --warehouse "$wh" > /dev/null
"$bin" link --warehouse "$wh" > /dev/null
"$bin" hotspots --category 'DISPUTE.*' --out "$work/data/hotspots" --warehouse "$wh" > /dev/null
"$bin" graph export --lead 1 --format graphml --out "$work/data/lead-1.graphml" --warehouse "$wh" > /dev/null
# The notebooks read analyst tables only: the pseudonymisation key goes away before they run.
mv "$wh.key" "$work/key.hidden"

# A virtual environment of a requirements file under the target folder, made once and made
# again when the file changes.
venv_for() {
    local requirements=$1 venv=$2 wanted
    wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/requirements.sha256" 2> /dev/null)" != "$wanted" ]; then
        echo "installing $requirements into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        echo "$wanted" > "$venv/requirements.sha256"
    fi
}

venv="$target_dir/notebook-venv"
venv_for notebooks/requirements.txt "$venv"
HOTLINE_WAREHOUSE="$wh" HOTLINE_BIN="$bin" HOTLINE_NOTEBOOK_DATA="$work/data" \
    "$venv/bin/python" scripts/run_notebooks.py "$work/executed"

# The PostgreSQL endpoint with psycopg 3, SQLAlchemy, pandas and pgjdbc (the Rust suite drives it
# with psql).
pg_venv="$target_dir/pg-venv"
venv_for tests/pg/requirements.txt "$pg_venv"
"$pg_venv/bin/python" tests/pg/clients.py "$bin" "$wh"

# The explorer in headless Chromium: Debian's chromium (installed above) driven by Playwright from
# a virtual environment of tests/browser/requirements.txt; screenshots land in the target folder.
browser_venv="$target_dir/browser-venv"
venv_for tests/browser/requirements.txt "$browser_venv"
"$browser_venv/bin/python" tests/browser/explorer.py "$bin" "$target_dir/browser"
