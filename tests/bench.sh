#!/usr/bin/env bash
# make bench: time added per SQLite query by scooby-bpf vs a bare bpftrace uprobe+uretprobe pair, side by side.
#
# One Python process runs a tight query loop 30 frames deep on demand. Each cycle measures,
# in turn: no probes, scooby-bpf without stacks, scooby-bpf with 30-frame stacks, and a
# bpftrace uprobe+uretprobe pair on sqlite3_step (the floor a user reaches by hand).
# Cycles interleave the configurations so that a noisy neighbour hits them all alike;
# each figure is the median over every round of every cycle.
set -euo pipefail
BIN=${1:?usage: bench.sh path/to/scooby-bpf}
PY=/usr/bin/python3
N=${BENCH_QUERIES:-50000}
ROUNDS=${BENCH_ROUNDS:-3}
CYCLES=${BENCH_CYCLES:-3}
LIB=$(ldconfig -p | awk '/libsqlite3.so.0 /{print $NF; exit}')
tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

mkfifo "$tmp/in"
$PY "$(dirname "$0")/bench/sqlite_loop.py" "$N" 30 <"$tmp/in" >"$tmp/out" &
LOOP=$!
exec 3>"$tmp/in"
until grep -q ready "$tmp/out"; do sleep 0.05; done

# appends ROUNDS ns/query figures to file $1
measure() {
	local i before
	for ((i = 0; i < ROUNDS; i++)); do
		before=$(wc -l <"$tmp/out")
		echo go >&3
		until [ "$(wc -l <"$tmp/out")" -gt "$before" ]; do sleep 0.02; done
		tail -n 1 "$tmp/out" >>"$1"
	done
}

median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

wait_line() { # file pattern
	local t=0
	until grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.01
		t=$((t + 1))
		[ $t -lt 3000 ] || { cat "$1"; exit 1; }
	done
}

# runs "$@" in the background until its attach message shows, measures, stops it
with_tracer() { # result-file ready-pattern command...
	local out=$1 pat=$2 pid
	shift 2
	"$@" >"$tmp/tracer.log" 2>&1 &
	pid=$!
	wait_line "$tmp/tracer.log" "$pat"
	measure "$out"
	if [ "$out" = "$tmp/stacks" ]; then
		awk '/VmHWM/{print $2}' /proc/$pid/status >>"$tmp/rss"
	fi
	kill -INT $pid
	wait $pid || true
}

measure /dev/null # warm-up: the first round pays for caches and page faults
for ((c = 0; c < CYCLES; c++)); do
	measure "$tmp/base"
	start_ns=$(date +%s%N)
	with_tracer "$tmp/core" "scooby-bpf: attached" \
		"$BIN" -p "$LOOP" -q --stack-depth 0 --redis unix://"$tmp"/none.sock
	echo $((($(date +%s%N) - start_ns) / 1000000)) >>"$tmp/attach_ms"
	with_tracer "$tmp/stacks" "scooby-bpf: attached" \
		"$BIN" -p "$LOOP" -q --stack-depth 30 --redis unix://"$tmp"/none.sock
	with_tracer "$tmp/pair" "Attaching" \
		bpftrace -e "uprobe:$LIB:sqlite3_step { } uretprobe:$LIB:sqlite3_step { }"
done

# the attach line's own latency, measured alone (the figure above includes a whole run)
attach=()
for ((c = 0; c < 5; c++)); do
	start_ns=$(date +%s%N)
	"$BIN" -p "$LOOP" -q --redis unix://"$tmp"/none.sock >"$tmp/a.log" 2>&1 &
	pid=$!
	wait_line "$tmp/a.log" "scooby-bpf: attached"
	attach+=($((($(date +%s%N) - start_ns) / 1000000)))
	kill -INT $pid
	wait $pid || true
done
printf '%s\n' "${attach[@]}" >"$tmp/attach_only"

awk -v b="$(median "$tmp/base")" -v s="$(median "$tmp/core")" -v st="$(median "$tmp/stacks")" \
	-v p="$(median "$tmp/pair")" -v a="$(median "$tmp/attach_only")" \
	-v r="$(sort -g "$tmp/rss" | tail -n 1)" -v n="$N" -v k="$((ROUNDS * CYCLES))" 'BEGIN {
	printf "sqlite query loop, 30 Python frames deep (%d queries x %d rounds, median):\n", n, k
	printf "  no probes              %8.0f ns/query\n", b
	printf "  scooby-bpf, core       %8.0f ns/query  (+%.0f ns)\n", s, s - b
	printf "  scooby-bpf, 30 frames  %8.0f ns/query  (+%.0f ns)\n", st, st - b
	printf "  bpftrace step pair     %8.0f ns/query  (+%.0f ns)\n", p, p - b
	printf "  ratio core/pair        %8.2f  (target <= 1.5)\n", (s - b) / (p - b)
	printf "  stacks add             %8.2f us/query over core (target <= 1)\n", (st - s) / 1000
	printf "start to attached line   %8d ms  (target < 300)\n", a
	printf "scooby-bpf peak RSS      %8.1f MiB (with stacks)\n", r / 1024
}'
