"""Per-request CPU profiles (issue 6), end to end: --profile, --prof-path, --prof-file,
--prof-format, --prof-min-ms against tests/apps/profapp.py (stdlib WSGI, a thread per
request) under Debian's python3.

Every expected function, file and line is computed from the app's source (the line of a
marker comment and the function around it, found with `ast`); no line number is written
here. Sample counts depend on the machine's load (2 cores, other work running): only
relations are asserted (the known function has the most self samples; the sleep's off-CPU
share is over 0.9), never a count or rate against a threshold.

  Callgrind      default --prof-file and --prof-format (callgrind), umask 022:
                 CPU view -> top self function is spin_a at its line, with most samples;
                 sleep view -> off-CPU share > 0.9; the callgrind file passes
                 callgrind_annotate, which names spin_a with its file and annotates its
                 line; default names ({path} dots/root/no query, {duration:06d}, {time});
                 SLEEPS sleep requests in a row: each one's off-CPU time holds its sleep;
                 two concurrent requests (spin_a / spin_b) on two threads get separate
                 profiles and files.
  Folded         --prof-format folded --prof-file "{path:_<16}.folded" --prof-min-ms 50,
                 started under umask 000: files are "stack count" lines equal to the
                 record's folded list, 0600 whatever the umask; a name taken (by an
                 existing file, then by earlier requests) gets .1, .2, ... and nothing is
                 overwritten; requests under 50 ms get no file (their record still has its
                 Profile).
  CustomFormat   --prof-file with every key, format specs, literal braces and a '/'.
  BadFormat      a --prof-file that does not render: one warning line, default names;
                 more bad formats each give one warning line.
"""
import ast
import json
import os
import re
import signal
import stat
import subprocess
import threading

import harness
from harness import (CALLGRIND_ANNOTATE, PROF_DEFAULT_FORMAT, PROFAPP, E2ECase, Scooby,
                     nonce, parse_folded, prof_file_names, prof_path_key, profile_of, short)

HZ = 999  # --profile's default
# sequential requests of test_every_sleep_is_counted_off_cpu (about 10 ms each). It was
# opt-in while off-CPU time came from a sched_switch hook, which the kernel sometimes did
# not run for a thread's switch-in; it now comes from the thread's own run-time accounting.
SLEEPS = int(os.environ.get("SCOOBY_PROF_SLEEPS", "300"))


def setUpModule():
    harness.require_root_bpf()
    if not os.access(CALLGRIND_ANNOTATE, os.X_OK):
        raise RuntimeError("%s missing: tests/install-deps.sh installs valgrind"
                           % CALLGRIND_ANNOTATE)


# ---------------------------------------------------------------- source facts

def _source_facts():
    with open(PROFAPP, encoding="utf-8") as f:
        text = f.read()
    lines = text.splitlines()
    funcs = [(n.name, n.lineno, n.end_lineno) for n in ast.walk(ast.parse(text, PROFAPP))
             if isinstance(n, ast.FunctionDef)]

    def marker(name):
        pat = re.compile(r"#\s*%s\s*$" % re.escape(name))
        hits = [i + 1 for i, l in enumerate(lines) if pat.search(l)]
        assert len(hits) == 1, "marker %s: lines %s of %s" % (name, hits, PROFAPP)
        return hits[0]

    def enclosing(line):
        inside = [f for f in funcs if f[1] <= line <= f[2]]
        assert inside, "line %d of %s is in no function" % (line, PROFAPP)
        return max(inside, key=lambda f: f[1])[0]  # module-level: qualname == name

    facts = {}
    for m in ("SPIN_A", "SPIN_B", "SLEEP", "CALL"):
        line = marker(m)
        facts[m] = {"function": enclosing(line), "filename": PROFAPP, "lineno": line}
    facts["lines"] = lines
    return facts


SRC = _source_facts()
SPIN_A, SPIN_B, CALL = SRC["SPIN_A"], SRC["SPIN_B"], SRC["CALL"]


def label(frame):
    """A Python frame as folded stacks name it: "function (file:line)"."""
    return "%(function)s (%(filename)s:%(lineno)d)" % frame


# ---------------------------------------------------------------- helpers

