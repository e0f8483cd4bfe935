"""Django + SQLite under gunicorn (sync and gthread) and runserver, traced by scooby-bpf."""
import http.client
import json
import os
import shutil
import signal
import threading
import time

import harness
from harness import (SQ_COUNT, SQ_EXISTS, SQ_FAIL, SQ_GET, SQ_LIST, SQ_LIST5, SQ_PRAGMA,
                     DJAPP, E2ECase, check_record, http_request, nonce, pid_alive, queries,
                     short, texts, wait_for)

TTL = 120
MAX_QUERY = 1000


def setUpModule():
    harness.require_root_bpf()


class SqliteGunicornSync(E2ECase):
    """gunicorn -w 2 (sync workers), scooby-bpf --ttl 120 --max-query 1000."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("sqlite-sync")
        cls.start_redis()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=2)
        cls.port = cls.gun.port
        for _ in range(4):  # let both workers load Django and open SQLite once
            http_request(cls.port, "/items/")
        cls.attach(cls.gun.pid, ["--ttl", str(TTL), "--max-query", str(MAX_QUERY)])

    def record_for(self, path, status=None, method="GET", max_query=MAX_QUERY):
        rec = super().record_for(path, status, method, max_query)
        self.assertEqual(rec["request"]["comm"], "gunicorn", short(rec))
        self.assertIn(rec["request"]["pid"], self.gun.workers_pids(), short(rec))
        return rec

    # --- SQL capture ---------------------------------------------------

    def test_items_exact_queries_in_order(self):
        path, status, _ = self.get("/items/")
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_COUNT, SQ_LIST, SQ_EXISTS])
        for q in queries(rec):
            self.assertIsNone(q["error"], short(rec))
            self.assertIs(q["truncated"], False, short(rec))

    def test_item_exact_query(self):
        path, status, body = self.get("/item/3/")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["name"], "item-3")
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_GET])
        self.assertEqual(rec["plugins_data"]["SQL"]["count"], 2)

    def test_item_missing_is_404_with_its_query(self):
        path, status, _ = self.get("/item/99/")
        self.assertEqual(status, 404)
        rec = self.record_for(path, 404)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_GET])
        self.assertIsNone(queries(rec)[1]["error"], short(rec))

    def test_nplus1_each_execution_of_a_cached_statement(self):
        # Python's sqlite3 prepares the per-item SELECT once and re-runs it
        # (reset + step): every execution must be a query of its own.
        path, status, _ = self.get("/nplus1/")
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_LIST5] + [SQ_GET] * 5)

    def test_failing_query_has_error_and_request_is_500(self):
        path, status, _ = self.get("/fail/")
        self.assertEqual(status, 500)
        rec = self.record_for(path, 500)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_FAIL], failing=(1,))
        self.assertIsNone(queries(rec)[0]["error"], short(rec))
        err = queries(rec)[1]["error"]
        self.assertIn("SQLITE_ERROR", err, short(rec))

    def test_noquery(self):
        path, status, _ = self.get("/noquery/")
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertEqual(queries(rec), [], short(rec))
        self.assertEqual(rec["plugins_data"]["SQL"]["count"], 0)
        self.assertEqual(rec["plugins_data"]["SQL"]["total_time"], 0.0)

    def test_slow_durations_and_offsets(self):
        t0 = time.time() * 1000.0
        path, status, _ = self.get("/slow/")
        t1 = time.time() * 1000.0
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_COUNT])
        req = rec["request"]
        self.assertGreaterEqual(req["duration_ms"], 400.0, short(rec))
        self.assertLessEqual(req["duration_ms"], t1 - t0 + 1.0, short(rec))
        self.assertGreaterEqual(req["start_unix_ms"], t0 - 1.0, short(rec))
        self.assertLessEqual(req["start_unix_ms"], t1, short(rec))
        q = queries(rec)[1]
        self.assertGreaterEqual(q["start_offset_ms"], 200.0, short(rec))
        self.assertLessEqual(q["start_offset_ms"] + q["time_taken"], req["duration_ms"] - 200.0,
                             short(rec))
        self.assertAlmostEqual(rec["plugins_data"]["ProcessTime"]["process_time"],
                               req["duration_ms"], delta=1.0)

    def test_post_method(self):
        path, status, _ = self.get("/noquery/", method="POST", body=b"a=1&b=2",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        self.record_for(path, 200, method="POST")

    # --- request metadata ----------------------------------------------

    def test_host_and_x_request_id(self):
        rid = "req-" + nonce()
        path, status, _ = self.get("/noquery/", headers={"X-Request-ID": rid})
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertEqual(rec["request"]["host"], "127.0.0.1:%d" % self.port, short(rec))
        self.assertEqual(rec["request"]["request_id"], rid, short(rec))

    def test_traceparent_as_request_id(self):
        tp = "00-%s-%s-01" % (os.urandom(16).hex(), os.urandom(8).hex())
        path, status, _ = self.get("/noquery/", headers={"traceparent": tp})
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertEqual(rec["request"]["request_id"], tp, short(rec))

    def test_no_request_id(self):
        path, _, _ = self.get("/noquery/")
        rec = self.record_for(path, 200)
        self.assertIsNone(rec["request"]["request_id"], short(rec))

    def test_long_path_truncated_to_1024(self):
        prefix = "/long-%s/" % nonce()
        full = prefix + "a" * 1500
        _, status, _ = self.get(full, tag=False)
        self.assertEqual(status, 404)
        recs = self.records.wait(lambda r: (r["request"].get("path") or "").startswith(prefix),
                                 repr(prefix))
        self.assertEqual(len(recs), 1, [short(r) for r in recs])
        rec = recs[0]
        check_record(self, rec, MAX_QUERY)
        self.assertEqual(rec["request"]["status"], 404, short(rec))
        self.assertEqual(len(rec["request"]["path"]), 1024, short(rec))
        self.assertEqual(rec["request"]["path"], full[:1024])

    # --- --max-query -----------------------------------------------------

    def test_query_longer_than_max_query_is_truncated(self):
        path, status, body = self.get("/longquery/2000/")
        self.assertEqual(status, 200)
        sql = body.decode()
        self.assertGreater(len(sql), MAX_QUERY)
        rec = self.record_for(path, 200)
        self.assertEqual(len(queries(rec)), 2, short(rec))
        q = queries(rec)[1]
        self.assertIs(q["truncated"], True, short(rec))
        self.assertEqual(q["query"], sql[:MAX_QUERY], short(rec))
        self.assertIs(queries(rec)[0]["truncated"], False, short(rec))

    def test_query_shorter_than_max_query_is_whole(self):
        path, status, body = self.get("/longquery/500/")
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [SQ_PRAGMA, body.decode()])
        self.assertIs(queries(rec)[1]["truncated"], False, short(rec))

    def test_non_ascii_query_text_is_exact(self):
        path, status, body = self.get("/unicode/")
        self.assertEqual(status, 200)
        sql = body.decode("utf-8")
        self.assertIn("\u2713", sql)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [SQ_PRAGMA, sql])

    def test_truncation_never_splits_a_utf8_character(self):
        path, status, body = self.get("/multibyte/400/")
        self.assertEqual(status, 200)
        sql = body.decode("utf-8")
        raw = sql.encode("utf-8")
        self.assertGreater(len(raw), MAX_QUERY)
        with self.assertRaises(UnicodeDecodeError):  # the limit falls inside a character
            raw[:MAX_QUERY].decode("utf-8")
        rec = self.record_for(path, 200)  # the record itself must be valid UTF-8 JSON
        q = queries(rec)[1]
        self.assertIs(q["truncated"], True, short(rec))
        got = q["query"].encode("utf-8")
        self.assertLessEqual(len(got), MAX_QUERY, short(rec))
        self.assertGreaterEqual(len(got), MAX_QUERY - 3, short(rec))
        self.assertTrue(sql.startswith(q["query"]), short(rec))

    # --- background ------------------------------------------------------

    def test_query_outside_a_request_goes_to_a_background_record(self):
        tag = nonce()
        path, status, body = self.get("/bg/?tag=%s" % tag, tag=False)
        self.assertEqual(status, 200)
        marker = body.decode()
        rec = self.record_for(path, 200)
        self.assertEqual(queries(rec), [], short(rec))
        bgs = self.records.wait(
            lambda r: r["request"]["method"] == "background" and marker in texts(r),
            "a background record holding %r" % marker)
        self.assertEqual(len(bgs), 1, [short(r) for r in bgs])
        bg = bgs[0]
        check_record(self, bg, MAX_QUERY)
        self.assertIsNone(bg["request"]["path"], short(bg))
        q = [q for q in queries(bg) if q["query"] == marker][0]
        self.assertEqual(q["db"], "sqlite")
        self.assertIsNone(q["error"])
        self.assertEqual(texts(bg).count(marker), 1, short(bg))
        self.assertIn(bg["request"]["pid"], self.gun.workers_pids(), short(bg))
        self.assertNotEqual(bg["request"]["tid"], rec["request"]["tid"], short(bg))

    # --- Redis layout, outputs --------------------------------------------

    def test_redis_key_ttl_and_zset_score(self):
        path, _, _ = self.get("/item/2/")
        rec = self.record_for(path, 200)
        r = self.redis.client()
        self.addCleanup(harness.close_client, r)
        key = "scooby:req:" + rec["uuid"]
        self.assertEqual(harness.full_form(json.loads(r.get(key))), rec)
        ttl = r.ttl(key)
        self.assertGreater(ttl, 0)
        self.assertLessEqual(ttl, TTL)
        score = r.zscore("scooby:requests", rec["uuid"])
        self.assertIsNotNone(score)
        self.assertLess(abs(score - rec["request"]["start_unix_ms"]), 1.0,
                        "score %r vs start_unix_ms %r" % (score, rec["request"]["start_unix_ms"]))

    def test_live_channel_publishes_uuid(self):
        r = self.redis.client()
        self.addCleanup(harness.close_client, r)
        ps = r.pubsub()
        ps.subscribe("scooby:live")
        try:
            wait_for(lambda: (ps.get_message(timeout=0.1) or {}).get("type") == "subscribe", 5,
                     "the subscribe confirmation")
            path, _, _ = self.get("/item/1/")
            rec = self.record_for(path, 200)
            seen = []

            def published():
                m = ps.get_message(timeout=0.1)
                if m and m["type"] == "message":
                    seen.append(m["data"])
                return rec["uuid"] in seen
            wait_for(published, 10, "PUBLISH scooby:live %s (got %r)" % (rec["uuid"], seen))
        finally:
            ps.close()

    def test_stdout_line_per_request(self):
        path, _, _ = self.get("/item/4/")
        rec = self.record_for(path, 200)
        lines = wait_for(lambda: [l for l in self.scooby.stdout().splitlines() if rec["uuid"] in l],
                         10, "a stdout line with uuid %s" % rec["uuid"])
        self.assertEqual(len(lines), 1, lines)
        words = lines[0].split()
        self.assertIn("GET", words, lines[0])
        self.assertIn(path, lines[0])
        self.assertIn("200", words, lines[0])

    def test_json_file_holds_the_same_record(self):
        path, _, _ = self.get("/items/")
        rec = self.record_for(path, 200)
        got = wait_for(lambda: [r for r in self.scooby.json_records() if r.get("uuid") == rec["uuid"]],
                       10, "record %s in --json file" % rec["uuid"])
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0], rec)

    # --- descendants forked after attach ------------------------------------

    def test_respawned_worker_is_traced(self):
        old = self.gun.workers_pids()
        self.assertEqual(len(old), 2, old)
        os.kill(old[0], signal.SIGKILL)
        new = wait_for(lambda: [p for p in self.gun.workers_pids() if p not in old and pid_alive(p)],
                       30, "gunicorn to re-spawn a worker")[0]
        survivor = old[1]
        # Stop the surviving worker so the new one has to serve.
        os.kill(survivor, signal.SIGSTOP)
        try:
            path, status, body = self.get("/item/3/")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["pid"], new)
            path2, status2, _ = self.get("/nplus1/")
            self.assertEqual(status2, 200)
        finally:
            os.kill(survivor, signal.SIGCONT)
        rec = self.record_for(path, 200)
        self.assertEqual(rec["request"]["pid"], new, short(rec))
        self.assertQueries(rec, [SQ_PRAGMA, SQ_GET])
        rec2 = self.record_for(path2, 200)
        self.assertEqual(rec2["request"]["pid"], new, short(rec2))
        self.assertQueries(rec2, [SQ_PRAGMA, SQ_LIST5] + [SQ_GET] * 5)

    # --- whole run -------------------------------------------------------

    def test_zz_every_record_is_valid_and_unique(self):
        """Runs last (name): every record seen in this class is well formed, and
        no request (tagged paths are unique) was reported twice."""
        self.get("/noquery/")
        recs = self.records.refresh()
        self.assertEqual(self.records.invalid, {}, "values that are not UTF-8 JSON")
        self.assertGreater(len(recs), 10)
        paths = {}
        for rec in recs:
            check_record(self, rec, MAX_QUERY)
            p = rec["request"]["path"]
            if p and ("t=" in p or p.startswith("/long-") or p.startswith("/bg/")):
                paths.setdefault(p, []).append(rec["uuid"])
        dups = {p: u for p, u in paths.items() if len(u) > 1}
        self.assertEqual(dups, {})
        uuids = [r["uuid"] for r in recs]
        self.assertEqual(len(uuids), len(set(uuids)))


class SqliteGunicornGthread(E2ECase):
    """gunicorn -k gthread --threads 4 (-w 1): keep-alive and concurrent threads."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("sqlite-gthread")
        cls.start_redis()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=1, worker_class="gthread", threads=4)
        cls.port = cls.gun.port
        cls.attach(cls.gun.pid)

    def test_keepalive_three_requests_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = []
        try:
            for p in ("/item/1/", "/items/", "/item/2/"):
                path = harness.tagged(p)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
                self.assertFalse(resp.will_close, "server closed the keep-alive connection")
                sent.append(path)
        finally:
            conn.close()
        recs = [self.record_for(p, 200) for p in sent]
        self.assertQueries(recs[0], [SQ_PRAGMA, SQ_GET])
        self.assertQueries(recs[1], [SQ_PRAGMA, SQ_COUNT, SQ_LIST, SQ_EXISTS])
        self.assertQueries(recs[2], [SQ_PRAGMA, SQ_GET])
        self.assertEqual(len({r["uuid"] for r in recs}), 3)
        self.assertEqual(len({r["request"]["pid"] for r in recs}), 1)
        starts = [r["request"]["start_unix_ms"] for r in recs]
        self.assertEqual(starts, sorted(starts))
        for a, b in zip(recs, recs[1:]):
            self.assertLessEqual(a["request"]["start_unix_ms"] + a["request"]["duration_ms"],
                                 b["request"]["start_unix_ms"] + 0.001, (short(a), short(b)))

    def test_concurrent_requests_keep_their_own_queries(self):
        plan = ["/nplus1/", "/item/1/", "/items/", "/item/2/", "/nplus1/", "/item/3/",
                "/items/", "/item/4/"] * 2
        expected = {"/nplus1/": [SQ_PRAGMA, SQ_LIST5] + [SQ_GET] * 5,
                    "/item/1/": [SQ_PRAGMA, SQ_GET], "/item/2/": [SQ_PRAGMA, SQ_GET],
                    "/item/3/": [SQ_PRAGMA, SQ_GET], "/item/4/": [SQ_PRAGMA, SQ_GET],
                    "/items/": [SQ_PRAGMA, SQ_COUNT, SQ_LIST, SQ_EXISTS]}
        sent = [(p, harness.tagged(p)) for p in plan]
        errors = []

        def worker(chunk):
            for _, path in chunk:
                try:
                    status, _, _ = http_request(self.port, path)
                    if status != 200:
                        errors.append((path, status))
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append((path, repr(exc)))
        threads = [threading.Thread(target=worker, args=(sent[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        tids = set()
        for p, path in sent:
            rec = self.record_for(path, 200)
            self.assertQueries(rec, expected[p])
            tids.add(rec["request"]["tid"])
        self.assertGreater(len(tids), 1, "all requests were served by one thread")


class SqliteRunserverAutoreload(E2ECase):
    """manage.py runserver with the autoreloader; scooby-bpf attaches to the
    reloader (parent), the requests are served by its child."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("sqlite-runserver")
        # A private copy of the app: the reload test touches a source file.
        cls.appdir = os.path.join(tmp, "djapp")
        shutil.copytree(DJAPP, cls.appdir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                                         "db.sqlite3"))
        cls.start_redis()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db, appdir=cls.appdir)
        cls.rs = harness.Runserver(tmp, cls.appdir, harness.django_env(db))
        cls.addClassCleanup(cls.rs.stop)
        cls.rs.start()
        cls.port = cls.rs.port
        cls.child = wait_for(cls.rs.child, 10, "the runserver child")
        cls.attach(cls.rs.pid)

    def test_records_come_from_the_child(self):
        path, status, body = self.get("/item/3/")
        self.assertEqual(status, 200)
        served_by = json.loads(body)["pid"]
        self.assertNotEqual(served_by, self.rs.pid)
        rec = self.record_for(path, 200)
        self.assertEqual(rec["request"]["pid"], served_by, short(rec))
        self.assertNotEqual(rec["request"]["pid"], self.rs.pid, short(rec))
        self.assertQueries(rec, [SQ_PRAGMA, SQ_GET])

        path, status, _ = self.get("/nplus1/")
        self.assertEqual(status, 200)
        self.assertQueries(self.record_for(path, 200), [SQ_PRAGMA, SQ_LIST5] + [SQ_GET] * 5)

    def test_zz_reloaded_child_is_traced(self):
        """Touching a source file makes the reloader start a new child (fork +
        exec after attach): its requests are traced too."""
        old = wait_for(self.rs.child, 10, "the runserver child")
        views = os.path.join(self.appdir, "app", "views.py")
        now = time.time()
        os.utime(views, (now + 5, now + 5))
        new = wait_for(lambda: (lambda c: c if c and c != old else None)(self.rs.child()), 30,
                       "the reloader to start a new child")
        harness.wait_http(self.port, "/noquery/", self.rs.proc)
        path, status, body = self.get("/item/2/")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["pid"], new)
        rec = self.record_for(path, 200)
        self.assertEqual(rec["request"]["pid"], new, short(rec))
        self.assertQueries(rec, [SQ_PRAGMA, SQ_GET])
