"""API tests of the viewer, `scooby-bpf serve`: every endpoint against a real
redis-server, records stored as scooby-bpf stores them (SET + ZADD + PUBLISH),
bad uuids (400/404, never 500), the token (401), read-only and CORS-closed,
Redis down (503) and back, and one class against records captured for real.

Only the last class needs root and BPF (it attaches scooby-bpf to the Django
app); the others need redis-server and the binary, and fail when those are
missing.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse
import uuid as uuidlib

import harness
from harness import DJAPP, E2ECase, Proc, RedisServer, SCOOBY_BPF, free_port, wait_for

SQ_GET = 'SELECT "app_item"."id", "app_item"."name" FROM "app_item" WHERE "app_item"."id" = ? LIMIT 21'


def setUpModule():
    missing = [p for p in (SCOOBY_BPF, harness.REDIS_SERVER)
               if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    if missing:
        raise RuntimeError("viewer API tests need %s (build with `make`; install-deps.sh)"
                           % ", ".join(missing))


def iso(ms):
    t = time.gmtime(ms / 1000.0)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%06dZ" % int(round((ms % 1000) * 1000))


def make_record(path="/x/", status=200, start=None, duration=5.0, queries=(), groups=None,
                method="GET", extra_plugins=None):
    """A record in docs/FORMAT.md's shape; queries are (text, offset_ms, time_ms[, extra])."""
    start = start if start is not None else time.time() * 1000.0
    qs = []
    for q in queries:
        text, off, took = q[0], q[1], q[2]
        item = {"db": "sqlite", "query": text, "start": iso(start + off),
                "end": iso(start + off + took), "start_offset_ms": off, "time_taken": took,
                "error": None, "truncated": False, "tid": 7, "stack": []}
        if len(q) > 3:
            item.update(q[3])
        qs.append(item)
    sql = {"count": len(qs), "omitted": 0, "total_time": round(sum(q["time_taken"] for q in qs), 3),
           "queries": qs}
    if groups is not None:
        sql["groups"] = groups
    plugins = {"ProcessTime": {"start": iso(start), "end": iso(start + duration),
                               "process_time": duration}, "SQL": sql}
    plugins.update(extra_plugins or {})
    return {"uuid": uuidlib.uuid4().hex, "version": 1,
            "request": {"method": method, "path": path, "status": status,
                        "start_unix_ms": start, "duration_ms": duration, "pid": 4242, "tid": 7,
                        "comm": "test", "host": "127.0.0.1", "request_id": None,
                        "incomplete": False},
            "plugins_data": plugins, "lost_events": 0}


def frame(filename, lineno, function):
    return {"filename": filename, "lineno": lineno, "function": function}


def kv_entry(start, off, took, error=None, via="wire", stack=()):
    """The members every Redis/Memcache entry has (docs/FORMAT.md), after its own."""
    return {"start": iso(start + off), "end": iso(start + off + took), "start_offset_ms": off,
            "time_taken": took, "error": error, "truncated": False, "tid": 7, "via": via,
            "stack": list(stack), "stack_truncated": False, "stack_partial": False}


def store_plugins(start):
    """Redis (an error, a 3-command pipeline), Memcache (an error) and CustomLog, as recorded."""
    app = frame("/srv/shop/cart.py", 17, "add_item")
    lib = frame("/usr/lib/python3/dist-packages/redis/client.py", 585, "Redis.execute_command")

    def redis_cmd(command, key, args, off, took, error=None):
        e = {"command": command, "key": key, "args": args, "args_truncated": False,
             "query": " ".join([command] + ([key] if key is not None else []) + args)}
        e.update(kv_entry(start, off, took, error, stack=[lib, app]))
        return e

    def mc(func, arg, off, took, error=None, via="library"):
        e = {"func_name": func, "arg": arg, "query": func + " " + arg}
        e.update(kv_entry(start, off, took, error, via, [app]))
        return e

    redis = [redis_cmd("GET", "cart:1", [], 0.5, 0.25),
             redis_cmd("INCR", "cart:1", [], 1.0, 0.125,
                       "ERR value is not an integer or out of range"),
             redis_cmd("SET", "a", ["1"], 2.0, 0.5), redis_cmd("SET", "b", ["2"], 2.0, 0.5),
             redis_cmd("PING", None, [], 2.0, 0.5)]
    memcache = [mc("get", "user:7", 3.0, 0.25, via="wire"),
                mc("set", "user:7", 3.5, 0.5, "SERVER_ERROR out of memory")]
    logs = [{"s": "cart <b>updated</b>", "stream": "stderr", "time": iso(start + 4),
             "start_offset_ms": 4.0, "truncated": False, "tid": 7, "stack": [app],
             "stack_truncated": False, "stack_partial": False}]
    return {"Redis": {"count": 6, "omitted": 1, "total_time": 2.375, "queries": redis},
            "Memcache": {"count": 2, "omitted": 0, "total_time": 0.75, "queries": memcache},
            "CustomLog": {"count": 1, "omitted": 0, "logs": logs}}


