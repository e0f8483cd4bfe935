#!/usr/bin/env bash
# make bench: time added per SQLite query by scooby-bpf vs a bare bpftrace uprobe+uretprobe pair, side by side.
set -euo pipefail
BIN=${1:?usage: bench.sh path/to/scooby-bpf}
PY=/usr/bin/python3
N=${BENCH_QUERIES:-100000}
ROUNDS=${BENCH_ROUNDS:-5}
LIB=$(ldconfig -p | awk '/libsqlite3.so.0 /{print $NF; exit}')
tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

mkfifo "$tmp/in"
$PY "$(dirname "$0")/bench/sqlite_loop.py" "$N" <"$tmp/in" >"$tmp/out" &
LOOP=$!
exec 3>"$tmp/in"
until grep -q ready "$tmp/out"; do sleep 0.05; done

# median ns/query over ROUNDS runs of N queries
measure() {
	local i vals=()
	for ((i = 0; i < ROUNDS; i++)); do
		local before; before=$(wc -l <"$tmp/out")
		echo go >&3
		until [ "$(wc -l <"$tmp/out")" -gt "$before" ]; do sleep 0.02; done
		vals+=("$(tail -n 1 "$tmp/out")")
	done
	printf '%s\n' "${vals[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

wait_line() { # file pattern
	local t=0
	until grep -q "$2" "$1" 2>/dev/null; do sleep 0.01; t=$((t + 1)); [ $t -lt 3000 ] || { cat "$1"; exit 1; }; done
}

measure >/dev/null # warm-up: the first round pays for caches and page faults
base=$(measure)

# scooby-bpf attached to the loop's process: core capture, then with 30-frame stacks
start_ns=$(date +%s%N)
"$BIN" -p "$LOOP" -q --stack-depth 0 --redis unix://"$tmp"/none.sock 2>"$tmp/sb.err" &
SB=$!
wait_line "$tmp/sb.err" "scooby-bpf: attached"
attach_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
scooby=$(measure)
kill -INT $SB; wait $SB || true

"$BIN" -p "$LOOP" -q --stack-depth 30 --redis unix://"$tmp"/none.sock 2>"$tmp/sb2.err" &
SB=$!
wait_line "$tmp/sb2.err" "scooby-bpf: attached"
stacks=$(measure)
rss_kb=$(awk '/VmHWM/{print $2}' /proc/$SB/status)
kill -INT $SB; wait $SB || true

# the floor: a bare uprobe+uretprobe pair on sqlite3_step
bpftrace -e "uprobe:$LIB:sqlite3_step { } uretprobe:$LIB:sqlite3_step { }" >"$tmp/bt.out" 2>&1 &
BT=$!
wait_line "$tmp/bt.out" "Attaching"
sleep 0.5
pair=$(measure)
kill -INT $BT; wait $BT || true

base2=$(measure) # the baseline again: drift check
awk -v b="$base" -v b2="$base2" -v s="$scooby" -v st="$stacks" -v p="$pair" -v a="$attach_ms" -v r="$rss_kb" -v n="$N" -v k="$ROUNDS" 'BEGIN {
	bb = (b + b2) / 2
	printf "sqlite query loop, 30 Python frames deep (%d queries x %d rounds, median):\n", n, k
	printf "  no probes              %8.0f ns/query (again at the end: %.0f)\n", b, b2
	printf "  scooby-bpf, core       %8.0f ns/query  (+%.0f ns)\n", s, s - bb
	printf "  scooby-bpf, 30 frames  %8.0f ns/query  (+%.0f ns)\n", st, st - bb
	printf "  bpftrace step pair     %8.0f ns/query  (+%.0f ns)\n", p, p - bb
	printf "  ratio core/pair        %8.2f  (target <= 1.5)\n", (s - bb) / (p - bb)
	printf "  stacks add             %8.2f us/query over core (target <= 1)\n", (st - s) / 1000
	printf "start to attached line   %8d ms  (target < 300)\n", a
	printf "scooby-bpf peak RSS      %8.1f MiB\n", r / 1024
}'
