"""scooby-bpf's life cycle: bad invocations, Redis down at start, signals,
-d, target exit, and that nothing BPF is left behind after it exits."""
import json
import os
import signal
import shutil
import subprocess
import tempfile
import time

import harness
from harness import DJAPP, E2ECase, SCOOBY_BPF, SQ_GET, SQ_PRAGMA, Scooby, short, texts, wait_for


def setUpModule():
    harness.require_root_bpf()


def run_scooby(args, timeout=20):
    """Runs the binary to completion: (rc, stdout, stderr)."""
    try:
        r = subprocess.run([SCOOBY_BPF] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("scooby-bpf %s still running after %ds (expected it to exit); "
                             "stderr: %r" % (" ".join(args), timeout, exc.stderr)) from None
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


class BadInvocation(E2ECase):
    """Errors are one stderr line and a non-zero exit, before anything attaches."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("badargs")
        cls.target = harness.Proc("sleeper", ["sleep", "300"], tmp)
        cls.addClassCleanup(cls.target.stop)
        cls.nowhere = "unix://" + os.path.join(tmp, "no-redis.sock")

    def assertOneLineError(self, args):
        rc, out, err = run_scooby(args)
        self.assertNotEqual(rc, 0, "scooby-bpf %s exited 0; stderr: %r" % (args, err))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "expected one stderr line for %s, got %r" % (args, err))
        return lines[0]

    def test_no_such_pid(self):
        pid = 999999
        self.assertFalse(harness.pid_alive(pid))
        self.assertOneLineError(["-p", str(pid), "--redis", self.nowhere, "-d", "3"])

    def test_ttl_not_a_number(self):
        self.assertOneLineError(["-p", str(self.target.pid), "--redis", self.nowhere, "-d", "3",
                                 "--ttl", "abc"])

    def test_max_query_zero(self):
        self.assertOneLineError(["-p", str(self.target.pid), "--redis", self.nowhere, "-d", "3",
                                 "--max-query", "0"])

    def test_bad_redis_url_scheme(self):
        self.assertOneLineError(["-p", str(self.target.pid), "--redis", "foo://x", "-d", "3"])

    def test_not_root_names_every_missing_capability(self):
        line = self.assertOneLineError_as(["runuser", "-u", "nobody", "--"],
                                          ["-p", str(self.target.pid), "--redis", self.nowhere])
        self.assertEqual(line, "scooby-bpf: missing capabilities CAP_BPF, CAP_PERFMON, "
                               "CAP_SYS_PTRACE (run as root)")

    def test_one_missing_capability_is_named(self):
        line = self.assertOneLineError_as(
            ["setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace"],
            ["-p", str(self.target.pid), "--redis", self.nowhere])
        self.assertEqual(line, "scooby-bpf: missing capability CAP_SYS_PTRACE (run as root)")

    def assertOneLineError_as(self, prefix, args):
        # a copy nobody can reach, wherever the checkout lives (/root is 0700)
        d = tempfile.mkdtemp(prefix="scooby-caps-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        binary = os.path.join(d, "scooby-bpf")
        shutil.copy(harness.SCOOBY_BPF, binary)
        os.chmod(binary, 0o755)
        r = subprocess.run(prefix + [binary] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, err)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        return lines[0]

    def test_help_exits_zero(self):
        rc, out, err = run_scooby(["--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("--redis", out + err)


class RedisUnreachableAtStart(E2ECase):
    """--redis points at a socket nobody listens on yet: a warning, not an exit;
    once redis-server appears there the records arrive."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("lateredis")
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=1)
        cls.port = cls.gun.port
        cls.sock = os.path.join(tmp, "late-redis.sock")

    def test_warns_keeps_running_and_delivers_later(self):
        sc = Scooby(self.tmp, self.gun.pid, "unix://" + self.sock)
        self.addCleanup(sc.stop, signal.SIGKILL)
        sc.wait_attached()
        warnings = [l for l in sc.stderr().splitlines()
                    if "redis" in l.lower() and not l.startswith("scooby-bpf: attached")]
        self.assertTrue(warnings, "no warning about Redis on stderr: %r" % sc.stderr())

        before, status, _ = self.get("/item/1/")
        self.assertEqual(status, 200)
        got = wait_for(lambda: [r for r in sc.json_records() if r["request"]["path"] == before],
                       10, "the --json record of %s while Redis is down" % before)
        self.assertEqual(texts(got[0]), [SQ_PRAGMA, SQ_GET], short(got[0]))
        self.assertIsNone(sc.proc.poll(), "scooby-bpf exited while Redis was down")

        srv = harness.RedisServer(self.tmp, self.sock)
        self.addCleanup(srv.stop)
        srv.start()
        records = harness.Records(srv.client())
        self.addCleanup(records.close)
        after, status, _ = self.get("/item/2/")
        self.assertEqual(status, 200)
        rec = records.by_path(after, timeout=20)
        harness.check_record(self, rec)
        self.assertEqual(texts(rec), [SQ_PRAGMA, SQ_GET], short(rec))
        # --buffer: the record made while Redis was down is held, then delivered.
        held = records.by_path(before, timeout=10)
        self.assertEqual(held["uuid"], got[0]["uuid"], short(held))
        self.assertEqual(texts(held), [SQ_PRAGMA, SQ_GET], short(held))
        self.assertEqual(sc.stop(), 0, sc.stderr())


