#!/bin/sh
# Installs every Debian package that building, testing and fuzzing camvisor need.
# Idempotent: asks apt only when something is missing, so `make run` stays fast.
# `deps.sh --list` prints the list only (tests/check_deps.py holds the tests to it).
set -eu

PKGS="build-essential pkg-config
libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
libevent-dev libmsgpack-dev libinih-dev libssl-dev libcmocka-dev libwebsockets-dev libsrtp2-dev
clang-14 libclang-rt-14-dev
ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
python3 python3-pytest python3-gi gir1.2-gst-rtsp-server-1.0
procps psmisc iproute2 openssl git
chromium chromium-driver python3-selenium python3-pil python3-aiortc"

if [ "${1:-}" = "--list" ]; then
	echo "$PKGS"
	exit 0
fi

sh "$(dirname "$0")/account.sh"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
