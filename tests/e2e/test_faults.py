"""Faults (issue 7, item 1), each with real processes:

- Redis killed (SIGKILL) mid-run and restarted on the same socket: what was made while
  it was down is held and delivered, by the same scooby-bpf process (no restart); with
  --buffer 3 and 10 requests while down, exactly the newest 3 arrive and the exit line
  counts the 7 others as dropped.
- A gunicorn worker SIGKILLed in the middle of a request: the request's state goes with
  the process (published at once as incomplete, not held until --request-timeout).
  That re-spawned workers are traced is test_sqlite.py's test_respawned_worker_is_traced;
  the target exiting (flush, exit 0) is test_lifecycle.py's TargetExit.
- scooby-bpf itself SIGKILLed: no program, link, map, perf event or uprobe_events line of
  it remains, and the target's responses are byte for byte what they were before attach,
  while attached, across the kill and after it.
- Two scooby-bpf instances on one target at once: both publish every request (each to
  its own Redis) with the same content, and both exit lines account for all of them.
"""
import http.client
import os
import signal
import threading
import time

import harness
from harness import (DJAPP, SQ_COUNT, SQ_EXISTS, SQ_GET, SQ_LIST, SQ_LIST5, SQ_PRAGMA, E2ECase,
                     Records, RedisServer, Scooby, exit_summary, short, texts, wait_for)

SQL_BEFORE_SLEEP = "SELECT 'hangapp-before-sleep'"

# What each djapp endpoint gives SQLite (tests/apps/djapp/app/views.py).
EXPECTED = {
    "/items/": [SQ_PRAGMA, SQ_COUNT, SQ_LIST, SQ_EXISTS],
    "/item/3/": [SQ_PRAGMA, SQ_GET],
    "/nplus1/": [SQ_PRAGMA, SQ_LIST5] + [SQ_GET] * 5,
    "/noquery/": [],
}


def setUpModule():
    harness.require_root_bpf()


def endpoint(path):
    """The djapp endpoint of a tagged path."""
    return path.split("?", 1)[0]


