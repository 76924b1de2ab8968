# Shared by the bench/*.sh scripts (sourced, bash): test clips, a camvisor on free loopback ports,
# process lookup, memory readings, medians, and cleanup on exit.
#
# Every script runs the programs in $BUILD (default build/, the -O2 build; never the ASan one) and
# keeps clips in build/bench-data/, made once with ffmpeg and reused.

set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DATA=$ROOT/build/bench-data
LOAD=$BUILD/bench/rtsp_load
mkdir -p "$DATA"

CV_PID=
CV_DIR=
FARM_PID=
FARM_DIR=
FARM_PORT=

cv_cleanup() {
    if [ -n "$FARM_PID" ]; then
        local keep_pid=$CV_PID keep_dir=$CV_DIR
        CV_PID=$FARM_PID CV_DIR=$FARM_DIR FARM_PID=
        cv_cleanup
        CV_PID=$keep_pid CV_DIR=$keep_dir
    fi
    if [ -n "$CV_PID" ] && kill -0 "$CV_PID" 2>/dev/null; then
        kill -TERM "$CV_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$CV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CV_PID" 2>/dev/null || true
    fi
    CV_PID=
    [ -n "$CV_DIR" ] && rm -rf "$CV_DIR"
    CV_DIR=
}
trap cv_cleanup EXIT
trap 'exit 130' INT TERM

need_build() {
    for f in "$BUILD/camvisor" "$BUILD/camvisor-worker" "$BUILD/camvisor-rtsp" "$LOAD"; do
        [ -x "$f" ] || { echo "missing $f: run 'make -j2 all' first" >&2; exit 2; }
    done
}