def dump_profile(rec):
    prof = rec.get("plugins_data", {}).get("Profile")
    return "%s\nProfile: %s" % (short(rec), json.dumps(prof)[:4000])


def functions_in(prof):
    """Every function name a Profile mentions (top lists and folded stacks)."""
    names = {e["function"] for e in prof["top_self"] + prof["top_total"]}
    for e in prof["folded"]:
        for f in e["stack"].split(";"):
            names.add(f.split(" (", 1)[0])
    return names


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class ProfileCase(E2ECase):
    """profapp + Redis + one scooby-bpf with ARGS (and --prof-path <tmp>/prof)."""

    TAG = "profile"
    ARGS = ()
    UMASK = None  # the umask scooby-bpf starts under (None: the test's own)

    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp(cls.TAG)
        cls.prof_dir = os.path.join(tmp, "prof")
        os.mkdir(cls.prof_dir, 0o755)
        cls.before_attach()
        cls.start_redis()
        cls.app, cls.port = harness.profapp_start(tmp)
        cls.addClassCleanup(cls.app.stop, signal.SIGTERM, 10)
        args = ["-q", "--prof-path", cls.prof_dir] + list(cls.ARGS)
        old = os.umask(cls.UMASK) if cls.UMASK is not None else None
        try:
            sc = Scooby(cls.tmp, cls.app.pid, cls.redis.url, args=args)
        finally:
            if old is not None:
                os.umask(old)
        cls.addClassCleanup(cls._stop_scooby, sc)
        sc.wait_attached()
        cls.scooby = sc

    @classmethod
    def before_attach(cls):
        pass

    def request(self, path, expect_body=None):
        """GET path (as is: callers make it unique); returns its checked record."""
        sent, status, body = self.get(path, tag=False)
        self.assertEqual(status, 200, body)
        if expect_body is not None:
            self.assertEqual(body.decode().split()[0], expect_body, body)
        return self.record_for(sent, status=200)

    def files(self):
        return sorted(os.listdir(self.prof_dir))

    def file_of(self, rec, fmt=PROF_DEFAULT_FORMAT):
        """The one profile file of rec under --prof-file fmt (checked: 0600, regular)."""
        names = prof_file_names(fmt, rec)
        have = [n for n in names if os.path.lexists(os.path.join(self.prof_dir, n))]
        if len(have) != 1:
            self.fail("profile file of %s: expected one of %s in %s, found %s; the directory "
                      "holds %s" % (rec["request"]["path"], names, self.prof_dir, have,
                                    self.files()))
        path = os.path.join(self.prof_dir, have[0])
        self.assertTrue(stat.S_ISREG(os.lstat(path).st_mode), path)
        self.assertEqual(mode(path), 0o600, "%s is %o, not 0600" % (path, mode(path)))
        return path

    def assertProfileShape(self, rec):
        prof = profile_of(rec)
        msg = dump_profile(rec)
        self.assertEqual(sorted(prof), sorted(["samples", "hz", "cpu_ms", "offcpu_ms",
                                               "offcpu_share", "top_self", "top_total",
                                               "folded"]), msg)
        self.assertEqual(prof["hz"], HZ, msg)
        self.assertAlmostEqual(prof["cpu_ms"], prof["samples"] * 1000.0 / HZ, delta=0.0011,
                               msg=msg)
        self.assertAlmostEqual(prof["offcpu_share"],
                               min(1.0, prof["offcpu_ms"] / rec["request"]["duration_ms"]),
                               delta=0.0011, msg=msg)
        on_cpu = [e for e in prof["folded"] if e["stack"] != "[off-CPU]"]
        self.assertEqual(sum(e["samples"] for e in on_cpu), prof["samples"], msg)
        # "[off-CPU]": off-CPU time as samples (rounded), last, present when not 0
        off = [i for i, e in enumerate(prof["folded"]) if e["stack"] == "[off-CPU]"]
        want_off = prof["offcpu_ms"] * HZ / 1000.0
        if off:
            self.assertEqual(off, [len(prof["folded"]) - 1], msg)
            self.assertAlmostEqual(prof["folded"][-1]["samples"], want_off, delta=0.51, msg=msg)
        else:
            self.assertLess(want_off, 0.51, msg)
        for key in ("top_self", "top_total"):
            counts = [e["samples"] for e in prof[key]]
            self.assertEqual(counts, sorted(counts, reverse=True), "%s order\n%s" % (key, msg))
            for e in prof[key]:
                self.assertEqual(sorted(e), ["filename", "function", "lineno", "samples"], msg)
        return prof

    def assertSpinProfile(self, rec, spin, other):
        """rec's top self function is `spin` (function, file and line from the source)
        with strictly the most self samples, and `other` is nowhere in its profile."""
        prof = self.assertProfileShape(rec)
        msg = dump_profile(rec)
        self.assertGreater(prof["samples"], 0, msg)
        top = prof["top_self"][0]
        self.assertEqual({k: top[k] for k in ("function", "filename", "lineno")}, spin, msg)
        for e in prof["top_self"][1:]:
            self.assertGreater(top["samples"], e["samples"], msg)
        # spin calls no Python function: its inclusive samples are its self samples
        tot = [e for e in prof["top_total"] if e["function"] == spin["function"]]
        self.assertEqual(len(tot), 1, msg)
        self.assertEqual((tot[0]["filename"], tot[0]["lineno"], tot[0]["samples"]),
                         (spin["filename"], spin["lineno"], top["samples"]), msg)
        # its caller, at the calling line, holds at least those samples
        app = [e for e in prof["top_total"] if e["function"] == CALL["function"]]
        self.assertEqual(len(app), 1, msg)
        self.assertEqual((app[0]["filename"], app[0]["lineno"]),
                         (CALL["filename"], CALL["lineno"]), msg)
        self.assertGreaterEqual(app[0]["samples"], top["samples"], msg)
        # the heaviest on-CPU folded stack ends in spin at its line, called from CALL
        on_cpu = [e for e in prof["folded"] if e["stack"] not in ("[off-CPU]", "[other]")]
        frames = on_cpu[0]["stack"].split(";")
        self.assertEqual(frames[-2:], [label(CALL), label(spin)], msg)
        self.assertNotIn(other["function"], functions_in(prof), msg)
        return prof


