#!/bin/sh
# `make run`: starts the supervisor with the demo config and says where to watch.
set -eu
cd "$(dirname "$0")/.."
port=$(sed -n 's/^listen *= *[^:]*:\([0-9]*\).*/\1/p' etc/camvisor.ini | head -1)
port=${port:-8554}
echo "camvisor: starting with etc/camvisor.ini (cameras in etc/cameras.d/)"
api=$(sed -n '/^\[api\]/,/^\[/s/^listen *= *[^:]*:\([0-9]*\).*/\1/p' etc/camvisor.ini | head -1)
api=${api:-1984}
echo "camvisor: watch the demo camera in a browser: http://localhost:$api (WebRTC, or MSE)"
echo "camvisor: or with:"
echo "    ffplay -rtsp_transport tcp rtsp://localhost:$port/demo"
echo "    vlc rtsp://localhost:$port/demo"
echo "camvisor: Ctrl-C stops it"
exec build/camvisor -c etc/camvisor.ini
