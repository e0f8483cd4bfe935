"""ASGI servers: Django under uvicorn, hypercorn and daphne (one event-loop thread reads and writes every connection,
sync views and the ORM run in asgiref's executor thread), traced by scooby-bpf; and the asyncio
TaskObj offsets scooby-bpf reads a task's coroutine at, checked on every interpreter."""
import glob
import json
import os
import re
import subprocess

import harness
from harness import (DJAPP, PYTHON, SQ_PRAGMA, E2ECase, Proc, check_record,
                     concurrent_clients, free_port, http_request, nonce, queries, short, texts,
                     wait_http)

THREADS = 4
PER_THREAD = 50
# what the clients ask for, in turn, and the view Django resolves each to
PAGES = [("/nplus1/page/", "app.views.nplus1_page"), ("/item/2/", "app.views.item"),
         ("/items/", "app.views.items"), ("/noquery/", "app.views.noquery")]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def setUpModule():
    harness.require_root_bpf()


def as_sqlite_received(sql):
    """Django's SQL as its sqlite3 backend hands it to SQLite: %s placeholders become ?."""
    return re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%")


class Uvicorn:
    """Debian's uvicorn (h11, the asyncio loop) serving module on 127.0.0.1:<free port>, one
    process (self.pid)."""

    def __init__(self, tmp, app, chdir, env, ready="/noquery/"):
        self.tmp, self.app, self.chdir, self.env = tmp, app, chdir, env
        self.ready = ready
        self.port = free_port()
        self.proc = None

    def start(self):
        argv = [PYTHON, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port",
                str(self.port), "--lifespan", "off", "--no-access-log"]
        self.proc = Proc("uvicorn", argv, self.tmp, env=self.env, cwd=self.chdir)
        self.pid = self.proc.pid
        wait_http(self.port, self.ready, self.proc)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()


class Hypercorn(Uvicorn):
    """Debian's hypercorn (h11, its asyncio worker) serving module on 127.0.0.1:<free port>,
    one worker in the process started (self.pid)."""

    def start(self):
        argv = [PYTHON, "-m", "hypercorn", self.app, "--bind", "127.0.0.1:%d" % self.port,
                "--workers", "1", "--worker-class", "asyncio"]
        self.proc = Proc("hypercorn", argv, self.tmp, env=self.env, cwd=self.chdir)
        self.pid = self.proc.pid
        wait_http(self.port, self.ready, self.proc)
        return self


class Daphne(Uvicorn):
    """Debian's daphne (Twisted on its asyncio reactor) serving module on
    127.0.0.1:<free port>, one process (self.pid)."""

    def start(self):
        argv = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), self.app]
        self.proc = Proc("daphne", argv, self.tmp, env=self.env, cwd=self.chdir)
        self.pid = self.proc.pid
        wait_http(self.port, self.ready, self.proc)
        return self


