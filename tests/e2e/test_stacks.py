"""Python stacks per query and view names (issue 3), end to end.

Every expected frame is computed from the source the app runs: the line of a marker
comment (`# Q1`, `# DJ_Q1`, ...) and the function around it (its qualified name on
3.11+, co_name before), found with `ast`; library frames by the line holding a known
call inside a named function. No line number is written here.

  DjangoSqliteStacks   Django (Debian python3, gunicorn -w 2, SQLite): function view,
                       class-based view, N+1 loop, no-query view, a thread started
                       after attach.
  DjangoPostgresStacks Django on PostgreSQL (psycopg2): the same function view.
  VersionMatrix        tests/apps/wsgiapp.py (stdlib only) under every pyenv CPython
                       3.8-3.13 and Debian's python3, one scooby-bpf each; 3.7, if
                       installed, gets one warning line and no Python frames (its
                       "native-only behaviour": native frames, never garbage ones).
  StackDepth           --stack-depth 3 (exactly 3 frames, stack_truncated) and
                       --stack-depth 0 (no stacks).
  CodeReuse            code objects freed after each request and their addresses
                       taken by the next one's: each stack names its own functions.

Environment (besides harness.py's): CI set makes a missing Debian 3.11 or a missing
3.12+ interpreter a failure; otherwise each missing 3.8-3.13 version is a loud skip.
"""
import ast
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run by path too
import harness  # noqa: E402
from harness import (DJAPP, PYTHON, SQ_COUNT, SQ_GET, SQ_PRAGMA, WSGIAPP, E2ECase,
                     check_record, http_request, nonce, queries, short, texts)

VIEWS = os.path.join(DJAPP, "app", "views.py")
DIST = "/usr/lib/python3/dist-packages/"
DJANGO = DIST + "django/"
DJANGO_DB = DJANGO + "db/"
SQLITE_BACKEND = DJANGO_DB + "backends/sqlite3/base.py"
BACKEND_UTILS = DJANGO_DB + "backends/utils.py"
HANDLERS_BASE = DJANGO + "core/handlers/base.py"
GENERIC_BASE = DJANGO + "views/generic/base.py"

SQ_COUNT_LTE = 'SELECT COUNT(*) AS "__count" FROM "app_item" WHERE "app_item"."id" <= ?'
PG_COUNT_LTE = 'SELECT COUNT(*) AS "__count" FROM "app_item" WHERE "app_item"."id" <= 3'
WSGI_SQL = "SELECT id, name FROM item WHERE id = ?"

PYENV_GLOB = "/root/.pyenv/versions/3.*/bin/python3"
MATRIX = range(8, 14)  # the supported minors, 3.8 .. 3.13
# run imported (module "wsgiapp") rather than as a script (module "__main__"): Debian's
# 3.11 (names from the function object) and 3.8 (names from the frame's globals)
IMPORTED_MINORS = {8}


def setUpModule():
    harness.require_root_bpf()


# ---------------------------------------------------------------- source facts