class RedisUrlForms(E2ECase):
    """redis://[user:password@]host[:port][/db] against a password-protected
    redis-server on 127.0.0.1 (TCP)."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("redisurl")
        cls.srv = harness.RedisServer(tmp, tcp_port=harness.free_port(), password="s3cret")
        cls.addClassCleanup(cls.srv.stop)
        cls.srv.start()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=1)
        cls.port = cls.gun.port

    def check_url(self, url, db):
        sc = Scooby(self.tmp, self.gun.pid, url)
        self.addCleanup(sc.stop, signal.SIGKILL)
        sc.wait_attached()
        path, status, _ = self.get("/item/1/")
        self.assertEqual(status, 200)
        records = harness.Records(self.srv.client(db))
        self.addCleanup(records.close)
        rec = records.by_path(path)
        self.assertEqual(texts(rec), [SQ_PRAGMA, SQ_GET], short(rec))
        self.assertEqual(sc.stop(), 0, sc.stderr())
        return rec

    def test_password_port_and_db(self):
        rec = self.check_url("redis://:s3cret@127.0.0.1:%d/3" % self.srv.tcp_port, 3)
        other = self.srv.client(0)
        self.addCleanup(harness.close_client, other)
        self.assertIsNone(other.get("scooby:req:" + rec["uuid"]), "record also in db 0")

    def test_user_password_and_db(self):
        self.check_url("redis://default:s3cret@127.0.0.1:%d/2" % self.srv.tcp_port, 2)


class Signals(E2ECase):
    """One gunicorn; a fresh scooby-bpf per test."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("signals")
        cls.start_redis()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=1)
        cls.port = cls.gun.port
        harness.http_request(cls.port, "/items/")

    def new_scooby(self, args=(), json_path="auto"):
        sc = Scooby(self.tmp, self.gun.pid, self.redis.url, json_path=json_path, args=args)
        self.addCleanup(sc.stop, signal.SIGKILL)
        sc.wait_attached()
        return sc

    def test_sigterm_flushes_then_exits_0(self):
        sc = self.new_scooby()
        path, status, _ = self.get("/item/3/")
        self.assertEqual(status, 200)
        rc = sc.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, sc.stderr())
        rec = self.records.by_path(path, timeout=2)
        self.assertEqual(texts(rec), [SQ_PRAGMA, SQ_GET], short(rec))

    def test_sigint_flushes_then_exits_0(self):
        sc = self.new_scooby()
        path, status, _ = self.get("/item/4/")
        self.assertEqual(status, 200)
        rc = sc.stop(signal.SIGINT)
        self.assertEqual(rc, 0, sc.stderr())
        rec = self.records.by_path(path, timeout=2)
        self.assertEqual(texts(rec), [SQ_PRAGMA, SQ_GET], short(rec))
        self.assertEqual(len(sc.attached_lines()), 1, sc.stderr())

    def test_duration_option_stops_by_itself(self):
        t0 = time.monotonic()
        sc = self.new_scooby(["-d", "2"])
        rc = sc.proc.wait(20)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, "rc %r after %.1fs; stderr: %s" % (rc, elapsed, sc.stderr()))
        self.assertGreaterEqual(elapsed, 1.5)

    def test_json_to_stdout(self):
        sc = self.new_scooby(json_path="-")
        path, status, _ = self.get("/item/5/")
        self.assertEqual(status, 200)

        def found():
            for line in sc.stdout().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and rec.get("request", {}).get("path") == path:
                    return rec
            return None
        rec = wait_for(found, 10, "a JSON line on stdout for %s" % path)
        harness.check_record(self, rec)
        self.assertEqual(texts(rec), [SQ_PRAGMA, SQ_GET], short(rec))
        self.assertEqual(sc.stop(), 0, sc.stderr())

    def test_keep_trims_the_index(self):
        sc = self.new_scooby(["--keep", "3"])
        paths = []
        for i in range(5):
            path, status, _ = self.get("/item/%d/" % (i + 1))
            self.assertEqual(status, 200)
            paths.append(path)
        self.records.by_path(paths[-1])
        r = self.redis.client()
        self.addCleanup(harness.close_client, r)
        members = r.zrange("scooby:requests", 0, -1)
        self.assertLessEqual(len(members), 3, members)
        kept = [json.loads(r.get("scooby:req:" + m))["request"]["path"] for m in members]
        self.assertEqual(kept, paths[-3:])
        # the two pushed out are deleted with their index entries, not left to the TTL
        uuid = {rec["request"]["path"]: rec["uuid"] for rec in sc.json_records()}
        self.assertEqual([r.exists("scooby:req:" + uuid[p]) for p in paths], [0, 0, 1, 1, 1])
        self.assertEqual(sc.stop(), 0, sc.stderr())

    def test_nothing_left_attached_after_sigint(self):
        uprobe_events_before = harness.uprobe_events()
        sc = self.new_scooby()
        path, _, _ = self.get("/item/1/")
        self.records.by_path(path)
        objs = harness.bpf_objects(sc.pid)
        progs, links = objs["progs"], objs["links"]
        perf = [e for e in harness.bpftool_json("perf") if e.get("pid") == sc.pid]
        self.assertTrue(progs, "scooby-bpf (pid %d) holds no BPF program fds while attached"
                        % sc.pid)
        self.assertTrue(perf or links, "scooby-bpf (pid %d) has no perf-event or link attachments"
                        % sc.pid)
        self.assertEqual(sc.stop(signal.SIGINT), 0, sc.stderr())

        # The kernel frees programs and links asynchronously (RCU, deferred
        # perf-event teardown) after the last fd closes: allow it a moment.
        def leftovers():
            return ([(p["id"], p.get("name"), p.get("type")) for p in harness.bpftool_json("prog", "show")
                     if p["id"] in progs],
                    [(l["id"], l.get("type")) for l in harness.bpftool_json("link", "show")
                     if l["id"] in links],
                    [e for e in harness.bpftool_json("perf") if e.get("pid") == sc.pid])
        deadline = time.monotonic() + 5
        left = leftovers()
        while any(left) and time.monotonic() < deadline:
            time.sleep(0.2)
            left = leftovers()
        self.assertEqual(left[0], [], "programs of the dead scooby-bpf still loaded 5s later")
        self.assertEqual(left[1], [], "links of the dead scooby-bpf still there 5s later")
        self.assertEqual(left[2], [], "perf events of the dead scooby-bpf")
        after = harness.uprobe_events()
        self.assertEqual([l for l in after if "scooby" in l.lower()], [])
        self.assertEqual(sorted(set(after) - set(uprobe_events_before)), [],
                         "uprobe_events gained entries")