def store(client, recs, publish=True, score=None):
    """Stores records as scooby-bpf does: the batch's SETs, one ZADD, then a PUBLISH each."""
    pipe = client.pipeline(transaction=False)
    for rec in recs:
        pipe.set("scooby:req:" + rec["uuid"], json.dumps(rec), ex=600)
    if recs:
        pipe.zadd("scooby:requests", {rec["uuid"]: int(score if score is not None
                                                       else rec["request"]["start_unix_ms"])
                                      for rec in recs})
    if publish:
        for rec in recs:
            pipe.publish("scooby:live", rec["uuid"])
    pipe.execute()


class Viewer:
    """`scooby-bpf serve` on 127.0.0.1:<free port> (or listen)."""

    count = 0

    def __init__(self, tmp, redis_url, args=(), listen=None):
        Viewer.count += 1
        self.port = free_port()
        self.listen = listen or "127.0.0.1:%d" % self.port
        self.argv = [SCOOBY_BPF, "serve", "--redis", redis_url, "--listen", self.listen] + list(args)
        self.proc = Proc("serve-%d" % Viewer.count, self.argv, tmp)

    def start(self):
        def up():
            if not self.proc.alive():
                raise AssertionError("scooby-bpf serve exited (rc %s):\n%s"
                                     % (self.proc.poll(), self.proc.output()))
            return "scooby-bpf: serving http://" in self.proc.output()
        wait_for(up, 15, "the viewer's 'serving' line")
        return self

    def request(self, path, method="GET", headers=None, body=None):
        """(status, body bytes, headers with lowercase names)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()

    def json(self, path, headers=None):
        status, data, hdrs = self.request(path, headers=headers)
        assert hdrs.get("content-type", "").startswith("application/json"), (path, hdrs)
        return status, json.loads(data)

    def stop(self):
        rc = self.proc.stop(signal.SIGTERM, 10)
        return rc


class SSE:
    """A reader of /api/live: events as (event name, data)."""

    def __init__(self, port, path="/api/live", headers=None, timeout=15):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()

    def next(self):
        name, data = "message", []
        while True:
            line = self.resp.readline()
            if not line:
                raise AssertionError("the stream ended")
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data or name != "message":
                    return name, "\n".join(data)
                continue
            if line.startswith(":"):
                return "comment", line[1:].strip()
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)

    def until(self, pred, what, limit=50):
        seen = []
        for _ in range(limit):
            ev = self.next()
            if pred(ev):
                return ev
            seen.append(ev)
        raise AssertionError("no %s in %r" % (what, seen))

    def close(self):
        self.conn.close()


class ViewerCase(E2ECase):
    """A redis-server and a viewer per class."""

    viewer_args = ()

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("viewer")
        cls.start_redis()
        cls.r = cls.records.r
        cls.viewer = cls.start_viewer(cls.viewer_args)

    @classmethod
    def start_viewer(cls, args=(), listen=None):
        v = Viewer(cls.tmp, cls.redis.url, args, listen)
        cls.addClassCleanup(v.stop)
        return v.start()


class ViewerAPI(ViewerCase):
    viewer_args = ("--slow-ms", "250")

    def setUp(self):
        self.r.flushdb()

    def test_list_newest_first_with_summaries(self):
        now = time.time() * 1000.0
        recs = [make_record(path="/a/%d" % i, start=now + i, duration=i + 0.5,
                            queries=[("SELECT 1", 0.1, 0.2), ("SELECT 2", 0.4, 0.3, {"error": "boom"})])
                for i in range(5)]
        store(self.r, recs)
        status, body = self.viewer.json("/api/requests")
        self.assertEqual(status, 200)
        self.assertEqual([s["uuid"] for s in body["items"]], [r["uuid"] for r in reversed(recs)])
        self.assertIsNone(body["next_before"])
        s = body["items"][0]
        rec = recs[-1]
        # cJSON prints 15 significant digits when they read back as (nearly) the same double
        self.assertAlmostEqual(s.pop("start_unix_ms"), rec["request"]["start_unix_ms"], delta=0.001)
        self.assertEqual(s, {"uuid": rec["uuid"], "method": "GET", "path": "/a/4", "status": 200,
                             "duration_ms": 4.5,
                             "query_count": 2, "db_time_ms": 0.5, "n_plus_one": 0, "errors": 1,
                             "redis_count": 0, "redis_time_ms": 0, "redis_errors": 0,
                             "memcache_count": 0, "memcache_time_ms": 0, "memcache_errors": 0,
                             "log_count": 0, "incomplete": False})
        status, body = self.viewer.json("/api/requests?limit=2")
        self.assertEqual([s["path"] for s in body["items"]], ["/a/4", "/a/3"])
        self.assertIsNotNone(body["next_before"])

    def test_summary_counts_redis_memcache_and_logs(self):
        now = time.time() * 1000.0
        rec = make_record(path="/cart/", start=now, queries=[
            ("SELECT 1", 0.1, 0.25, {"db": "mysql", "via": "wire"})],
            extra_plugins=store_plugins(now))
        store(self.r, [rec])
        status, body = self.viewer.json("/api/requests?path=%2Fcart%2F")
        self.assertEqual(status, 200)
        (s,) = body["items"]
        s.pop("start_unix_ms")
        self.assertEqual(s, {"uuid": rec["uuid"], "method": "GET", "path": "/cart/", "status": 200,
                             "duration_ms": 5.0, "query_count": 1, "db_time_ms": 0.25,
                             "n_plus_one": 0, "errors": 0,
                             "redis_count": 6, "redis_time_ms": 2.375, "redis_errors": 1,
                             "memcache_count": 2, "memcache_time_ms": 0.75, "memcache_errors": 1,
                             "log_count": 1, "incomplete": False})

    def test_paging_returns_every_record_once_across_equal_timestamps(self):
        base = time.time() * 1000.0 - 10000
        recs = [make_record(path="/p/%d" % i, start=base + i // 4) for i in range(150)]
        store(self.r, recs, publish=False)
        seen, before, pages = [], None, 0
        while True:
            q = "/api/requests?limit=7" + ("&before=%s" % before if before is not None else "")
            status, body = self.viewer.json(q)
            self.assertEqual(status, 200)
            seen += body["items"]
            pages += 1
            before = body["next_before"]
            if before is None:
                break
            self.assertLess(pages, 100)
        self.assertEqual(sorted(s["uuid"] for s in seen), sorted(r["uuid"] for r in recs))
        starts = [int(s["start_unix_ms"]) for s in seen]
        self.assertEqual(starts, sorted(starts, reverse=True))

    def test_list_filters(self):
        now = time.time() * 1000.0
        n1_groups = [{"fingerprint": "select ? from t where id = ?", "count": 3, "total_time": 1.0,
                      "call_sites": ["app/views.py:10"], "duplicates": 0, "n_plus_one": True}]
        recs = [
            make_record(path="/Items/1", status=200, start=now, duration=3),
            make_record(path="/items/2", status=404, start=now + 1, duration=50),
            make_record(path="/other/", status=500, start=now + 2, duration=120),
            make_record(path="/nplus1/", status=200, start=now + 3, duration=8, groups=n1_groups),
            make_record(path="/repeat/", status=302, start=now + 4, duration=1,
                        queries=[(SQ_GET, 0.1 * i, 0.05) for i in range(4)]),
            make_record(path=None, status=None, start=now + 5, method="background"),
        ]
        store(self.r, recs)

        def paths(q):
            status, body = self.viewer.json("/api/requests?" + q)
            self.assertEqual(status, 200, body)
            return [s["path"] for s in body["items"]]
        self.assertEqual(paths("path=items"), ["/items/2", "/Items/1"])
        self.assertEqual(paths("path=%2Fitems%2F2"), ["/items/2"])
        self.assertEqual(paths("min_ms=50"), ["/other/", "/items/2"])
        self.assertEqual(paths("status=5xx"), ["/other/"])
        self.assertEqual(paths("status=4"), ["/items/2"])
        self.assertEqual(paths("status=3xx"), ["/repeat/"])
        self.assertEqual(paths("status=none"), [None])
        self.assertEqual(paths("n_plus_one=1"), ["/repeat/", "/nplus1/"])
        self.assertEqual(paths("path=items&min_ms=10&status=4xx"), ["/items/2"])
        status, body = self.viewer.json("/api/requests?n_plus_one=1")
        self.assertEqual([s["n_plus_one"] for s in body["items"]], [1, 1])

    def test_list_bad_arguments_are_400(self):
        for q in ("limit=0", "limit=abc", "limit=1001", "limit=2.5", "before=yesterday",
                  "min_ms=-1", "min_ms=nan", "status=7xx", "status=2yy"):
            status, body = self.viewer.json("/api/requests?" + q)
            self.assertEqual(status, 400, q)
            self.assertIn("error", body)

    def test_get_returns_the_record_as_stored(self):
        rec = make_record(path="/r/\u00e9\u2713", queries=[("SELECT '\u65e5\u672c'", 0.1, 0.2)])
        store(self.r, [rec])
        status, data, hdrs = self.viewer.request("/api/requests/" + rec["uuid"])
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.assertEqual(data, self.records.raw.get("scooby:req:" + rec["uuid"]))

    def test_get_malformed_uuid_is_400(self):
        good = uuidlib.uuid4().hex
        for bad in ("", "abc", good.upper(), good + "0", good[:31], good[:31] + "g", good + "/x",
                    "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2F..%2Fetc%2Fpasswd", "%00" * 16,
                    "scooby:req:" + good[:21]):
            for prefix, suffix in (("/api/requests/", ""), ("/scooby/get-data/", "/")):
                status, body = self.viewer.json(prefix + bad + suffix)
                self.assertEqual(status, 400, prefix + bad)
                self.assertIn("uuid", body["error"])

    def test_missing_record_is_404(self):
        missing = uuidlib.uuid4().hex
        for path in ("/api/requests/" + missing, "/scooby/get-data/%s/" % missing,
                     "/scooby/get-data/%s" % missing):
            status, body = self.viewer.json(path)
            self.assertEqual(status, 404, path)
            self.assertIn(missing, body["error"])

    def test_scooby_layout_and_the_record_stays(self):
        frame = {"filename": "/srv/app/views.py", "lineno": 12, "function": "index"}
        rec = make_record(
            queries=[("SELECT a FROM t WHERE id = ?", 0.1, 0.2,
                      {"stack": [frame], "params": [3], "query_template": "SELECT a FROM t WHERE id = %s"}),
                     ("SELECT * FROM nope", 0.5, 0.1, {"error": "SQLITE_ERROR: no such table: nope"})],
            extra_plugins={"CustomLog": {"logs": [{"s": "hello", "stack": []}]}})
        store(self.r, [rec])
        status, body = self.viewer.json("/scooby/get-data/%s/" % rec["uuid"])
        self.assertEqual(status, 200)
        self.assertEqual(list(body), ["plugins_data"])
        pd = body["plugins_data"]
        self.assertEqual(pd["ViewName"], {"view_name": None, "args": [], "kwargs": {}})
        self.assertEqual(pd["ProcessTime"], rec["plugins_data"]["ProcessTime"])
        self.assertEqual(pd["CustomLog"], rec["plugins_data"]["CustomLog"])
        q0, q1 = pd["SQL"]["queries"]
        src = rec["plugins_data"]["SQL"]["queries"]
        for key in ("query", "start", "end", "time_taken", "stack"):
            self.assertEqual(q0[key], src[0][key], key)
        self.assertEqual(q0["params"], [3])
        self.assertEqual(q0["query_template"], "SELECT a FROM t WHERE id = %s")
        self.assertEqual(q1["error"], "SQLITE_ERROR: no such table: nope")
        self.assertNotIn("params", q1)
        self.assertEqual(pd["SQL"]["count"], 2)
        # read-only: Scooby's endpoint deleted the blob, this one does not
        self.assertIsNotNone(self.r.get("scooby:req:" + rec["uuid"]))
        self.assertEqual(self.viewer.json("/scooby/get-data/%s" % rec["uuid"])[0], 200)

    def test_scooby_layout_passes_redis_memcache_and_customlog(self):
        now = time.time() * 1000.0
        rec = make_record(start=now, queries=[
            ("SELECT 1", 0.1, 0.25, {"db": "mysql", "via": "wire"})],
            extra_plugins=store_plugins(now))
        store(self.r, [rec])
        stored = self.r.get("scooby:req:" + rec["uuid"])
        status, body = self.viewer.json("/scooby/get-data/%s/" % rec["uuid"])
        self.assertEqual(status, 200)
        pd = body["plugins_data"]
        self.assertEqual(sorted(pd), ["CustomLog", "Memcache", "ProcessTime", "Redis", "SQL",
                                      "ViewName"])
        for name in ("Redis", "Memcache", "CustomLog"):
            self.assertEqual(pd[name], rec["plugins_data"][name], name)
        common = ["end", "error", "stack", "stack_partial", "stack_truncated", "start",
                  "start_offset_ms", "tid", "time_taken", "truncated", "via"]
        # Scooby's Memcache plugin: func_name, arg, start, end, time_taken, stack
        m0, m1 = pd["Memcache"]["queries"]
        self.assertEqual(sorted(m1), sorted(["func_name", "arg", "query"] + common))
        self.assertEqual((m1["func_name"], m1["arg"], m1["time_taken"], m1["error"], m1["via"]),
                         ("set", "user:7", 0.5, "SERVER_ERROR out of memory", "library"))
        self.assertEqual(m0["stack"], [frame("/srv/shop/cart.py", 17, "add_item")])
        self.assertEqual((pd["Memcache"]["count"], pd["Memcache"]["total_time"]), (2, 0.75))
        # Scooby's CustomLog plugin: logs[].s and stack
        (log,) = pd["CustomLog"]["logs"]
        self.assertEqual(sorted(log), ["s", "stack", "stack_partial", "stack_truncated",
                                       "start_offset_ms", "stream", "tid", "time", "truncated"])
        self.assertEqual((log["s"], log["stream"]), ("cart <b>updated</b>", "stderr"))
        self.assertEqual(pd["CustomLog"]["count"], 1)
        # Redis in the record's form, the error and the pipeline included
        r = pd["Redis"]["queries"]
        self.assertEqual(sorted(r[1]), sorted(["command", "key", "args", "args_truncated",
                                               "query"] + common))
        self.assertEqual([q["query"] for q in r], ["GET cart:1", "INCR cart:1", "SET a 1",
                                                   "SET b 2", "PING"])
        self.assertEqual(r[1]["error"], "ERR value is not an integer or out of range")
        self.assertIsNone(r[4]["key"])
        self.assertEqual((pd["Redis"]["count"], pd["Redis"]["omitted"]), (6, 1))
        (q,) = pd["SQL"]["queries"]
        self.assertEqual((q["db"], q["via"]), ("mysql", "wire"))
        # read-only: the stored record is untouched
        self.assertEqual(self.r.get("scooby:req:" + rec["uuid"]), stored)
        self.assertEqual(self.viewer.json("/api/requests/" + rec["uuid"]), (200, rec))

    def test_scooby_layout_keeps_a_view_name(self):
        rec = make_record(extra_plugins={"ViewName": {"view_name": "app.views.items", "args": [],
                                                      "kwargs": {"id": 3}}})
        store(self.r, [rec])
        status, body = self.viewer.json("/scooby/get-data/%s/" % rec["uuid"])
        self.assertEqual(body["plugins_data"]["ViewName"]["view_name"], "app.views.items")

    def test_a_stored_value_that_is_not_a_record(self):
        bad = uuidlib.uuid4().hex
        self.r.set("scooby:req:" + bad, "{not json")
        self.r.zadd("scooby:requests", {bad: int(time.time() * 1000)})
        self.assertEqual(self.viewer.json("/scooby/get-data/%s/" % bad)[0], 502)
        status, data, _ = self.viewer.request("/api/requests/" + bad)
        self.assertEqual((status, data), (200, b"{not json"))
        status, body = self.viewer.json("/api/requests")
        self.assertEqual((status, body["items"]), (200, []))

    def test_live_stream(self):
        sse = SSE(self.viewer.port)
        try:
            self.assertEqual(sse.resp.status, 200)
            self.assertTrue(sse.resp.getheader("Content-Type").startswith("text/event-stream"))
            ev = sse.until(lambda e: e[0] == "redis", "redis state")
            self.assertEqual(json.loads(ev[1]), {"ok": True})
            recs = [make_record(path="/live/%d" % i, queries=[("SELECT 1", 0.1, 0.1)] * 3)
                    for i in range(3)]
            store(self.r, recs)
            got = []
            for _ in range(3):
                name, data = sse.until(lambda e: e[0] == "message", "a summary")
                got.append(json.loads(data))
            self.assertEqual([s["uuid"] for s in got], [r["uuid"] for r in recs])
            self.assertEqual(got[0]["path"], "/live/0")
            self.assertEqual(got[0]["query_count"], 3)
            self.assertEqual(got[0]["n_plus_one"], 1)
            # a uuid whose record is gone is not announced; the next one is
            self.r.publish("scooby:live", uuidlib.uuid4().hex)
            self.r.publish("scooby:live", "not a uuid")
            rec = make_record(path="/live/after")
            store(self.r, [rec])
            name, data = sse.until(lambda e: e[0] == "message", "a summary")
            self.assertEqual(json.loads(data)["uuid"], rec["uuid"])
            # a quiet stream sends keepalive comments
            name, data = sse.until(lambda e: e[0] == "comment", "a keepalive", limit=3)
            self.assertEqual(data, "keepalive")
        finally:
            sse.close()

    def test_read_only_and_no_cors(self):
        rec = make_record()
        store(self.r, [rec])
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            for path in ("/api/requests", "/api/requests/" + rec["uuid"],
                         "/scooby/get-data/%s/" % rec["uuid"], "/"):
                status, _, hdrs = self.viewer.request(
                    path, method, headers={"Origin": "http://evil.example",
                                           "Access-Control-Request-Method": "DELETE"}, body=b"x")
                self.assertEqual(status, 405, (method, path))
                self.assertEqual(hdrs.get("allow"), "GET, HEAD")
        self.assertIsNotNone(self.r.get("scooby:req:" + rec["uuid"]))
        for path in ("/", "/app.js", "/api/requests", "/api/requests/" + rec["uuid"], "/api/config"):
            status, _, hdrs = self.viewer.request(path, headers={"Origin": "http://evil.example"})
            self.assertEqual(status, 200, path)
            self.assertFalse([h for h in hdrs if h.startswith("access-control-")], (path, hdrs))
            self.assertEqual(hdrs["x-content-type-options"], "nosniff")
            self.assertIn("frame-ancestors 'none'", hdrs["content-security-policy"])
        status, _, _ = self.viewer.request("/api/requests", "GET", body=b"payload")
        self.assertEqual(status, 400)

    def test_page_and_assets(self):
        status, data, hdrs = self.viewer.request("/")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/html"))
        self.assertIn("script-src 'self'", hdrs["content-security-policy"])
        html = data.decode()
        for asset, ctype in (("app.js", "text/javascript"), ("request.js", "text/javascript"),
                             ("style.css", "text/css")):
            self.assertIn(asset, html)
            status, body, hdrs = self.viewer.request("/" + asset)
            self.assertEqual(status, 200, asset)
            self.assertTrue(hdrs["content-type"].startswith(ctype), hdrs)
            self.assertGreater(len(body), 500)
        self.assertNotIn(b"innerHTML", self.viewer.request("/app.js")[1])
        self.assertNotIn(b"innerHTML", self.viewer.request("/request.js")[1])
        self.assertEqual(self.viewer.request("/index.html")[0], 200)
        for path in ("/nope.js", "/static/app.js", "/../Makefile", "/api/nope", "/scooby/"):
            self.assertEqual(self.viewer.request(path)[0], 404, path)
        status, data, _ = self.viewer.request("/", "HEAD")
        self.assertEqual((status, data), (200, b""))

    def test_config(self):
        status, body = self.viewer.json("/api/config")
        self.assertEqual(status, 200)
        self.assertEqual(body["slow_ms"], 250)
        self.assertIs(body["token_required"], False)
        self.assertEqual(self.viewer.json("/api/status"), (200, {"redis": "ok"}))

    def test_host_must_be_loopback_without_token(self):
        for host in ("evil.example", "evil.example:%d" % self.viewer.port, "127.0.0.1.evil.example",
                     "[::2]:80", "localhost.evil.example"):
            status, _, _ = self.viewer.request("/api/requests", headers={"Host": host})
            self.assertEqual(status, 403, host)
        for host in ("localhost:%d" % self.viewer.port, "127.0.0.1", "[::1]:%d" % self.viewer.port,
                     "127.1.2.3:1"):
            status, _, _ = self.viewer.request("/api/requests", headers={"Host": host})
            self.assertEqual(status, 200, host)


class ViewerToken(ViewerCase):
    TOKEN = "t0ken-" + uuidlib.uuid4().hex

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rec = make_record()
        store(cls.r, [cls.rec])

    @classmethod
    def start_viewer(cls, args=(), listen=None):
        return super().start_viewer(("--token", cls.TOKEN) + tuple(args), listen)

    def paths(self):
        return ("/", "/app.js", "/api/requests", "/api/requests/" + self.rec["uuid"],
                "/scooby/get-data/%s/" % self.rec["uuid"], "/api/config", "/api/status",
                "/api/live", "/api/requests/bad-uuid", "/nope")

    def test_missing_or_wrong_token_is_401(self):
        t = self.TOKEN
        for auth in (None, "Bearer", "Bearer ", "Bearer wrong", "Bearer " + t[:-1], "Bearer " + t + "x",
                     "Basic " + t, t):
            headers = {"Authorization": auth} if auth is not None else {}
            for path in self.paths():
                status, data, hdrs = self.viewer.request(path, headers=headers)
                self.assertEqual(status, 401, (auth, path))
                self.assertEqual(json.loads(data)["error"], "missing or invalid token")
                self.assertIn("Bearer", hdrs["www-authenticate"])
        for q in ("token=", "token=wrong", "token=" + t[:-1], "tok=" + t):
            self.assertEqual(self.viewer.request("/api/requests?" + q)[0], 401, q)

    def test_bearer_header_or_query_token(self):
        for path in ("/", "/api/requests", "/api/requests/" + self.rec["uuid"],
                     "/scooby/get-data/%s/" % self.rec["uuid"]):
            status, _, _ = self.viewer.request(path, headers={"Authorization": "Bearer " + self.TOKEN})
            self.assertEqual(status, 200, path)
            sep = "&" if "?" in path else "?"
            self.assertEqual(self.viewer.request(path + sep + "token=" + self.TOKEN)[0], 200, path)
        # the page opened with ?token= loads its scripts and styles with it
        status, html, _ = self.viewer.request("/?token=" + self.TOKEN)
        for asset in ("app.js", "request.js", "style.css"):
            self.assertIn(('"%s?token=%s"' % (asset, self.TOKEN)).encode(), html)
        status, body = self.viewer.json("/api/config?token=" + self.TOKEN)
        self.assertIs(body["token_required"], True)
        # with a token, the Host header is not restricted
        status, _, _ = self.viewer.request("/api/requests?token=" + self.TOKEN,
                                           headers={"Host": "viewer.example"})
        self.assertEqual(status, 200)
        sse = SSE(self.viewer.port, "/api/live?token=" + self.TOKEN)
        try:
            self.assertEqual(sse.resp.status, 200)
            sse.until(lambda e: e[0] == "redis", "redis state")
        finally:
            sse.close()

    def test_non_loopback_listen_needs_a_token(self):
        port = free_port()
        r = subprocess.run([SCOOBY_BPF, "serve", "--redis", self.redis.url, "--listen",
                            "0.0.0.0:%d" % port], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20,
                           env=dict(os.environ, SCOOBY_VIEWER_TOKEN=""))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--token", r.stderr)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0)
        v = self.start_viewer(listen="0.0.0.0:%d" % port)
        v.port = port
        self.assertEqual(v.request("/api/requests")[0], 401)
        self.assertEqual(v.request("/api/requests?token=" + self.TOKEN)[0], 200)

    def test_bad_invocations(self):
        for args in (["--listen", "127.0.0.1:99999"], ["--listen", "nowhere.invalid:80"],
                     ["--redis", "foo://x"], ["--slow-ms", "-3"], ["--bogus"], ["extra"]):
            r = subprocess.run([SCOOBY_BPF, "serve"] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, (args, r.stderr))
        r = subprocess.run([SCOOBY_BPF, "serve", "--help"], stdout=subprocess.PIPE, timeout=20)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"--token", r.stdout)


class ViewerRedisDown(E2ECase):
    """Redis going away and coming back under a running viewer."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("viewer-down")
        cls.sock = os.path.join(cls.tmp, "redis.sock")

    def start_redis_here(self):
        srv = RedisServer(self.tmp, self.sock)
        self.addCleanup(srv.stop)
        return srv.start()

    def test_503_while_redis_is_down_and_recovery(self):
        srv = self.start_redis_here()
        client = srv.client()
        self.addCleanup(client.close)
        rec = make_record()
        store(client, [rec])
        v = Viewer(self.tmp, srv.url)
        self.addCleanup(v.stop)
        v.start()
        sse = SSE(v.port)
        self.addCleanup(sse.close)
        self.assertEqual(json.loads(sse.until(lambda e: e[0] == "redis", "redis up")[1]), {"ok": True})
        client.close()
        srv.stop()
        for path in ("/api/requests", "/api/requests/" + rec["uuid"],
                     "/scooby/get-data/%s/" % rec["uuid"], "/api/status"):
            status, body = v.json(path)
            self.assertEqual(status, 503, path)
            self.assertIn("redis", body["error"])
        self.assertEqual(v.json("/api/requests/nope")[0], 400)
        self.assertEqual(v.request("/")[0], 200)
        ev = sse.until(lambda e: e[0] == "redis", "redis down")
        self.assertIs(json.loads(ev[1])["ok"], False)
        srv = self.start_redis_here()
        ev = sse.until(lambda e: e[0] == "redis", "redis up again")
        self.assertEqual(json.loads(ev[1]), {"ok": True})
        self.assertEqual(v.json("/api/status"), (200, {"redis": "ok"}))
        client = srv.client()
        self.addCleanup(client.close)
        rec = make_record(path="/after/")
        store(client, [rec])
        self.assertEqual(json.loads(sse.until(lambda e: e[0] == "message", "a summary")[1])["uuid"],
                         rec["uuid"])
        self.assertEqual(v.json("/api/requests")[1]["items"][0]["uuid"], rec["uuid"])

    def test_starts_without_redis(self):
        v = Viewer(self.tmp, "unix://" + os.path.join(self.tmp, "none.sock"))
        self.addCleanup(v.stop)
        v.start()
        status, body = v.json("/api/requests")
        self.assertEqual(status, 503)
        self.assertEqual(v.request("/")[0], 200)
        sse = SSE(v.port)
        self.addCleanup(sse.close)
        self.assertIs(json.loads(sse.until(lambda e: e[0] == "redis", "redis state")[1])["ok"], False)
        self.assertEqual(v.stop(), 0)


