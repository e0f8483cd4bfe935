"""Key-value stores through their C client libraries' uprobes (issue 4): hiredis in a C program
(tests/apps/hiredis_client.c) and pylibmc (libmemcached) in tests/apps/storeapp.py, against a
real redis-server and memcached."""
import os
import sys
import unittest

import harness
from harness import APPS, E2ECase, queries, short

sys.path.insert(0, APPS)
import storeapp  # noqa: E402  (the app's commands, imported without its drivers)

STOREAPP_PY = os.path.join(APPS, "storeapp.py")

# What GET /hiredis/ of tests/apps/hiredis_client.c runs, in order: (command, key, args,
# the C function that issued it). INCR of "hv" fails; the middle three are one pipeline.
HIREDIS_COMMANDS = [
    ("SET", "hk:key", ["hv"], "redisCommand"),
    ("GET", "hk:key", [], "redisCommand"),
    ("INCR", "hk:key", [], "redisCommand"),
    ("SET", "hk:p1", ["1"], "redisAppendCommand"),
    ("INCR", "hk:p1", [], "redisAppendCommand"),
    ("GET", "hk:p1", [], "redisAppendCommand"),
    ("SET", "hk:argv", ["x"], "redisCommandArgv"),
]
HIREDIS_FAILING = 2
REDIS_INCR_ERROR = "ERR value is not an integer or out of range"

# storeapp.MC_OPS, each with the `# mc:` marker of the line that runs it
MC_MARKERS = ["mc:set", "mc:get", "mc:get-missing", "mc:delete", "mc:incr", "mc:get_multi"]


def marker_line(marker):
    """The line of tests/apps/storeapp.py that ends with `# <marker>`."""
    with open(STOREAPP_PY) as f:
        for no, line in enumerate(f, 1):
            if line.rstrip().endswith("# " + marker):
                return no
    raise AssertionError("no line marked %r in %s" % (marker, STOREAPP_PY))


def redis_entries(rec):
    return rec["plugins_data"]["Redis"]["queries"]


def memcache_entries(rec):
    return rec["plugins_data"]["Memcache"]["queries"]


def setUpModule():
    harness.require_root_bpf()


class KVCase(E2ECase):
    def check_common(self, rec, entries):
        """What every library-probed key-value entry has; nothing in the other stores."""
        for e in entries:
            msg = "%s\n%s" % (short(rec), e)
            self.assertEqual(e["via"], "library", msg)
            self.assertGreater(e["time_taken"], 0.0, msg)
            start, end = harness.iso_ms(e["start"]), harness.iso_ms(e["end"])
            self.assertLessEqual(e["time_taken"], end - start + 0.002, msg)
            self.assertGreaterEqual(e["start_offset_ms"], 0.0, msg)
            self.assertLessEqual(e["start_offset_ms"], rec["request"]["duration_ms"], msg)
            self.assertEqual(e["tid"], rec["request"]["tid"], msg)
        offsets = [e["start_offset_ms"] for e in entries]
        self.assertEqual(offsets, sorted(offsets), short(rec))
        self.assertEqual(queries(rec), [], short(rec))