# ---------------------------------------------------------------- default: callgrind

class Callgrind(ProfileCase):
    TAG = "prof-callgrind"
    ARGS = ("--profile",)

    def test_cpu_view_top_self_function(self):
        rec = self.request("/cpu/%s?work=a&ms=200" % nonce(), "a")
        self.assertSpinProfile(rec, SPIN_A, SPIN_B)

    def test_sleep_view_is_off_cpu(self):
        rec = self.request("/sleep/%s?work=sleep&ms=200" % nonce(), "sleep")
        prof = self.assertProfileShape(rec)
        msg = dump_profile(rec)
        self.assertGreater(prof["offcpu_share"], 0.9, msg)
        self.assertEqual(prof["folded"][-1]["stack"], "[off-CPU]", msg)
        self.assertNotIn(SPIN_A["function"], functions_in(prof), msg)

    def test_every_sleep_is_counted_off_cpu(self):
        """The sleep view, many times over (one after the other, each on a new thread):
        every request's off-CPU time holds its whole sleep, and never more than the
        request's duration (both are taken between the same two events of its thread)."""
        n, count, ms = nonce(), SLEEPS, 8
        if count < 1:
            self.fail("SCOOBY_PROF_SLEEPS=%d: at least one request is needed" % count)
        for i in range(count):
            _, status, body = self.get("/many/%s/%d?work=sleep&ms=%d" % (n, i, ms), tag=False)
            self.assertEqual(status, 200, body)
        prefix = "/many/%s/" % n
        recs = self.records.wait(lambda r: (r["request"].get("path") or "").startswith(prefix),
                                 "%d sleep records" % count, count=count)
        self.assertEqual(len(recs), count)
        bad = []
        for rec in recs:
            prof = rec["plugins_data"].get("Profile")
            # at least the sleep (off the CPU from just after the sleep's syscall entry to
            # just before its return), at most the duration (but for the rounding of both
            # to microseconds)
            if (prof is None or prof["offcpu_ms"] < ms - 0.1
                    or prof["offcpu_ms"] > rec["request"]["duration_ms"] + 0.002):
                bad.append("%s\n  duration_ms %s, Profile: %s" % (
                    short(rec), rec["request"]["duration_ms"], prof and json.dumps(
                        {k: prof[k] for k in ("samples", "cpu_ms", "offcpu_ms", "offcpu_share")})))
        offs = [r["plugins_data"]["Profile"]["offcpu_ms"] for r in recs
                if r["plugins_data"].get("Profile")]
        ons = [r["request"]["duration_ms"] - r["plugins_data"]["Profile"]["offcpu_ms"]
               for r in recs if r["plugins_data"].get("Profile")]
        harness.log("%d sleeps of %d ms: off-CPU %.3f..%.3f ms, duration - off-CPU %.3f..%.3f ms"
                    % (count, ms, min(offs or [0]), max(offs or [0]), min(ons or [0]),
                       max(ons or [0])))
        if bad:
            self.fail("%d of %d requests sleeping %d ms got an off-CPU time short of the sleep "
                      "or past the duration:\n%s" % (len(bad), count, ms, "\n".join(bad)))

    def test_callgrind_file_passes_callgrind_annotate(self):
        rec = self.request("/cg/%s/page/?work=a&ms=200" % nonce(), "a")
        prof = self.assertSpinProfile(rec, SPIN_A, SPIN_B)
        path = self.file_of(rec)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        msg = "%s\n--- %s:\n%s" % (dump_profile(rec), path, text[:3000])
        lines = text.splitlines()
        self.assertEqual(lines[0], "# callgrind format", msg)
        self.assertIn("events: us", lines, msg)
        self.assertIn("positions: line", lines, msg)
        self.assertIn("cmd: " + rec["request"]["path"].split("?", 1)[0], lines, msg)
        # spin_a's self cost: at its line, the samples in microseconds
        want_us = prof["top_self"][0]["samples"] * 1e6 / HZ

        # as a user runs it: self costs, the costliest 99%, the sources annotated
        out, amsg = self.annotate(path, msg)
        self.assertIn("Events recorded:  us", out, amsg)
        table = self.cost_table(out)
        key = (SPIN_A["filename"], SPIN_A["function"])
        self.assertIn(key, table, amsg)
        self.assertAlmostEqual(table[key], want_us, delta=1.0, msg=amsg)
        # the annotated source of the app: spin_a's loop line carries the cost
        sect = out.split("-- Auto-annotated source: %s\n" % PROFAPP, 1)
        self.assertEqual(len(sect), 2, "no annotated source of %s\n%s" % (PROFAPP, amsg))
        src_line = SRC["lines"][SPIN_A["lineno"] - 1]
        ann = [l for l in sect[1].splitlines() if l.endswith(src_line)]
        self.assertEqual(len(ann), 1, amsg)
        cost = ann[0][:-len(src_line)].split()
        self.assertTrue(cost and re.fullmatch(r"[\d,]+", cost[0]), "line %d not annotated: %r\n%s"
                        % (SPIN_A["lineno"], ann[0], amsg))
        self.assertAlmostEqual(int(cost[0].replace(",", "")), want_us, delta=1.0, msg=amsg)

        # every function's self cost (--threshold=100; the sources are not annotated: for
        # files with no self cost, the frames that only call, callgrind_annotate 3.19 prints
        # Perl warnings): spin_a's is the largest on the CPU, off-CPU is its own function
        out, amsg = self.annotate(path, msg, "--threshold=100", "--auto=no")
        table = self.cost_table(out)
        self.assertAlmostEqual(table.get(key, -1), want_us, delta=1.0, msg=amsg)
        for (fl, fn), cost in table.items():
            if fn not in ("[off-CPU]", "[other]") and (fl, fn) != key:
                self.assertGreater(table[key], cost, amsg)
        if prof["offcpu_ms"] >= 0.001:
            self.assertIn(("[off-CPU]", "[off-CPU]"), table, amsg)
            self.assertAlmostEqual(table[("[off-CPU]", "[off-CPU]")], prof["offcpu_ms"] * 1000,
                                   delta=1.0, msg=amsg)
        # inclusive costs from calls= lines: the caller holds the callee's cost
        out, imsg = self.annotate(path, msg, "--threshold=100", "--inclusive=yes", "--auto=no")
        table = self.cost_table(out)
        app = (CALL["filename"], CALL["function"])
        self.assertIn(app, table, imsg)
        self.assertGreaterEqual(table[app], table[key], imsg)
        self.assertAlmostEqual(table[key], want_us, delta=1.0, msg=imsg)

    def annotate(self, path, msg, *opts):
        """callgrind_annotate [opts] path, which must exit 0 with nothing on stderr:
        (stdout, failure message)."""
        # from a directory no source lives under: callgrind_annotate prints file names
        # relative to its working directory when it can (the checkout, in CI)
        r = subprocess.run([CALLGRIND_ANNOTATE] + list(opts) + [path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60, cwd=self.tmp)
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        amsg = "%s\n--- callgrind_annotate %s rc %d, stderr:\n%s\nstdout:\n%s" % (
            msg, " ".join(opts), r.returncode, err, out[:4000])
        self.assertEqual(r.returncode, 0, amsg)
        self.assertEqual(err.strip(), "", amsg)
        return out, amsg

    @staticmethod
    def cost_table(out):
        """callgrind_annotate's "file:function" table as {(file, function): cost}."""
        table = {}
        part = out.split("file:function\n", 1)
        if len(part) != 2:
            return table
        for line in part[1].splitlines()[1:]:
            m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.+?):(.+)$", line)
            if not m:
                break
            table[(m.group(2), m.group(3))] = int(m.group(1).replace(",", ""))
        return table

    def test_default_file_names(self):
        n = nonce()
        paths = ["/?work=a&ms=30&t=%s" % n,                 # root
                 "/names/%s/deep/er/?work=a&ms=30" % n,     # slashes -> dots
                 "/names/%s/q?work=a&ms=30&x=/y/z" % n,     # query string excluded
                 "/names/%s/x.y?work=b&ms=30" % n]
        recs = [self.request(p) for p in paths]
        names = [os.path.basename(self.file_of(r)) for r in recs]
        msg = "\n".join("%s -> %s" % (short(r), nm) for r, nm in zip(recs, names))
        self.assertTrue(names[0].startswith("root."), msg)
        self.assertTrue(names[1].startswith("names.%s.deep.er." % n), msg)
        self.assertTrue(names[2].startswith("names.%s.q." % n), msg)
        self.assertTrue(names[3].startswith("names.%s.x.y." % n), msg)
        for nm in names:
            self.assertRegex(nm, r"^[^/?]+\.\d{6}ms\.\d{10}$", msg)
        self.assertEqual(len([f for f in self.files() if "names.%s" % n in f]), 3, self.files())

    def test_concurrent_requests_get_separate_profiles(self):
        n = nonce()
        paths = {"a": "/conc/%s/a?work=a&ms=300" % n, "b": "/conc/%s/b?work=b&ms=300" % n}
        barrier = threading.Barrier(2)
        results = {}

        def client(work):
            barrier.wait(10)
            try:
                results[work] = harness.http_request(self.port, paths[work])
            except Exception as exc:  # reported below
                results[work] = exc

        threads = [threading.Thread(target=client, args=(w,)) for w in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for w in paths:
            self.assertIsInstance(results.get(w), tuple, results)
            self.assertEqual(results[w][0], 200, results)
        ra = self.record_for(paths["a"], status=200)
        rb = self.record_for(paths["b"], status=200)
        both = "%s\n%s" % (dump_profile(ra), dump_profile(rb))
        self.assertNotEqual(ra["request"]["tid"], rb["request"]["tid"], both)
        # they did run at the same time
        sa, sb = ra["request"]["start_unix_ms"], rb["request"]["start_unix_ms"]
        ea, eb = sa + ra["request"]["duration_ms"], sb + rb["request"]["duration_ms"]
        self.assertGreater(min(ea, eb) - max(sa, sb), 0, "requests did not overlap\n" + both)
        self.assertSpinProfile(ra, SPIN_A, SPIN_B)
        self.assertSpinProfile(rb, SPIN_B, SPIN_A)
        fa, fb = self.file_of(ra), self.file_of(rb)
        with open(fa, encoding="utf-8") as f:
            ta = f.read()
        with open(fb, encoding="utf-8") as f:
            tb = f.read()
        self.assertRegex(ta, r"(?m)^fn=\(\d+\) spin_a$", ta[:3000])
        self.assertNotRegex(ta, r"(?m)^c?fn=\(\d+\) spin_b$", ta[:3000])
        self.assertRegex(tb, r"(?m)^fn=\(\d+\) spin_b$", tb[:3000])
        self.assertNotRegex(tb, r"(?m)^c?fn=\(\d+\) spin_a$", tb[:3000])


# ---------------------------------------------------------------- folded, collisions, min-ms

class Folded(ProfileCase):
    TAG = "prof-folded"
    FORMAT = "{path:_<16}.folded"
    ARGS = ("--profile", "--prof-format", "folded", "--prof-file", FORMAT,
            "--prof-min-ms", "50")
    UMASK = 0
    TAKEN = "/taken/%s" % nonce()[:6]  # its file name exists before scooby-bpf starts
    SENTINEL = b"sentinel;not;a;profile 1\n"

    @classmethod
    def before_attach(cls):
        name = cls.FORMAT.format(path=prof_path_key(cls.TAKEN))
        cls.taken_path = os.path.join(cls.prof_dir, name)
        with open(cls.taken_path, "wb") as f:
            f.write(cls.SENTINEL)
        os.chmod(cls.taken_path, 0o644)

    def read_folded(self, path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            return parse_folded(text)
        except AssertionError as exc:
            self.fail("%s: %s\n%s" % (path, exc, text[:3000]))

    def test_folded_file_is_stack_count_lines(self):
        n = nonce()
        rec = self.request("/f/%s?work=a&ms=150" % n, "a")
        prof = self.assertSpinProfile(rec, SPIN_A, SPIN_B)
        path = self.file_of(rec, self.FORMAT)
        self.assertEqual(os.path.basename(path), "f.%s__.folded" % n)  # padded to 16
        lines = self.read_folded(path)
        msg = "%s\n--- %s:\n%s" % (dump_profile(rec), path, lines)
        # under 200 stacks the record's folded list is the whole profile: the file's lines
        self.assertLess(len(prof["folded"]), 200, msg)
        self.assertEqual(lines, [(e["stack"], e["samples"]) for e in prof["folded"]], msg)
        self.assertEqual(sum(c for s, c in lines if s != "[off-CPU]"), prof["samples"], msg)
        for stack, _ in lines:
            if stack in ("[off-CPU]", "[other]", "[unresolved]"):
                continue
            for fr in stack.split(";"):
                self.assertRegex(fr, r"^\S.* \(.+:\d+\)$|^\S.* \([^:]+\)$|^\[unresolved\]$", msg)
        self.assertTrue(lines[0][0].endswith(";" + label(SPIN_A)), msg)

    def test_min_ms_skips_fast_requests(self):
        n = nonce()
        for attempt in range(3):
            fast = self.request("/minms/%s/fast%d?work=a&ms=5" % (n, attempt))
            if fast["request"]["duration_ms"] < 45:
                break
        else:
            self.fail("no 5 ms request under 45 ms in 3 tries (machine overloaded?): %s"
                      % short(fast))
        slow = self.request("/minms/%s/slow?work=a&ms=120" % n)
        # the record keeps its Profile; only the file is skipped
        self.assertProfileShape(fast)
        self.assertProfileShape(slow)
        self.file_of(slow, self.FORMAT)
        mine = [f for f in self.files() if f.startswith("minms.%s." % n)]
        self.assertEqual(mine, prof_file_names(self.FORMAT, slow),
                         "%s\n%s" % (short(fast), short(slow)))

    def test_taken_names_get_a_suffix(self):
        """A name taken by a file that was there before, then by each earlier request:
        .1, .2, .3 in turn; the existing file is left as it was."""
        st0 = os.lstat(self.taken_path)
        works = ["a", "b", "a"]
        recs = [self.request("%s?work=%s&ms=60&t=%s" % (self.TAKEN, w, nonce()), w)
                for w in works]
        base = self.taken_path
        names = [base] + ["%s.%d" % (base, i) for i in (1, 2, 3)]
        have = sorted(os.path.join(self.prof_dir, f) for f in self.files()
                      if f.startswith(os.path.basename(base)))
        self.assertEqual(have, sorted(names), "\n".join(short(r) for r in recs))
        with open(base, "rb") as f:
            self.assertEqual(f.read(), self.SENTINEL)
        st1 = os.lstat(base)
        self.assertEqual((st1.st_ino, st1.st_mtime_ns, stat.S_IMODE(st1.st_mode)),
                         (st0.st_ino, st0.st_mtime_ns, 0o644))
        # the requests' profiles, in the order they were made (each ended before the next)
        for p, w, rec in zip(names[1:], works, recs):
            self.assertEqual(mode(p), 0o600, "%s is %o" % (p, mode(p)))
            want = [(e["stack"], e["samples"]) for e in profile_of(rec)["folded"]]
            self.assertEqual(self.read_folded(p), want, "%s: work=%s\n%s" % (p, w,
                                                                             dump_profile(rec)))

    def test_files_are_0600_under_umask_000(self):
        rec = self.request("/perm/%s?work=a&ms=60" % nonce())
        path = self.file_of(rec, self.FORMAT)  # asserts 0600
        self.assertEqual(mode(path), 0o600)


# ---------------------------------------------------------------- every key, specs

class CustomFormat(ProfileCase):
    TAG = "prof-custom"
    FORMAT = "{time}.{{{path:.10}}}/{duration:x>7d}.cg"
    ARGS = ("--profile", "--prof-file", FORMAT)

    def test_keys_and_specs_render_as_str_format(self):
        n = nonce()
        recs = [self.request("/custom/%s/page?work=a&ms=40" % n),
                self.request("/c/?work=b&ms=40&t=%s" % n)]
        for rec in recs:
            path = self.file_of(rec, self.FORMAT)
            name = os.path.basename(path)
            self.assertRegex(name, r"^\d{10}\.\{[^{}]{1,10}\}_x*\d+\.cg$", short(rec))
        self.assertIn("{custom.%s}" % n[:3], os.path.basename(self.file_of(recs[0], self.FORMAT)))
        self.assertIn(".{c}_", os.path.basename(self.file_of(recs[1], self.FORMAT)))
        warnings = [l for l in self.scooby.stderr().splitlines() if "--prof-file" in l]
        self.assertEqual(warnings, [])


# ---------------------------------------------------------------- bad format: fallback

class BadFormat(ProfileCase):
    TAG = "prof-bad"
    FORMAT = "{path}.{nope}"
    ARGS = ("--profile", "--prof-file", FORMAT)
    MORE = ("{path", "x}y", "{duration:q}", "{path:d}", "{}")

    def warnings(self, sc, fmt):
        lines = sc.stderr().splitlines()
        warn = [l for l in lines if l.startswith("scooby-bpf: warning:") and fmt in l]
        self.assertEqual(len(warn), 1, "%r: stderr:\n%s" % (fmt, sc.stderr()))
        self.assertIn(PROF_DEFAULT_FORMAT, warn[0])
        self.assertEqual([l for l in lines if "--prof-file" in l or "prof-file" in l], warn,
                         sc.stderr())
        return warn[0]

    def test_warns_once_and_uses_the_default(self):
        self.warnings(self.scooby, self.FORMAT)
        rec = self.request("/bad/%s/x?work=a&ms=40" % nonce())
        self.file_of(rec, PROF_DEFAULT_FORMAT)

    def test_more_bad_formats_warn(self):
        for fmt in self.MORE:  # what runprofileserver's str.format refuses too
            with self.assertRaises((ValueError, KeyError, IndexError), msg=fmt):
                fmt.format(path="p", duration=1, time=2)
        scs = []
        for fmt in self.MORE:
            d = os.path.join(self.tmp, "more-%d" % len(scs))
            os.mkdir(d)
            scs.append(Scooby(self.tmp, self.app.pid, self.redis.url,
                              args=["-q", "--profile", "--prof-path", d, "--prof-file", fmt]))
        try:
            for sc in scs:
                sc.wait_attached()
        finally:
            rcs = [sc.stop() for sc in scs]
        for fmt, sc, rc in zip(self.MORE, scs, rcs):
            self.assertEqual(rc, 0, "%r: stderr:\n%s" % (fmt, sc.stderr()))
            self.warnings(sc, fmt)


if __name__ == "__main__":
    import unittest
    unittest.main()
