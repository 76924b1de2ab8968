#!/bin/bash
# Runs every benchmark of bench/ in turn (about 10 minutes on 2 cores) and keeps the whole output
# in build/bench-data/all-<UTC time>.txt. Build first: make -j2 all.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/bench-data
out=build/bench-data/all-$(date -u +%Y%m%dT%H%M%SZ).txt
{
    echo "# $(git rev-parse --short HEAD 2>/dev/null || echo 'no git'), $(nproc) CPUs," \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(date -u)"
    for cmd in build/bench/ring_bench build/bench/wakeup_cost build/bench/ingest_cost \
        bench/memory.sh bench/fanout.sh bench/cameras16.sh; do
        echo
        echo "################ \$ $cmd   (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        echo
        start=$(date +%s)
        "$cmd" || echo "FAILED: $cmd (exit $?)"
        echo "(took $(($(date +%s) - start)) s)"
    done
} 2>&1 | tee "$out"
echo "output kept in $out"
