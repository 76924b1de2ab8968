#!/bin/bash
# H.265 -> H.264 transcoding, camvisor's way against go2rtc's, in one run (bench/RESULTS.md §18).
#
#   camvisor: an H.265 camera (a file: source looping a 1080p25 or 720p25 clip, noisy, GOP 2 s)
#             and N RTSP viewers of rtsp://.../cam?video=h264 (ffmpeg -c copy, which costs
#             nothing): the worker decodes once and encodes once (its h264 variant) for all N.
#   go2rtc:   what `ffmpeg:cam#video=h264` runs, once per consumer path (the issue's premise):
#             N ffmpeg processes with go2rtc's h264 template (libx264 superfast zerolatency,
#             -g 50, High 4.1, yuv420p) reading the camera's H.265 restream from camvisor. The
#             go2rtc binary is not installed here (no package); its ffmpeg is the cost.
#
# CPU: utime+stime from /proc over DUR seconds after WARM seconds, in % of one core: camvisor's
# processes (supervisor, worker, camvisor-rtsp) and the ffmpeg processes, separately. Latency
# (camvisor only): camera frame in -> transcoded picture in the variant's ring, the worker's own
# figures (/api/streams producer transcode_p50_ms / transcode_p99_ms over its last 128 pictures),
# sampled every 2 s; medians of the samples. fps per core: frames a second / the worker's CPU.
# alive: readers still reading at the end (camvisor-rtsp drops one that falls 10 s behind: a
# transcoder slower than real time). Cold start: from the variant's start to its first picture (the worker's log: it decodes the
# GOP up to the live edge, then encodes), and how many frames that took.
#
#     bench/transcode.sh                      # 1080p and 720p, 1 and 3 viewers: ~5 minutes
#     SIZES=720 VIEWERS=1 DUR=10 bench/transcode.sh
set -eu
source "$(dirname "$0")/lib.sh"
need_build
SIZES=${SIZES:-"1080 720"}
VIEWERS=${VIEWERS:-"1 3"}
WARM=${WARM:-6}
DUR=${DUR:-20}
HZ=$(getconf CLK_TCK)
export CV_LOG_LEVEL=info # the worker's "first picture" line: the cold start

# ticks PID...: utime+stime of the processes (0 for one gone).
ticks() {
    local t=0 p
    for p in "$@"; do
        local s
        s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null || echo "0 0")
        t=$((t + ${s% *} + ${s#* }))
    done
    echo "$t"
}

api_field() { # api_field KEY: a number from /api/streams?src=cam's producer
    curl -s "http://127.0.0.1:$CV_API_PORT/api/streams?src=cam" |
        python3 -c "import json,sys; p=json.load(sys.stdin)['producers'][0]; print(p.get('$1', 0))"
}

PIDS=()
stop_readers() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap 'stop_readers; cv_cleanup' EXIT

# one WAY SIZE N CLIP: prints a result line.
one() {
    local way=$1 size=$2 n=$3 clip=$4
    cv_start "cam=file:$clip"
    sleep 1
    for _ in $(seq "$n"); do
        if [ "$way" = camvisor ]; then
            ffmpeg -nostdin -v error -rtsp_transport tcp -i "rtsp://127.0.0.1:$CV_PORT/cam?video=h264" \
                -c copy -f null - &
        else
            ffmpeg -nostdin -v error -rtsp_transport tcp -i "rtsp://127.0.0.1:$CV_PORT/cam" \
                -c:v libx264 -g 50 -profile:v high -level:v 4.1 -preset:v superfast \
                -tune:v zerolatency -pix_fmt:v yuv420p -an -f null - &
        fi
        PIDS+=($!)
    done
    sleep "$WARM"
    local cvp worker d0 c0 f0 w0 p50s=() p99s=()
    cvp=$(cv_all_pids)
    worker=$(cv_worker_pid cam)
    # shellcheck disable=SC2086 # pid lists
    c0=$(ticks $cvp)
    f0=$(ticks "${PIDS[@]}")
    w0=$(ticks "$worker")
    d0=$([ "$way" = camvisor ] && api_field decoded || echo 0)
    # A reader that dies (one too slow for its stream is dropped by camvisor-rtsp) keeps the CPU
    # it had used: its ticks as last read.
    declare -A last=()
    for p in "${PIDS[@]}"; do last[$p]=$(ticks "$p"); done
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$DUR" ]; do
        sleep 2
        for p in "${PIDS[@]}"; do
            kill -0 "$p" 2>/dev/null && last[$p]=$(ticks "$p")
        done
        if [ "$way" = camvisor ]; then
            p50s+=("$(api_field transcode_p50_ms)")
            p99s+=("$(api_field transcode_p99_ms)")
        fi
    done
    local el=$((SECONDS - t0)) c1 f1 w1 d1
    # shellcheck disable=SC2086
    c1=$(ticks $cvp)
    f1=0
    for p in "${PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null && last[$p]=$(ticks "$p")
        f1=$((f1 + ${last[$p]}))
    done
    w1=$(ticks "$worker")
    d1=$([ "$way" = camvisor ] && api_field decoded || echo 0)
    local alive=0 cold=-
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    # The cold start: "variant h264: first picture, WxH, after N frames decoded in X ms".
    if [ "$way" = camvisor ]; then
        cold=$(sed -n 's/.*variant h264: first picture, [0-9x]*, after \([0-9]*\) frames decoded in \([0-9]*\) ms.*/\2ms(\1fr)/p' \
            "$CV_DIR/camvisor.log" | head -1)
    fi
    stop_readers
    cv_cleanup
    local cv_cpu ff_cpu fps per_core p50 p99
    cv_cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v s="$el" 'BEGIN{printf "%.1f", 100*t/hz/s}')
    ff_cpu=$(awk -v t=$((f1 - f0)) -v hz="$HZ" -v s="$el" 'BEGIN{printf "%.1f", 100*t/hz/s}')
    fps=- per_core=-
    if [ "$way" = camvisor ]; then
        fps=$(awk -v d=$((d1 - d0)) -v s="$el" 'BEGIN{printf "%.1f", d/s}')
        per_core=$(awk -v d=$((d1 - d0)) -v t=$((w1 - w0)) -v hz="$HZ" \
            'BEGIN{ if (t > 0) printf "%.0f", d/(t/hz); else printf "-" }')
    fi
    p50=$([ ${#p50s[@]} -gt 0 ] && printf '%s\n' "${p50s[@]}" | median || echo -)
    p99=$([ ${#p99s[@]} -gt 0 ] && printf '%s\n' "${p99s[@]}" | median || echo -)
    echo "way=$way size=${size}p viewers=$n alive=$alive camvisor_cpu=$cv_cpu ffmpeg_cpu=$ff_cpu" \
        "total_cpu=$(awk -v a="$cv_cpu" -v b="$ff_cpu" 'BEGIN{printf "%.1f", a+b}')" \
        "fps=$fps fps_per_core=$per_core p50_ms=$p50 p99_ms=$p99 cold_start=${cold:--}"
}

echo "# transcode.sh: $(machine_line)"
echo "# WARM=${WARM}s DUR=${DUR}s; CPU in % of one core"
for size in $SIZES; do
    case $size in
    1080) clip=$(make_clip cam1080h265 1920 1080 4M 20 h265) ;;
    720) clip=$(make_clip cam720h265 1280 720 2M 20 h265) ;;
    *) echo "SIZES: 1080 and/or 720" >&2; exit 2 ;;
    esac
    for n in $VIEWERS; do
        one camvisor "$size" "$n" "$clip"
        one go2rtc "$size" "$n" "$clip"
    done
done
