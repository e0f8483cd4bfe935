"""A client library loaded after attach is probed before its first query (issue 13):
the driver of a Django app imported at its first request, scooby-bpf started before the
app (on a shell that then execs gunicorn), each request's exact SQL against the app's own
record from the first request on."""
import json
import os
import shutil
import sqlite3

import harness
from harness import (APPS, E2ECase, Scooby, concurrent_clients, http_request, queries, tagged,
                     texts, wait_for)

LAZYDJ = os.path.join(APPS, "lazydj")
REQUESTS, CLIENTS = 50, 4
# the attached line names a library armed ahead that no traced process has mapped yet
NOT_LOADED = r"%s\.so[^,]* \(\d+ probes, not loaded yet\)"


def setUpModule():
    harness.require_root_bpf()


def maps_have(pid, name):
    with open("/proc/%d/maps" % pid) as f:
        return name in f.read()


def gunicorn_argv(port, workers=2, threads=4):
    return [harness.GUNICORN, "-c", os.path.join(LAZYDJ, "gunicorn_conf.py"), "-w", str(workers),
            "-k", "gthread", "--threads", str(threads), "--keep-alive", "30",
            "-b", "127.0.0.1:%d" % port, "--chdir", LAZYDJ, "--timeout", "60",
            "--graceful-timeout", "3", "wsgi:application"]


class LazySqlite(E2ECase):
    """Django on SQLite: sqlite3, _sqlite3 and libsqlite3 load at the first request."""

    LIB = "libsqlite3"

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("lazyload")
        cls.start_redis()
        cls.db = os.path.join(cls.tmp, "lazy.sqlite3")
        c = sqlite3.connect(cls.db)
        c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        c.executemany("INSERT INTO items VALUES (?, ?)", [(i, "item-%d" % i) for i in range(1, 6)])
        c.commit()
        c.close()

    def env(self, ready):
        return {"DJANGO_SETTINGS_MODULE": "settings", "SCOOBY_DB": "sqlite",
                "SCOOBY_SQLITE_PATH": self.db, "LAZYDJ_READY_DIR": ready}

    def ready_dir(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def wait_workers(self, ready, n, proc):
        def booted():
            if not proc.alive():
                raise AssertionError("gunicorn exited: %s" % proc.output()[-3000:])
            pids = [int(p) for p in os.listdir(ready)]
            return pids if len(pids) == n else None
        return wait_for(booted, 60, "%d gunicorn workers with the app loaded" % n)

    def drive(self, port, tag):
        """REQUESTS requests from CLIENTS threads at once; returns {request id: the app's SQL}."""
        paths = ["/items/" if i % 3 == 0 else "/item/%d/" % (i % 5 + 1) for i in range(REQUESTS)]
        def one(k, i):
            rid = "%s-%02d" % (tag, i)
            status, _, headers = http_request(port, paths[i], headers={"X-Request-ID": rid})
            return rid, (status, json.loads(headers["X-SQL"]))

        got, errors = concurrent_clients(CLIENTS, lambda k: range(k, REQUESTS, CLIENTS), one)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(got), sorted("%s-%02d" % (tag, i) for i in range(REQUESTS)))
        for rid, (status, sql) in got.items():
            self.assertEqual(status, 200, rid)
            self.assertTrue(sql, rid)
        return {rid: sql for rid, (status, sql) in got.items()}

    def check_records(self, expected):
        recs = self.records.wait(lambda r: r.get("request", {}).get("request_id") in expected,
                                 "%d requests by X-Request-ID" % len(expected),
                                 count=len(expected))
        by_rid = {}
        for r in recs:
            by_rid.setdefault(r["request"]["request_id"], []).append(r)
        for rid, sql in sorted(expected.items()):
            self.assertEqual(len(by_rid.get(rid, [])), 1, rid)
            rec = by_rid[rid][0]
            harness.check_record(self, rec)
            self.assertEqual(texts(rec), sql, "request %s" % rid)

    def test_driver_imported_at_first_request(self):
        ready = self.ready_dir("ready-attach")
        port = harness.free_port()
        gun = harness.Proc("gunicorn-lazy", gunicorn_argv(port), self.tmp, env=self.env(ready))
        self.addCleanup(gun.stop, __import__("signal").SIGTERM, 10)
        for pid in self.wait_workers(ready, 2, gun):
            self.assertFalse(maps_have(pid, self.LIB), "%s loaded before the first request"
                             % self.LIB)
        sc = Scooby(self.tmp, gun.pid, self.redis.url, args=["-v"])
        self.addCleanup(sc.stop_checked)
        sc.wait_attached()
        self.assertRegex(sc.attached_lines()[0], NOT_LOADED % self.LIB)
        expected = self.drive(port, "attach")
        self.check_records(expected)
        lines = [l for l in sc.stderr().splitlines() if self.LIB in l and "mapped" in l]
        self.assertTrue(lines, "no -v line about the library being mapped:\n%s"
                        % sc.stderr()[-3000:])
        self.assertIn(" after the map", lines[0])
        self.assertTrue(lines[0].startswith("scooby-bpf: PID "), lines[0])

    def test_started_before_the_app(self):
        """-p on a shell that then execs gunicorn (the process execs into Python after
        attach; its workers are forks of it)."""
        ready = self.ready_dir("ready-shell")
        go = os.path.join(self.tmp, "go-shell")
        port = harness.free_port()
        script = 'while [ ! -e "$1" ]; do sleep 0.05; done; shift; exec "$@"'
        shell = harness.Proc("shell-lazy", ["/bin/bash", "-c", script, "bash", go]
                             + gunicorn_argv(port), self.tmp, env=self.env(ready))
        self.addCleanup(shell.stop, __import__("signal").SIGTERM, 10)
        sc = Scooby(self.tmp, shell.pid, self.redis.url, args=["-v"])
        self.addCleanup(sc.stop_checked)
        sc.wait_attached()
        self.assertRegex(sc.attached_lines()[0], NOT_LOADED % self.LIB)
        open(go, "w").close()
        self.wait_workers(ready, 2, shell)
        expected = self.drive(port, "shell")
        self.check_records(expected)


