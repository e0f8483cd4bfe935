"""PostgreSQL through libpq: psycopg2 sync (PQexec) and async (PQsendQuery +
PQgetResult) in a plain WSGI app, and Django's postgresql backend."""
import json
import unittest

import harness
from harness import APPS, DJAPP, E2ECase, queries, short, texts

PG = None  # one cluster for the module
_MODULE_TMP = None

PG_ITEM = "SELECT id, name FROM item WHERE id = %d"
PG_COUNT = "SELECT count(*) FROM item"
PG_LIST = "SELECT id, name FROM item ORDER BY id"
PG_FAIL = "SELECT * FROM nope"
DJ_PG_GET = ('SELECT "app_item"."id", "app_item"."name" FROM "app_item" '
             'WHERE "app_item"."id" = %d LIMIT 21')


def setUpModule():
    global PG, _MODULE_TMP
    harness.require_root_bpf()
    _MODULE_TMP = harness.make_tmpdir("pg")
    unittest.addModuleCleanup(harness.remove_tmpdir, _MODULE_TMP)
    PG = harness.Postgres(_MODULE_TMP)
    unittest.addModuleCleanup(PG.stop)
    PG.start()
    PG.psql("CREATE DATABASE scooby")
    PG.psql("CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL); "
            "INSERT INTO item SELECT i, 'item-' || i FROM generate_series(1, 5) AS i", db="scooby")
    PG.psql("CREATE DATABASE djscooby")


class PsycopgWsgi(E2ECase):
    """tests/apps/pgapp.py under gunicorn -w 2 (sync workers)."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("pgapp")
        cls.start_redis()
        cls.gun = cls.start_gunicorn("pgapp:application", APPS, PG.env("scooby"), workers=2)
        cls.port = cls.gun.port
        for _ in range(4):  # both workers import psycopg2 (libpq) before attach
            harness.http_request(cls.port, "/sync/item/1")
        cls.attach(cls.gun.pid)

    def pg_record(self, path, status):
        rec = self.record_for(path, status)
        self.assertEqual(rec["request"]["comm"], "gunicorn", short(rec))
        for q in queries(rec):
            self.assertEqual(q["db"], "postgresql", short(rec))
        return rec

    def test_sync_one_query_exact_text(self):
        path, status, body = self.get("/sync/item/3")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), [[[3, "item-3"]]])
        rec = self.pg_record(path, 200)
        self.assertQueries(rec, [PG_ITEM % 3], db="postgresql")
        self.assertIsNone(queries(rec)[0]["error"], short(rec))

    def test_sync_two_queries_in_order(self):
        path, status, _ = self.get("/sync/two")
        self.assertEqual(status, 200)
        rec = self.pg_record(path, 200)
        self.assertQueries(rec, [PG_COUNT, PG_LIST], db="postgresql")

    def test_sync_missing_row_404(self):
        path, status, _ = self.get("/sync/item/42")
        self.assertEqual(status, 404)
        rec = self.pg_record(path, 404)
        self.assertQueries(rec, [PG_ITEM % 42], db="postgresql")

    def test_sync_error_text(self):
        path, status, body = self.get("/sync/fail")
        self.assertEqual(status, 500)
        self.assertIn(b'relation "nope" does not exist', body)
        rec = self.pg_record(path, 500)
        self.assertQueries(rec, [PG_FAIL], db="postgresql", failing=(0,))
        err = queries(rec)[0]["error"]
        self.assertIsInstance(err, str, short(rec))
        self.assertIn('relation "nope" does not exist', err, short(rec))

    def test_async_one_query_exact_text(self):
        path, status, body = self.get("/async/item/2")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), [[[2, "item-2"]]])
        rec = self.pg_record(path, 200)
        self.assertQueries(rec, [PG_ITEM % 2], db="postgresql")
        self.assertIsNone(queries(rec)[0]["error"], short(rec))

    def test_async_two_queries_in_order(self):
        path, status, _ = self.get("/async/two")
        self.assertEqual(status, 200)
        rec = self.pg_record(path, 200)
        self.assertQueries(rec, [PG_COUNT, PG_LIST], db="postgresql")

    def test_async_error_text(self):
        path, status, body = self.get("/async/fail")
        self.assertEqual(status, 500)
        self.assertIn(b'relation "nope" does not exist', body)
        rec = self.pg_record(path, 500)
        self.assertQueries(rec, [PG_FAIL], db="postgresql", failing=(0,))
        err = queries(rec)[0]["error"]
        self.assertIsInstance(err, str, short(rec))
        self.assertIn('relation "nope" does not exist', err, short(rec))

    def test_no_double_reporting_over_many_executions(self):
        """PQexec runs PQsendQuery + PQgetResult inside libpq, and async polling
        calls PQgetResult more than once per query: still one query each."""
        sent = []
        for i in range(1, 6):
            for mode in ("sync", "async"):
                path, status, _ = self.get("/%s/item/%d" % (mode, i))
                self.assertEqual(status, 200)
                sent.append((path, i))
        for path, i in sent:
            rec = self.pg_record(path, 200)
            self.assertQueries(rec, [PG_ITEM % i], db="postgresql")
            self.assertEqual(rec["plugins_data"]["SQL"]["count"], 1, short(rec))

    def test_noquery(self):
        path, status, _ = self.get("/noquery")
        self.assertEqual(status, 200)
        rec = self.pg_record(path, 200)
        self.assertEqual(queries(rec), [], short(rec))

    def test_zz_no_duplicate_records(self):
        recs = self.records.refresh()
        seen = {}
        for rec in recs:
            harness.check_record(self, rec)
            p = rec["request"]["path"]
            if p and "t=" in p:
                seen.setdefault(p, []).append(rec["uuid"])
        self.assertEqual({p: u for p, u in seen.items() if len(u) > 1}, {})
        bg_pg = [short(r) for r in recs if r["request"]["method"] == "background"]
        self.assertEqual(bg_pg, [], "queries reported outside any request")


class DjangoPostgres(E2ECase):
    """The Django app on the postgresql backend (psycopg2 sync) under gunicorn."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("djpg")
        cls.start_redis()
        db = dict(PG.env("djscooby"), SCOOBY_DB="postgresql")
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=2)
        cls.port = cls.gun.port
        for _ in range(4):
            harness.http_request(cls.port, "/items/")
        cls.attach(cls.gun.pid)

    def test_item_exact_query(self):
        path, status, _ = self.get("/item/3/")
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [DJ_PG_GET % 3], db="postgresql")

    def test_nplus1(self):
        path, status, _ = self.get("/nplus1/")
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertQueries(rec, [
            'SELECT "app_item"."id", "app_item"."name" FROM "app_item" '
            'ORDER BY "app_item"."id" ASC LIMIT 5'] + [DJ_PG_GET % i for i in range(1, 6)],
            db="postgresql")

    def test_fail_error_text(self):
        path, status, _ = self.get("/fail/")
        self.assertEqual(status, 500)
        rec = self.record_for(path, 500)
        # After a database error Django checks the connection with "SELECT 1"
        # from the request_finished signal, once the response has been written:
        # whether that lands in this record depends on where the request is
        # taken to end, so it may or may not be here (and nothing else may).
        self.assertIn(texts(rec), ([PG_FAIL], [PG_FAIL, "SELECT 1"]), short(rec))
        for q in queries(rec):
            self.assertEqual(q["db"], "postgresql", short(rec))
        self.assertIn('relation "nope" does not exist', queries(rec)[0]["error"] or "", short(rec))