class DjangoUvicorn(E2ECase):
    """THREADS clients at once, each sending PER_THREAD requests with an X-Request-ID, to Django
    under uvicorn: every request is recorded once, with the exact SQL Django's own execute
    wrapper logged for it (tests/apps/djapp/djapp/asgi_logged.py), attributed through its
    asyncio task ("executor"), with its status and view. SQLite here."""

    db = "sqlite"
    record_db = "sqlite"  # the queries' db in records
    server_kind = Uvicorn

    @classmethod
    def db_env(cls, tmp):
        return harness.sqlite_env(tmp)

    @classmethod
    def expected(cls, logged):
        """What the tracer must see for what Django logged: its sqlite3 backend's set-up
        statement where it opened the connection, its %s placeholders as ?."""
        out = []
        for sql in logged:
            out += [SQ_PRAGMA] if sql == "<connect>" else [as_sqlite_received(sql)]
        return out

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("asgi-%s-%s" % (cls.server_kind.__name__.lower(), cls.db))
        cls.start_redis()
        db = cls.db_env(tmp)
        harness.django_prepare(tmp, db)
        cls.sql_log = os.path.join(tmp, "sql.jsonl")
        env = harness.django_env(db)
        env["SCOOBY_SQL_LOG"] = cls.sql_log
        cls.server = cls.start_server(cls.server_kind, "djapp.asgi_logged:application", DJAPP,
                                      env)
        cls.port = cls.server.port
        cls.attach(cls.server.pid)
        # scooby-bpf learns asgiref's thread_handler from the first executor stack it
        # resolves (docs/FORMAT.md): that request's queries go to the background
        rid = "warmup-" + nonce()
        http_request(cls.port, "/items/", headers={"X-Request-ID": rid})
        cls.records.wait(lambda r: r["request"]["request_id"] == rid, "the warm-up request")

    def app_log(self):
        with open(self.sql_log) as f:
            return {e["request_id"]: e for e in map(json.loads, f) if e["request_id"]}

    def drive(self):
        def one(n, i):
            path = PAGES[(n + i) % len(PAGES)][0]
            rid = "asgi-%d-%d-%s" % (n, i, nonce())
            status, _, _ = http_request(self.port, path, headers={"X-Request-ID": rid})
            return rid, (path, status)

        sent, errors = concurrent_clients(THREADS, lambda n: range(PER_THREAD), one, 300)
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
        loop_tids = set()
        for rid, (path, status) in sorted(sent.items()):
            rec = by_id[rid]
            check_record(self, rec)
            self.assertEqual(status, 200, rid)
            req = rec["request"]
            self.assertEqual((req["method"], req["path"], req["status"]), ("GET", path, 200),
                             short(rec))
            self.assertEqual(req["pid"], self.server.pid, short(rec))
            self.assertEqual(logged[rid]["pid"], req["pid"], short(rec))
            loop_tids.add(req["tid"])
            expected = self.expected(logged[rid]["sql"])
            self.assertEqual(texts(rec), expected, short(rec))
            for q in queries(rec):
                self.assertIsNone(q["error"], short(rec))
                self.assertEqual(q["db"], self.record_db, short(rec))
                # run in the executor thread, not the thread that read the request
                self.assertEqual(q["attributed_by"], "executor", short(rec))
                self.assertNotEqual(q["tid"], req["tid"], short(rec))
                if q["query"] != SQ_PRAGMA:
                    self.assertTrue(q["stack"], short(rec))
            if expected:
                self.assertEqual(rec["plugins_data"]["ViewName"]["view_name"], views[path],
                                 short(rec))
        # one event loop read every request
        self.assertEqual(len(loop_tids), 1, loop_tids)


class DjangoUvicornPostgres(DjangoUvicorn):
    """The same on the postgresql backend (psycopg2, libpq's PQexec): Django's log holds the
    statements as psycopg2 sends them."""

    db = "postgresql"
    record_db = "postgresql"

    @classmethod
    def db_env(cls, tmp):
        pg = harness.Postgres(tmp)
        cls.addClassCleanup(pg.stop)
        pg.start()
        pg.psql("CREATE DATABASE djscooby")
        return dict(pg.env("djscooby"), SCOOBY_DB="postgresql")

    @classmethod
    def expected(cls, logged):
        """Opening the connection runs no statement through libpq's query calls."""
        return [sql for sql in logged if sql != "<connect>"]


class DjangoHypercorn(DjangoUvicorn):
    """The same under hypercorn, whose app task writes its response itself
    (HTTPStream.app_send -> TCPServer.protocol_send -> StreamWriter.write)."""

    server_kind = Hypercorn


class DjangoHypercornPostgres(DjangoUvicornPostgres):
    """The same on the postgresql backend under hypercorn."""

    server_kind = Hypercorn


class DjangoDaphne(DjangoUvicorn):
    """The same under daphne, where Twisted buffers the response and writes it later from
    the loop, outside the request's task: the task is known when it asks the loop to watch
    its connection for writing (Request.write -> startWriting -> add_writer: epoll_ctl)."""

    server_kind = Daphne


class DjangoDaphnePostgres(DjangoUvicornPostgres):
    """The same on the postgresql backend under daphne."""

    server_kind = Daphne


ASGI_PER_THREAD = 25
ASGI_QUERIES = 3


