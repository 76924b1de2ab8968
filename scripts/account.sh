#!/bin/sh
# Creates the system account camvisor's children run as ([server] user's default): an account of
# its own, not nobody, whose other processes could otherwise look into ours. Idempotent; needs
# root (does nothing otherwise). Used by `make deps` and `make install`.
set -eu
[ "$(id -u)" = 0 ] || exit 0
getent passwd camvisor >/dev/null && exit 0
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
	--user-group camvisor
echo "created the system account camvisor"