class ViewerRealRecords(E2ECase):
    """The viewer over records scooby-bpf captured from the Django app (root + BPF)."""

    @classmethod
    def setUpClass(cls):
        harness.require_root_bpf()
        tmp = cls.make_tmp("viewer-real")
        cls.start_redis()
        env = harness.django_env(harness.sqlite_env(tmp))
        harness.django_prepare(tmp, harness.sqlite_env(tmp))
        app = cls.start_gunicorn("djapp.wsgi:application", DJAPP, env, workers=1)
        cls.port = app.port
        cls.jsonl = os.path.join(tmp, "records.jsonl")
        cls.attach(app.pid, args=("--json", cls.jsonl))
        cls.viewer = Viewer(tmp, cls.redis.url)
        cls.addClassCleanup(cls.viewer.stop)
        cls.viewer.start()

    def test_n_plus_one_request(self):
        sent, status, _ = self.get("/nplus1/")
        self.assertEqual(status, 200)
        rec = self.record_for(sent, 200)
        status, body = self.viewer.json("/api/requests?path=" + urllib.parse.quote(sent, safe=""))
        self.assertEqual(status, 200)
        (summary,) = body["items"]
        self.assertEqual(summary["uuid"], rec["uuid"])
        self.assertEqual(summary["query_count"], rec["plugins_data"]["SQL"]["count"])
        self.assertGreaterEqual(summary["query_count"], 6)
        self.assertGreaterEqual(summary["n_plus_one"], 1)
        self.assertEqual(self.viewer.json("/api/requests/" + rec["uuid"])[1], rec)
        status, layout = self.viewer.json("/scooby/get-data/%s/" % rec["uuid"])
        self.assertEqual(status, 200)
        queries = layout["plugins_data"]["SQL"]["queries"]
        self.assertEqual([q["query"] for q in queries],
                         [q["query"] for q in rec["plugins_data"]["SQL"]["queries"]])
        self.assertEqual(sum(1 for q in queries if q["query"] == SQ_GET), 5)
        for q in queries:
            self.assertTrue({"query", "start", "end", "time_taken", "stack"} <= set(q), q)
        self.assertEqual(self.viewer.json("/api/requests/" + rec["uuid"])[0], 200)

    def test_stored_form_reads_back_as_the_file_has_it(self):
        """Redis holds each distinct frame once (the stored form); the API gives back, byte
        for byte, the full form that --json wrote, and Scooby's layout its stacks."""
        sent, status, _ = self.get("/nplus1/")
        self.assertEqual(status, 200)
        rec = self.record_for(sent, 200)
        full = jsonl_line(self.jsonl, rec["uuid"])
        self.assertEqual(json.loads(full), rec)
        stored = self.records.raw.get("scooby:req:" + rec["uuid"])
        table = json.loads(stored)["frames"]
        stacks = [q["stack"] for q in rec["plugins_data"]["SQL"]["queries"]]
        self.assertEqual(len(table), len({json.dumps(f) for s in stacks for f in s}))
        self.assertGreater(sum(map(len, stacks)), 2 * len(table))  # the N+1 loop's repeat
        self.assertLess(len(stored) * 2, len(full))
        self.assertEqual(harness.full_form(json.loads(stored)), rec)
        status, data, _ = self.viewer.request("/api/requests/" + rec["uuid"])
        self.assertEqual((status, data), (200, full))
        status, layout = self.viewer.json("/scooby/get-data/%s/" % rec["uuid"])
        self.assertEqual(status, 200)
        self.assertEqual([q["stack"] for q in layout["plugins_data"]["SQL"]["queries"]], stacks)

    def test_a_malformed_frame_table_is_502(self):
        rec = make_record(queries=[("SELECT 1", 0.1, 0.2)])
        rec["frames"] = [frame("/srv/app.py", 3, "view")]
        rec["plugins_data"]["SQL"]["queries"][0]["stack"] = [0, 1]
        store(self.records.r, [rec])
        status, body = self.viewer.json("/api/requests/" + rec["uuid"])
        self.assertEqual(status, 502)
        self.assertIn("could not be read back in full", body["error"])
        self.assertEqual(self.viewer.json("/scooby/get-data/%s/" % rec["uuid"])[0], 502)