class Source:
    """A Python file: its marker comments and the functions in it (qualified names
    and line ranges, from ast). tree is None when this interpreter cannot parse it."""

    _cache = {}

    @classmethod
    def of(cls, path):
        if path not in cls._cache:
            cls._cache[path] = cls(path)
        return cls._cache[path]

    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.text = f.read()
        self.lines = self.text.splitlines()
        self.funcs = []  # (qualname, first line, last line)
        try:
            self.tree = ast.parse(self.text, path)
        except SyntaxError:
            self.tree = None
            return
        stack = []

        def visit(node):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    qn = ".".join(stack + [child.name])
                    self.funcs.append((qn, child.lineno, child.end_lineno))
                    stack.extend([child.name, "<locals>"])
                    visit(child)
                    del stack[-2:]
                elif isinstance(child, ast.ClassDef):
                    stack.append(child.name)
                    visit(child)
                    stack.pop()
                else:
                    visit(child)
        visit(self.tree)

    def marker(self, marker):
        """The line number of the one line ending with the comment `# marker`."""
        pat = re.compile(r"#\s*%s\s*$" % re.escape(marker))
        hits = [i + 1 for i, line in enumerate(self.lines) if pat.search(line)]
        if len(hits) != 1:
            raise AssertionError("marker %r: %d lines in %s (expected 1)"
                                 % (marker, len(hits), self.path))
        return hits[0]

    def enclosing(self, lineno):
        """The qualified name of the innermost function holding lineno."""
        inside = [f for f in self.funcs if f[1] <= lineno <= f[2]]
        if not inside:
            raise AssertionError("line %d of %s is in no function" % (lineno, self.path))
        return max(inside, key=lambda f: f[1])[0]

    def ranges(self, qualname):
        return [(a, b) for q, a, b in self.funcs if q == qualname]

    def line_in(self, qualname, needle):
        """The one line of function qualname that contains needle."""
        hits = sorted({i for a, b in self.ranges(qualname) for i in range(a, b + 1)
                       if needle in self.lines[i - 1]})
        if len(hits) != 1:
            raise AssertionError("%r in %s of %s: lines %s (expected exactly one)"
                                 % (needle, qualname, self.path, hits))
        return hits[0]


def reported(qualname, minor):
    """The `function` of a frame as 3.minor reports it: co_qualname on 3.11+, co_name
    before."""
    return qualname if minor >= 11 else qualname.rsplit(".", 1)[-1]


def frame_at_marker(path, marker, minor):
    src = Source.of(path)
    line = src.marker(marker)
    return {"filename": path, "lineno": line, "function": reported(src.enclosing(line), minor)}


def frame_at_call(path, qualname, needle, minor):
    return {"filename": path, "lineno": Source.of(path).line_in(qualname, needle),
            "function": reported(qualname, minor)}


def dump_stack(stack):
    out = []
    for i, f in enumerate(stack):
        if "module" in f:  # a native frame
            out.append("    #%d [native] %s %s+%r" % (i, f.get("module"), f.get("symbol"),
                                                       f.get("offset")))
        else:
            out.append("    #%d %s:%s %s%s" % (i, f.get("filename"), f.get("lineno"),
                                               f.get("function"),
                                               " UNRESOLVED" if f.get("unresolved") else ""))
    return "\n".join(out)


def describe(rec, q=None):
    """Failure context: the record excerpt, the view name and the query's stack."""
    out = "%s\nview_name: %r" % (short(rec), rec["plugins_data"].get("ViewName"))
    if q is not None:
        out += ("\nquery: %r stack_truncated=%r stack_partial=%r\nstack:\n%s"
                % (q.get("query"), q.get("stack_truncated"), q.get("stack_partial"),
                   dump_stack(q.get("stack") or [])))
    return out


def view_name(rec):
    return rec["plugins_data"]["ViewName"]["view_name"]


# ---------------------------------------------------------------- shared checks

