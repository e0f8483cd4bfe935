"""Wire capture: data store clients that link no probed library (pymysql, redis-py,
pymemcache, pg8000) seen through their socket bytes; psycopg2 (libpq) reported once; and a
request's stdout/stderr writes under CustomLog. All against real servers started here,
with tests/apps/storeapp.py under gunicorn."""
import subprocess
import sys
import unittest

import harness
from harness import APPS, E2ECase, queries, short

sys.path.insert(0, APPS)
import storeapp as S  # noqa: E402  (its constants: the exact statements each endpoint runs)

PG = None
_MODULE_TMP = None


def setUpModule():
    global PG, _MODULE_TMP
    harness.require_root_bpf()
    _MODULE_TMP = harness.make_tmpdir("wirepg")
    unittest.addModuleCleanup(harness.remove_tmpdir, _MODULE_TMP)
    PG = harness.Postgres(_MODULE_TMP)
    unittest.addModuleCleanup(PG.stop)
    PG.start()
    PG.psql("CREATE DATABASE scooby")
    PG.psql(S.PG_SCHEMA, db="scooby")


def redis_q(rec):
    return rec["plugins_data"]["Redis"]["queries"]


def mc_q(rec):
    return rec["plugins_data"]["Memcache"]["queries"]


def app_frame(tc, entry, function, rec):
    """The innermost storeapp.py frame of an entry's stack: in `function`, at the line that
    makes the call (its text is checked against the source)."""
    frames = [f for f in entry["stack"] if (f.get("filename") or "").endswith("/storeapp.py")]
    tc.assertTrue(frames, "no storeapp.py frame: %s" % short(rec))
    tc.assertEqual(frames[0]["function"], function, short(rec))
    return frames[0]


