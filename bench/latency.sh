#!/bin/bash
# Added latency of the camera path, camera packet in -> viewer packet out, through camvisor's own
# RTSP client (worker/src-rtsp.c) and RTSP restream: build/bench/rtsp_latency plays the camera
# (a 1080p25 ~4 Mbit/s H.264 clip, GOP 2 s, RTP over TCP) and one viewer of camvisor's restream,
# and times each access unit's marker packet at both ends (see bench/rtsp_latency.c). REPEATS runs
# of FRAMES frames each; prints each run and the medians of p50/p99.
#
#     bench/latency.sh                  # FRAMES=1500 (60 s) REPEATS=3: about 3.5 minutes
#     FRAMES=1000 REPEATS=1 bench/latency.sh
set -eu
source "$(dirname "$0")/lib.sh"
need_build
TOOL=$BUILD/bench/rtsp_latency
[ -x "$TOOL" ] || { echo "missing $TOOL: run 'make -j2 all' first" >&2; exit 2; }
FRAMES=${FRAMES:-1500}
REPEATS=${REPEATS:-3}

CLIP=$(make_clip cam1080p4m 1920 1080 4M 30)
echo "# latency.sh: $(machine_line)"
echo "# clip: $CLIP; $FRAMES frames per run, $REPEATS runs"
# one run: the tool plays the camera of latency_runs and a viewer of camvisor's restream of it
run() { "$TOOL" -c "$CLIP" -p "$CAM_PORT" -n "$FRAMES" -w 3 "rtsp://127.0.0.1:$CV_PORT/cam"; }
latency_runs run
