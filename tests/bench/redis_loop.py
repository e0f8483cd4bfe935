"""A tight redis-py GET loop that times itself on demand: one line on stdin -> ns per GET.

usage: redis_loop.py N DEPTH DIR. Starts its own redis-server on a free loopback port with its
files in DIR, daemonized so that it is no descendant of this process (scooby-bpf -p traces
descendants, and the bare bpftrace pair it is compared with does not see the server), and
stops it on exit. Prints "ready PORT" once connected, then for each line read: wall-clock ns
per GET; this thread's CPU ns per GET (user + system: what BPF programs on its syscalls cost
is in it, the server and other processes are not); and this thread's CPU ns per unit of a
fixed pure-Python calibration workload, run between chunks of GETs. The calibration makes no
system call, so no tracer slows it: it gauges how fast this CPU runs Python at that moment
(on a shared VM, by up to 1.5x from one second to the next), and the bench divides by it.
"""
import os
import signal
import socket
import subprocess
import sys
import time

import redis

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
DEPTH = int(sys.argv[2]) if len(sys.argv) > 2 else 30
DIR = sys.argv[3] if len(sys.argv) > 3 else "."

s = socket.socket()
s.bind(("127.0.0.1", 0))
PORT = s.getsockname()[1]
s.close()
PIDFILE = os.path.join(DIR, "redis-loop.pid")
subprocess.run(
    ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly",
     "no", "--dir", DIR, "--daemonize", "yes", "--pidfile", PIDFILE,
     "--logfile", os.path.join(DIR, "redis-loop.log")], check=True)


def stop_server():
    try:
        with open(PIDFILE) as f:
            os.kill(int(f.read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
r = redis.Redis(host="127.0.0.1", port=PORT)
for _ in range(500):
    try:
        r.set("bench:key", "v" * 32)
        break
    except redis.ConnectionError:
        time.sleep(0.01)
else:
    stop_server()
    sys.exit("redis_loop: redis-server did not answer on port %d" % PORT)


CHUNK = 100  # GETs between two calibration runs
CAL = 20000  # calibration units per run: about as long as a chunk of GETs


def calibrate(n):
    """Fixed pure-Python work without system calls."""
    d = {}
    x = 0
    for i in range(n):
        d[i & 63] = str(i)
        x += len(d[i & 63])
    return x


def loop():
    get = r.get
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    for line in sys.stdin:
        wall = busy = cal = 0
        for _ in range(N // CHUNK):
            t0, c0 = clock(), cpu()
            for _ in range(CHUNK):
                get("bench:key")
            t1, c1 = clock(), cpu()
            calibrate(CAL)
            wall += t1 - t0
            busy += c1 - c0
            cal += cpu() - c1
        n = N // CHUNK * CHUNK
        print(wall / n, busy / n, cal / (N // CHUNK * CAL), flush=True)


def nest(depth):
    """Runs the loop DEPTH Python frames deep, so stacks have that many frames."""
    if depth <= 2:
        print("ready", PORT, flush=True)
        loop()
    else:
        nest(depth - 1)


try:
    nest(DEPTH)
finally:
    stop_server()
