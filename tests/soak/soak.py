#!/usr/bin/python3
"""Soak (issue 7, item 3): SECONDS of wrk load against the Django test app under gunicorn
(sync workers, SQLite) with scooby-bpf attached.

Pass/fail (ruling 12: exact accounting and bounded memory, never a rate):
  - requests served, counted on the app side (gunicorn's access log, one line per
    request) == records published + records dropped (scooby-bpf's exit line);
  - records produced == published + dropped + unsent, and unsent == 0;
  - Redis side: one PUBLISH on scooby:live per published record, and every one of them
    readable, none incomplete, none a background record, lost_events never above the
    exit line's count;
  - no leak: every second the soak asks scooby-bpf for its status line (SIGUSR1), which
    gives the heap it has in use: the bytes malloc handed out and not freed, which a leak
    grows and heap fragmentation or a table's one-time growth does not (those move RSS, so
    RSS is printed, not judged). After warm-up (the first WARMUP_FRACTION of the lines)
    the samples fall into WINDOWS equal windows; it leaks when the floor (lowest sample,
    when the Redis queue is emptiest) of every window stands more than STEP_KIB above the
    one before. One step raises one floor, never all; a leak of a few bytes per request
    raises them all. The fitted growth per 10k records is printed;
  - bounded tables (scooby-bpf -v's exit report): none refused an entry, the Redis queue
    and the open requests are listed, and the tables of work in flight (open requests,
    request threads and sockets, client calls, stacks waiting) peaked at IN_FLIGHT_MAX at
    most: they hold a request's state only while it runs;
  - scooby-bpf exits 0 within 30 s of SIGINT with its exit line last on stderr.
Printed only: the rate achieved, wrk's figures, RSS samples, events lost.

With --expect-leak (a build with -DSCOOBY_TEST_LEAK_BYTES, `make soak-leak-ci`) the run
passes only when the leak check fails: the proof that it can.

Usage: soak.py [--seconds 600] [--workers 2] [--connections 4] [--expect-leak]
Exit status: 0 pass, 1 a check failed, 2 the run could not be set up.
Environment: SCOOBY_BPF (default <repo>/build/scooby-bpf), SCOOBY_KEEP_TMP (keep logs).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import harness  # noqa: E402  (tests/e2e/harness.py)
import redis  # noqa: E402

WRK = "/usr/bin/wrk"
LUA = os.path.join(HERE, "soak.lua")
WARMUP_FRACTION = 0.2
WINDOWS = 4
STEP_KIB = 256
STATUS_RE = re.compile(r"^scooby-bpf: status: (\d+) records, .* heap (\d+) KiB in use, "
                       r"(\d+) KiB held$", re.M)
IN_FLIGHT = ("open requests", "request threads", "request sockets", "client calls in flight",
             "Python stacks waiting", "native stacks waiting")
IN_FLIGHT_MAX = 64
TABLES_RE = re.compile(r"^scooby-bpf: tables \(peak/bound\): (.*)$", re.M)
TTL = 120  # records only need to live until the fetcher below has read them
KEEP = 1000
PATHS = {"/items/": 200, "/item/3/": 200, "/nplus1/": 200, "/noquery/": 200, "/item/99/": 404}


def say(msg):
    sys.stdout.write("soak: %s\n" % msg)
    sys.stdout.flush()


class LiveReader:
    """Subscribes to scooby:live and reads every announced record back (pipelined GETs):
    counts them, and what they say."""

    def __init__(self, srv):
        self.srv = srv
        self.sub = srv.client()
        self.pubsub = self.sub.pubsub()
        self.pubsub.subscribe("scooby:live")
        harness.wait_for(lambda: (self.pubsub.get_message(timeout=0.1) or {}).get("type")
                         == "subscribe", 10, "the SUBSCRIBE confirmation")
        self.getter = redis.Redis(unix_socket_path=srv.sock, socket_timeout=30)
        self.lock = threading.Lock()
        self.pending = []
        self.announced = 0
        self.read = 0
        self.missing = []  # uuids announced but gone (expired) before they were read
        self.invalid = []
        self.incomplete = []
        self.background = []
        self.unexpected = []  # paths or statuses outside the mix
        self.statuses = {}
        self.max_lost = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._listen, daemon=True),
                        threading.Thread(target=self._fetch, daemon=True)]
        self.errors = []
        for t in self.threads:
            t.start()

    def _listen(self):
        try:
            while not self.stop.is_set():
                m = self.pubsub.get_message(timeout=0.2)
                if m and m["type"] == "message":
                    with self.lock:
                        self.pending.append(m["data"])
                        self.announced += 1
        except Exception as exc:  # reported, and fails the run
            self.errors.append("listener: %r" % exc)

    def _fetch(self):
        try:
            while True:
                with self.lock:
                    batch, self.pending = self.pending[:500], self.pending[500:]
                if not batch:
                    if self.stop.is_set():
                        return
                    time.sleep(0.05)
                    continue
                pipe = self.getter.pipeline(transaction=False)
                for u in batch:
                    pipe.get("scooby:req:" + u)
                for u, raw in zip(batch, pipe.execute()):
                    self._check(u, raw)
        except Exception as exc:
            self.errors.append("fetcher: %r" % exc)

    def _check(self, u, raw):
        self.read += 1
        if raw is None:
            self.missing.append(u)
            return
        try:
            rec = json.loads(raw.decode("utf-8"))
            req = rec["request"]
        except (ValueError, KeyError, TypeError) as exc:
            self.invalid.append("%s: %s: %r" % (u, exc, raw[:200]))
            return
        self.max_lost = max(self.max_lost, rec.get("lost_events", 0))
        if req["method"] == "background":
            self.background.append(harness.short(rec))
            return
        if req["incomplete"] is not False:
            self.incomplete.append(harness.short(rec))
        self.statuses[req["status"]] = self.statuses.get(req["status"], 0) + 1
        if PATHS.get(req["path"]) != req["status"]:
            self.unexpected.append(harness.short(rec))

    def wait_read(self, n, timeout):
        """Waits until n records were announced and read; returns whether they were."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                done = self.announced >= n and not self.pending and self.read >= self.announced
            if done:
                return True
            time.sleep(0.1)
        return False

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        self.pubsub.close()
        harness.close_client(self.sub)
        harness.close_client(self.getter)


