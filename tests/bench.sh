#!/usr/bin/env bash
# make bench: time added per SQLite query by scooby-bpf vs a bare bpftrace uprobe+uretprobe pair, side by side.
#
# One Python process runs a tight query loop 30 frames deep on demand. Each cycle measures,
# in turn: no probes, scooby-bpf without stacks, scooby-bpf with 30-frame stacks, and a
# bpftrace uprobe+uretprobe pair on sqlite3_step (the floor a user reaches by hand).
# Cycles interleave the configurations so that a noisy neighbour hits them all alike;
# each figure is the median over every round of every cycle.
# Then the same for wire capture: a redis-py GET loop with no tracer, scooby-bpf without and
# with stacks, and a bare bpftrace pair on the syscalls a GET makes (see that section).
# Then the throughput of the Django test app's N+1 page under wrk: bare, a bare bpftrace pair,
# scooby-bpf, a bare 999 Hz sampler, scooby-bpf --profile=999 and django-debug-toolbar in one
# table, and the same page
# under uvicorn (ASGI) bare, with the pair and with scooby-bpf (see that section);
# then a flood; then how long scooby-bpf takes to attach and to exit on SIGINT.
#
# BENCH_ONLY=redis (or any comma-separated list of sqlite, redis, wrk, flood, attach) runs only those
# sections; all of them by default.
set -euo pipefail
BIN=${1:?usage: bench.sh path/to/scooby-bpf}
PY=/usr/bin/python3
N=${BENCH_QUERIES:-50000}
ROUNDS=${BENCH_ROUNDS:-3}
CYCLES=${BENCH_CYCLES:-3}
LIB=$(ldconfig -p | awk '/libsqlite3.so.0 / && !f {print $NF; f = 1}') # reads it all: no SIGPIPE under pipefail
tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

