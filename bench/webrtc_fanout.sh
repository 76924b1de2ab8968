#!/bin/bash
# WebRTC fan-out: one 1080p25 ~4 Mbit/s H.264 camera (GOP 2 s, file: source, no re-encode) served
# by camvisor-webrtc to N light viewers of one webrtc_load process (each a real ICE check, DTLS
# handshake and SRTP stream; packets counted, not decrypted or decoded). For each N the CPU of
# camvisor-webrtc and of the camera's worker is sampled from /proc/<pid>/stat over the window,
# and camvisor-webrtc's PSS is read once the N viewers play. Each N runs REPEATS times,
# interleaved, and the table gives medians in % of one core.
#
#     bench/webrtc_fanout.sh              # DUR=20 REPEATS=3 NS="1 10 50 100"
set -eu
source "$(dirname "$0")/lib.sh"
need_build
DUR=${DUR:-20}
REPEATS=${REPEATS:-3}
NS=${NS:-1 10 50 100}
LOADW=$BUILD/bench/webrtc_load

CLIP=$(make_clip cam1080p4m 1920 1080 4M 30)
# Each viewer comes from an address of its own (127.1.x.y); max_sessions is raised past 100.
CV_WEBRTC_EXTRA="max_sessions = 1000" cv_start "cam=file:$CLIP"
URL=http://127.0.0.1:$CV_API_PORT
sleep 2
WEBRTC=$(cv_webrtc_pid)
WORKER=$(cv_worker_pid cam)
echo "# webrtc_fanout.sh: $(machine_line)"
echo "# clip: $CLIP ($(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$CLIP") bit/s)"
echo "# pids: camvisor-webrtc $WEBRTC, worker $WORKER; window ${DUR} s, ${REPEATS} repeats"
RAW=$CV_DIR/raw
: >"$RAW"
for rep in $(seq "$REPEATS"); do
    for n in $NS; do
        line=$("$LOADW" -u "$URL" -s cam -n "$n" -d "$DUR" -w 3 -p webrtc="$WEBRTC" \
            -p worker="$WORKER" | grep '^RESULT') || echo "run $rep N=$n: bad viewers" >&2
        echo "run $rep N=$n: ${line#RESULT }"
        echo "$n $line" >>"$RAW"
        sleep 2
    done
done
[ "$(cv_webrtc_pid)" = "$WEBRTC" ] || echo "WARNING: camvisor-webrtc was restarted" >&2
col() { grep "^$1 " "$RAW" | field "$2" | median; }
echo
echo "| N viewers | camvisor-webrtc % | worker % | camvisor-webrtc PSS MiB | load client % | Mbit/s per viewer | lost packets |"
echo "|---|---|---|---|---|---|---|"
for n in $NS; do
    lost=$(grep "^$n " "$RAW" | field lost | awk '{s+=$1} END{print s+0}')
    echo "| $n | $(col "$n" cpu_webrtc) | $(col "$n" cpu_worker) | $(col "$n" pss_webrtc) | $(col "$n" load_cpu) | $(col "$n" mbit_per_viewer) | $lost |"
done
