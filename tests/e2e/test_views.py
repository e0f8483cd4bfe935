"""View names for every request (issue 16), end to end.

The records' ViewName is compared, exactly, with the view Django itself resolves each
path to (`manage.py viewnames`: resolve(path).func's __module__ with __qualname__, and
with __name__, Scooby's form), for views that run no query:

  DjangoViews        Django (Debian python3, gunicorn -w 2, SQLite): a template page, a
                     TemplateView subclass, a view behind login_required, one behind a
                     functools.wraps decorator of another module, one made by a factory
                     (__qualname__ != __name__), one that raises (500); each path twice
                     (before and after scooby-bpf learned the dispatcher), and an ORM
                     query view.
  DjangoViewsDepth8  The same under --stack-depth 8: the query's stack is cut at 8
                     frames, far inside the view, and the view is still named.
  DjangoViews312     The same under pyenv's CPython 3.12 (skipped when absent).
  DjangoViewsDefault The same three without --view-probe (the default): the view is read at
  (Depth8, 312)      the response's first write, from the objects its server still holds.
  PlainWsgi          tests/apps/wsgiapp.py has no dispatcher: a request without a query
                     has no view, and says why.
  HiddenFrames313    wsgiapp.py under pyenv's CPython 3.13: queries from a class's
                     __init__, which 3.13 enters through a hidden frame; the view frame
                     is read at its own capture (was: the frame inner of it).
"""
import glob
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run by path too
import harness  # noqa: E402
from harness import (DJAPP, PYTHON, SQ_PRAGMA, E2ECase, http_request, queries,  # noqa: E402
                     short, texts)

# path -> expected status; none of them runs a query
NOQUERY_VIEWS = {
    "/view/page/": 200,
    "/view/class/": 200,
    "/view/login/": 200,
    "/view/wrapped/": 200,
    "/view/made/": 200,
    "/view/raises/": 500,
}
QUERY_VIEW = "/stack/query/"
SQ_COUNT_LTE = 'SELECT COUNT(*) AS "__count" FROM "app_item" WHERE "app_item"."id" <= ?'


def setUpModule():
    harness.require_root_bpf()


def django_views(db_env, paths):
    """{path: {"view_name", "scooby_view_name"}} as the app's Django resolves them."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **harness.django_env(db_env))
    r = subprocess.run([PYTHON, "manage.py", "viewnames"] + list(paths), cwd=DJAPP, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError("manage.py viewnames failed:\n" + r.stderr.decode(errors="replace"))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def view_of(rec):
    return rec["plugins_data"]["ViewName"]


NO_VIEW_REASON = ("no Python stack was captured during the request and no dispatcher call was "
                  "seen (--view-probe names every view)")


NO_MATCH_REASON = "Django resolved the request to no view (request.resolver_match is None)"


def require(found, what):
    """The pyenv interpreters are part of the machine: one missing is a failure, not a skip."""
    if not found:
        raise AssertionError("missing: " + what)
    return found[-1]


class DjangoViews(E2ECase):
    """The Django app on SQLite under gunicorn -w 2, Debian's python3, --view-probe."""

    scooby_args = ("--view-probe",)
    python = None  # Debian's
    env = {}

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("views-" + cls.__name__.lower())
        cls.start_redis()
        cls.db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, cls.db)
        cls.expected = django_views(cls.db, list(NOQUERY_VIEWS) + [QUERY_VIEW])
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP,
                                     dict(harness.django_env(cls.db), **cls.env), workers=2,
                                     python=cls.python)
        cls.port = cls.gun.port
        for _ in range(4):  # both workers load Django and open SQLite once
            http_request(cls.port, "/items/")
        cls.attach(cls.gun.pid, list(cls.scooby_args))

    def expect(self, path):
        return dict(self.expected[path], view_reason=None)

    def test_expected_names_are_djangos(self):
        """What Django resolves the paths to (the comparison's other side)."""
        self.assertEqual(self.expected["/view/class/"]["scooby_view_name"], "app.views.PageView")
        # functools.wraps: the wrapper (in app.decorators) carries the view's names
        self.assertEqual(self.expected["/view/wrapped/"],
                         {"view_name": "app.views.view_wrapped",
                          "scooby_view_name": "app.views.view_wrapped"})
        self.assertEqual(self.expected["/view/made/"],
                         {"view_name": "app.views.make_view.<locals>.made",
                          "scooby_view_name": "app.views.made"})

    def test_noquery_views(self):
        # twice each: the first request of a worker reports every call until the
        # dispatcher's, later ones stop at the dispatcher BPF then knows
        for round_ in range(2):
            for path, status in NOQUERY_VIEWS.items():
                with self.subTest(path=path, round=round_):
                    sent, got, _ = self.get(path)
                    self.assertEqual(got, status)
                    rec = self.record_for(sent, status)
                    self.assertIn(rec["request"]["pid"], self.gun.workers_pids(), short(rec))
                    self.assertEqual(queries(rec), [], short(rec))
                    self.assertEqual(view_of(rec), self.expect(path), short(rec))

    def test_no_url_matched(self):
        # a 404 reached no view: Django's resolver_match stays None, and the record says so
        sent, status, _ = self.get("/view/none-such/")
        self.assertEqual(status, 404)
        rec = self.record_for(sent, 404)
        self.assertEqual(view_of(rec), {"view_name": None, "scooby_view_name": None,
                                        "view_reason": NO_MATCH_REASON}, short(rec))

    def test_query_view(self):
        sent, status, body = self.get(QUERY_VIEW)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"count": 3})
        rec = self.record_for(sent, 200)
        self.assertQueries(rec, [SQ_PRAGMA, SQ_COUNT_LTE])
        self.check_query_stack(queries(rec)[1], rec)
        self.assertEqual(view_of(rec), self.expect(QUERY_VIEW), short(rec))

    def check_query_stack(self, q, rec):
        self.assertIs(q["stack_truncated"], False, short(rec))