class WireStores(E2ECase):
    """storeapp under gunicorn (1 sync worker) with connections opened before the attach:
    the capture must pick them up by port or by their bytes."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("wire")
        cls.start_redis()
        store_redis = cls.start_store_redis()
        my = cls.start_mariadb()
        my.sql(S.MYSQL_SCHEMA, db=my.database)
        mc = cls.start_memcached()
        env = dict(PG.env("scooby"))
        env.update(my.env())
        env.update(mc.env())
        env.update(harness.redis_env(store_redis))
        cls.gun = cls.start_gunicorn(harness.STOREAPP_MODULE, APPS, env, workers=1)
        cls.port = cls.gun.port
        for path in ("/pymysql/", "/redispy/", "/pymemcache/", "/psycopg2/", "/pg8000/",
                     "/redis-inline/", "/log/"):
            status, body = harness.http_request(cls.port, path)[:2]
            assert status == 200, (path, status, body)
        # the Redis here is on a free port: named so that its inline commands are read too
        cls.attach(cls.gun.pid, args=("--port-proto", "%d=redis" % store_redis.tcp_port))

    def store_record(self, path):
        p, status, body = self.get(path)
        self.assertEqual(status, 200, body)
        return self.record_for(p, 200)

    def test_pymysql_statements_errors_stacks(self):
        rec = self.store_record("/pymysql/")
        qs = queries(rec)
        self.assertEqual([q["query"] for q in qs], S.MYSQL_STATEMENTS, short(rec))
        self.assertEqual({q["db"] for q in qs}, {"mysql"}, short(rec))
        self.assertEqual({q["via"] for q in qs}, {"wire"}, short(rec))
        self.assertEqual([q["error"] for q in qs], [None, None, S.MYSQL_FAIL_ERROR], short(rec))
        for q in qs:
            self.assertGreater(q["time_taken"], 0, short(rec))
            app_frame(self, q, "_run_sql", rec)
        self.assertEqual(rec["plugins_data"]["Redis"]["count"], 0, short(rec))

    def test_redispy_commands_pipeline_error(self):
        rec = self.store_record("/redispy/")
        qs = redis_q(rec)
        got = [[q["command"], q["key"]] + q["args"] for q in qs]
        want = [list(c) for c in S.REDIS_COMMANDS]
        self.assertEqual(got, want, short(rec))
        self.assertEqual(rec["plugins_data"]["Redis"]["count"], len(want), short(rec))
        fps = [g["fingerprint"] for g in rec["plugins_data"]["Redis"]["groups"]]
        self.assertEqual(fps, ["SET sc:k ?", "GET sc:k", "INCR sc:k", "SET sc:p? ?", "INCR sc:p?",
                               "GET sc:p?", "LPUSH sc:l ?", "LLEN sc:l"], short(rec))
        errors = [q["error"] for q in qs]
        self.assertEqual(errors, [None, None, "ERR " + S.REDIS_FAIL_ERROR] + [None] * 5,
                         short(rec))
        self.assertEqual({q["via"] for q in qs}, {"wire"}, short(rec))
        # the pipeline's 5 commands left in one send: same start, same end
        pipe = qs[3:]
        self.assertEqual(len({q["start"] for q in pipe}), 1, short(rec))
        self.assertEqual(len({q["end"] for q in pipe}), 1, short(rec))
        app_frame(self, qs[0], "redispy", rec)
        app_frame(self, qs[7], "redispy", rec)
        self.assertEqual(queries(rec), [], short(rec))
        # a plain WSGI app: the view is its callable (not gunicorn's launcher script)
        self.assertEqual(rec["plugins_data"]["ViewName"]["view_name"], "storeapp.application")

    def test_pymemcache_operations(self):
        rec = self.store_record("/pymemcache/")
        qs = mc_q(rec)
        self.assertEqual([(q["func_name"], q["arg"]) for q in qs], S.MC_WIRE_OPS, short(rec))
        self.assertEqual([q["error"] for q in qs], [None] * len(qs), short(rec))
        self.assertEqual({q["via"] for q in qs}, {"wire"}, short(rec))
        app_frame(self, qs[0], "_mc_ops", rec)

    def test_psycopg2_reported_once_by_libpq(self):
        rec = self.store_record("/psycopg2/")
        qs = queries(rec)
        self.assertEqual([q["query"] for q in qs], S.PG_SELECTS, short(rec))
        self.assertEqual({q["via"] for q in qs}, {"library"}, short(rec))

    def test_pg8000_extended_protocol(self):
        path, status, body = self.get("/pg8000/")
        self.assertEqual(status, 200, body)
        rec = self.record_for(path, 200)
        qs = queries(rec)
        tag = path.split("?", 1)[1]
        self.assertEqual([q["query"] for q in qs], S.pg8000_statements(tag), short(rec))
        self.assertEqual({q["db"] for q in qs}, {"postgresql"}, short(rec))
        self.assertEqual({q["via"] for q in qs}, {"wire"}, short(rec))
        self.assertEqual([q["error"] for q in qs][-1], S.PG8000_FAIL_ERROR, short(rec))
        self.assertEqual([q["error"] for q in qs][:-1], [None] * (len(qs) - 1), short(rec))

    def test_port_proto_reads_what_bytes_cannot_tell(self):
        rec = self.store_record("/redis-inline/")
        qs = redis_q(rec)
        self.assertEqual([(q["command"], q["key"], q["args"], q["error"]) for q in qs],
                         [("PING", None, ["hello"], None)], short(rec))
        app_frame(self, qs[0], "redis_inline", rec)

    def test_logs_of_the_request(self):
        rec = self.store_record("/log/")
        logs = rec["plugins_data"]["CustomLog"]["logs"]
        self.assertEqual([(l["stream"], l["s"]) for l in logs],
                         [("stderr", S.LOG_LINE), ("stdout", S.PRINT_LINE)], short(rec))
        self.assertEqual(rec["plugins_data"]["CustomLog"]["count"], 2, short(rec))
        app_frame(self, logs[0], "log", rec)
        app_frame(self, logs[1], "log", rec)

    def test_terminal_line_counts_stores(self):
        rec = self.store_record("/redispy/")
        line = [l for l in self.scooby.stdout().splitlines() if rec["uuid"] in l]
        self.assertEqual(len(line), 1, self.scooby.stdout()[-2000:])
        self.assertIn(" | redis 8 q ", line[0])


class StoreappRedisCase(E2ECase):
    """storeapp (1 sync worker) with a Redis only, its connection opened before scooby-bpf
    attaches with SCOOBY_ARGS."""

    SCOOBY_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.make_tmp(cls.__name__.lower())
        cls.start_redis()
        store_redis = cls.start_store_redis()
        cls.gun = cls.start_gunicorn(harness.STOREAPP_MODULE, APPS, harness.redis_env(store_redis),
                                     workers=1)
        cls.port = cls.gun.port
        harness.http_request(cls.port, "/redispy/")
        cls.attach(cls.gun.pid, args=cls.SCOOBY_ARGS)


class WireOff(StoreappRedisCase):
    """--no-wire and --no-logs: the same app's Redis commands and log writes are not read."""

    SCOOBY_ARGS = ("--no-wire", "--no-logs")

    def test_nothing_read_from_the_wire_or_the_logs(self):
        for path in ("/redispy/", "/log/"):
            p, status, body = self.get(path)
            self.assertEqual(status, 200, body)
            rec = self.record_for(p, 200)
            self.assertEqual(rec["plugins_data"]["Redis"]["count"], 0, short(rec))
            self.assertEqual(rec["plugins_data"]["CustomLog"]["count"], 0, short(rec))


class WireRedact(StoreappRedisCase):
    """--redact: a Redis command keeps its name and key, its values become ?."""

    SCOOBY_ARGS = ("--redact",)

    def test_values_become_question_marks(self):
        p, status, body = self.get("/redispy/")
        self.assertEqual(status, 200, body)
        rec = self.record_for(p, 200)
        qs = redis_q(rec)
        self.assertEqual([(q["command"], q["key"], q["args"]) for q in qs[:2]],
                         [("SET", "sc:k", ["?"]), ("GET", "sc:k", [])], short(rec))
        self.assertEqual([q["query"] for q in qs[:2]], ["SET sc:k ?", "GET sc:k"], short(rec))
        # no value anywhere: every argument of every command (the pipeline's too) is ?
        self.assertEqual({a for q in qs for a in q["args"]}, {"?"}, short(rec))


class WireOptions(unittest.TestCase):
    """Bad --port-proto values: one line naming the problem, exit 2 (usage), before any attach."""

    def run_bad(self, *args):
        r = subprocess.run([harness.SCOOBY_BPF] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        return err.strip()

    def test_bad_port_proto(self):
        self.assertEqual(self.run_bad("--port-proto", "6380=foo"),
                         "scooby-bpf: invalid value '6380=foo' for --port-proto: postgresql, "
                         "mysql, redis or memcached after '=' (see --help)")
        self.assertEqual(self.run_bad("--port-proto", "99999=redis"),
                         "scooby-bpf: invalid value '99999=redis' for --port-proto: a TCP port "
                         "1 to 65535 before '=' (see --help)")
        self.assertIn("PORT=PROTO", self.run_bad("--port-proto", "redis"))


if __name__ == "__main__":
    unittest.main()