class RedisOutage(E2ECase):
    """One gunicorn (1 sync worker); each test has its own Redis socket and scooby-bpf."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("faults-redis")
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=1)
        cls.port = cls.gun.port
        harness.http_request(cls.port, "/items/")

    def start_redis_on(self, sock):
        srv = RedisServer(self.tmp, sock)
        self.addCleanup(srv.stop)
        srv.start()
        records = Records(srv.client())
        self.addCleanup(records.close)
        return srv, records

    def kill_redis(self, srv):
        srv.proc.stop(signal.SIGKILL, 5)
        self.assertFalse(srv.proc.alive())

    def new_scooby(self, url, args=()):
        sc = Scooby(self.tmp, self.gun.pid, url, args=args)
        self.addCleanup(sc.stop, signal.SIGKILL)
        sc.wait_attached()
        return sc

    def request_while_down(self, sc, path):
        """One request; waits for its record in the --json file (it exists, Redis or not)."""
        sent, status, _ = self.get(path)
        self.assertEqual(status, 200)
        wait_for(lambda: [r for r in sc.json_records() if r["request"]["path"] == sent], 10,
                 "the --json record of %s while Redis is down" % sent)
        return sent

    def assertOutagesReported(self, sc, n):
        """One warning per outage, and one line when Redis is back (ruling 10)."""
        lines = sc.stderr().splitlines()
        down = [l for l in lines if l.startswith("scooby-bpf: warning: redis ")
                and "unreachable" in l]
        back = [l for l in lines if l.startswith("scooby-bpf: redis ") and "reachable again" in l]
        self.assertEqual((len(down), len(back)), (n, n), sc.stderr())

    def assertPathsExactly(self, records, expected, what):
        """Redis holds one record per expected path and no other (waits for them)."""
        records.wait(lambda r: r["request"]["path"] in expected, what, timeout=20,
                     count=len(expected))
        got = sorted(r["request"]["path"] for r in records.refresh())
        self.assertEqual(got, sorted(expected), what)
        for rec in records.refresh():
            harness.check_record(self, rec)
            self.assertEqual(texts(rec), EXPECTED[endpoint(rec["request"]["path"])], short(rec))

    def test_records_made_while_down_are_delivered_after_restart(self):
        sock = os.path.join(self.tmp, "redis-held.sock")
        srv, records = self.start_redis_on(sock)
        sc = self.new_scooby(srv.url)
        first, status, _ = self.get("/item/3/")
        self.assertEqual(status, 200)
        records.by_path(first)
        sent = [first]

        for cycle in (1, 2):
            self.kill_redis(srv)
            down = [self.request_while_down(sc, "/item/3/" if i % 2 else "/items/")
                    for i in range(5 if cycle == 1 else 3)]
            sent += down
            self.assertIsNone(sc.proc.poll(), "scooby-bpf exited while Redis was down:\n"
                              + sc.stderr())
            srv, records = self.start_redis_on(sock)  # a new, empty Redis on the same socket
            # Nothing is requested after the restart: the held records go out by themselves.
            self.assertPathsExactly(records, down, "the %d records made while Redis was down "
                                    "(outage %d)" % (len(down), cycle))
            after, status, _ = self.get("/nplus1/")
            self.assertEqual(status, 200)
            sent.append(after)
            self.assertPathsExactly(records, down + [after],
                                    "outage %d's records and one made after the restart" % cycle)

        self.assertEqual(sc.stop(), 0, sc.stderr())
        self.assertEqual(len(sc.attached_lines()), 1, sc.stderr())
        self.assertOutagesReported(sc, 2)
        n = len(sent)  # 1 + (5 + 1) + (3 + 1)
        self.assertEqual(exit_summary(sc.stderr()),
                         {"records": n, "published": n, "dropped": 0, "unsent": 0, "lost": 0,
                          "lost_query_ends": 0}, sc.stderr())

    def test_buffer_3_keeps_the_newest_3_and_counts_7_dropped(self):
        sock = os.path.join(self.tmp, "redis-buffer3.sock")
        srv, records = self.start_redis_on(sock)
        sc = self.new_scooby(srv.url, ["--buffer", "3"])
        first, status, _ = self.get("/item/3/")
        self.assertEqual(status, 200)
        records.by_path(first)

        self.kill_redis(srv)
        down = [self.request_while_down(sc, "/item/3/") for _ in range(10)]
        srv, records = self.start_redis_on(sock)
        self.assertPathsExactly(records, down[-3:], "the newest 3 of the 10 records made "
                                "while Redis was down (--buffer 3)")
        after, status, _ = self.get("/items/")
        self.assertEqual(status, 200)
        self.assertPathsExactly(records, down[-3:] + [after],
                                "the newest 3 and the record made after the restart")

        self.assertEqual(sc.stop(), 0, sc.stderr())
        self.assertEqual(len(sc.attached_lines()), 1, sc.stderr())
        self.assertOutagesReported(sc, 1)
        self.assertEqual(exit_summary(sc.stderr()),
                         {"records": 12, "published": 5, "dropped": 7, "unsent": 0, "lost": 0,
                          "lost_query_ends": 0}, sc.stderr())


class WorkerKilledMidRequest(E2ECase):
    """gunicorn -w 2 serving tests/apps/hangapp.py; scooby-bpf with the default
    --request-timeout (60 s). A worker SIGKILLed while it serves /sleep/30: its open
    request is published as incomplete as soon as the process is gone (state freed
    with the process), long before the timeout would evict it."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("faults-worker")
        cls.state = os.path.join(tmp, "state")
        os.mkdir(cls.state)
        cls.start_redis()
        cls.gun = harness.Gunicorn(tmp, "hangapp:application", harness.APPS,
                                   {"HANGAPP_STATE": cls.state}, workers=2)
        cls.addClassCleanup(cls.gun.stop)
        cls.gun.start(ready_path="/noquery")
        cls.port = cls.gun.port
        cls.attach(cls.gun.pid)

    def test_killed_workers_open_request_is_published_incomplete_at_once(self):
        tag = harness.nonce()
        path = "/sleep/30?t=" + tag
        outcome = {}

        def client():
            try:
                outcome["resp"] = harness.http_request(self.port, path, timeout=40)
            except (OSError, http.client.HTTPException) as exc:
                outcome["error"] = exc
        t = threading.Thread(target=client, daemon=True)
        t.start()
        marker = os.path.join(self.state, tag)
        wait_for(lambda: os.path.exists(marker), 10, "the worker to start sleeping on " + path)
        with open(marker) as f:
            pid, tid = (int(x) for x in f.read().split())
        self.assertIn(pid, self.gun.workers_pids())

        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        rec = self.records.by_path(path, timeout=10)
        elapsed = time.monotonic() - t0
        t.join(10)
        self.assertNotIn("resp", outcome, "the client got a response from a killed worker")
        req = rec["request"]
        self.assertIs(req["incomplete"], True, short(rec))
        self.assertIsNone(req["status"], short(rec))
        self.assertEqual((req["pid"], req["tid"]), (pid, tid), short(rec))
        self.assertEqual(texts(rec), [SQL_BEFORE_SLEEP], short(rec))
        self.assertLess(elapsed, 30, "published %.1fs after the kill: held until a timeout, "
                        "not freed with the process" % elapsed)
        harness.log("killed worker's request published %.2fs after the kill" % elapsed)

        # gunicorn re-spawns the worker; the target keeps serving, traced.
        wait_for(lambda: len([p for p in self.gun.workers_pids() if p != pid]) == 2, 30,
                 "gunicorn to re-spawn the killed worker")
        sent, status, _ = self.get("/query")
        self.assertEqual(status, 200)
        after = self.records.by_path(sent)
        self.assertIs(after["request"]["incomplete"], False, short(after))
        self.assertEqual(texts(after), ["SELECT 'hangapp-query'"], short(after))
        self.assertEqual(len(self.records.wait(lambda r: r["request"]["path"] == path,
                                               path)), 1)