class ViewerProfileRecords(E2ECase):
    """A profiled record as Redis holds it, read back by the viewer (root + BPF)."""

    @classmethod
    def setUpClass(cls):
        harness.require_root_bpf()
        tmp = cls.make_tmp("viewer-prof")
        cls.start_redis()
        app, cls.port = harness.profapp_start(tmp)
        cls.addClassCleanup(app.stop, signal.SIGTERM, 10)
        cls.jsonl = os.path.join(tmp, "records.jsonl")
        cls.attach(app.pid, args=("--profile", "--json", cls.jsonl))
        cls.viewer = Viewer(tmp, cls.redis.url)
        cls.addClassCleanup(cls.viewer.stop)
        cls.viewer.start()

    def test_stored_profile_reads_back_as_the_file_has_it(self):
        """The profile's top entries and folded stacks name the record's frames in Redis;
        the API gives back, byte for byte, the full form that --json wrote."""
        sent, status, _ = self.get("/?work=a&ms=60")
        self.assertEqual(status, 200)
        rec = self.record_for(sent, 200)
        prof = harness.profile_of(rec)
        self.assertGreater(prof["samples"], 0, prof)
        full = jsonl_line(self.jsonl, rec["uuid"])
        self.assertEqual(json.loads(full), rec)
        stored = json.loads(self.records.raw.get("scooby:req:" + rec["uuid"]))
        sprof = stored["plugins_data"]["Profile"]
        # every entry of Python frames is a reference: spin_a's stack has no other kind
        self.assertEqual([set(e) for e in sprof["top_self"]],
                         [{"frame", "samples"}] * len(prof["top_self"]))
        on_cpu = [e for e in sprof["folded"] if e.get("stack") not in ("[off-CPU]", "[other]")]
        self.assertEqual([set(e) for e in on_cpu], [{"fold", "samples"}] * len(on_cpu))
        self.assertGreater(len(on_cpu), 0)
        self.assertEqual(harness.full_form(stored), rec)
        status, data, _ = self.viewer.request("/api/requests/" + rec["uuid"])
        self.assertEqual((status, data), (200, full))
        self.assertEqual(documented_expand(self.records.raw, rec["uuid"]), rec)


def jsonl_line(path, uuid):
    """The one line of --json file path that holds record uuid, as written (bytes)."""
    def line():
        with open(path, "rb") as f:
            got = [l.rstrip(b"\n") for l in f if uuid.encode() in l]
        return got or None
    (full,) = harness.wait_for(line, 10, "the record's --json line")
    return full


def documented_expand(client, uuid):
    """The record as docs/FORMAT.md's own expand() gives it back from Redis."""
    with open(os.path.join(harness.REPO, "docs", "FORMAT.md")) as f:
        doc = f.read()
    code = doc.split("yourself:\n\n```python\n", 1)[1].split("```", 1)[0]
    scope = {"json": json, "redis": client, "uuid": uuid}
    exec(code, scope)
    return scope["rec"]


if __name__ == "__main__":
    unittest.main()