class StackChecks:
    """Mixed into the test cases."""

    def assertFramesTrue(self, q, minor, msg):
        """Every frame is resolved and names a real place: the file exists, the line
        is in it, and (where this interpreter parses the file) the line lies inside a
        function of the reported name."""
        for i, f in enumerate(q["stack"]):
            fmsg = "frame #%d %r\n%s" % (i, f, msg)
            self.assertNotIn("unresolved", f, fmsg)
            self.assertEqual(sorted(f), ["filename", "function", "lineno"], fmsg)
            self.assertIsInstance(f["filename"], str, fmsg)
            self.assertIsInstance(f["function"], str, fmsg)
            self.assertIsInstance(f["lineno"], int, fmsg)
            if f["filename"].startswith("<"):  # <frozen ...>, <string>
                continue
            self.assertTrue(os.path.isabs(f["filename"]) and os.path.isfile(f["filename"]), fmsg)
            src = Source.of(f["filename"])
            self.assertTrue(1 <= f["lineno"] <= len(src.lines), fmsg)
            name = f["function"]
            if src.tree is None or name == "<module>" or any(
                    p.startswith("<") and p != "<locals>" for p in name.split(".")):
                continue  # comprehensions, lambdas, module code: the line check above
            cands = [(a, b) for qn, a, b in src.funcs if reported(qn, minor) == name]
            self.assertTrue(cands, "no function %r in %s\n%s" % (name, f["filename"], fmsg))
            self.assertTrue(any(a <= f["lineno"] <= b for a, b in cands),
                            "line %d is outside every function %r of %s (%s)\n%s"
                            % (f["lineno"], name, f["filename"], cands, fmsg))

    def assertStackComplete(self, q, msg):
        self.assertIs(q.get("stack_truncated"), False, msg)
        self.assertIs(q.get("stack_partial"), False, msg)

    def innermost_app(self, q, path, msg):
        """Index of the first frame (innermost) in path; every frame inner of it must be
        a library frame (dist-/site-packages, an interpreter's standard library), so
        that it is the query's call site (ruling 7)."""
        for i, f in enumerate(q["stack"]):
            if f.get("filename") == path:
                for g in q["stack"][:i]:
                    fn = g.get("filename") or ""
                    self.assertTrue("/dist-packages/" in fn or "/site-packages/" in fn
                                    or re.search(r"/lib/python3\.\d+/", fn),
                                    "application frame %r inner of %s\n%s" % (g, path, msg))
                return i
        self.fail("no frame of %s in the stack\n%s" % (path, msg))


# ---------------------------------------------------------------- Django + SQLite