class Hiredis(KVCase):
    """The C program serving HTTP/1.0, one hiredis connection to a TCP redis-server."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("hiredis")
        cls.start_redis()
        store = cls.start_store_redis()
        proc, cls.port, cls.exe = harness.hiredis_client_start(cls.tmp, store.tcp_port)
        cls.addClassCleanup(proc.stop)
        cls.attach(proc.pid)

    def hiredis_record(self):
        path, status, body = self.get("/hiredis/")
        self.assertEqual(status, 200, body)
        self.assertIn(REDIS_INCR_ERROR.encode(), body)
        rec = self.record_for(path, 200)
        self.assertEqual(rec["request"]["comm"], "hiredis_client", short(rec))
        return rec

    def test_commands_keys_order_errors(self):
        rec = self.hiredis_record()
        entries = redis_entries(rec)
        got = [(e["command"], e["key"], e["args"]) for e in entries]
        self.assertEqual(got, [c[:3] for c in HIREDIS_COMMANDS], short(rec))
        self.assertEqual(rec["plugins_data"]["Redis"]["count"], len(HIREDIS_COMMANDS))
        for i, e in enumerate(entries):
            if i == HIREDIS_FAILING:
                self.assertEqual(e["error"], REDIS_INCR_ERROR, e)
            else:
                self.assertIsNone(e["error"], e)
            cmd = HIREDIS_COMMANDS[i]
            self.assertEqual(e["query"], " ".join([cmd[0], cmd[1]] + cmd[2]), e)
            self.assertFalse(e["args_truncated"], e)
        self.check_common(rec, entries)
        self.assertEqual(memcache_entries(rec), [], short(rec))

    def test_pipeline_one_entry_per_command(self):
        """Three redisAppendCommand then three redisGetReply: three entries, each ending at
        its own reply, in the order appended."""
        rec = self.hiredis_record()
        pipe = redis_entries(rec)[3:6]
        self.assertEqual([(e["command"], e["key"]) for e in pipe],
                         [("SET", "hk:p1"), ("INCR", "hk:p1"), ("GET", "hk:p1")], short(rec))
        ends = [harness.iso_ms(e["end"]) for e in pipe]
        self.assertEqual(ends, sorted(ends), short(rec))
        for e in pipe:
            self.assertIsNone(e["error"], e)

    def test_native_stacks_name_the_caller(self):
        rec = self.hiredis_record()
        for e, cmd in zip(redis_entries(rec), HIREDIS_COMMANDS):
            frames = e["stack"]
            msg = "%s\n%s" % (cmd, frames[:6])
            self.assertTrue(frames, msg)
            self.assertEqual(frames[0]["symbol"], cmd[3], msg)
            self.assertTrue(os.path.basename(frames[0]["module"]).startswith("libhiredis.so"),
                            msg)
            self.assertEqual([f["symbol"] for f in frames[1:4]], ["run_commands", "serve", "main"],
                             msg)
            for f in frames[1:4]:
                self.assertEqual(f["module"], self.exe, msg)

    def test_no_command_no_entry(self):
        path, status, _ = self.get("/noquery")
        self.assertEqual(status, 200)
        rec = self.record_for(path, 200)
        self.assertEqual(redis_entries(rec), [], short(rec))

    def test_many_requests_exact_counts(self):
        for rec in self.records_for_many("/hiredis/"):
            self.assertEqual([e["command"] for e in redis_entries(rec)],
                             [c[0] for c in HIREDIS_COMMANDS], short(rec))


class Pylibmc(KVCase):
    """storeapp under gunicorn (one sync worker): pylibmc links libmemcached.so.11."""

    @classmethod
    def setUpClass(cls):
        cls.make_tmp("pylibmc")
        cls.start_redis()
        mc = cls.start_memcached()
        env = dict(mc.env(), SCOOBY_MEMCACHED_DOWN_PORT=str(harness.free_port()))
        cls.gun = cls.start_gunicorn(harness.STOREAPP_MODULE, APPS, env, workers=1)
        cls.port = cls.gun.port
        # the connection opens (and the counter is created) before attaching
        status, body, _ = harness.http_request(cls.port, "/pylibmc/")
        assert status == 200, body
        cls.attach(cls.gun.pid)

    def mc_record(self, path):
        sent, status, body = self.get(path)
        self.assertEqual(status, 200, body)
        rec = self.record_for(sent, 200)
        self.assertEqual(redis_entries(rec), [], short(rec))
        return rec

    def test_operations_keys_order(self):
        rec = self.mc_record("/pylibmc/")
        entries = memcache_entries(rec)
        self.assertEqual([(e["func_name"], e["arg"]) for e in entries],
                         [tuple(op) for op in storeapp.MC_OPS], short(rec))
        self.assertEqual(rec["plugins_data"]["Memcache"]["count"], len(storeapp.MC_OPS))
        # the miss (get of a missing key) is an answer, not an error
        for e in entries:
            self.assertIsNone(e["error"], e)
            self.assertEqual(e["query"], "%s %s" % (e["func_name"], e["arg"]), e)
        self.check_common(rec, entries)

    def test_stacks_point_at_the_calls(self):
        rec = self.mc_record("/pylibmc/")
        for e, marker in zip(memcache_entries(rec), MC_MARKERS):
            top = [(f.get("filename"), f.get("lineno"), f.get("function")) for f in e["stack"]]
            self.assertTrue(top, e)
            # pylibmc is a C extension: the innermost Python frame is the app's call
            self.assertEqual(top[0], (STOREAPP_PY, marker_line(marker), "_mc_ops"),
                             "%s: %s" % (marker, top[:4]))

    def test_connection_failure_is_an_error(self):
        rec = self.mc_record("/pylibmc-down/")
        entries = memcache_entries(rec)
        self.assertEqual([(e["func_name"], e["arg"]) for e in entries], [("get", storeapp.MC_KEY)],
                         short(rec))
        err = entries[0]["error"]
        self.assertIsInstance(err, str, entries[0])
        self.assertTrue(err.startswith("MEMCACHED_") and "FAIL" in err, err)
        frame = entries[0]["stack"][0]
        self.assertEqual((frame["filename"], frame["lineno"]), (STOREAPP_PY, marker_line("mc:down")))

    def test_many_requests_exact_counts(self):
        for rec in self.records_for_many("/pylibmc/"):
            self.assertEqual([e["func_name"] for e in memcache_entries(rec)],
                             [op[0] for op in storeapp.MC_OPS], short(rec))

    def test_zz_nothing_outside_requests(self):
        recs = self.records.refresh()
        bg = [short(r) for r in recs if r["request"]["method"] == "background"]
        self.assertEqual(bg, [], "calls reported outside any request")


if __name__ == "__main__":
    unittest.main()
