#!/usr/bin/env bash
# Installs (only when missing) every Debian package the build and the tests need,
# and mounts tracefs so uprobe_events can be inspected. Idempotent and quick when
# everything is already there.
set -euo pipefail

PKGS=(
	clang llvm libbpf-dev libelf-dev zlib1g-dev libhiredis-dev libcjson-dev
	libcmocka-dev bpftool pkg-config make gcc
	redis-server postgresql python3-django python3-psycopg2 python3-redis
	gunicorn sqlite3 libsqlite3-dev libpq-dev bpftrace curl libpython3.11-dev libclang-rt-14-dev
	libmicrohttpd-dev chromium xxd wrk valgrind
)

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The postgresql package may start a cluster of its own; the tests run their own
# cluster on a unix socket in a temp dir, so the system one is left alone.

if [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/uprobe_events ]; then
	$SUDO mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
		echo "install-deps: warning: could not mount tracefs on /sys/kernel/tracing" >&2
fi
exit 0