def django_view_names(db_env, paths):
    """module.qualname of the functions Django resolves paths to (what Scooby shows as
    the view: view.__module__ and __qualname__), computed by Django itself."""
    code = ("import django, json, sys; django.setup(); from django.urls import resolve; "
            "print(json.dumps({p: '%s.%s' % (resolve(p).func.__module__, "
            "resolve(p).func.__qualname__) for p in sys.argv[1:]}))")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **harness.django_env(db_env))
    r = subprocess.run([PYTHON, "-c", code] + list(paths), cwd=DJAPP, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError("resolving views failed:\n" + r.stderr.decode(errors="replace"))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


class DjangoSqliteStacks(StackChecks, E2ECase):
    """The Django app on SQLite under gunicorn -w 2 (sync workers), Debian's python3."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("stacks-sqlite")
        cls.minor = harness.python_info(PYTHON)["version"][1]
        cls.start_redis()
        cls.db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, cls.db)
        cls.views_of = django_view_names(cls.db, ["/stack/query/", "/stack/cbv/", "/noquery/",
                                                  "/stack/thread/"])
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(cls.db),
                                     workers=2)
        cls.port = cls.gun.port
        for _ in range(4):  # both workers load Django and open SQLite once
            http_request(cls.port, "/items/")
        cls.attach(cls.gun.pid)

    def record_for(self, path, status=200, method="GET", max_query=None):
        rec = super().record_for(path, status, method, max_query)
        self.assertIn(rec["request"]["pid"], self.gun.workers_pids(), short(rec))
        return rec

    def backend_frame(self):
        """Where Django's SQLite cursor hands a parameterised query to sqlite3."""
        return frame_at_call(SQLITE_BACKEND, "SQLiteCursorWrapper.execute",
                             "Database.Cursor.execute(self, query, params)", self.minor)

    def check_orm_query(self, rec, q, marker):
        """The stack of an ORM query issued at `marker` in views.py: the exact app
        frame, Django DB frames (only) inner of it, the exact innermost frame."""
        msg = describe(rec, q)
        self.assertStackComplete(q, msg)
        self.assertFramesTrue(q, self.minor, msg)
        k = self.innermost_app(q, VIEWS, msg)
        self.assertEqual(q["stack"][k], frame_at_marker(VIEWS, marker, self.minor), msg)
        self.assertGreaterEqual(k, 1, msg)
        for f in q["stack"][:k]:
            self.assertTrue(f["filename"].startswith(DJANGO_DB),
                            "frame inner of the app frame not in django/db: %r\n%s" % (f, msg))
        self.assertEqual(q["stack"][0], self.backend_frame(), msg)
        return k

    def check_pragma(self, rec, q, marker):
        """Django runs PRAGMA foreign_keys = ON when the view's first query opens the
        connection: same app frame, Django frames (db/ and utils/) inner of it."""
        msg = describe(rec, q)
        self.assertStackComplete(q, msg)
        self.assertFramesTrue(q, self.minor, msg)
        k = self.innermost_app(q, VIEWS, msg)
        self.assertEqual(q["stack"][k], frame_at_marker(VIEWS, marker, self.minor), msg)
        for f in q["stack"][:k]:
            self.assertTrue(f["filename"].startswith(DJANGO), "%r\n%s" % (f, msg))
        self.assertEqual(q["stack"][0],
                         frame_at_call(SQLITE_BACKEND, "DatabaseWrapper.get_new_connection",
                                       "PRAGMA foreign_keys = ON", self.minor), msg)

    def test_function_view(self):
        path, status, body = self.get("/stack/query/")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"count": 3})
        rec = self.record_for(path)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_COUNT_LTE])
        pragma, q = queries(rec)
        self.check_pragma(rec, pragma, "DJ_Q1")
        k = self.check_orm_query(rec, q, "DJ_Q1")
        msg = describe(rec, q)
        # the dispatcher called the view directly (no middleware)
        self.assertEqual(q["stack"][k + 1],
                         frame_at_call(HANDLERS_BASE, "BaseHandler._get_response",
                                       "response = wrapped_callback(request", self.minor), msg)
        self.assertEqual(self.views_of["/stack/query/"], "app.views.stack_query")
        self.assertEqual(view_name(rec), "app.views.stack_query", msg)

    def test_class_based_view(self):
        path, status, body = self.get("/stack/cbv/")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"count": 5})
        rec = self.record_for(path)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_COUNT])
        pragma, q = queries(rec)
        self.check_pragma(rec, pragma, "DJ_CBV")
        k = self.check_orm_query(rec, q, "DJ_CBV")
        msg = describe(rec, q)
        self.assertEqual(q["stack"][k]["function"], reported("StackView.get", self.minor), msg)
        # StackView.get <- View.dispatch <- the as_view() closure <- _get_response
        self.assertEqual(q["stack"][k + 1:k + 4], [
            frame_at_call(GENERIC_BASE, "View.dispatch", "return handler(request", self.minor),
            frame_at_call(GENERIC_BASE, "View.as_view.<locals>.view", "return self.dispatch(",
                          self.minor),
            frame_at_call(HANDLERS_BASE, "BaseHandler._get_response",
                          "response = wrapped_callback(request", self.minor)], msg)
        # Django 3.2's as_view() copies the class's __module__ and __qualname__ onto
        # the function it returns (update_wrapper), so the view is named after the class
        self.assertEqual(self.views_of["/stack/cbv/"], "app.views.StackView")
        self.assertEqual(view_name(rec), self.views_of["/stack/cbv/"], msg)

    def test_noquery_view_named(self):
        # no stack: named from the response at its first write (issue 16)
        path, status, _ = self.get("/noquery/")
        self.assertEqual(status, 200)
        rec = self.record_for(path)
        self.assertEqual(queries(rec), [], short(rec))
        self.assertIn("ViewName", rec["plugins_data"], short(rec))
        self.assertEqual(self.views_of["/noquery/"], "app.views.noquery")
        self.assertEqual(view_name(rec), self.views_of["/noquery/"], describe(rec))

    def test_n_plus_one_same_call_site(self):
        path, status, body = self.get("/stack/loop/")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["names"], ["item-%d" % i for i in range(1, 6)])
        rec = self.record_for(path)
        self.assertQueries(rec, [SQ_PRAGMA] + [SQ_GET] * 5)
        qs = queries(rec)
        self.check_pragma(rec, qs[0], "DJ_LOOP")
        site = frame_at_marker(VIEWS, "DJ_LOOP", self.minor)
        for q in qs[1:]:
            k = self.check_orm_query(rec, q, "DJ_LOOP")
            self.assertEqual(q["stack"][k], site, describe(rec, q))
        # one line, one path: the five stacks are the same stack
        for q in qs[2:]:
            self.assertEqual(q["stack"], qs[1]["stack"], describe(rec, q))
        self.assertEqual(view_name(rec), "app.views.stack_loop", describe(rec))

    def test_thread_started_after_attach(self):
        tag = nonce()
        sql = "SELECT 'thr-%s', COUNT(*) FROM app_item" % tag
        path, status, body = self.get("/stack/thread/?tag=" + tag)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"count": 5})
        # the request itself ran no query on its own thread: named from its response
        rec = self.record_for(path)
        self.assertEqual(queries(rec), [], short(rec))
        self.assertEqual(view_name(rec), self.views_of["/stack/thread/"], describe(rec))
        # the new thread's queries go to the worker's background record
        bg = self.records.wait(lambda r: r["request"]["method"] == "background"
                               and sql in texts(r), "background record with %r" % sql)
        self.assertEqual(len(bg), 1, [short(r) for r in bg])
        bg = bg[0]
        check_record(self, bg)
        self.assertEqual(bg["request"]["pid"], rec["request"]["pid"], short(bg))
        thr = [q for q in queries(bg) if q["query"] == sql]
        self.assertEqual(len(thr), 1, short(bg))
        q = thr[0]
        msg = describe(bg, q)
        self.assertNotEqual(q["tid"], rec["request"]["tid"], msg)
        self.assertStackComplete(q, msg)
        self.assertFramesTrue(q, self.minor, msg)
        k = self.innermost_app(q, VIEWS, msg)
        self.assertEqual(q["stack"][k], frame_at_marker(VIEWS, "DJ_THR", self.minor), msg)
        for f in q["stack"][:k]:
            self.assertTrue(f["filename"].startswith(DJANGO_DB), "%r\n%s" % (f, msg))
        self.assertEqual(q["stack"][0],  # a raw query without parameters
                         frame_at_call(SQLITE_BACKEND, "SQLiteCursorWrapper.execute",
                                       "Database.Cursor.execute(self, query)", self.minor), msg)
        # the thread's own bottom frame: it was walked to the end
        self.assertEqual(q["stack"][-1],
                         frame_at_call("/usr/lib/python3.%d/threading.py" % self.minor,
                                       "Thread._bootstrap", "self._bootstrap_inner()",
                                       self.minor), msg)
        self.assertIsNone(view_name(bg), msg)  # background records have no view


