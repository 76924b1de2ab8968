#!/bin/bash
# Sixteen passthrough cameras, one viewer each: 16 file: cameras (by default all playing the
# 1080p25 ~4 Mbit/s H.264 clip of fanout.sh, GOP 2 s, no re-encode; RES=720p uses a 1280x720
# ~2 Mbit/s clip instead) and one rtsp_load process with one RTSP/TCP session per camera.
#
# SOURCE=rtsp: the 16 cameras are rtsp:// cameras instead, each pulled over RTSP/TCP from its own
# file: camera of a second camvisor (the "farm", not measured, but its ~20 % of a core is load on
# the machine). This is the production path (the worker's own RTSP client), as in go2rtc's figure.
# The farm's cameras start at different moments, so frames reach the measured camvisor out of
# phase, as real cameras' do (one farm camera for all would wake camvisor-rtsp once per 16 frames).
#
# 1. CPU: REPEATS times (interleaved) a window of DUR_IDLE s with no viewer and a window of DUR s
#    with the 16 viewers; CPU of camvisor-rtsp, of the 16 workers together and of the supervisor
#    from /proc/<pid>/stat; medians in % of one core.
# 2. Memory, read in the middle of the last viewer window: per worker PSS, Private_Clean,
#    Private_Dirty, RSS (median, min, max over the 16) and the ring's share; sums over all
#    camvisor processes.
# 3. Where the CPU goes (PROFILE=1, the default): with the 16 viewers playing, `strace -c -f` for
#    PROF s on one worker and on camvisor-rtsp (one after the other), then `perf stat` (software
#    events) and `perf record -e cpu-clock` on each. Full outputs go to build/bench-data/profile/.
#
#     bench/cameras16.sh               # DUR=20 DUR_IDLE=10 REPEATS=3 PROF=10: about 3.5 minutes
set -eu
source "$(dirname "$0")/lib.sh"
need_build
DUR=${DUR:-20}
DUR_IDLE=${DUR_IDLE:-10}
REPEATS=${REPEATS:-3}
PROF=${PROF:-10}
PROFILE=${PROFILE:-1}
NCAM=${NCAM:-16}

if [ "${RES:-1080p}" = 720p ]; then
    CLIP=$(make_clip cam720p2m 1280 720 2M 30)
else
    CLIP=$(make_clip cam1080p4m 1920 1080 4M 30)
fi
specs=() urls=()
if [ "${SOURCE:-file}" = rtsp ]; then
    for i in $(seq -w 1 "$NCAM"); do specs+=("src$i=file:$CLIP"); done
    cv_start_farm "${specs[@]}"
    specs=()
    for i in $(seq -w 1 "$NCAM"); do specs+=("cam$i=rtsp://127.0.0.1:$FARM_PORT/src$i"); done
else
    for i in $(seq -w 1 "$NCAM"); do specs+=("cam$i=file:$CLIP"); done
fi
cv_start "${specs[@]}"
for i in $(seq -w 1 "$NCAM"); do urls+=("rtsp://127.0.0.1:$CV_PORT/cam$i"); done
RTSP=$(cv_rtsp_pid)
WORKERS=$(cv_worker_pids | tr ' ' ',' | sed 's/,$//')
sleep 3

echo "# cameras16.sh: $(machine_line)"
echo "# $NCAM ${SOURCE:-file} cameras playing $CLIP ($(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$CLIP") bit/s)"
echo "# windows: ${DUR_IDLE} s without viewers, ${DUR} s with one viewer per camera; ${REPEATS} repeats"
RAW=$CV_DIR/raw
: >"$RAW"
MEMF=$CV_DIR/mem
probes=(-p rtsp="$RTSP" -p workers="$WORKERS" -p sup="$CV_PID")

