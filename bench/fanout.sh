#!/bin/bash
# RTSP fan-out: one 1080p25 ~4 Mbit/s H.264 camera (GOP 2 s, file: source, no re-encode) served by
# camvisor to N RTSP/TCP clients of one rtsp_load process. For each N the CPU of camvisor-rtsp, of
# the camera's worker and of the supervisor is sampled from /proc/<pid>/stat over the measured
# window; N=0 (no viewer: the worker alone, no doorbell) separates the ingest cost from the
# fan-out cost. Each N runs REPEATS times, interleaved (0 1 16 64, 0 1 16 64, ...), and the table
# gives medians in % of one core.
#
# Then (PROFILE=1, the default) with 64 clients playing: `strace -c -f` of camvisor-rtsp and of the
# worker for PROF s each, and `perf stat` of camvisor-rtsp: syscalls per frame at 64 clients.
#
#     bench/fanout.sh                 # DUR=20 REPEATS=3 NS="0 1 16 64" PROF=10: about 5.5 minutes
#     DUR=10 REPEATS=1 NS="64" bench/fanout.sh
set -eu
source "$(dirname "$0")/lib.sh"
need_build
DUR=${DUR:-20}
REPEATS=${REPEATS:-3}
NS=${NS:-0 1 16 64}
PROFILE=${PROFILE:-1}
PROF=${PROF:-10}

CLIP=$(make_clip cam1080p4m 1920 1080 4M 30)
cv_start "cam=file:$CLIP"
URL=rtsp://127.0.0.1:$CV_PORT/cam
RTSP=$(cv_rtsp_pid)
WORKER=$(cv_worker_pid cam)
sleep 2 # the worker reaches its steady state (ring mapped, clip cached)

echo "# fanout.sh: $(machine_line)"
echo "# clip: $CLIP ($(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$CLIP") bit/s)"
echo "# pids: supervisor $CV_PID, camvisor-rtsp $RTSP, worker $WORKER; window ${DUR} s, ${REPEATS} repeats"
RAW=$CV_DIR/raw
: >"$RAW"
for rep in $(seq "$REPEATS"); do
    for n in $NS; do
        line=$("$LOAD" -n "$n" -d "$DUR" -w 2 -p rtsp="$RTSP" -p worker="$WORKER" -p sup="$CV_PID" \
            "$URL" | grep '^RESULT') || echo "run $rep N=$n: rtsp_load reported bad sessions" >&2
        echo "run $rep N=$n: ${line#RESULT }"
        echo "$n $line" >>"$RAW"
        sleep 1
    done
done
[ "$(cv_rtsp_pid)" = "$RTSP" ] && [ "$(cv_worker_pid cam)" = "$WORKER" ] ||
    echo "WARNING: a camvisor process was restarted during the runs" >&2

col() { # col N KEY -> median over the runs of N
    grep "^$1 " "$RAW" | field "$2" | median
}
echo
echo "| N clients | camvisor-rtsp | worker | supervisor | all camvisor | load client | whole machine (of 200) | Mbit/s per client (min..max) | longest gap ms | seq jumps |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $NS; do
    r=$(col "$n" cpu_rtsp) w=$(col "$n" cpu_worker) s=$(col "$n" cpu_sup)
    tot=$(grep "^$n " "$RAW" | awk '{for(i=1;i<=NF;i++){split($i,kv,"="); v[kv[1]]=kv[2]} print v["cpu_rtsp"]+v["cpu_worker"]+v["cpu_sup"]}' | median)
    secs=$(col "$n" seconds)
    minb=$(grep "^$n " "$RAW" | field min_bytes | sort -g | head -1)
    maxb=$(grep "^$n " "$RAW" | field max_bytes | sort -g | tail -1)
    gap=$(grep "^$n " "$RAW" | field max_gap_ms | sort -g | tail -1)
    jumps=$(grep "^$n " "$RAW" | field seq_jumps | awk '{s+=$1} END{print s+0}')
    rate=$(awk -v a="$minb" -v b="$maxb" -v t="$secs" 'BEGIN{printf "%.2f..%.2f", a*8/t/1e6, b*8/t/1e6}')
    [ "$n" = 0 ] && rate=- && gap=- && jumps=-
    echo "| $n | $r | $w | $s | $tot | $(col "$n" load_cpu) | $(col "$n" machine_cpu) | $rate | $gap | $jumps |"
done
echo
echo "(CPU in % of one core, median of $REPEATS windows of ${DUR} s; gap and jumps: worst over all runs)"

[ "$PROFILE" = 1 ] || exit 0
PD=$DATA/profile
mkdir -p "$PD"
"$LOAD" -n 64 -d $((3 * PROF + 6)) -w 1 "$URL" >"$PD/fanout-load.out" &
lp=$!
sleep 3
timeout -s INT "$PROF" strace -c -f -o "$PD/fanout-strace-rtsp.txt" -p "$RTSP" >/dev/null 2>&1 || true
timeout -s INT "$PROF" strace -c -f -o "$PD/fanout-strace-worker.txt" -p "$WORKER" >/dev/null 2>&1 || true
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$RTSP" \
    -o "$PD/fanout-perfstat-rtsp.txt" -- sleep "$PROF" 2>/dev/null ||
    echo "perf stat: not available" >"$PD/fanout-perfstat-rtsp.txt"
wait "$lp" || true
for who in rtsp worker; do
    echo
    echo "### $who with 64 clients: strace -c -f, ${PROF} s (about $((25 * PROF)) frames)"
    echo
    echo '```'
    sed -n '1,/total$/p' "$PD/fanout-strace-$who.txt" | head -24
    echo '```'
    awk -v f=$((25 * PROF)) '$1 ~ /^[0-9.]+$/ && NF >= 5 {printf "%s %.2f/frame; ", $NF, $4/f} END{print ""}' \
        "$PD/fanout-strace-$who.txt" | fold -s -w 110
done
echo
echo '```'
grep -E 'task-clock|context-switches|cpu-migrations|page-faults|seconds time' "$PD/fanout-perfstat-rtsp.txt" | sed 's/  */ /g'
echo '```'
echo "(perf stat of camvisor-rtsp, 64 clients, ${PROF} s, without strace; load client: $(grep '^RESULT' "$PD/fanout-load.out" | field bad) bad sessions)"