def floors(values, windows=WINDOWS):
    """The lowest of each of `windows` equal runs of values."""
    size = len(values) / float(windows)
    return [min(values[int(i * size):int((i + 1) * size)]) for i in range(windows)]


def judge_leak(points):
    """Judges the (records, heap_in_use_kib) points after warm-up: (leaks, text), where
    leaks is True when the floor of every one of WINDOWS windows stands more than STEP_KIB
    above the one before (None: too few points), and text says the floors and the fitted
    growth per 10k records."""
    if len(points) < WINDOWS * 2:
        return None, "too few status lines after warm-up (%d)" % len(points)
    fl = floors([y for _, y in points])
    rises = [b - a for a, b in zip(fl, fl[1:])]
    n = float(len(points))
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0
    leaks = all(r > STEP_KIB for r in rises)
    text = ("heap in use %s: floor per window after warm-up (KiB) %s; rises %s KiB (a leak "
            "raises every one by more than %d); fitted %+.0f KiB per 10k records"
            % ("grows" if leaks else "does not grow steadily", " -> ".join("%d" % f for f in fl),
               ", ".join("%+d" % r for r in rises), STEP_KIB, slope * 10000))
    return leaks, text


def ask_status(pid):
    """Asks scooby-bpf for its status line on stderr (SIGUSR1); a gone process is ignored."""
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        pass


