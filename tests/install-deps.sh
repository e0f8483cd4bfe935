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
	mariadb-server python3-mysqldb python3-pymysql python3-pylibmc python3-pymemcache python3-pg8000
	memcached libmemcached-dev libmariadb-dev python3-django-debug-toolbar
	uwsgi uwsgi-plugin-python3 nginx-light
	uvicorn daphne python3-hypercorn
)

# Servers whose packages start a system service; the tests run their own instances.
SERVICES=(mariadb memcached nginx uwsgi)

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
	# policy-rc.d 101 keeps the packages' init scripts from starting their services
	policy=/usr/sbin/policy-rc.d
	made_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
		$SUDO chmod 755 "$policy"
		made_policy=1
	fi
	rc=0
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" || rc=$?
	if [ -n "$made_policy" ]; then
		$SUDO rm -f "$policy"
	fi
	[ "$rc" -eq 0 ] || exit "$rc"
fi

# Where systemd runs, a service the packages started or enabled anyway is stopped and
# disabled (the tests start mariadbd and memcached themselves, on ports of their own).
if [ -d /run/systemd/system ]; then
	for s in "${SERVICES[@]}"; do
		if systemctl is-active --quiet "$s" 2>/dev/null; then
			$SUDO systemctl stop "$s" || true
		fi
		if systemctl is-enabled --quiet "$s" 2>/dev/null; then
			$SUDO systemctl disable --quiet "$s" || true
		fi
	done
fi

# The postgresql package may start a cluster of its own; the tests run their own
# cluster on a unix socket in a temp dir, so the system one is left alone.

if [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/uprobe_events ]; then
	$SUDO mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
		echo "install-deps: warning: could not mount tracefs on /sys/kernel/tracing" >&2
fi
exit 0