class TargetExit(E2ECase):
    """When the traced process exits, scooby-bpf flushes, says so, exits 0."""

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp("targetexit")
        cls.start_redis()
        db = harness.sqlite_env(tmp)
        harness.django_prepare(tmp, db)
        cls.gun = cls.start_gunicorn("djapp.wsgi:application", DJAPP, harness.django_env(db),
                                     workers=2)
        cls.port = cls.gun.port

    def test_exits_0_when_target_exits(self):
        sc = Scooby(self.tmp, self.gun.pid, self.redis.url)
        self.addCleanup(sc.stop, signal.SIGKILL)
        sc.wait_attached()
        path, status, _ = self.get("/item/2/")
        self.assertEqual(status, 200)
        n_lines = len(sc.stderr().splitlines())
        self.gun.proc.send_signal(signal.SIGTERM)
        self.assertIsNotNone(self.gun.proc.wait(20), "gunicorn did not stop")
        rc = sc.proc.wait(20)
        self.assertIsNotNone(rc, "scooby-bpf still running 20s after its target exited")
        self.assertEqual(rc, 0, sc.stderr())
        self.assertGreater(len(sc.stderr().splitlines()), n_lines,
                           "no message on stderr about the target exiting: %r" % sc.stderr())
        rec = self.records.by_path(path, timeout=2)
        self.assertEqual(texts(rec), [SQ_PRAGMA, SQ_GET], short(rec))
