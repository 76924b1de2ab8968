#!/bin/sh
# The layout's promise, checked on the built programs: which layer's code each may contain.
# The link lines in the Makefile already make a forbidden call fail to link; this catches a
# link line someone widened. Prints "N passed, N failed" (run-all.sh counts it).
#   camvisor (supervisor): no network parser (common/net) and no media code (common/media);
#   camvisor-rtsp: no worker code (it must not be able to ingest or write a ring);
#   camvisor-worker: no consumer code;
#   camvisor-http: no worker, supervisor or RTSP-server code (and nobody else has its code).
set -u
B=${1:-build}
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check PROGRAM LAYER: no symbol defined by the layer's library is defined in the program.
check() {
	nm --defined-only -g "$B/lib/libcv-$2.a" 2>/dev/null | awk '$2 ~ /^[TDBR]$/ {print $3}' |
		sort -u >"$tmp/layer"
	nm --defined-only "$B/$1" | awk '{print $3}' | sort -u >"$tmp/prog"
	both=$(comm -12 "$tmp/layer" "$tmp/prog" | head -5 | tr '\n' ' ')
	if [ ! -s "$tmp/layer" ]; then
		echo "FAIL $1 without $2: no symbols found in $B/lib/libcv-$2.a"
		failed=$((failed + 1))
	elif [ -n "$both" ]; then
		echo "FAIL $1 contains $2 code: $both"
		failed=$((failed + 1))
	else
		echo "ok   $1 contains no $2 code"
		passed=$((passed + 1))
	fi
}

check camvisor net
check camvisor media
check camvisor worker
check camvisor rtsp
check camvisor consumer
check camvisor mux
check camvisor-worker mux
check camvisor-rtsp worker
check camvisor-rtsp sup
check camvisor-worker rtsp
check camvisor-worker sup
check camvisor-worker consumer
check camvisor http
check camvisor-http worker
check camvisor-http sup
check camvisor-http rtsp
check camvisor-rtsp http
check camvisor-worker http
check camvisor webrtc
check camvisor-webrtc worker
check camvisor-webrtc sup
check camvisor-webrtc http
check camvisor-webrtc rtsp
check camvisor-webrtc mux
check camvisor-http webrtc
check camvisor-rtsp webrtc
check camvisor-worker webrtc
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
