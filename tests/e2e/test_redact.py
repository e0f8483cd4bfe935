"""Secrets: passwords in SQL are masked always; with --redact every literal becomes ?."""
import harness
from harness import DJAPP, E2ECase, http_request, queries

ALTER_MASKED = "ALTER USER bob PASSWORD '***'"
SELECT_RAW = "SELECT name FROM app_item WHERE name = 'item 1' OR id = 42"
SELECT_REDACTED = "SELECT name FROM app_item WHERE name = ? OR id = ?"


def setUpModule():
    harness.require_root_bpf()


class Redaction(E2ECase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("redact")
        cls.start_redis()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=1)
        cls.port = cls.gun.port
        http_request(cls.port, "/items/")

    def texts_of(self, args):
        sc = harness.Scooby(self.tmp, self.gun.pid, self.redis.url, args=args)
        self.addCleanup(sc.stop)
        sc.wait_attached()
        sent, status, _ = self.get("/secrets/")
        self.assertEqual(status, 200)
        rec = self.records.by_path(sent)
        self.assertEqual(sc.stop(), 0)
        with open(sc.json_path) as f:
            dump = f.read()
        return [q["query"] for q in queries(rec)], [q["error"] for q in queries(rec)], dump

    def test_password_masked_without_redact(self):
        texts, errors, dump = self.texts_of([])
        self.assertEqual(texts[-2:], [ALTER_MASKED, SELECT_RAW])
        self.assertIsNotNone(errors[-2])  # SQLite cannot prepare ALTER USER
        self.assertNotIn("hunter2", dump)

    def test_redact_replaces_literals(self):
        texts, errors, dump = self.texts_of(["--redact"])
        self.assertEqual(texts[-2:], [ALTER_MASKED, SELECT_REDACTED])
        self.assertNotIn("hunter2", dump)
        self.assertNotIn("item 1", dump)
