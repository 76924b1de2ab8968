#!/bin/bash
# Added latency of the WebRTC path, camera packet in -> SRTP packet out, through camvisor's own
# RTSP client (worker/src-rtsp.c) and camvisor-webrtc: build/bench/webrtc_latency plays the camera
# (the clip of latency.sh: 1080p25 ~4 Mbit/s H.264, GOP 2 s, RTP over TCP) and one WebRTC viewer
# (WHEP to camvisor-http, ICE, DTLS-SRTP over UDP), and times each access unit's marker packet at
# both ends, matched by RTP timestamp (see bench/webrtc_latency.c). REPEATS runs of FRAMES frames
# each; prints each run and the medians of p50/p99/max. Compare with bench/latency.sh (RTSP).
#
#     bench/webrtc_latency.sh           # FRAMES=1500 (60 s) REPEATS=3: about 3.5 minutes
#     FRAMES=1000 REPEATS=1 bench/webrtc_latency.sh
set -eu
source "$(dirname "$0")/lib.sh"
need_build
TOOL=$BUILD/bench/webrtc_latency
for f in "$TOOL" "$BUILD/camvisor-http" "$BUILD/camvisor-webrtc"; do
    [ -x "$f" ] || { echo "missing $f: run 'make -j2 all' first" >&2; exit 2; }
done
FRAMES=${FRAMES:-1500}
REPEATS=${REPEATS:-3}
SKIP_MS=${SKIP_MS:-500}

CLIP=$(make_clip cam1080p4m 1920 1080 4M 30)
echo "# webrtc_latency.sh: $(machine_line)"
echo "# clip: $CLIP; $FRAMES frames per run, $REPEATS runs," \
    "${SKIP_MS} ms skipped after the viewer's handshake"
# one run: the tool plays the camera of latency_runs and a WebRTC viewer of it; its WHEP offer is
# retried while camvisor-http and camvisor-webrtc start: no ordering needed.
run() {
    "$TOOL" -c "$CLIP" -p "$CAM_PORT" -u "http://127.0.0.1:$CV_API_PORT" -s cam -n "$FRAMES" -w 3 \
        -k "$SKIP_MS"
}
latency_runs run