read_memory() {
    # shellcheck disable=SC2046 # one argument per pid
    python3 "$ROOT/bench/footprint.py" $(cv_all_pids) >"$MEMF.fp"
    : >"$MEMF"
    for p in $(cv_all_pids); do
        read -r pss clean dirty rss < <(awk '/^Pss:/{p=$2} /^Private_Clean:/{c=$2}
            /^Private_Dirty:/{d=$2} /^Rss:/{r=$2} END{print p, c, d, r}' "/proc/$p/smaps_rollup")
        read -r rpss rpriv _ < <(mem_ring "$p")
        kind=$(tr '\0' ' ' <"/proc/$p/cmdline" | cut -d' ' -f1 | sed 's|.*/||')
        echo "$kind $p $pss $clean $dirty $rss $rpss $rpriv" >>"$MEMF"
    done
}

for rep in $(seq "$REPEATS"); do
    line=$("$LOAD" -n 0 -d "$DUR_IDLE" "${probes[@]}" | grep '^RESULT')
    echo "run $rep idle: ${line#RESULT }"
    echo "0 $line" >>"$RAW"
    out=$CV_DIR/load.out
    "$LOAD" -n 1 -d "$DUR" -w 2 "${probes[@]}" "${urls[@]}" >"$out" &
    lp=$!
    if [ "$rep" = "$REPEATS" ]; then
        sleep $((DUR / 2 + 3))
        read_memory
    fi
    wait "$lp" || echo "run $rep: rtsp_load reported bad sessions" >&2
    line=$(grep '^RESULT' "$out")
    echo "run $rep viewers: ${line#RESULT }"
    echo "$NCAM $line" >>"$RAW"
    sleep 1
done
[ "$(cv_rtsp_pid)" = "$RTSP" ] && [ "$(cv_worker_pids | tr ' ' ',' | sed 's/,$//')" = "$WORKERS" ] ||
    echo "WARNING: a camvisor process was restarted during the runs" >&2

col() { grep "^$1 " "$RAW" | field "$2" | median; }
echo
echo "## CPU, % of one core (median of $REPEATS)"
echo
echo "| viewers | camvisor-rtsp | $NCAM workers | supervisor | all camvisor | load client | whole machine (of 200) | Mbit/s per viewer (min..max) | longest gap ms | seq jumps |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in 0 "$NCAM"; do
    tot=$(grep "^$n " "$RAW" | awk '{for(i=1;i<=NF;i++){split($i,kv,"="); v[kv[1]]=kv[2]} print v["cpu_rtsp"]+v["cpu_workers"]+v["cpu_sup"]}' | median)
    if [ "$n" = 0 ]; then
        rate=- gap=- jumps=-
    else
        secs=$(col "$n" seconds)
        minb=$(grep "^$n " "$RAW" | field min_bytes | sort -g | head -1)
        maxb=$(grep "^$n " "$RAW" | field max_bytes | sort -g | tail -1)
        rate=$(awk -v a="$minb" -v b="$maxb" -v t="$secs" 'BEGIN{printf "%.2f..%.2f", a*8/t/1e6, b*8/t/1e6}')
        gap=$(grep "^$n " "$RAW" | field max_gap_ms | sort -g | tail -1)
        jumps=$(grep "^$n " "$RAW" | field seq_jumps | awk '{s+=$1} END{print s+0}')
    fi
    echo "| $n | $(col "$n" cpu_rtsp) | $(col "$n" cpu_workers) | $(col "$n" cpu_sup) | $tot | $(col "$n" load_cpu) | $(col "$n" machine_cpu) | $rate | $gap | $jumps |"
done

echo
echo "## memory with $NCAM viewers, KiB"
echo
echo "| process | PSS | Private_Clean | Private_Dirty | private (clean+dirty) | RSS | ring PSS | ring private |"
echo "|---|---|---|---|---|---|---|---|"
grep -v '^camvisor-worker ' "$MEMF" | while read -r kind _ pss clean dirty rss rpss rpriv; do
    echo "| $kind | $pss | $clean | $dirty | $((clean + dirty)) | $rss | $rpss | $rpriv |"
done
stat3() { # column number -> "median (min..max)" over the workers
    grep '^camvisor-worker ' "$MEMF" | awk -v c="$1" '{print $c}' | sort -g |
        awk '{a[NR]=$1} END{printf "%d (%d..%d)", a[int((NR+1)/2)], a[1], a[NR]}'
}
grep '^camvisor-worker ' "$MEMF" | awk '{print $4+$5}' >"$MEMF.priv"
privs=$(sort -g "$MEMF.priv" | awk '{a[NR]=$1} END{printf "%d (%d..%d)", a[int((NR+1)/2)], a[1], a[NR]}')
echo "| camvisor-worker, median (min..max) of $NCAM | $(stat3 3) | $(stat3 4) | $(stat3 5) | $privs | $(stat3 6) | $(stat3 7) | $(stat3 8) |"
awk '{p+=$3; c+=$4; d+=$5; r+=$6; rp+=$7; rv+=$8}
     END{printf "| **sum over all %d processes** | **%d** (%.1f MiB) | %d | %d | %d | %d | %d | %d |\n", NR, p, p/1024, c, d, c+d, r, rp, rv}' "$MEMF"
awk '{p+=$3-$7} END{printf "| sum without the rings | %d (%.1f MiB) | | | | | | |\n", p, p/1024}' "$MEMF"
awk '$1=="camvisor-worker"{d+=$5-$8; n++} END{printf "\nPer worker, Private_Dirty without the ring: %.0f KiB (mean of %d)\n", d/n, n}' "$MEMF"
echo
echo "Footprint (distinct resident pages of all camvisor processes, each counted once;"
echo "bench/footprint.py): $(cat "$MEMF.fp") KiB"

[ "$PROFILE" = 1 ] || exit 0
PD=$DATA/profile
mkdir -p "$PD"
W1=$(cv_worker_pid cam01)
"$LOAD" -n 1 -d $((4 * PROF + 8)) -w 1 "${urls[@]}" >"$PD/load.out" &
lp=$!
sleep 3
echo
echo "## where the CPU goes (strace -c -f, ${PROF} s each, $NCAM viewers playing)"
timeout -s INT "$PROF" strace -c -f -o "$PD/strace-worker.txt" -p "$W1" >/dev/null 2>&1 || true
timeout -s INT "$PROF" strace -c -f -o "$PD/strace-rtsp.txt" -p "$RTSP" >/dev/null 2>&1 || true
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$W1" -o "$PD/perfstat-worker.txt" -- sleep "$PROF" 2>/dev/null || echo "perf stat: not available" >"$PD/perfstat-worker.txt"
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$RTSP" -o "$PD/perfstat-rtsp.txt" -- sleep "$PROF" 2>/dev/null || echo "perf stat: not available" >"$PD/perfstat-rtsp.txt"
perf record -q -e cpu-clock -F 999 -g -p "$RTSP" -o "$PD/perf-rtsp.data" -- sleep "$PROF" >/dev/null 2>&1 &
pr1=$!
perf record -q -e cpu-clock -F 999 -g -p "$W1" -o "$PD/perf-worker.data" -- sleep "$PROF" >/dev/null 2>&1 &
pr2=$!
wait $pr1 $pr2 || true
wait "$lp" || true
for who in worker rtsp; do
    frames=$((25 * PROF))
    [ "$who" = rtsp ] && frames=$((25 * PROF * NCAM))
    echo
    echo "### $who: strace -c -f (${PROF} s; about $frames frames at 25 fps)"
    echo
    echo '```'
    sed -n '1,/total$/p' "$PD/strace-$who.txt" | head -24
    echo '```'
    awk -v f="$frames" '$1 ~ /^[0-9.]+$/ && NF >= 5 {name=$NF; calls=$4; printf "%s %.2f/frame; ", name, calls/f} END{print ""}' \
        "$PD/strace-$who.txt" | fold -s -w 110
    echo
    echo '```'
    grep -E 'task-clock|context-switches|cpu-migrations|page-faults|seconds time' "$PD/perfstat-$who.txt" | sed 's/  */ /g'
    echo '```'
    if [ -s "$PD/perf-$who.data" ]; then
        echo
        echo "perf record -e cpu-clock (self time, top symbols):"
        echo
        echo '```'
        perf report -i "$PD/perf-$who.data" --stdio --no-children --sort dso,sym 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -15
        echo '```'
    fi
done
echo
echo "(full outputs in $PD; load client during profiling: $(grep '^RESULT' "$PD/load.out" | field bad) bad sessions)"
