"""Servers beyond gunicorn's own HTTP: uWSGI (--http-socket), uWSGI behind nginx (uwsgi_pass,
the uwsgi protocol, over a unix socket) and gunicorn gthread behind nginx (proxy_pass over a
unix socket, keep-alive upstream connections), each traced by scooby-bpf on a Django app."""
import json
import os
import re

import harness
from harness import (DJAPP, SQ_PRAGMA, E2ECase, check_record, concurrent_clients, http_request,
                     nonce, queries, short, texts)

THREADS = 4
PER_THREAD = 10
# what the clients ask for, in turn, and the view Django resolves each to
PAGES = [("/nplus1/page/", "app.views.nplus1_page"), ("/item/2/", "app.views.item"),
         ("/items/", "app.views.items"), ("/noquery/", "app.views.noquery")]


def setUpModule():
    harness.require_root_bpf()


def as_sqlite_received(sql):
    """Django's SQL as its sqlite3 backend hands it to SQLite: %s placeholders become ?."""
    return re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%")


class ServerCase(E2ECase):
    """Runs the Django app through a server set up by setUpClass (self.port: where clients
    go), attaches to self.server_pid, and checks that every request of THREADS clients
    sending PER_THREAD requests each at once is recorded once, with the exact SQL Django's
    own execute_wrapper logged for it (tests/apps/djapp/djapp/wsgi_logged.py)."""

    comm = None  # the server processes' name in records

    @classmethod
    def app_env(cls, tmp):
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.sql_log = os.path.join(tmp, "sql.jsonl")
        env = harness.django_env(db)
        env["SCOOBY_SQL_LOG"] = cls.sql_log
        return env

    def app_log(self):
        with open(self.sql_log) as f:
            return {e["request_id"]: e for e in map(json.loads, f) if e["request_id"]}

    def drive(self):
        """THREADS clients at once, each sending PER_THREAD requests with an X-Request-ID.
        Returns {request id: (path, status)}."""
        def one(n, i):
            path = PAGES[(n + i) % len(PAGES)][0]
            rid = "srv-%d-%d-%s" % (n, i, nonce())
            status, _, _ = http_request(self.port, path, headers={"X-Request-ID": rid})
            return rid, (path, status)

        sent, errors = concurrent_clients(THREADS, lambda n: range(PER_THREAD), one)
        self.assertEqual(errors, [])
        self.assertEqual(len(sent), THREADS * PER_THREAD)
        return sent

    def test_every_request_exact_sql_in_order(self):
        sent = self.drive()
        recs = self.records.wait(lambda r: r["request"]["request_id"] in sent,
                                 "%d requests" % len(sent), count=len(sent))
        by_id = {}
        for rec in recs:
            rid = rec["request"]["request_id"]
            self.assertNotIn(rid, by_id, "two records for %s: %s" % (rid, short(rec)))
            by_id[rid] = rec
        logged = self.app_log()
        views = dict(PAGES)
        for rid, (path, status) in sorted(sent.items()):
            rec = by_id[rid]
            check_record(self, rec)
            self.assertEqual(status, 200, rid)
            req = rec["request"]
            self.assertEqual((req["method"], req["path"], req["status"]), ("GET", path, 200),
                             short(rec))
            self.assertEqual(req["comm"], self.comm, short(rec))
            self.assertIn(req["pid"], self.worker_pids(), short(rec))
            self.assertEqual(logged[rid]["pid"], req["pid"], short(rec))
            # Django opens its connection at a request's first query: the set-up statement
            # its sqlite3 backend runs then, outside any cursor, comes first
            expected = []
            for sql in logged[rid]["sql"]:
                expected += [SQ_PRAGMA] if sql == "<connect>" else [as_sqlite_received(sql)]
            self.assertEqual(texts(rec), expected, short(rec))
            for q in queries(rec):
                self.assertIsNone(q["error"], short(rec))
                self.assertEqual(q["db"], "sqlite", short(rec))
                if q["query"] != SQ_PRAGMA:  # set-up runs below Django's frames
                    self.assertTrue(q["stack"], short(rec))
            if expected:  # named from a query's stack (issue 16 names the others)
                self.assertEqual(rec["plugins_data"]["ViewName"]["view_name"], views[path],
                                 short(rec))


class UwsgiHttpSocket(ServerCase):
    """uWSGI --http-socket, a master and 2 prefork workers (no --py-call-osafterfork:
    Python's thread states keep the master's thread ids)."""

    comm = "uwsgi"

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("uwsgi-http")
        cls.start_redis()
        cls.uwsgi = cls.start_uwsgi("djapp.wsgi_logged:application", DJAPP, cls.app_env(tmp))
        cls.port = cls.uwsgi.port
        cls.attach(cls.uwsgi.pid)

    def worker_pids(self):
        return self.uwsgi.workers_pids()


class UwsgiBehindNginx(ServerCase):
    """nginx -> uwsgi_pass over a unix socket -> uWSGI: requests arrive in the uwsgi
    protocol (no request line: method, path and headers are CGI variables)."""

    comm = "uwsgi"

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("uwsgi-nginx")
        cls.start_redis()
        cls.uwsgi = cls.start_uwsgi("djapp.wsgi_logged:application", DJAPP, cls.app_env(tmp),
                                    http=False)
        cls.nginx = cls.start_nginx(cls.uwsgi.sock, "uwsgi")
        cls.port = cls.nginx.port
        cls.attach(cls.uwsgi.pid)

    def worker_pids(self):
        return self.uwsgi.workers_pids()


class GunicornBehindNginx(ServerCase):
    """nginx -> proxy_pass over a unix socket with keep-alive upstream connections ->
    gunicorn gthread (2 workers x 2 threads): many requests per connection."""

    comm = "gunicorn"

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("gunicorn-nginx")
        cls.start_redis()
        sock = os.path.join(tmp, "gunicorn.sock")
        cls.gun = cls.start_gunicorn("djapp.wsgi_logged:application", DJAPP, cls.app_env(tmp),
                                     workers=2, worker_class="gthread", threads=2, unix=sock)
        cls.nginx = cls.start_nginx(sock, "http")
        cls.port = cls.nginx.port
        cls.attach(cls.gun.pid)

    def worker_pids(self):
        return self.gun.workers_pids()


del ServerCase  # a base, not a test of its own