def parse_tables(stderr):
    """The exit report's tables: {name: (peak, bound)}, the Redis queue's records as
    "Redis queue"; None when the line is missing."""
    m = TABLES_RE.search(stderr)
    if not m:
        return None
    tables = {}
    for part in m.group(1).split(", "):
        t = re.match(r"^(.*) (\d+)/(\d+)(?: records (\d+)/(\d+) bytes)?$", part)
        if t:
            tables[t.group(1)] = (int(t.group(2)), int(t.group(3)))
    return tables


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def wait_stable(path, quiet=1.5, timeout=60):
    """The access log's line count once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = count_lines(path), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        n = count_lines(path)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return n
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    ap.add_argument("--connections", type=int, default=4,
                    help="wrk threads, one connection each")
    ap.add_argument("--sample-interval", type=float, default=1.0, help="RSS sampling period (s)")
    ap.add_argument("--expect-leak", action="store_true",
                    help="pass only if the leak check fails (a leak-injected build)")
    args = ap.parse_args()
    if args.seconds < 10:
        ap.error("--seconds must be at least 10")

    try:
        harness.require_root_bpf()
    except unittest.SkipTest as exc:
        say("cannot run: %s" % exc)
        return 2
    if not os.access(WRK, os.X_OK):
        say("cannot run: %s missing (apt-get install wrk; tests/install-deps.sh)" % WRK)
        return 2

    tmp = harness.make_tmpdir("soak")
    cleanups = []
    try:
        return run(args, tmp, cleanups)
    except AssertionError as exc:  # a server that would not start, a timeout in set-up
        say("FAILED: the run broke off: %s" % exc)
        return 1
    finally:
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as exc:
                say("cleanup: %r" % exc)
        harness.remove_tmpdir(tmp)


def run(args, tmp, cleanups):
    failures = []

    def check(ok, what):
        say("%s: %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            failures.append(what)

    srv = harness.RedisServer(tmp)
    cleanups.append(srv.stop)
    srv.start()
    access_log = os.path.join(tmp, "access.log")
    db = harness.sqlite_env(tmp)
    harness.django_prepare(tmp, db)
    env = harness.django_env(db)
    env["GUNICORN_CMD_ARGS"] = "--access-logfile %s" % access_log
    gun = harness.Gunicorn(tmp, "djapp.wsgi:application", harness.DJAPP, env,
                           workers=args.workers)
    cleanups.append(gun.stop)
    gun.start()
    for p in PATHS:  # every worker loads its code paths before anything is measured
        for _ in range(args.workers * 2):
            harness.http_request(gun.port, p)

    reader = LiveReader(srv)
    cleanups.append(reader.close)
    sc = harness.Scooby(tmp, gun.pid, srv.url, json_path=None,
                        args=["-q", "-v", "--ttl", str(TTL), "--keep", str(KEEP)])
    cleanups.append(lambda: sc.stop(signal.SIGKILL))
    sc.wait_attached()
    baseline = wait_stable(access_log, quiet=1.0)
    say("attached: %s" % sc.attached_lines()[0])
    say("load: wrk, %d threads x 1 connection, %d s, gunicorn %d sync workers, SQLite"
        % (args.connections, args.seconds, args.workers))

    # wrk -d is only a backstop: the script stops every thread after the deadline, and
    # wrk is interrupted once they all had the time to. RSS is sampled over the load.
    mem = harness.MemSampler(sc.pid, interval=args.sample_interval,
                             then=lambda: ask_status(sc.pid)).start()
    cleanups.append(mem.stop)
    t0 = time.monotonic()
    deadline_unix = int(time.time()) + args.seconds
    wrk_out = os.path.join(tmp, "wrk.out")
    with open(wrk_out, "wb") as out:
        wrk = subprocess.Popen([WRK, "-t", str(args.connections), "-c", str(args.connections),
                                "-d", "%ds" % (args.seconds + 300), "--timeout", "30s",
                                "-s", LUA, "http://127.0.0.1:%d" % gun.port, "--",
                                str(deadline_unix)],
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    cleanups.append(lambda: wrk.poll() is None and wrk.kill())
    last_report = t0
    while time.time() < deadline_unix + 3:
        time.sleep(0.5)
        if wrk.poll() is not None:
            break
        if sc.proc.poll() is not None:
            break
        if time.monotonic() - last_report >= 60:
            last_report = time.monotonic()
            s = mem.samples[-1] if mem.samples else (0, 0, 0, 0)
            say("  %4.0fs: %d served, %d records read back, RSS %.1f MiB"
                % (time.monotonic() - t0, count_lines(access_log) - baseline, reader.read,
                   s[1] / 1024.0))
    if wrk.poll() is None:
        wrk.send_signal(signal.SIGINT)  # wakes wrk's main thread: report and exit
    try:
        wrk_rc = wrk.wait(30)
    except subprocess.TimeoutExpired:
        wrk.kill()
        wrk_rc = wrk.wait(10)
    load_s = time.monotonic() - t0
    samples = mem.stop()
    served = wait_stable(access_log) - baseline
    wrk_text = harness._read(wrk_out)
    for line in wrk_text.splitlines():
        say("  wrk| " + line)
    check(wrk_rc == 0, "wrk exited 0 (rc %s)" % wrk_rc)
    check("threads stopped cleanly %d/%d" % (args.connections, args.connections) in wrk_text,
          "every wrk thread stopped after a response, none with a request in flight "
          "(wrk's 'Running Nm test' above is its -d backstop, not the load's length)")
    check(sc.proc.poll() is None, "scooby-bpf still running after the load")

    # Stop scooby-bpf: it flushes (3 s at most) and prints the exit line.
    t_stop = time.monotonic()
    rc = sc.stop(signal.SIGINT, timeout=30)
    stop_s = time.monotonic() - t_stop
    check(rc == 0, "scooby-bpf exited 0 %.1fs after SIGINT (rc %s)" % (stop_s, rc))
    try:
        summary = harness.exit_summary(sc.stderr())
    except AssertionError as exc:
        check(False, str(exc))
        return 1
    say("exit line: %s" % sc.stderr().strip().splitlines()[-1])
    published, dropped = summary["published"], summary["dropped"]
    caught_up = reader.wait_read(published, timeout=120)

    # --- accounting
    say("served (gunicorn access log): %d requests in %.1f s = %.0f requests/s (informational)"
        % (served, load_s, served / load_s))
    check(served > 0, "the app served requests (%d)" % served)
    check(served == published + dropped,
          "requests served %d == published %d + dropped %d" % (served, published, dropped))
    check(summary["records"] == published + dropped + summary["unsent"],
          "records %d == published + dropped + unsent (%d + %d + %d)"
          % (summary["records"], published, dropped, summary["unsent"]))
    check(summary["unsent"] == 0, "unsent == 0 (%d)" % summary["unsent"])
    check(caught_up and reader.announced == published,
          "scooby:live announced %d records == published %d" % (reader.announced, published))
    check(reader.read == reader.announced and not reader.missing,
          "every announced record read back from Redis (%d read, %d missing, e.g. %s)"
          % (reader.read, len(reader.missing), reader.missing[:3]))
    check(not reader.invalid, "every record is JSON (%d not: %s)"
          % (len(reader.invalid), reader.invalid[:2]))
    check(not reader.incomplete, "no incomplete record (%d: %s)"
          % (len(reader.incomplete), reader.incomplete[:3]))
    check(not reader.background, "no background record (%d: %s)"
          % (len(reader.background), reader.background[:3]))
    check(not reader.unexpected, "every record's path and status are the mix's (%d not: %s)"
          % (len(reader.unexpected), reader.unexpected[:3]))
    check(reader.max_lost <= summary["lost"], "lost_events in the records (max %d) <= the "
          "exit line's %d" % (reader.max_lost, summary["lost"]))
    check(not reader.errors, "the Redis reader worked (%s)" % reader.errors)
    say("statuses read back: %s; events lost (kernel ring buffer): %d, %d of them query ends"
        % (json.dumps(reader.statuses, sort_keys=True), summary["lost"],
           summary["lost_query_ends"]))

    # --- memory
    if samples:
        say("RSS (MiB): at the start of the load %.1f, last %.1f; RssAnon %.1f -> %.1f, floor "
            "per window %s; VmHWM %.1f; %d samples every %.0f s (printed, not judged)"
            % (samples[0][1] / 1024.0, samples[-1][1] / 1024.0, samples[0][3] / 1024.0,
               samples[-1][3] / 1024.0,
               " -> ".join("%.2f" % (f / 1024.0) for f in floors([s[3] for s in samples])),
               mem.max_hwm_kb() / 1024.0, len(samples), args.sample_interval))
    lines = [(int(m.group(1)), int(m.group(2))) for m in STATUS_RE.finditer(sc.stderr())]
    post = lines[int(len(lines) * WARMUP_FRACTION):]
    say("heap in use (records:KiB): " + " ".join(
        "%d:%d" % p for p in lines[::max(1, len(lines) // 40)]))
    leaks, text = judge_leak(post)
    if args.expect_leak:
        say("leak check (must fail on this build): %s: %s"
            % ("FAIL" if leaks else "not caught", text))
        check(leaks is True, "the leak-injected build fails the leak check")
    else:
        check(leaks is False, ("leak: " if leaks else "no leak: ") + text)

    # --- bounded tables
    stderr = sc.stderr()
    refused = [l for l in stderr.splitlines() if "refused at the bound" in l]
    check(not refused, "no table refused an entry (%s)" % refused[:3])
    tables = parse_tables(stderr)
    check(tables is not None and "open requests" in tables and "Redis queue" in tables,
          "the exit report lists every bounded table with its peak (%s)"
          % (TABLES_RE.search(stderr) or [stderr.splitlines()[-2:]])[0])
    if tables:
        busy = {n: p for n, (p, _) in tables.items() if n in IN_FLIGHT}
        check(all(p <= IN_FLIGHT_MAX for p in busy.values()),
              "the tables of work in flight peaked at %d entries at most: %s"
              % (IN_FLIGHT_MAX, ", ".join("%s %d" % kv for kv in sorted(busy.items()))))

    if failures:
        say("FAILED: %d check(s):" % len(failures))
        for f in failures:
            say("  - " + f)
        tail = sc.stderr().splitlines()[-10:]
        say("scooby-bpf stderr (last lines):\n    " + "\n    ".join(tail))
        return 1
    say("PASSED (%d s, %d requests%s)" % (args.seconds, served,
                                         ", the injected leak caught" if args.expect_leak
                                         else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
