#!/bin/sh
# `make install`: the programs, the example configuration and the systemd unit.
#
#   PREFIX/lib/camvisor/   camvisor, camvisor-worker, camvisor-rtsp, camvisor-http, camvisor-webrtc,
#                          camvisor-ffmpeg.so (the supervisor starts its children from its own
#                          folder) and www/, the web UI camvisor-http serves
#   PREFIX/bin/camvisor    a link to the supervisor
#   SYSCONFDIR/camvisor/   camvisor.ini and cameras.d/ (demo camera), only where there is no
#                          camvisor.ini yet: an existing configuration is never overwritten
#   UNITDIR/camvisor.service
#
# With DESTDIR empty (a real install) it also creates the service account; a packager's staged
# install (DESTDIR set) leaves accounts to the package's scripts.
set -eu
cd "$(dirname "$0")/.."
: "${PREFIX:=/usr/local}" "${SYSCONFDIR:=/etc}" "${UNITDIR:=/lib/systemd/system}" "${DESTDIR:=}"
B=${B:-build}

lib="$DESTDIR$PREFIX/lib/camvisor"
install -d "$lib" "$DESTDIR$PREFIX/bin" "$DESTDIR$UNITDIR"
install -m 755 "$B/camvisor" "$B/camvisor-worker" "$B/camvisor-rtsp" "$B/camvisor-http" \
    "$B/camvisor-webrtc" "$lib/"
install -m 644 "$B/camvisor-ffmpeg.so" "$lib/"
install -d "$lib/www"
install -m 644 www/* "$lib/www/"
ln -sfn "../lib/camvisor/camvisor" "$DESTDIR$PREFIX/bin/camvisor"

conf="$DESTDIR$SYSCONFDIR/camvisor"
if [ -e "$conf/camvisor.ini" ]; then
	echo "install: keeping the existing $conf/camvisor.ini and cameras.d/"
else
	install -d -m 755 "$conf/cameras.d"
	install -m 644 etc/camvisor.ini "$conf/camvisor.ini"
	install -m 644 etc/cameras.d/demo.ini "$conf/cameras.d/demo.ini"
fi

sed "s|@PREFIX@|$PREFIX|g; s|@SYSCONFDIR@|$SYSCONFDIR|g" etc/camvisor.service \
	>"$DESTDIR$UNITDIR/camvisor.service"
chmod 644 "$DESTDIR$UNITDIR/camvisor.service"

[ -z "$DESTDIR" ] && sh scripts/account.sh
echo "install: camvisor in $DESTDIR$PREFIX; start it with: systemctl enable --now camvisor"