# ---------------------------------------------------------------- Django + PostgreSQL

class DjangoPostgresStacks(StackChecks, E2ECase):
    """The Django app on the postgresql backend (psycopg2, PQexec) under gunicorn."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("stacks-pg")
        cls.minor = harness.python_info(PYTHON)["version"][1]
        pg = harness.Postgres(tmp)
        cls.addClassCleanup(pg.stop)
        pg.start()
        pg.psql("CREATE DATABASE djstacks")
        cls.start_redis()
        db = dict(pg.env("djstacks"), SCOOBY_DB="postgresql")
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=2)
        cls.port = cls.gun.port
        for _ in range(4):
            http_request(cls.port, "/items/")
        cls.attach(cls.gun.pid)

    def test_function_view(self):
        path, status, body = self.get("/stack/query/")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"count": 3})
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [PG_COUNT_LTE], db="postgresql")
        q = queries(rec)[0]
        msg = describe(rec, q)
        self.assertStackComplete(q, msg)
        self.assertFramesTrue(q, self.minor, msg)
        k = self.innermost_app(q, VIEWS, msg)
        self.assertEqual(q["stack"][k], frame_at_marker(VIEWS, "DJ_Q1", self.minor), msg)
        self.assertGreaterEqual(k, 1, msg)
        for f in q["stack"][:k]:
            self.assertTrue(f["filename"].startswith(DJANGO_DB), "%r\n%s" % (f, msg))
        # psycopg2's cursor.execute is C: the innermost Python frame is Django's wrapper
        self.assertEqual(q["stack"][0],
                         frame_at_call(BACKEND_UTILS, "CursorWrapper._execute",
                                       "return self.cursor.execute(sql, params)", self.minor),
                         msg)
        self.assertEqual(view_name(rec), "app.views.stack_query", msg)


# ---------------------------------------------------------------- version matrix

def _loud(msg):
    bar = "!" * 78
    sys.stderr.write("\n%s\n!! %s\n%s\n" % (bar, msg, bar))
    sys.stderr.flush()


def wsgi_expected_app_frames(minor):
    """application -> item_view -> Repo.fetch, innermost first."""
    return [frame_at_marker(WSGIAPP, "Q1", minor), frame_at_marker(WSGIAPP, "V1", minor),
            frame_at_marker(WSGIAPP, "A1", minor)]


class VersionMatrix(StackChecks, unittest.TestCase):
    """tests/apps/wsgiapp.py under each interpreter, one scooby-bpf each."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = harness.make_tmpdir("stacks-matrix")
        cls.addClassCleanup(harness.remove_tmpdir, cls.tmp)
        cls.redis = harness.RedisServer(cls.tmp)
        cls.addClassCleanup(cls.redis.stop)
        cls.redis.start()
        cls.records = harness.Records(cls.redis.client())
        cls.addClassCleanup(cls.records.close)

    def interpreters(self):
        """{minor: [(label, python, info)]}: Debian's python3 and every pyenv 3.x."""
        found = {}
        cands = [("debian " + PYTHON, PYTHON)] if os.path.exists(PYTHON) else []
        cands += [("pyenv " + p.split("/")[-3], p) for p in sorted(glob.glob(PYENV_GLOB))]
        for label, python in cands:
            info = harness.python_info(python)
            found.setdefault(info["version"][1], []).append((label, python, info))
        return found

    def test_wsgi_app_under_every_interpreter(self):
        found = self.interpreters()
        debian = harness.python_info(PYTHON) if os.path.exists(PYTHON) else None
        if os.environ.get("CI"):
            self.assertTrue(debian and debian["version"][:2] == (3, 11),
                            "CI: Debian's python3 3.11 is required at %s (found %s)"
                            % (PYTHON, debian and debian["version"]))
            self.assertTrue(any(m >= 12 for m in found),
                            "CI: a CPython 3.12+ is required (found: %s)"
                            % ", ".join("3.%d" % m for m in sorted(found)))
        for minor in MATRIX:
            if minor not in found:
                with self.subTest(python="3.%d" % minor):
                    _loud("CPython 3.%d not found (%s, %s): its stack test is SKIPPED"
                          % (minor, PYTHON, PYENV_GLOB))
                    self.skipTest("no CPython 3.%d on this machine" % minor)
        # scooby-bpf takes a few seconds to detach: each one is signalled as soon as
        # its records are checked, and its exit is checked at the end, so detaching
        # overlaps the next interpreter's run
        self.exits = []
        for minor in sorted(found):
            for label, python, info in found[minor]:
                if minor in MATRIX:
                    imported = python == PYTHON or minor in IMPORTED_MINORS
                    with self.subTest(python=label):
                        self.run_supported(label, python, info, imported)
                elif minor == 7:
                    with self.subTest(python=label):
                        self.run_unsupported(label, python, info)
                else:
                    harness.log("not testing %s (%s): unsupported, no check asked"
                                % (label, ".".join(map(str, info["version"]))))
        for label, sc, minor in self.exits:
            with self.subTest(python=label, check="scooby-bpf exit"):
                rc = sc.stop()
                err = sc.stderr()
                self.assertEqual(rc, 0, "scooby-bpf exit code after SIGINT; stderr:\n" + err)
                self.assertEqual(len(sc.attached_lines()), 1, err)
                warnings = [l for l in err.splitlines() if "warning" in l.lower()]
                about = [l for l in err.splitlines() if "warning" in l.lower()
                         or re.search(r"Python 3\.%d\b" % minor, l)]
                if minor in MATRIX:
                    self.assertEqual(warnings, [], err)
                else:  # one clear line, said once for the process's two requests
                    self.assertEqual(len(about), 1, "expected one line about Python 3.%d:\n%s"
                                     % (minor, err))
                    self.assertRegex(about[0], r"^scooby-bpf: warning: Python 3\.%d\b" % minor)
                    self.assertIn("not supported", about[0])

    def _serve(self, python, imported, name):
        app = harness.WsgiApp(self.tmp, python, imported=imported, name=name)
        self.addCleanup(app.stop)
        app.start()
        sc = harness.Scooby(self.tmp, app.pid, self.redis.url)
        self.addCleanup(sc.stop)
        sc.wait_attached()
        return app, sc

    def _get(self, app, path):
        sent = harness.tagged(path)
        status, body, _ = http_request(app.port, sent)
        return sent, status, body

    def run_supported(self, label, python, info, imported):
        minor = info["version"][1]
        app, sc = self._serve(python, imported, "wsgiapp-3.%d" % minor)
        self.exits.append((label, sc, minor))
        try:
            self.check_supported(app, python, info)
        finally:
            sc.proc.send_signal(signal.SIGINT)

    def check_supported(self, app, python, info):
        minor = info["version"][1]
        path, status, body = self._get(app, "/item")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"id": 3, "name": "item-3"})
        npath, status, _ = self._get(app, "/noquery")
        self.assertEqual(status, 200)
        rec = self.records.by_path(path)
        check_record(self, rec)
        self.assertEqual(texts(rec), [WSGI_SQL], short(rec))
        q = queries(rec)[0]
        msg = "%s %s (module %s)\n%s" % (python, ".".join(map(str, info["version"])),
                                         app.module, describe(rec, q))
        self.assertIsNone(q["error"], msg)
        # ThreadingMixIn: the request ran on a thread started after attach
        self.assertEqual(q["tid"], rec["request"]["tid"], msg)
        self.assertNotEqual(rec["request"]["tid"], app.pid, msg)
        self.assertStackComplete(q, msg)
        self.assertFramesTrue(q, minor, msg)
        stack = q["stack"]
        self.assertEqual(stack[:3], wsgi_expected_app_frames(minor), msg)
        stdlib = info["stdlib"]
        self.assertEqual(stack[3], frame_at_call(os.path.join(stdlib, "wsgiref", "handlers.py"),
                                                 "BaseHandler.run", "application(self.environ",
                                                 minor), msg)
        for f in stack[3:]:
            self.assertTrue(f["filename"].startswith(stdlib + "/"), "%r\n%s" % (f, msg))
        self.assertEqual(stack[-1], frame_at_call(os.path.join(stdlib, "threading.py"),
                                                  "Thread._bootstrap", "self._bootstrap_inner()",
                                                  minor), msg)
        # the view: the outermost application frame, named by its module's __name__
        self.assertEqual(view_name(rec), "%s.application" % app.module, msg)
        nrec = self.records.by_path(npath)
        check_record(self, nrec)
        self.assertEqual(queries(nrec), [], short(nrec))
        self.assertIsNone(view_name(nrec), describe(nrec))

    def run_unsupported(self, label, python, info):
        minor = info["version"][1]
        app, sc = self._serve(python, False, "wsgiapp-3.%d" % minor)
        self.exits.append((label, sc, minor))
        try:
            self.check_unsupported(app)
        finally:
            sc.proc.send_signal(signal.SIGINT)

    def check_unsupported(self, app):
        recs = []
        for _ in range(2):
            path, status, body = self._get(app, "/item")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body), {"id": 3, "name": "item-3"})
            recs.append(self.records.by_path(path))
        for rec in recs:
            check_record(self, rec)
            self.assertEqual(texts(rec), [WSGI_SQL], short(rec))
            q = queries(rec)[0]
            msg = describe(rec, q)
            # No Python frames. "Native-only behaviour" (issue 3) allows the frame-pointer
            # native frames a non-Python caller gets, but never garbage (ruling 9): each
            # names a file the process maps and a sane offset.
            for f in q["stack"]:
                fmsg = "frame %r\n%s" % (f, msg)
                self.assertNotIn("filename", f, fmsg)
                self.assertEqual(sorted(f), ["module", "offset", "symbol"], fmsg)
                self.assertIsInstance(f["module"], str, fmsg)
                self.assertTrue(os.path.isfile(f["module"]), fmsg)
                self.assertIsInstance(f["offset"], int, fmsg)
                self.assertTrue(0 <= f["offset"] < 1 << 32, fmsg)
            self.assertIsNone(view_name(rec), msg)


