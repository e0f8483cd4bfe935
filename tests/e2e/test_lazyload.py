"""A client library loaded after attach is probed before its first query (issue 13):
the driver of a Django app imported at its first request, scooby-bpf started before the
app (on a shell that then execs gunicorn), each request's exact SQL against the app's own
record from the first request on."""
import json
import os
import shutil
import sqlite3
import threading

import harness
from harness import APPS, E2ECase, Scooby, http_request, texts, wait_for

LAZYDJ = os.path.join(APPS, "lazydj")
REQUESTS, CLIENTS = 50, 4


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
        got, errors, lock = {}, [], threading.Lock()

        def client(k):
            for i in range(k, REQUESTS, CLIENTS):
                rid = "%s-%02d" % (tag, i)
                try:
                    status, _, headers = http_request(port, paths[i], headers={"X-Request-ID": rid})
                    with lock:
                        got[rid] = (status, json.loads(headers["X-SQL"]))
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append("%s: %r" % (rid, exc))
        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
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
        self.assertNotIn(self.LIB, sc.attached_lines()[0])
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
        self.assertNotIn(self.LIB, sc.attached_lines()[0])
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