section() { [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }

# the loop measure() drives: its output file and the fd of its input fifo
loop_out=$tmp/out
loop_fd=3

# appends ROUNDS figures (the loop's output lines) to file $1
measure() {
	local i before
	for ((i = 0; i < ROUNDS; i++)); do
		before=$(wc -l <"$loop_out")
		echo go >&"$loop_fd"
		until [ "$(wc -l <"$loop_out")" -gt "$before" ]; do sleep 0.02; done
		tail -n 1 "$loop_out" >>"$1"
	done
}

# the median of column $2 (default 1) of file $1
median() { awk -v c="${2:-1}" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

wait_line() { # file pattern
	local t=0
	until grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.01
		t=$((t + 1))
		[ $t -lt 3000 ] || { cat "$1"; exit 1; }
	done
}

# runs "$@" in the background until its attach message shows, measures, stops it. The log is
# emptied first, here: the background job's own redirection may come after wait_line has read
# the last run's message, and a SIGINT sent before the tracer installs its handler is lost
# (a background job of a non-interactive shell starts with SIGINT ignored).
with_tracer() { # result-file ready-pattern command...
	local out=$1 pat=$2 pid t=0
	shift 2
	: >"$tmp/tracer.log"
	"$@" >"$tmp/tracer.log" 2>&1 &
	pid=$!
	wait_line "$tmp/tracer.log" "$pat"
	# bpftrace says "Attaching" before it attaches: wait (up to 5 s) for its tracer_links links
	while [ -n "${tracer_links:-}" ] && [ $((t++)) -lt 500 ] &&
		[ "$(bpftool perf show 2>/dev/null | grep -c "^pid $pid ")" -lt "$tracer_links" ]; do
		sleep 0.01
	done
	measure "$out"
	if [ "$out" = "$tmp/stacks" ]; then
		awk '/VmHWM/{print $2}' /proc/$pid/status >>"$tmp/rss"
	fi
	kill -INT $pid
	wait $pid || true
}

# --- sqlite query loop: scooby-bpf vs a bare uprobe pair ---
if section sqlite; then
	mkfifo "$tmp/in"
	$PY "$(dirname "$0")/bench/sqlite_loop.py" "$N" 30 <"$tmp/in" >"$tmp/out" &
	LOOP=$!
	exec 3>"$tmp/in"
	until grep -q ready "$tmp/out"; do sleep 0.05; done
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
		: >"$tmp/a.log" # not the last run's line (see with_tracer)
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
	exec 3>&-
	wait $LOOP || true
fi

# --- redis-py GET loop: wire capture vs a bare syscall tracepoint pair ---
# One Python process (tests/bench/redis_loop.py) runs GETs of one key with redis-py 30 frames
# deep, against a redis-server of its own on loopback (not its descendant, so not traced). A
# GET is one sendto and two recvfrom (strace -c: a non-blocking one that finds nothing, redis-py
# checking the pooled connection, then the reply), and no other traced syscall. Each cycle
# measures, in turn: no tracer; scooby-bpf without stacks (wire capture: the send's bytes and
# the reply's head copied out); scooby-bpf with stacks (default depth); and bpftrace with
# do-nothing programs on the enter and exit tracepoints of sendto and recvfrom for the loop's
# PID (the floor: the same syscalls traced, nothing done). Interleaved like the sqlite loop,
# BENCH_REDIS_CYCLES cycles of BENCH_REDIS_ROUNDS rounds of BENCH_REDIS_GETS GETs; medians
# over every round.
# The added cost (1-5 us) is small beside a GET (~30 us) and this VM's noise (its CPUs run
# Python up to 1.5x slower from one second to the next), so: the loop and its server share one
# CPU (BENCH_REDIS_CPU, empty: not pinned; across the 2 CPUs of a VM each round trip pays two
# cross-CPU wake-ups, ~100 us that vary by more than the tracing adds); rounds are short and
# many; and each round is scaled by the loop's speed measured in that round (a pure-Python
# calibration between chunks of GETs, which no syscall tracer slows) to the median speed of
# all rounds. Beside wall-clock, the loop thread's own CPU time per GET: BPF programs on its
# syscalls run on its time, the server and the neighbours do not (wall-clock also has the cost
# scooby-bpf's read/write tracepoints add to the server's syscalls).
if section redis; then
	RN=${BENCH_REDIS_GETS:-5000}
	REDIS_CYCLES=${BENCH_REDIS_CYCLES:-10}
	sql_rounds=$ROUNDS ROUNDS=${BENCH_REDIS_ROUNDS:-5} # measure() does ROUNDS
	RCPU=${BENCH_REDIS_CPU-$(($(nproc) - 1))}
	pin=()
	[ -z "$RCPU" ] || pin=(taskset -c "$RCPU")
	mkfifo "$tmp/rin"
	mkdir "$tmp/redis-loop"
	"${pin[@]}" $PY "$(dirname "$0")/bench/redis_loop.py" "$RN" 30 "$tmp/redis-loop" \
		<"$tmp/rin" >"$tmp/rout" &
	RLOOP=$!
	exec 4>"$tmp/rin"
	wait_line "$tmp/rout" ready
	loop_out=$tmp/rout loop_fd=4
	pair=""
	for sc in sendto recvfrom; do
		pair+="tracepoint:syscalls:sys_enter_$sc /pid == $RLOOP/ { } "
		pair+="tracepoint:syscalls:sys_exit_$sc /pid == $RLOOP/ { } "
	done
	measure /dev/null # warm-up
	for ((c = 0; c < REDIS_CYCLES; c++)); do
		# programs someone else attached to these syscalls slow every configuration alike
		bpftool perf show 2>/dev/null | grep -cE 'sys_(enter|exit)_(sendto|recvfrom)$' >>"$tmp/r_foreign" || true
		measure "$tmp/r_base"
		with_tracer "$tmp/r_wire" "scooby-bpf: attached" "$BIN" -p "$RLOOP" -q --stack-depth 0 \
			--redis unix://"$tmp"/none.sock --json "$tmp/r_wire.json"
		with_tracer "$tmp/r_stacks" "scooby-bpf: attached" "$BIN" -p "$RLOOP" -q \
			--redis unix://"$tmp"/none.sock --json "$tmp/r_stacks.json"
		tracer_links=4 with_tracer "$tmp/r_pair" "Attaching" bpftrace -e "$pair"
	done
	exec 4>&-
	wait $RLOOP || true
	loop_out=$tmp/out loop_fd=3 ROUNDS=$sql_rounds

	# each round at the median speed: wall and CPU ns/GET times median/its calibration
	cat "$tmp"/r_base "$tmp"/r_wire "$tmp"/r_stacks "$tmp"/r_pair >"$tmp/r_all"
	ref=$(median "$tmp/r_all" 3)
	for f in base wire stacks pair; do
		awk -v r="$ref" '{print $1 * r / $3, $2 * r / $3}' "$tmp/r_$f" >"$tmp/rn_$f"
	done
	awk -v b="$(median "$tmp/rn_base")" -v w="$(median "$tmp/rn_wire")" \
		-v s="$(median "$tmp/rn_stacks")" -v p="$(median "$tmp/rn_pair")" \
		-v cb="$(median "$tmp/rn_base" 2)" -v cw="$(median "$tmp/rn_wire" 2)" \
		-v cs="$(median "$tmp/rn_stacks" 2)" -v cp="$(median "$tmp/rn_pair" 2)" \
		-v n="$RN" -v k="$(wc -l <"$tmp/r_base")" -v cpu="${RCPU:-any}" \
		-v fo="$(sort -g "$tmp/r_foreign" | tail -n 1)" 'function ratio(x, y) {
		return y > 0 ? sprintf("%8.2f", x / y) : "     n/a"
	}
	BEGIN {
		printf "redis-py GET loop, 30 Python frames deep (%d GETs x %d rounds, median; on CPU %s):\n", n, k, cpu
		printf "                         wall ns/GET           loop CPU ns/GET\n"
		printf "  no tracer              %8.0f              %8.0f\n", b, cb
		printf "  scooby-bpf, wire       %8.0f  (+%5.0f)    %8.0f  (+%5.0f)\n", w, w - b, cw, cw - cb
		printf "  scooby-bpf, stacks     %8.0f  (+%5.0f)    %8.0f  (+%5.0f)\n", s, s - b, cs, cs - cb
		printf "  bpftrace syscall pair  %8.0f  (+%5.0f)    %8.0f  (+%5.0f)\n", p, p - b, cp, cp - cb
		printf "  ratio wire/pair        %s              %s  (target <= 1.5)\n", ratio(w - b, p - b), ratio(cw - cb, cp - cb)
		printf "  ratio stacks/pair      %s              %s  (target <= 1.5)\n", ratio(s - b, p - b), ratio(cs - cb, cp - cb)
		if (fo > 0)
			printf "  warning: %d BPF programs of other tracers were on sendto/recvfrom: figures skewed\n", fo
	}'
fi

# --- throughput of a real app under wrk: one table, every configuration on the same app ---
# The Django test app's N+1 page (tests/apps/djapp, /nplus1/page/: 6 SQLite queries, an HTML
# page) under gunicorn with 2 sync workers, driven by wrk (2 threads) over HTTP/1.1 on
# 127.0.0.1. Each cycle runs wrk for WRK_SECONDS in every configuration in turn (interleaved,
# so that a noisy neighbour hits them all alike), each traced one between two bare runs,
# after a warm-up:
#   bare                the app, nothing attached
#   bpftrace step pair  a do-nothing uprobe+uretprobe pair on sqlite3_step (the floor)
#   scooby-bpf          full capture, stacks at the default depth, publishing to a
#                       redis-server on a unix socket
#   bpftrace profile    a do-nothing profile:hz:999 sampler on the workers (--profile's floor:
#                       on this PVM guest each sample is a timer interrupt, a VM exit)
#   --profile=999       the same, and a CPU profile per request at 999 Hz
#   debug-toolbar       the same page on a second gunicorn of the same app with Debian's
#                       django-debug-toolbar (djapp.settings_toolbar: default panels, SQL
#                       included), which collects and injects itself on every request
#   uvicorn: bare, the pair, scooby-bpf
#                       the same page of the same app under Debian's uvicorn (djapp.asgi: one
#                       process, one event loop; the view and its queries in asgiref's
#                       executor thread), the same three configurations in the same cycles
# Figures are medians over the cycles. loss: against the mean of the bare runs just before
# and just after it (uvicorn's rows: uvicorn's bare runs), then the median of the cycles'
# (this VM's CPU speed drifts by up to 1.5x over a minute: runs seconds apart compare,
# medians of separate runs less); loss/pair: that loss over the bare pair's (uvicorn's: over the pair's under uvicorn); CPU: scooby-bpf's own (user + system, /proc/PID/stat) over the run per request
# served; Redis: the CPU of the redis-server the records go to, on these same two cores,
# per request served; peak RSS: scooby-bpf's VmHWM, the largest of its runs.
if section wrk; then
	WRK_SECONDS=${BENCH_WRK_SECONDS:-8}
	WRK_CYCLES=${BENCH_WRK_CYCLES:-5}
	WRK_CONNS=${BENCH_WRK_CONNECTIONS:-4}
	DJAPP=$(cd "$(dirname "$0")/apps/djapp" && pwd)
	page=/nplus1/page/
	export SCOOBY_DB=sqlite SCOOBY_SQLITE_PATH="$tmp/bench.sqlite3" PYTHONDONTWRITEBYTECODE=1
	(cd "$DJAPP" && DJANGO_SETTINGS_MODULE=djapp.settings $PY manage.py migrate -v 0 &&
		DJANGO_SETTINGS_MODULE=djapp.settings $PY manage.py seed 5) >"$tmp/django.log" 2>&1 ||
		{ cat "$tmp/django.log"; exit 1; }
	redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 --save '' \
		--appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
	REDIS=$!
	# --profile's records (11.4 KiB against 9.4) go to a Redis of their own, as a long run
	# of either finds its Redis: holding one size of record (with both in one Redis, each
	# phase frees memory of a size class the next may not reuse)
	redis-server --port 0 --unixsocket "$tmp/redis-prof.sock" --unixsocketperm 700 --save '' \
		--appendonly no --dir "$tmp" >"$tmp/redis-prof.log" 2>&1 &
	REDIS_PROF=$!
	free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
	port=$(free_port)
	DJANGO_SETTINGS_MODULE=djapp.settings gunicorn -w 2 -k sync -b "127.0.0.1:$port" \
		--chdir "$DJAPP" --timeout 60 djapp.wsgi:application >"$tmp/gunicorn.log" 2>&1 &
	GUNICORN=$!
	tport=$(free_port)
	DJANGO_SETTINGS_MODULE=djapp.settings_toolbar gunicorn -w 2 -k sync -b "127.0.0.1:$tport" \
		--chdir "$DJAPP" --timeout 60 djapp.wsgi:application >"$tmp/gunicorn-tb.log" 2>&1 &
	uport=$(free_port)
	(cd "$DJAPP" && DJANGO_SETTINGS_MODULE=djapp.settings exec $PY -m uvicorn djapp.asgi:application \
		--host 127.0.0.1 --port "$uport" --lifespan off --no-access-log) >"$tmp/uvicorn.log" 2>&1 &
	UVICORN=$!
	url="http://127.0.0.1:$port$page"
	turl="http://127.0.0.1:$tport$page"
	uurl="http://127.0.0.1:$uport$page"
	t=0
	until [ -S "$tmp/redis.sock" ] && [ -S "$tmp/redis-prof.sock" ] && curl -sf -o /dev/null "$url" && curl -sf -o /dev/null "$turl" &&
		curl -sf -o /dev/null "$uurl"; do
		sleep 0.1
		t=$((t + 1))
		[ $t -lt 300 ] || { cat "$tmp/gunicorn.log" "$tmp/gunicorn-tb.log" "$tmp/uvicorn.log" "$tmp/redis.log"; exit 1; }
	done
	# the toolbar must really be there: its markup injected into the page, its SQL panel on
	curl -sf "$turl" >"$tmp/tb.html"
	grep -q 'id="djDebug"' "$tmp/tb.html" && grep -q 'SQLPanel' "$tmp/tb.html" ||
		{ echo "bench: django-debug-toolbar not injected into $turl" >&2; exit 1; }

	# appends "requests/s requests" of wrk on url $2 for $3 seconds to file $1 (a run with
	# errors or non-2xx answers is said, and still counted)
	wrk_rps() {
		wrk -t 2 -c "$WRK_CONNS" -d "$3s" --timeout 10s "$2" >"$tmp/wrk.out" 2>&1
		if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk.out"; then
			echo "bench: wrk: $(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.out" | tr -s ' ')" >&2
		fi
		awk '/requests in/{n = $1} /^Requests\/sec:/{r = $2} END {print r, n}' "$tmp/wrk.out" >>"$1"
	}

	# scooby-bpf on server process $2 (the gunicorn master, and so its workers; or uvicorn)
	# while wrk runs on url $3; appends its CPU in us per request to $1.cpu (Redis's to
	# $1.rcpu), its peak RSS (KiB) to $1.rss, the events it lost to $1.lost
	wrk_with_scooby() { # result-file server-pid url scooby-bpf options...
		local out=$1 spid=$2 surl=$3 pid cpu0 cpu1 rcpu0 rcpu1 reqs hz sock=redis.sock rpid=$REDIS
		shift 3
		case " $* " in *" --profile"*) sock=redis-prof.sock rpid=$REDIS_PROF ;; esac
		: >"$tmp/wsc.log" # not the last run's line (see with_tracer)
		"$BIN" -p "$spid" -q --redis unix://"$tmp/$sock" "$@" >"$tmp/wsc.log" 2>&1 &
		pid=$!
		wait_line "$tmp/wsc.log" "scooby-bpf: attached"
		cpu0=$(awk '{print $14 + $15}' /proc/$pid/stat)
		rcpu0=$(awk '{print $14 + $15}' /proc/$rpid/stat)
		wrk_rps "$out" "$surl" "$WRK_SECONDS"
		cpu1=$(awk '{print $14 + $15}' /proc/$pid/stat)
		rcpu1=$(awk '{print $14 + $15}' /proc/$rpid/stat)
		awk '/VmHWM/{print $2}' /proc/$pid/status >>"$out.rss"
		kill -INT $pid
		wait $pid || true
		reqs=$(tail -n 1 "$out" | awk '{print $2}')
		hz=$(getconf CLK_TCK)
		awk -v c=$((cpu1 - cpu0)) -v hz="$hz" -v n="$reqs" \
			'BEGIN {print (n > 0 ? c * 1e6 / hz / n : 0)}' >>"$out.cpu"
		awk -v c=$((rcpu1 - rcpu0)) -v hz="$hz" -v n="$reqs" \
			'BEGIN {print (n > 0 ? c * 1e6 / hz / n : 0)}' >>"$out.rcpu"
		sed -n 's/.* \([0-9]*\) events lost .*/\1/p' "$tmp/wsc.log" | tail -n 1 >>"$out.lost"
	}

	# a do-nothing bpftrace program $3 while wrk runs on url $2. bpftrace says "Attaching"
	# before it attaches: wait, up to 5 s, until it holds its $4 probe perf events on top of
	# its output buffers (one perf event per CPU, open from its start). The fds count, not
	# bpftool's list, which shows a uprobe's events but not a profile probe's; a probe's
	# program is set on its event right after the event is opened.
	wrk_with_bpftrace() { # result-file url program probe-events
		local pid t=0 want=$(($(nproc) + $4))
		: >"$tmp/bpftrace.log"
		bpftrace -e "$3" >"$tmp/bpftrace.log" 2>&1 &
		pid=$!
		wait_line "$tmp/bpftrace.log" "Attaching"
		while [ $((t++)) -lt 500 ] &&
			[ "$(ls -l /proc/$pid/fd 2>/dev/null | grep -c perf_event)" -lt "$want" ]; do
			sleep 0.01
		done
		sleep 0.1
		wrk_rps "$1" "$2" "$WRK_SECONDS"
		kill -INT $pid
		wait $pid || true
	}
	# the bare pair on sqlite3_step (full capture's floor)
	wrk_with_pair() { # result-file url
		wrk_with_bpftrace "$1" "$2" \
			"uprobe:$LIB:sqlite3_step { } uretprobe:$LIB:sqlite3_step { }" 2
	}
	# a 999 Hz sampler on the gunicorn workers, one event per CPU (--profile's floor)
	wrk_with_sampler() { # result-file url
		local w filter=""
		for w in $(pgrep -P "$GUNICORN"); do
			filter+="${filter:+ || }pid == $w"
		done
		wrk_with_bpftrace "$1" "$2" "profile:hz:999 /$filter/ { }" "$(nproc)"
	}

	wrk_rps /dev/null "$url" 3 # warm-up: imports, caches, the SQLite file
	wrk_rps /dev/null "$turl" 3
	wrk_rps /dev/null "$uurl" 3
	# Redis as a long run finds it: --keep (10000) records stored, so that each new one
	# deletes the one it pushes out and Redis reuses its memory. Filling it from empty costs
	# Redis 2-3 times as much per record (its dataset grows a page fault at a time), and a
	# bench that starts empty measures only that.
	fill() { # socket scooby-bpf options...
		local sock=$1 t
		shift
		for ((t = 0; t < 12; t++)); do
			[ "$(redis-cli -s "$tmp/$sock" ZCARD scooby:requests)" -ge 10000 ] && return
			wrk_with_scooby "$tmp/wrk_fill" "$GUNICORN" "$url" "$@"
		done
		[ "$(redis-cli -s "$tmp/$sock" ZCARD scooby:requests)" -ge 10000 ] ||
			{ echo "bench: Redis at $sock did not fill to 10000 records" >&2; exit 1; }
	}
	fill redis.sock
	fill redis-prof.sock --profile=999
	# Each traced run stands between two bare runs, and its loss is against their mean: the
	# VM's CPU speed drifts within a cycle too, and a bare run one or two runs away was
	# measured in another speed (a loss of 10 % either way between runs 30 s apart).
	# bare_run bare-file url: a bare run on url into bare-file, its req/s kept in $last_bare
	bare_run() {
		wrk_rps "$1" "$2" "$WRK_SECONDS"
		last_bare=$(tail -n 1 "$1" | awk '{print $1}')
	}
	# bracket result-file bare-file url command...: runs the command (a wrk_* function
	# appending to result-file), then a bare run on url into bare-file; appends the mean of
	# that bare run and the one before it ($last_bare) to result-file.ref
	bracket() {
		local out=$1 bare=$2 burl=$3 before=$last_bare
		shift 3
		"$@"
		bare_run "$bare" "$burl"
		awk -v a="$before" -v b="$last_bare" 'BEGIN {print (a + b) / 2}' >>"$out.ref"
	}
	for ((c = 0; c < WRK_CYCLES; c++)); do
		bare_run "$tmp/wrk_none" "$url"
		bracket "$tmp/wrk_pair" "$tmp/wrk_none" "$url" wrk_with_pair "$tmp/wrk_pair" "$url"
		bracket "$tmp/wrk_core" "$tmp/wrk_none" "$url" \
			wrk_with_scooby "$tmp/wrk_core" "$GUNICORN" "$url"
		bracket "$tmp/wrk_samp" "$tmp/wrk_none" "$url" wrk_with_sampler "$tmp/wrk_samp" "$url"
		bracket "$tmp/wrk_prof" "$tmp/wrk_none" "$url" \
			wrk_with_scooby "$tmp/wrk_prof" "$GUNICORN" "$url" --profile=999
		bracket "$tmp/wrk_tb" "$tmp/wrk_none" "$url" wrk_rps "$tmp/wrk_tb" "$turl" "$WRK_SECONDS"
		bare_run "$tmp/wrk_unone" "$uurl"
		bracket "$tmp/wrk_upair" "$tmp/wrk_unone" "$uurl" wrk_with_pair "$tmp/wrk_upair" "$uurl"
		bracket "$tmp/wrk_ucore" "$tmp/wrk_unone" "$uurl" \
			wrk_with_scooby "$tmp/wrk_ucore" "$UVICORN" "$uurl"
	done

	# the loss of runs file $1 against the mean of the bare runs on either side of each
	# ($1.ref), median over the cycles
	ploss() { paste -d ' ' "$1.ref" "$1" | awk '{print ($1 - $2) * 100 / $1}' >"$tmp/ploss"; median "$tmp/ploss"; }
	runs() { awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1}' "$1"; }
	total() { awk '{t += $1} END {print t + 0}' "$1"; }
	peak() { sort -g "$1" | tail -n 1; }
	awk -v n="$(median "$tmp/wrk_none")" -v p="$(median "$tmp/wrk_pair")" \
		-v s="$(median "$tmp/wrk_core")" -v f="$(median "$tmp/wrk_prof")" \
		-v tb="$(median "$tmp/wrk_tb")" -v cs="$(median "$tmp/wrk_core.cpu")" \
		-v cf="$(median "$tmp/wrk_prof.cpu")" -v qs="$(median "$tmp/wrk_core.rcpu")" \
		-v qf="$(median "$tmp/wrk_prof.rcpu")" -v rs="$(peak "$tmp/wrk_core.rss")" \
		-v rf="$(peak "$tmp/wrk_prof.rss")" -v ls="$(total "$tmp/wrk_core.lost")" \
		-v lf_lost="$(total "$tmp/wrk_prof.lost")" -v rn="$(runs "$tmp/wrk_none")" \
		-v rp="$(runs "$tmp/wrk_pair")" -v rc="$(runs "$tmp/wrk_core")" \
		-v rpf="$(runs "$tmp/wrk_prof")" -v rtb="$(runs "$tmp/wrk_tb")" -v k="$WRK_CYCLES" \
		-v un="$(median "$tmp/wrk_unone")" -v up="$(median "$tmp/wrk_upair")" \
		-v us="$(median "$tmp/wrk_ucore")" -v ucs="$(median "$tmp/wrk_ucore.cpu")" \
		-v uqs="$(median "$tmp/wrk_ucore.rcpu")" -v urs="$(peak "$tmp/wrk_ucore.rss")" \
		-v uls="$(total "$tmp/wrk_ucore.lost")" -v run="$(runs "$tmp/wrk_unone")" \
		-v rup="$(runs "$tmp/wrk_upair")" -v ruc="$(runs "$tmp/wrk_ucore")" \
		-v lp="$(ploss "$tmp/wrk_pair")" -v ls_="$(ploss "$tmp/wrk_core")" \
		-v lf="$(ploss "$tmp/wrk_prof")" -v sp="$(median "$tmp/wrk_samp")" \
		-v lsp="$(ploss "$tmp/wrk_samp")" -v rsp="$(runs "$tmp/wrk_samp")" -v ltb="$(ploss "$tmp/wrk_tb")" \
		-v lup="$(ploss "$tmp/wrk_upair")" \
		-v lus="$(ploss "$tmp/wrk_ucore")" \
		-v d="$WRK_SECONDS" -v c="$WRK_CONNS" -v pg="$page" 'function ratio(l) {
		return pair > 0 ? sprintf("%9.2f", l / pair) : "      n/a"
	}
	function row(name, x, l, cpu, rcpu, rss, note) {
		printf "  %-26s %8.1f %7.1f %% %s %10s %10s %10s%s\n", name, x, l, ratio(l), cpu,
		       rcpu, rss, note == "" ? "" : "  " note
	}
	BEGIN {
		printf "wrk on the Django N+1 page, %s (6 SQLite queries, HTML; gunicorn -w 2 sync; %d connections;\n", pg, c
		printf "%d interleaved cycles x %d s; req/s: median; loss: median of each run'"'"'s against the bare runs either side):\n", k, d
		printf "  %-26s %8s %9s %9s %10s %10s %10s\n", "", "req/s", "loss", "loss/pair", "CPU us/req",
		       "Redis us/r", "peak RSS"
		pair = lp
		printf "  %-26s %8.1f %9s %9s %10s %10s %10s\n", "bare", n, "-", "-", "-", "-", "-"
		row("bpftrace step pair", p, lp, "-", "-", "-", "")
		row("scooby-bpf", s, ls_, sprintf("%.1f", cs), sprintf("%.1f", qs), sprintf("%.1f MiB", rs / 1024),
		    sprintf("(target: loss/pair <= 1.5; %d events lost)", ls))
		row("bpftrace profile:hz:999", sp, lsp, "-", "-", "-", "(a do-nothing sampler: --profile'"'"'s floor)")
		row("scooby-bpf --profile=999", f, lf, sprintf("%.1f", cf), sprintf("%.1f", qf),
		    sprintf("%.1f MiB", rf / 1024), sprintf("(target: loss < 3 %%; %s; %d events lost)", lsp > 0 ? sprintf("%.1f x the sampler'"'"'s", lf / lsp) : "the sampler lost nothing", lf_lost))
		row("django-debug-toolbar", tb, ltb, "-", "-", "-", "")
		printf "  the same page under uvicorn (ASGI: one process, one event loop, asgiref executor):\n"
		pair = lup
		printf "  %-26s %8.1f %9s %9s %10s %10s %10s\n", "uvicorn bare", un, "-", "-", "-", "-", "-"
		row("uvicorn bpftrace step pair", up, lup, "-", "-", "-", "")
		row("uvicorn scooby-bpf", us, lus, sprintf("%.1f", ucs), sprintf("%.1f", uqs),
		    sprintf("%.1f MiB", urs / 1024), sprintf("(target: loss/pair <= 1.5; %d events lost)", uls))
		printf "  runs (req/s): bare %s; pair %s; scooby-bpf %s; sampler %s; --profile %s; toolbar %s\n", rn, rp, rc, rsp, rpf, rtb
		printf "  uvicorn runs (req/s): bare %s; pair %s; scooby-bpf %s\n", run, rup, ruc
	}'

	# Where the cost is: a uprobe trap costs the target microseconds, a BPF program run a
	# fraction of one. One more run of each tracer with kernel.bpf_stats_enabled counts,
	# per request served, the runs of every program it loaded and their time.
	prog_stats() { # file: "id name run_cnt run_time_ns" of every loaded BPF program
		bpftool prog show -j 2>/dev/null | $PY -c 'import json, sys
for p in json.load(sys.stdin):
    print(p["id"], p.get("name", "-"), p.get("run_cnt", 0), p.get("run_time_ns", 0))' >"$1"
	}
	# prints the programs loaded since file $1, with their runs per request over files $2 -> $3
	prog_report() { # before start end requests label
		$PY - "$@" <<'PY'
import sys
pre, s0, s1, n, label = sys.argv[1:]
old = {l.split()[0] for l in open(pre)}
a = {f[0]: f for f in (l.split() for l in open(s0)) if f[0] not in old}
rows = []
for f in (l.split() for l in open(s1)):
    if f[0] in a and int(f[2]) > int(a[f[0]][2]):
        rows.append((f[1], (int(f[2]) - int(a[f[0]][2])) / int(n), (int(f[3]) - int(a[f[0]][3])) / int(n) / 1000))
rows.sort(key=lambda r: -r[1])
hits = sum(r[1] for r in rows if not r[0].startswith(("http", "proc", "profile")))
print("  %s: %.1f uprobe hits per request (runs per request of every program, tracepoints too: %s), BPF %.1f us per request" % (label, hits, ", ".join("%s %.1f" % r[:2] for r in rows), sum(r[2] for r in rows)))
top = sorted(rows, key=lambda r: -r[2])[:8]
print("    BPF us per request by program: %s" % ", ".join("%s %.1f" % (r[0], r[2]) for r in top))
PY
	}
	stats_was=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q kernel.bpf_stats_enabled=1
	for tracer in pair scooby; do
		prog_stats "$tmp/ps.pre"
		if [ $tracer = pair ]; then
			bpftrace -e "uprobe:$LIB:sqlite3_step { } uretprobe:$LIB:sqlite3_step { }" >"$tmp/pair.log" 2>&1 &
			wait_line "$tmp/pair.log" "Attaching"
			sleep 1
		else
			: >"$tmp/wsc.log"
			"$BIN" -p "$GUNICORN" -q --redis unix://"$tmp"/redis.sock >"$tmp/wsc.log" 2>&1 &
			wait_line "$tmp/wsc.log" "scooby-bpf: attached"
		fi
		pid=$!
		prog_stats "$tmp/ps.0"
		: >"$tmp/wrk_stats"
		wrk_rps "$tmp/wrk_stats" "$url" 5
		prog_stats "$tmp/ps.1"
		kill -INT $pid
		wait $pid || true
		[ $tracer = pair ] && label="bpftrace step pair" || label="scooby-bpf"
		prog_report "$tmp/ps.pre" "$tmp/ps.0" "$tmp/ps.1" "$(awk '{print $2}' "$tmp/wrk_stats")" "$label"
	done
	sysctl -q kernel.bpf_stats_enabled="$stats_was"
fi

# --- flood: probed calls per second handled, and scooby-bpf's own CPU per 10k queries/s ---
if section flood; then
	gcc -O2 -pthread "$(dirname "$0")/apps/flood.c" -lsqlite3 -o "$tmp/flood"
	"$tmp/flood" 5 2 >"$tmp/flood.out" 2>&1 &
	FLOOD=$!
	until grep -q ready "$tmp/flood.out"; do sleep 0.05; done
	"$BIN" -p "$FLOOD" -q --redis unix://"$tmp"/none.sock 2>"$tmp/fl.err" &
	FSB=$!
	wait_line "$tmp/fl.err" "scooby-bpf: attached"
	cpu0=$(awk '{print $14 + $15}' /proc/$FSB/stat)
	t0=$(date +%s%N)
	kill -USR1 $FLOOD
	until grep -q "marker 1" "$tmp/flood.out"; do sleep 0.05; done
	t1=$(date +%s%N)
	cpu1=$(awk '{print $14 + $15}' /proc/$FSB/stat)
	kill -INT $FSB
	wait $FSB || true
	kill -USR1 $FLOOD 2>/dev/null || true
	wait $FLOOD || true
	execs=$(awk '/^executions/{print $2}' "$tmp/flood.out")
	lost=$(sed -n 's/.* \([0-9]*\) events lost (\([0-9]*\) query ends).*/\1 \2/p' "$tmp/fl.err")
	awk -v e="$execs" -v l="$lost" -v c=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" \
		-v ns=$((t1 - t0)) 'BEGIN {
		split(l, lo, " ")
		wall = ns / 1e9 - 1.5 # the flood ran 5 s; 1.5 s more until its marker
		qps = e / 5
		printf "flood, C program, 2 threads, 5 s (SQLite executions, 2 probed steps each):\n"
		printf "  probed calls handled     %8.0f /s  (target 1M/s with 0 lost)\n", 2 * e / 5
		printf "  events lost              %8d  (%d of them query ends)\n", lo[1], lo[2]
		printf "  scooby-bpf CPU           %8.1f %% of one core over %.1f s, %.2f %% per 10k queries/s (target < 5)\n",
			100 * c / hz / (ns / 1e9), ns / 1e9, 100 * c / hz / (ns / 1e9) / (qps / 10000)
	}'
fi

if section attach; then
	# Attach: from the start to the "attached" line; exit: from SIGINT to the exit. Closing a
	# link waits for RCU grace periods in the kernel (see src/links.c), so the exit grows with
	# the probes: a target with no client library (the syscall tracepoints only), and one with
	# libsqlite3 loaded. Nothing is recorded, so no flush to Redis is waited for.
	$PY -c 'import time; time.sleep(3600)' &
	BARE=$!
	$PY -c 'import sqlite3, time; sqlite3.connect(":memory:"); time.sleep(3600)' &
	SQ=$!
	sleep 0.5
	printf "attach and exit (median of 5; -p PID, Redis unreachable):\n"
	for target in bare:$BARE sqlite:$SQ; do
		: >"$tmp/att"
		for i in 1 2 3 4 5; do
			: >"$tmp/at.err" # before the start: see with_tracer
			t0=$(date +%s%N)
			"$BIN" -p "${target#*:}" --redis unix://$tmp/none.sock >"$tmp/at.out" 2>"$tmp/at.err" &
			AP=$!
			wait_line "$tmp/at.err" "scooby-bpf: attached"
			t1=$(date +%s%N)
			sleep 0.3
			t2=$(date +%s%N)
			kill -INT $AP
			wait $AP || true
			t3=$(date +%s%N)
			echo "$(((t1 - t0) / 1000000)) $(((t3 - t2) / 1000000))" >>"$tmp/att"
		done
		printf "  %-8s attach %5s ms   exit %5s ms   (%s)\n" "${target%%:*}" "$(median "$tmp/att" 1)" \
			"$(median "$tmp/att" 2)" "$(grep -o '[0-9]* probes' "$tmp/at.err" | head -n 1 || echo 'no uprobes')"
	done
	kill $BARE $SQ
fi