class ScoobyKilled(E2ECase):
    """scooby-bpf SIGKILLed while it traces a gunicorn (1 sync worker) under load."""

    PATHS = ["/items/", "/item/3/", "/item/99/", "/nplus1/", "/fail/", "/noquery/"]

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("faults-sigkill")
        cls.start_redis()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=1)
        cls.port = cls.gun.port

    def fetch(self, path):
        req = ("GET %s HTTP/1.0\r\nHost: scooby-test\r\n\r\n" % path).encode()
        return harness.without_date(harness.raw_http(self.port, req))

    def fetch_all(self):
        return {p: self.fetch(p) for p in self.PATHS}

    def test_sigkill_leaves_nothing_and_the_target_unharmed(self):
        workers = self.gun.workers_pids()
        uprobe_events_before = harness.uprobe_events()
        before = self.fetch_all()
        for p, resp in before.items():
            self.assertTrue(resp.startswith(b"HTTP/1."), "%s: %r" % (p, resp[:200]))
        self.assertIn(b" 404 ", before["/item/99/"].split(b"\r\n", 1)[0])
        self.assertIn(b" 500 ", before["/fail/"].split(b"\r\n", 1)[0])

        sc = Scooby(self.tmp, self.gun.pid, self.redis.url)
        self.addCleanup(sc.stop, signal.SIGKILL)
        sc.wait_attached()
        during = self.fetch_all()
        self.assertEqual(during, before, "responses differ while scooby-bpf is attached")
        for p in self.PATHS:  # it really traced them
            self.records.wait(lambda r, p=p: r["request"]["path"] == p, p)
        objs = harness.bpf_objects(sc.pid)
        perf = harness.perf_events_of(sc.pid)
        self.assertTrue(objs["progs"] and objs["maps"], "no BPF fds in scooby-bpf: %s" % objs)
        self.assertTrue(perf or objs["links"], "no attachments held by scooby-bpf")
        self.assertTrue([e for e in perf if e.get("fd_type") in ("uprobe", "uretprobe")],
                        "no uprobe among scooby-bpf's perf events: %s" % perf)
        self.assertEqual(harness.uprobe_events(), uprobe_events_before,
                         "scooby-bpf created tracefs uprobe_events entries")

        # Load across the kill: one request after another, each compared.
        stop = threading.Event()
        seen = []  # (time the response completed, response or exception)

        def hammer():
            while not stop.is_set():
                try:
                    got = self.fetch("/item/3/")
                except OSError as exc:
                    got = exc
                seen.append((time.monotonic(), got))
        t = threading.Thread(target=hammer, daemon=True)
        t.start()
        wait_for(lambda: len(seen) >= 20, 20, "20 requests under load before the kill")
        os.kill(sc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        self.assertEqual(sc.proc.wait(10), -signal.SIGKILL)
        harness.log("SIGKILLed scooby-bpf reaped %.2fs after the kill"
                    % (time.monotonic() - killed_at))
        wait_for(lambda: len([s for s in seen if s[0] > killed_at + 0.2]) >= 20, 20,
                 "20 requests under load after the kill")
        stop.set()
        t.join(30)
        bad = [(round(ts - killed_at, 3), got) for ts, got in seen
               if got != before["/item/3/"]]
        self.assertEqual(bad, [], "responses under load that differ from the one before "
                         "attach (time relative to the kill, response)")
        harness.log("%d requests under load, %d after the SIGKILL, all identical"
                    % (len(seen), len([s for s in seen if s[0] > killed_at])))

        after = self.fetch_all()
        self.assertEqual(after, before, "responses differ after scooby-bpf was SIGKILLed")
        self.assertEqual(self.gun.workers_pids(), workers, "the worker changed")
        self.assertTrue(self.gun.proc.alive())

        # The kernel releases programs, links and maps asynchronously once the last fd
        # is gone (RCU, deferred perf-event teardown): allow it a moment.
        empty = {"progs": [], "links": [], "maps": [], "perf": []}
        left = harness.bpf_leftovers(sc.pid, objs)
        deadline = time.monotonic() + 10
        while left != empty and time.monotonic() < deadline:
            time.sleep(0.2)
            left = harness.bpf_leftovers(sc.pid, objs)
        self.assertEqual(left, empty, "BPF objects of the SIGKILLed scooby-bpf still there "
                         "10s later")
        self.assertEqual(harness.uprobe_events(), uprobe_events_before,
                         "uprobe_events changed")


class TwoInstances(E2ECase):
    """Two scooby-bpf processes attached to one gunicorn (2 sync workers) at once,
    each publishing to its own Redis."""

    N = 24

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("faults-two")
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=2)
        cls.port = cls.gun.port
        for _ in range(4):
            harness.http_request(cls.port, "/items/")

    def test_both_publish_every_request(self):
        sides = []
        for name in ("a", "b"):
            srv = RedisServer(self.tmp, os.path.join(self.tmp, "redis-%s.sock" % name))
            self.addCleanup(srv.stop)
            srv.start()
            records = Records(srv.client())
            self.addCleanup(records.close)
            sc = Scooby(self.tmp, self.gun.pid, srv.url)
            self.addCleanup(sc.stop, signal.SIGKILL)
            sides.append((sc, records))
        for sc, _ in sides:
            sc.wait_attached()

        endpoints = list(EXPECTED)
        sent = []
        for i in range(self.N):
            path, status, _ = self.get(endpoints[i % len(endpoints)])
            self.assertEqual(status, 200)
            sent.append(path)

        got = []
        for sc, records in sides:
            records.wait(lambda r: r["request"]["path"] in sent, "all %d requests" % self.N,
                         count=self.N)
            recs = {r["request"]["path"]: r for r in records.refresh()}
            self.assertEqual(len(records.refresh()), self.N, "records beyond the requests")
            self.assertEqual(sorted(recs), sorted(sent))
            for path, rec in recs.items():
                harness.check_record(self, rec)
                self.assertEqual(rec["request"]["status"], 200, short(rec))
                self.assertEqual(texts(rec), EXPECTED[endpoint(path)], short(rec))
            got.append(recs)
        a, b = got
        for path in sent:
            ra, rb = a[path]["request"], b[path]["request"]
            self.assertEqual((ra["pid"], ra["tid"], ra["status"]), (rb["pid"], rb["tid"],
                                                                     rb["status"]), path)
            self.assertNotEqual(a[path]["uuid"], b[path]["uuid"], path)
            self.assertAlmostEqual(ra["start_unix_ms"], rb["start_unix_ms"], delta=1.0)

        for sc, _ in sides:
            self.assertEqual(sc.stop(), 0, sc.stderr())
            self.assertEqual(exit_summary(sc.stderr()),
                             {"records": self.N, "published": self.N, "dropped": 0,
                              "unsent": 0, "lost": 0, "lost_query_ends": 0}, sc.stderr())