class DjangoViewsDepth8(DjangoViews):
    scooby_args = ("--view-probe", "--stack-depth", "8")

    def check_query_stack(self, q, rec):
        # 8 frames of Django's ORM and the view's line: no dispatcher among them
        self.assertEqual(len(q["stack"]), 8, short(rec))
        self.assertIs(q["stack_truncated"], True, short(rec))
        self.assertNotIn("_get_response", [f.get("function", "").rsplit(".", 1)[-1]
                                           for f in q["stack"]], short(rec))


PY312 = sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python3"))


class DjangoViews312(DjangoViews):
    """The same under pyenv's CPython 3.12 (Debian's Django imports there, ruling 13),
    which pushes the view's frame without PyObject_Call."""

    python = require(PY312, "pyenv CPython 3.12")
    env = {"PYTHONPATH": "/usr/lib/python3/dist-packages"}


class DjangoViewsDefault(DjangoViews):
    """Without --view-probe (the default: no trap in the interpreter): a request's view is
    read at its response's first write, from the response the server holds (Django's
    request.resolver_match.func through response._resource_closers), queries or not."""

    scooby_args = ()


class DjangoViewsDefaultDepth8(DjangoViewsDepth8):
    """The same under --stack-depth 8: the response is found whatever the depth."""

    scooby_args = ("--stack-depth", "8")


class DjangoViewsDefault312(DjangoViews312):
    """The default under pyenv's CPython 3.12: its managed dicts' values are tagged."""

    scooby_args = ()


class PlainWsgi(E2ECase):
    """wsgiapp.py as a script under Debian's python3: no framework dispatcher."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("views-wsgi")
        cls.start_redis()
        cls.app = cls.start_wsgiapp(PYTHON, name="wsgiapp-views")
        cls.attach(cls.app.pid)

    def test_noquery_has_no_view_and_says_why(self):
        sent, status, _ = self.get("/noquery", port=self.app.port)
        self.assertEqual(status, 200)
        rec = self.record_for(sent, 200)
        self.assertEqual(queries(rec), [], short(rec))
        v = view_of(rec)
        self.assertEqual(sorted(v), ["scooby_view_name", "view_name", "view_reason"], short(rec))
        self.assertIsNone(v["view_name"], short(rec))
        self.assertIsNone(v["scooby_view_name"], short(rec))
        self.assertEqual(v["view_reason"], NO_VIEW_REASON, short(rec))

    def test_query_view_named_from_its_stack(self):
        sent, status, _ = self.get("/item", port=self.app.port)
        self.assertEqual(status, 200)
        rec = self.record_for(sent, 200)
        # the outermost application frame (ruling 6); 3.11+ reads the function object
        self.assertEqual(view_of(rec), {"view_name": "__main__.application",
                                        "scooby_view_name": "__main__.application",
                                        "view_reason": None}, short(rec))


PY313 = sorted(glob.glob("/root/.pyenv/versions/3.13*/bin/python3"))


class HiddenFrames313(E2ECase):
    @classmethod
    def setUpClass(cls):
        py = require(PY313, "pyenv CPython 3.13 (its hidden __init__ frames)")
        cls.make_tmp("views-313")
        cls.start_redis()
        cls.app = cls.start_wsgiapp(py, imported=True, name="wsgiapp-313")
        cls.attach(cls.app.pid)

    def test_view_past_a_hidden_frame(self):
        # the second request's constructor call is specialized from its first query on
        for _ in range(2):
            sent, status, _ = self.get("/init", port=self.app.port)
            self.assertEqual(status, 200)
            rec = self.record_for(sent, 200)
            self.assertEqual(texts(rec), ["SELECT COUNT(*) FROM item"] * 3, short(rec))
            for q in queries(rec):
                self.assertEqual([f["function"] for f in q["stack"][:3]],
                                 ["CountingRepo.__init__", "init_view", "application"],
                                 short(rec))
            self.assertEqual(view_of(rec), {"view_name": "wsgiapp.application",
                                            "scooby_view_name": "wsgiapp.application",
                                            "view_reason": None}, short(rec))


if __name__ == "__main__":
    unittest.main()