class LazyPostgres(LazySqlite):
    """The same on PostgreSQL: psycopg2 and libpq load at the first request (each request
    opens its own connection: CONN_MAX_AGE is 0)."""

    LIB = "libpq"

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("lazypg")
        cls.start_redis()
        cls.pg = harness.Postgres(cls.tmp)
        cls.addClassCleanup(cls.pg.stop)
        cls.pg.start()
        cls.pg.psql("CREATE DATABASE lazy")
        cls.pg.psql("CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL); "
                    "INSERT INTO items SELECT i, 'item-' || i FROM generate_series(1, 5) AS i",
                    db="lazy")

    def env(self, ready):
        env = dict(self.pg.env("lazy"), DJANGO_SETTINGS_MODULE="settings", SCOOBY_DB="postgresql",
                   LAZYDJ_READY_DIR=ready)
        return env


# A Python that maps libsqlite3 and queries within a millisecond or two of the map: ctypes
# is warmed up first (a libc call), then the dlopen, then each statement by the C API.
FIRST_SQL = ["SELECT %d * 7" % i for i in range(5)]
CHILD = ("import ctypes, sys, time\n"
         "ctypes.CDLL(None).getpid()\n"
         "db, st = ctypes.c_void_p(), ctypes.c_void_p()\n"
         "sqls = [s.encode() for s in sys.argv[1:]]\n"
         "lib = ctypes.CDLL('libsqlite3.so.0')\n"
         "lib.sqlite3_open(b':memory:', ctypes.byref(db))\n"
         "for sql in sqls:\n"
         "    lib.sqlite3_prepare_v2(db, sql, -1, ctypes.byref(st), None)\n"
         "    while lib.sqlite3_step(st) == 100:\n"
         "        pass\n"
         "    lib.sqlite3_finalize(st)\n"
         "lib.sqlite3_close(db)\n"
         "time.sleep(1)\n")


class FirstCallAtTheLoad(E2ECase):
    """The first query follows the library's load at once: no window for probing on sight
    of the mapping (the old build's way) to close in time. Each test has a fresh process."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("firstcall")
        cls.start_redis()

    def test_first_request_imports_and_queries(self):
        """A WSGI app whose first request imports sqlite3 and queries at once (-p)."""
        port = harness.free_port()
        app = harness.Proc("lazyapp-first", [harness.PYTHON, os.path.join(APPS, "lazyapp.py"),
                                              str(port)], self.tmp)
        self.addCleanup(app.stop)
        harness.wait_http(port, "/", app)
        self.assertFalse(maps_have(app.pid, "libsqlite3"), "libsqlite3 loaded too early")
        sc = Scooby(self.tmp, app.pid, self.redis.url, args=["-v"])
        self.addCleanup(sc.stop_checked)
        sc.wait_attached()
        self.assertRegex(sc.attached_lines()[0], NOT_LOADED % "libsqlite3")
        sent = tagged("/first")
        status, body, _ = http_request(port, sent)
        self.assertEqual(status, 200)
        rec = self.records.by_path(sent)
        self.assertEqual(texts(rec), json.loads(body))
        harness.check_record(self, rec)

    def background_sql(self, pid):
        """The background record of pid holding FIRST_SQL's first statement."""
        def mine(r):
            return (r["request"]["method"] == "background" and r["request"]["pid"] == pid
                    and FIRST_SQL[0] in texts(r))
        return self.records.wait(mine, "the background record of PID %d" % pid)[0]

    def test_exec_into_python_after_attach(self):
        """-p on a shell that execs a Python which loads libsqlite3 and queries at once."""
        go = os.path.join(self.tmp, "go-exec")
        script = 'while [ ! -e "$1" ]; do sleep 0.05; done; shift; exec "$@"'
        shell = harness.Proc("shell-exec", ["/bin/bash", "-c", script, "bash", go,
                                             harness.PYTHON, "-c", CHILD] + FIRST_SQL, self.tmp)
        self.addCleanup(shell.stop)
        sc = Scooby(self.tmp, shell.pid, self.redis.url, args=["-v"])
        self.addCleanup(sc.stop_checked)
        sc.wait_attached()
        self.assertRegex(sc.attached_lines()[0], NOT_LOADED % "libsqlite3")
        open(go, "w").close()
        self.assertEqual(texts(self.background_sql(shell.pid)), FIRST_SQL)

    def test_system_wide_before_the_process(self):
        """System-wide: a Python started after attach, loading libsqlite3 and querying at
        once; its statements carry a nonce, as other processes may query too."""
        tag = harness.nonce()
        sql = ["SELECT %d * 7, '%s'" % (i, tag) for i in range(5)]
        sc = Scooby(self.tmp, None, self.redis.url, args=["-v"])
        self.addCleanup(sc.stop_checked)
        sc.wait_attached()
        self.assertRegex(sc.attached_lines()[0], r"libsqlite3\.so[^,]* \(\d+ probes, ")
        child = harness.Proc("child-sw", [harness.PYTHON, "-c", CHILD] + sql, self.tmp)
        self.addCleanup(child.stop)

        def mine(r):
            return r["request"]["method"] == "background" and sql[0] in texts(r)
        rec = self.records.wait(mine, "the background record of the child")[0]
        self.assertEqual(texts(rec), sql)
