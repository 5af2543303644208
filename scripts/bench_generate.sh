#!/usr/bin/env bash
# Benchmark of `hotline generate`: wall time and peak memory at 100k and 1M calls in one run,
# written to BENCHMARKS.md. The issue's target is 1M calls in <= 30 s on this 2-core machine,
# with memory that does not grow with N; there is no external peer for a generator, so the
# ratios are against that 30 s budget and against the 100k run's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/hotline"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

measure() { # calls format -> "seconds rss_kib"
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" generate --calls "$1" --seed 1 --format "$2" --out "$work/out-$1-$2" > /dev/null
  cat "$work/time"
}

for format in csv parquet jsonl; do
  read -r "s100k_$format" "m100k_$format" < <(measure 100000 "$format")
  read -r "s1m_$format" "m1m_$format" < <(measure 1000000 "$format")
done

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
mib() { python3 -c "print(f'{$1/1024:.0f}')"; }
{
  echo "## generate (\`scripts/bench_generate.sh\`, $(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "No external program generates this data, so the peer is the issue's budget (1M calls in 30 s)"
  echo "and, for memory, the same format at a tenth of the size: a ratio near 1 means memory does not grow with N."
  echo
  echo "| format | 100k s | 1M s | 1M / 30 s budget | 100k peak RSS MiB | 1M peak RSS MiB | RSS 1M / 100k |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for format in csv parquet jsonl; do
    s100k="s100k_$format"; s1m="s1m_$format"; m100k="m100k_$format"; m1m="m1m_$format"
    echo "| $format | ${!s100k} | ${!s1m} | $(ratio "${!s1m}" 30) | $(mib "${!m100k}") | $(mib "${!m1m}") | $(ratio "${!m1m}" "${!m100k}") |"
  done
  echo
  echo "Memory is bounded by one day of calls (the day's rows are sorted before they are written) and,"
  echo "for Parquet, by one 128k-row row group per table, not by the total: going from 100k to 1M calls"
  echo "over the same 365 days multiplies calls per day by ten and adds a few MiB."
  echo
} > "$work/section.md"
cat "$work/section.md"
python3 - "$work/section.md" <<'PY'
import re, sys, pathlib
section = pathlib.Path(sys.argv[1]).read_text()
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\nFigures are measured in one run of the named script on this project's 2-core machine.\n\n"
text = re.sub(r"## generate \(.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
path.write_text(text)
PY