def query_text(rid, k):
    """tests/apps/asgiapp.py's k-th statement of request rid."""
    return "SELECT name FROM items WHERE id = %d /* %s */" % (k % 4 + 1, rid)


class PlainAsgiUvicorn(E2ECase):
    """tests/apps/asgiapp.py under uvicorn: async handlers query SQLite on the event loop's
    thread, awaiting between queries, THREADS clients at once: each request's queries are its
    own (found through its task's coroutine, "task", or by the thread while it serves one
    request at a time, "thread"), in order."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("asgi-plain")
        cls.start_redis()
        env = {"SCOOBY_ASGI_DB": os.path.join(tmp, "asgi.sqlite3")}
        cls.server = cls.start_server(Uvicorn, "asgiapp:application", harness.APPS, env,
                                      ready="/q/0/")
        cls.port = cls.server.port
        cls.attach(cls.server.pid)

    def test_interleaved_requests_own_queries(self):
        def one(n, i):
            rid = "plain-%d-%d-%s" % (n, i, nonce())
            status, _, _ = http_request(self.port, "/q/%d/" % ASGI_QUERIES,
                                        headers={"X-Request-ID": rid})
            return rid, status

        sent, errors = concurrent_clients(THREADS, lambda n: range(ASGI_PER_THREAD), one, 300)
        self.assertEqual(errors, [])
        recs = self.records.wait(lambda r: r["request"]["request_id"] in sent,
                                 "%d requests" % len(sent), count=len(sent))
        by_id, by = {}, set()
        for rec in recs:
            rid = rec["request"]["request_id"]
            self.assertNotIn(rid, by_id, "two records for %s: %s" % (rid, short(rec)))
            by_id[rid] = rec
        for rid, status in sorted(sent.items()):
            rec = by_id[rid]
            check_record(self, rec)
            self.assertEqual(status, 200, rid)
            req = rec["request"]
            self.assertEqual((req["path"], req["status"]), ("/q/%d/" % ASGI_QUERIES, 200),
                             short(rec))
            self.assertEqual(texts(rec), [query_text(rid, k) for k in range(ASGI_QUERIES)],
                             short(rec))
            for q in queries(rec):
                self.assertIn(q["attributed_by"], ("thread", "task"), short(rec))
                self.assertEqual(q["tid"], req["tid"], short(rec))
                by.add(q["attributed_by"])
        # the clients' requests interleaved on the loop: some were found by their task
        self.assertIn("task", by)


def task_coro_table():
    """{minor: offset} of src/pyoffsets.c's task_coro."""
    with open(os.path.join(ROOT, "src", "python", "pyoffsets.c")) as f:
        text = f.read()
    return {int(m.group(1)): int(m.group(2))
            for m in re.finditer(r"\.minor = (\d+),.*?\.task_coro = (-?\d+),", text, re.S)}


TASK_PROBE = r"""
import asyncio, ctypes, sys
async def work():
    return 1
async def main(off):
    task = asyncio.ensure_future(work())
    assert type(task).__module__ == "_asyncio", type(task)
    coro = task.get_coro() if hasattr(task, "get_coro") else task._coro
    print(ctypes.c_void_p.from_address(id(task) + off).value == id(coro))
    await task
asyncio.new_event_loop().run_until_complete(main(int(sys.argv[1])))
"""


class TaskCoroOffsets(E2ECase):
    """src/pyoffsets.c's task_coro (TaskObj.task_coro, in no installed header) is where each
    interpreter's C Task keeps its coroutine."""

    def test_every_interpreter(self):
        table = task_coro_table()
        pythons = [PYTHON] + sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3"))
        checked = []
        for py in pythons:
            minor = harness.python_info(py)["version"][1]
            if minor < 8:
                continue
            self.assertIn(minor, table, py)
            r = subprocess.run([py, "-c", TASK_PROBE, str(table[minor])], cwd="/",
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            self.assertEqual(r.stdout.decode().strip().splitlines()[-1:], ["True"],
                             "%s (3.%d, offset %d): %s" % (py, minor, table[minor], r.stdout))
            checked.append(minor)
        harness.log("task_coro checked on 3.%s" % ", 3.".join(map(str, checked)))
        self.assertIn(11, checked)
