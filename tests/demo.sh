#!/usr/bin/env bash
# Demo: the Django test app under gunicorn (2 workers, SQLite), traced by
# scooby-bpf, publishing to a private redis-server on a unix socket.
#   usage: tests/demo.sh path/to/scooby-bpf        (as root; `make demo` does this)
# Everything runs in a temp dir and is torn down on exit, whatever happens.
set -euo pipefail

BIN=${1:?usage: tests/demo.sh path/to/scooby-bpf}
BIN=$(readlink -f "$BIN")
[ -x "$BIN" ] || { echo "demo: $BIN is not an executable" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo: scooby-bpf needs root (BPF, uprobes)" >&2; exit 1; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
APP="$HERE/apps/djapp"
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/scooby-demo.XXXXXX)
SOCK="$TMP/redis.sock"
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DJANGO_SETTINGS_MODULE=djapp.settings SCOOBY_DB=sqlite SCOOBY_SQLITE_PATH="$TMP/db.sqlite3"
export PYTHONDONTWRITEBYTECODE=1

REDIS_PID= GUNICORN_PID= SCOOBY_PID= SERVE_PID=
cleanup() {
	local rc=$?
	for pid in $SERVE_PID $SCOOBY_PID $GUNICORN_PID $REDIS_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $SERVE_PID $SCOOBY_PID $GUNICORN_PID $REDIS_PID; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

wait_until() { # seconds, description, command...
	local limit=$1 what=$2
	shift 2
	for _ in $(seq $((limit * 10))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "demo: timed out waiting for $what" >&2
	return 1
}

step "redis-server on $SOCK"
redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save '' --appendonly no \
	--dir "$TMP" >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
wait_until 10 "redis" redis-cli -s "$SOCK" ping

step "Django app: migrate + 5 fixture items, gunicorn -w 2 on 127.0.0.1:$PORT"
(cd "$APP" && $PY manage.py migrate -v 0 && $PY manage.py seed 5)
/usr/bin/gunicorn -w 2 -b "127.0.0.1:$PORT" --chdir "$APP" djapp.wsgi:application \
	>"$TMP/gunicorn.log" 2>&1 &
GUNICORN_PID=$!
wait_until 30 "gunicorn" curl -sf "http://127.0.0.1:$PORT/noquery/"

step "scooby-bpf -p $GUNICORN_PID --redis unix://$SOCK"
"$BIN" -p "$GUNICORN_PID" --redis "unix://$SOCK" >"$TMP/scooby.out" 2>"$TMP/scooby.err" &
SCOOBY_PID=$!
if ! wait_until 30 "the 'scooby-bpf: attached' line" grep -q '^scooby-bpf: attached' "$TMP/scooby.err"; then
	cat "$TMP/scooby.err" >&2
	exit 1
fi
grep '^scooby-bpf: attached' "$TMP/scooby.err"

step "requests"
for path in /items/ /item/3/ /nplus1/ /fail/; do
	printf '%-10s -> HTTP %s\n' "$path" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")"
done
wait_until 10 "4 records in Redis" \
	bash -c "[ \"\$(redis-cli -s '$SOCK' ZCARD scooby:requests)\" -ge 4 ]" || true

step "redis-cli -s $SOCK ZRANGE scooby:requests 0 -1 WITHSCORES"
redis-cli -s "$SOCK" ZRANGE scooby:requests 0 -1 WITHSCORES

step "the /nplus1/ record (scooby:req:<uuid>)"
shown=
for uuid in $(redis-cli -s "$SOCK" ZRANGE scooby:requests 0 -1); do
	rec=$(redis-cli -s "$SOCK" GET "scooby:req:$uuid")
	if printf '%s' "$rec" | grep -q '"path": *"/nplus1/"'; then
		echo "scooby:req:$uuid (TTL $(redis-cli -s "$SOCK" TTL "scooby:req:$uuid") s)"
		# the whole record is long (a stack per query): show its gist
		printf '%s' "$rec" | $PY -c '
import json, sys
r = json.load(sys.stdin)
q, sql, frames = r["request"], r["plugins_data"]["SQL"], r["frames"]  # stored form: FORMAT.md
print("%s %s -> %s in %.2f ms, view %s" % (q["method"], q["path"], q["status"],
      q["duration_ms"], r["plugins_data"]["ViewName"]["view_name"]))
for x in sql["queries"]:
    app = next((f for f in (frames[i] for i in x["stack"]) if "/tests/apps/" in (f.get("filename") or "")), None)
    print("  %7.3f ms  %-70.70s  %s" % (x["time_taken"], x["query"],
          "%s:%s %s" % (app["filename"].split("/tests/apps/")[1], app["lineno"], app["function"]) if app else ""))
for g in sql.get("groups", []):
    if g["n_plus_one"]:
        print("  N+1: %d x %s from %s" % (g["count"], g["fingerprint"], ", ".join(g["call_sites"])))
'
		echo "(the record as Redis holds it, each distinct frame once: redis-cli -s $SOCK GET scooby:req:$uuid;"
		echo " in full from the viewer below: /api/requests/$uuid)"
		shown=1
		break
	fi
done
[ -n "$shown" ] || echo "(no /nplus1/ record found in Redis)"

step "viewer: $BIN serve"
"$BIN" serve --redis "unix://$SOCK" --listen "${SCOOBY_VIEWER_LISTEN:-127.0.0.1:8765}" 2>"$TMP/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do grep -q '^scooby-bpf: serving' "$TMP/serve.err" && break; sleep 0.1; done
grep -q '^scooby-bpf: serving' "$TMP/serve.err" || { cat "$TMP/serve.err" >&2; exit 1; }
echo "viewer: $(sed -n 's/^scooby-bpf: serving //p' "$TMP/serve.err")"
if [ -t 0 ]; then
	echo "open it in a browser; more traffic: curl http://127.0.0.1:$PORT/nplus1/ ; Ctrl-C ends the demo"
	trap 'echo' INT
	wait "$SERVE_PID" || true
	trap - INT
fi

step "stopping scooby-bpf (SIGINT)"
kill -INT "$SCOOBY_PID"
rc=0
wait "$SCOOBY_PID" || rc=$?
SCOOBY_PID=
echo "scooby-bpf exited with $rc"

step "scooby-bpf terminal output (stdout)"
cat "$TMP/scooby.out"
step "scooby-bpf stderr"
cat "$TMP/scooby.err"