# make_clip NAME WIDTH HEIGHT BITRATE SECONDS [h264|h265] -> prints the path. H.264 High (or
# H.265), 25 fps, GOP 50 (2 s),
# no B-frames, no audio. testsrc2 plus temporal noise, so that x264 actually spends the bitrate
# on every frame as a camera's sensor noise makes it do (plain testsrc2 compresses to almost nothing).
make_clip() {
    local name=$1 w=$2 h=$3 rate=$4 secs=$5 codec=${6:-h264}
    local out=$DATA/$name.mp4 enc
    # h265: libx265 ultrafast, GOP 50, no B-frames, no settings SEI (a camera's stream has none).
    if [ "$codec" = h265 ]; then
        enc=(-c:v libx265 -preset ultrafast -x265-params
            "log-level=error:keyint=50:min-keyint=50:scenecut=0:bframes=0:info=0" -tag:v hvc1)
    else
        enc=(-c:v libx264 -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 -bf 0)
    fi
    if [ ! -s "$out" ]; then
        echo "making $out (${w}x${h} 25 fps $codec, $rate, GOP 50, ${secs} s) ..." >&2
        ffmpeg -hide_banner -v error -y -f lavfi -i "testsrc2=size=${w}x${h}:rate=25" \
            -vf noise=alls=10:allf=t -t "$secs" "${enc[@]}" -b:v "$rate" -maxrate "$rate" \
            -bufsize "$rate" -pix_fmt yuv420p -an -movflags +faststart "$out.tmp.mp4"
        mv "$out.tmp.mp4" "$out"
    fi
    echo "$out"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# cv_start "name=url" ... : writes a config in a fresh temp folder and starts camvisor on free
# loopback ports; sets CV_PID, CV_DIR, CV_PORT and waits for camvisor-rtsp and every worker.
cv_start() {
    CV_DIR=$(mktemp -d /tmp/camvisor-bench.XXXXXX)
    CV_PORT=$(free_port)
    CV_API_PORT=$(free_port)
    mkdir -p "$CV_DIR/cameras.d"
    {
        echo "[server]"
        echo "log_level = ${CV_LOG_LEVEL:-warn}"
        [ "$(id -u)" = 0 ] && echo "user = root"
        echo "[rtsp]"
        echo "listen = 127.0.0.1:$CV_PORT"
        echo "[api]"
        echo "listen = 127.0.0.1:$CV_API_PORT"
        echo "[webrtc]"
        echo "listen = 127.0.0.1:$(free_port)"
        [ -n "${CV_WEBRTC_EXTRA:-}" ] && printf '%b\n' "$CV_WEBRTC_EXTRA"
    } >"$CV_DIR/camvisor.ini"
    local n=0
    for spec in "$@"; do
        printf '[camera]\nurl = %s\nmode = always\n' "${spec#*=}" >"$CV_DIR/cameras.d/${spec%%=*}.ini"
        n=$((n + 1))
    done
    "$BUILD/camvisor" -c "$CV_DIR/camvisor.ini" >"$CV_DIR/camvisor.log" 2>&1 &
    CV_PID=$!
    for _ in $(seq 100); do
        if [ -n "$(cv_rtsp_pid)" ] && [ "$(cv_worker_pids | wc -w)" = "$n" ]; then return 0; fi
        sleep 0.1
    done
    echo "camvisor did not start; log:" >&2
    cat "$CV_DIR/camvisor.log" >&2
    exit 1
}

# cv_start_farm "name=url" ...: a second camvisor that plays cameras for the measured one to pull
# over rtsp:// (rtsp://127.0.0.1:$FARM_PORT/<name>); it is stopped on exit too.
cv_start_farm() {
    cv_start "$@"
    # shellcheck disable=SC2034 # FARM_PORT is for the caller
    FARM_PID=$CV_PID FARM_DIR=$CV_DIR FARM_PORT=$CV_PORT
    CV_PID= CV_DIR= CV_PORT=
}

# Direct children of the supervisor whose command line matches a pattern.
cv_children() {
    local pat=$1 p
    for p in $(cat "/proc/$CV_PID/task/$CV_PID/children" 2>/dev/null); do
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | sed 's/ $//' | grep -q -- "$pat"; then
            echo "$p"
        fi
    done
}
cv_rtsp_pid() { cv_children camvisor-rtsp; }
cv_webrtc_pid() { cv_children camvisor-webrtc; }
cv_worker_pids() { cv_children camvisor-worker | tr '\n' ' '; }
cv_worker_pid() { cv_children "camvisor-worker $1\$"; }
cv_all_pids() { echo "$CV_PID $(cv_children camvisor | tr '\n' ' ')"; }

# smaps_rollup fields in KiB: mem PID -> "pss private rss"
mem() {
    awk '/^Pss:/{p=$2} /^Private_Clean:/{c=$2} /^Private_Dirty:/{d=$2} /^Rss:/{r=$2}
         END{print p, c+d, r}' "/proc/$1/smaps_rollup"
}

# Memory of the ring mapping(s) of a process (KiB): "pss private rss" of the memfd mappings.
mem_ring() {
    awk '/^[0-9a-f]+-[0-9a-f]+ /{ring = ($0 ~ /memfd:/)} ring && /^Pss:/{p+=$2}
         ring && /^Private_(Clean|Dirty):/{v+=$2} ring && /^Rss:/{r+=$2} END{print p+0, v+0, r+0}' \
        "/proc/$1/smaps"
}

# median of the numbers on stdin, one per line
median() {
    sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "nan"; else if (NR%2) printf "%.2f\n", a[(NR+1)/2];
                                   else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'
}

# field KEY < RESULT-line -> value
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

machine_line() {
    echo "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# latency_runs RUN: the runs of a latency benchmark (latency.sh, webrtc_latency.sh). REPEATS times:
# a fresh camvisor with one camera "cam" pulling rtsp://127.0.0.1:$CAM_PORT/cam (a new free port
# each run), then the function RUN, which plays that camera and a viewer with a tool printing
# rtsp_latency's RESULT line; prints each run's output and its RESULT, then the medians.
latency_runs() {
    local run=$1 raw rep out line
    raw=$(mktemp)
    for rep in $(seq "$REPEATS"); do
        CAM_PORT=$(free_port)
        cv_start "cam=rtsp://127.0.0.1:$CAM_PORT/cam"
        # The worker retries with backoff until the tool listens: no ordering needed.
        out=$("$run" 2>&1) || echo "run $rep: frames went missing" >&2
        echo "$out" | grep -v -e '^RESULT' -e '^camera: listening' || true
        line=$(echo "$out" | grep '^RESULT' || true)
        echo "run $rep: ${line#RESULT }"
        echo "$line" >>"$raw"
        cv_cleanup
        sleep 1
    done
    echo "median over $REPEATS runs: p50 $(field p50_ms <"$raw" | median) ms," \
        "p99 $(field p99_ms <"$raw" | median) ms, max $(field max_ms <"$raw" | median) ms"
    rm -f "$raw"
}