# ---------------------------------------------------------------- --stack-depth

class StackDepth(StackChecks, E2ECase):
    """wsgiapp.py as a script under Debian's python3: one scooby-bpf with
    --stack-depth 3, another app with --stack-depth 0."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("stacks-depth")
        cls.minor = harness.python_info(PYTHON)["version"][1]
        cls.start_redis()
        cls.app3 = cls.start_wsgiapp(PYTHON, name="wsgiapp-depth3")
        cls.attach(cls.app3.pid, ["--stack-depth", "3"])
        cls.app0 = cls.start_wsgiapp(PYTHON, name="wsgiapp-depth0")
        cls.attach(cls.app0.pid, ["--stack-depth", "0"])

    def test_depth_3(self):
        path, status, _ = self.get("/item", port=self.app3.port)
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [WSGI_SQL])
        q = queries(rec)[0]
        msg = describe(rec, q)
        self.assertEqual(len(q["stack"]), 3, msg)
        self.assertIs(q["stack_truncated"], True, msg)
        self.assertIs(q["stack_partial"], False, msg)
        self.assertEqual(q["stack"], wsgi_expected_app_frames(self.minor), msg)
        # the outermost application frame among those captured
        self.assertEqual(view_name(rec), "__main__.application", msg)

    def test_depth_0_no_stacks(self):
        path, status, _ = self.get("/item", port=self.app0.port)
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [WSGI_SQL])
        q = queries(rec)[0]
        self.assertEqual(q["stack"], [], describe(rec, q))
        self.assertIsNone(view_name(rec), describe(rec, q))


class CodeReuse(StackChecks, E2ECase):
    """wsgiapp.py's /dyn under Debian's python3: each request runs functions compiled
    for it alone, which go with it; the next request's code objects take their addresses.
    A code object's names are cached by address and re-read after 1 s (src/python/pycode.c,
    many objects per read): a stack must never show the names of the code that was there."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("stacks-reuse")
        cls.start_redis()
        cls.app = cls.start_wsgiapp(PYTHON, name="wsgiapp-reuse")
        cls.attach(cls.app.pid)

    def test_reused_code_address_gets_its_new_names(self):
        seen, reused = {}, []
        for n in range(1, 7):
            if n > 1:
                time.sleep(1.3)  # past the time a cached code object is believed
            path, status, body = self.get("/dyn?n=%d" % n, port=self.app.port)
            self.assertEqual(status, 200, body)
            got = json.loads(body)
            reused += [(seen[c], n) for c in got["codes"] if c in seen]
            seen.update((c, n) for c in got["codes"])
            rec = self.record_for(path, 200)
            self.assertQueries(rec, [WSGI_SQL])
            q = queries(rec)[0]
            msg = describe(rec, q)
            self.assertEqual([(f["filename"], f["function"]) for f in q["stack"][1:3]],
                             [("<dyn>", got["name"] + "_inner"),
                              ("<dyn>", got["name"] + "_outer")], msg)
        harness.log("code object addresses taken again (request before, request): %s"
                    % reused)
        self.assertTrue(reused, "no request's code object took an earlier one's address: "
                        "nothing was tested (addresses: %s)" % seen)


if __name__ == "__main__":
    unittest.main()
