"""MySQL/MariaDB through libmariadb's uprobes (issue 4): MySQLdb's mysql_real_query and its
send_query + read_query_result, and prepared statements (libmariadb through ctypes), against a
real mariadbd, in tests/apps/storeapp.py under gunicorn."""
import os
import sys
import unittest

import harness
from harness import APPS, E2ECase, queries, short

sys.path.insert(0, APPS)
import storeapp  # noqa: E402  (the app's statements, imported without its drivers)

STOREAPP_PY = os.path.join(APPS, "storeapp.py")


def marker_line(marker):
    """The line of tests/apps/storeapp.py that ends with `# <marker>`."""
    with open(STOREAPP_PY) as f:
        for no, line in enumerate(f, 1):
            if line.rstrip().endswith("# " + marker):
                return no
    raise AssertionError("no line marked %r in %s" % (marker, STOREAPP_PY))


def setUpModule():
    harness.require_root_bpf()


class MySQLdbLibrary(E2ECase):
    """storeapp under gunicorn (one sync worker) on MariaDB; MySQLdb links libmariadb.so.3."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("mysql")
        cls.start_redis()
        db = cls.start_mariadb()
        db.sql(storeapp.MYSQL_SCHEMA, db=db.database)
        cls.gun = cls.start_gunicorn(harness.STOREAPP_MODULE, APPS, db.env(), workers=1)
        cls.port = cls.gun.port
        # connections open (and the kept statement is prepared) before attaching
        for path in ("/mysqldb/", "/mysqldb-async/", "/mysql-stmt-kept/"):
            status, body, _ = harness.http_request(cls.port, path)
            assert status == 200, (path, status, body)
        cls.attach(cls.gun.pid)

    def my_record(self, path):
        sent, status, body = self.get(path)
        self.assertEqual(status, 200, body)
        rec = self.record_for(sent, 200)
        for q in queries(rec):
            self.assertEqual(q["db"], "mysql", short(rec))
            self.assertEqual(q["via"], "library", short(rec))
            self.assertGreater(q["time_taken"], 0.0, short(rec))
        self.assertEqual(rec["plugins_data"]["Redis"]["count"], 0, short(rec))
        self.assertEqual(rec["plugins_data"]["Memcache"]["count"], 0, short(rec))
        return rec

    def assertCalledFrom(self, rec, q, function, marker):
        """The query's stack holds storeapp.py's `function` at the line marked `marker`."""
        frames = [(f.get("filename"), f.get("lineno"), f.get("function")) for f in q["stack"]]
        self.assertIn((STOREAPP_PY, marker_line(marker), function), frames,
                      "%s\n%s" % (short(rec), frames))
        self.assertFalse(q["stack_truncated"], short(rec))

    def test_mysqldb_statements_in_order(self):
        rec = self.my_record("/mysqldb/")
        self.assertQueries(rec, storeapp.MYSQL_STATEMENTS, db="mysql", failing=(2,))
        self.assertEqual(queries(rec)[2]["error"], storeapp.MYSQL_FAIL_ERROR, short(rec))
        for q in queries(rec):
            self.assertCalledFrom(rec, q, "_run_sql", "sql:execute")
            self.assertFalse(q["truncated"], short(rec))

    def test_send_query_and_read_result_are_one_query(self):
        rec = self.my_record("/mysqldb-async/")
        self.assertQueries(rec, [storeapp.MYSQL_SELECT], db="mysql")
        q = queries(rec)[0]
        span = harness.iso_ms(q["end"]) - harness.iso_ms(q["start"])
        # the time inside mysql_send_query and mysql_read_query_result, not between them
        self.assertLessEqual(q["time_taken"], span + 0.002, short(rec))
        self.assertCalledFrom(rec, q, "mysqldb_async", "sql:send")

    def test_prepared_statements(self):
        rec = self.my_record("/mysql-stmt/")
        sql = storeapp.MYSQL_STMT_SQL
        # the prepare, two executions with the prepare's SQL, the failed prepare
        self.assertQueries(rec, [sql, sql, sql, storeapp.MYSQL_FAIL], db="mysql", failing=(3,))
        self.assertEqual(queries(rec)[3]["error"], storeapp.MYSQL_FAIL_ERROR, short(rec))
        self.assertCalledFrom(rec, queries(rec)[0], "_MysqlC.prepare", "sql:prepare")
        self.assertCalledFrom(rec, queries(rec)[1], "_MysqlC.execute", "sql:stmt-execute")
        self.assertCalledFrom(rec, queries(rec)[3], "_MysqlC.prepare", "sql:prepare")

    def test_statement_prepared_before_attach(self):
        rec = self.my_record("/mysql-stmt-kept/")
        self.assertQueries(rec, ["EXECUTE (statement prepared before attach)"], db="mysql")

    def test_no_double_reporting_over_many_requests(self):
        for rec in self.records_for_many("/mysqldb/"):
            self.assertQueries(rec, storeapp.MYSQL_STATEMENTS, db="mysql", failing=(2,))
            self.assertEqual(rec["plugins_data"]["SQL"]["count"], 3, short(rec))

    def test_noquery(self):
        rec = self.my_record("/noquery/")
        self.assertEqual(queries(rec), [], short(rec))

    def test_zz_nothing_outside_requests(self):
        recs = self.records.refresh()
        for rec in recs:
            harness.check_record(self, rec)
        bg = [short(r) for r in recs if r["request"]["method"] == "background"]
        self.assertEqual(bg, [], "queries reported outside any request")


if __name__ == "__main__":
    unittest.main()
