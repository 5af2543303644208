#!/usr/bin/env bash
# Two builds of hotline side by side on one batch: ingest, resolve, link and hotspots with each,
# alternating, wall time (s) and peak RSS (KiB) per stage to results.txt in the work folder.
# Usage: scripts/bench_versions.sh OLD_BIN NEW_BIN WORK_DIR   (WORK_DIR/batch holds calls.csv and work_orders.csv,
# e.g. from `hotline generate --calls 1000000 --seed 11 --out WORK_DIR/batch`).
set -u
cd "$3"
export HOTLINE_KEY=$(printf '5a%.0s' $(seq 32))
old=$1; new=$2
for name in old new; do
  bin=${!name}; wh=wh-$name; rm -rf $wh $wh.key
  $bin init --warehouse $wh > /dev/null
done
t() { /usr/bin/time -f "%e %M" -o t.tmp "$@" > /dev/null 2> err.tmp || { echo "FAILED $*"; cat err.tmp; }; cat t.tmp; }
for stage in ingest resolve link hotspots; do
  for name in old new; do
    bin=${!name}; wh=wh-$name
    case $stage in
      ingest) r=$(t $bin ingest batch/calls.csv batch/work_orders.csv --warehouse $wh) ;;
      resolve) r=$(t $bin resolve --warehouse $wh) ;;
      link) r=$(t $bin link --warehouse $wh) ;;
      hotspots) r=$(t $bin hotspots --warehouse $wh) ;;
    esac
    echo "$stage $name $r" | tee -a results.txt
  done
done
