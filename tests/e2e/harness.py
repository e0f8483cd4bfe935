"""End-to-end test harness for scooby-bpf.

Starts real servers (redis-server, PostgreSQL, gunicorn, Django's runserver) in a
temporary directory, attaches the scooby-bpf binary to them, drives HTTP traffic
and reads the records back from Redis. Every process started here runs in its own
session and is killed (whole process group) on teardown, and again at interpreter
exit as a last resort, so a failing test leaves nothing behind.

Only Debian's /usr/bin/python3 stdlib + python3-redis are used here (the apps use
Django and psycopg2).

Environment:
  SCOOBY_BPF       path of the binary (default: <repo>/build/scooby-bpf)
  CI               when set, missing root/BPF is a failure instead of a skip
  SCOOBY_KEEP_TMP  when set, temp dirs (logs, scooby stdout/stderr) are kept
"""
import atexit
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid as uuidlib

import redis

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPS = os.path.join(REPO, "tests", "apps")
DJAPP = os.path.join(APPS, "djapp")
PYTHON = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
REDIS_SERVER = "/usr/bin/redis-server"
PG_BIN = "/usr/lib/postgresql/15/bin"
SCOOBY_BPF = os.environ.get("SCOOBY_BPF") or os.path.join(REPO, "build", "scooby-bpf")

ATTACH_TIMEOUT = 30.0
RECORD_TIMEOUT = float(os.environ.get("SCOOBY_RECORD_TIMEOUT", "10"))
UUID_RE = re.compile(r"^[0-9a-f]{32}$")

# The statements Django's sqlite3 backend gives SQLite (what the records must hold).
SQ_PRAGMA = "PRAGMA foreign_keys = ON"
SQ_COUNT = 'SELECT COUNT(*) AS "__count" FROM "app_item"'
SQ_LIST = 'SELECT "app_item"."id", "app_item"."name" FROM "app_item" ORDER BY "app_item"."id" ASC'
SQ_LIST5 = SQ_LIST + " LIMIT 5"
SQ_EXISTS = (
    'SELECT (1) AS "a" FROM "app_item" WHERE "app_item"."name" LIKE ? ESCAPE \'\\\' LIMIT 1'
)
SQ_GET = 'SELECT "app_item"."id", "app_item"."name" FROM "app_item" WHERE "app_item"."id" = ? LIMIT 21'
SQ_FAIL = "SELECT * FROM nope"

_live = []  # every Proc still running, for the atexit sweep
_live_lock = threading.Lock()


def log(msg):
    sys.stderr.write("[e2e] %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- environment

def require_root_bpf():
    """Call from setUpModule. Root + BPF are required; without them the suite
    fails in CI (CI env var set) and is skipped, loudly, elsewhere. A missing
    binary is always a failure."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not running as root (euid %d)" % os.geteuid())
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        problems.append("kernel has no BTF (/sys/kernel/btf/vmlinux missing)")
    if not problems:
        try:
            r = subprocess.run(["bpftool", "prog", "show"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=20)
            if r.returncode != 0:
                problems.append("bpftool prog show failed: %s" % r.stderr.decode(errors="replace").strip())
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append("bpftool unusable: %s" % exc)
    if problems:
        msg = "scooby-bpf e2e tests need root and BPF: " + "; ".join(problems)
        bar = "!" * 78
        sys.stderr.write("\n%s\n!! %s\n%s\n" % (bar, msg, bar))
        if os.environ.get("CI"):
            raise RuntimeError(msg + " (CI is set: this is a failure, not a skip)")
        raise unittest.SkipTest(msg)
    if not (os.path.isfile(SCOOBY_BPF) and os.access(SCOOBY_BPF, os.X_OK)):
        raise RuntimeError("scooby-bpf binary not found or not executable: %s "
                           "(build it with `make`, or set SCOOBY_BPF)" % SCOOBY_BPF)
    ensure_tracefs()


def ensure_tracefs():
    if os.path.isdir("/sys/kernel/tracing") and not os.path.exists("/sys/kernel/tracing/uprobe_events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- utilities

def wait_for(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nonce():
    return uuidlib.uuid4().hex[:12]


def make_tmpdir(tag):
    d = tempfile.mkdtemp(prefix="scooby-e2e-%s-" % tag)
    os.chmod(d, 0o755)  # the postgres user must traverse it
    return d


def remove_tmpdir(d):
    if os.environ.get("SCOOBY_KEEP_TMP"):
        log("keeping %s" % d)
        return
    shutil.rmtree(d, ignore_errors=True)


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            out.append(int(name))
    return sorted(out)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def parse_iso(text):
    """ISO 8601 -> aware datetime (naive values are taken as UTC)."""
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def iso_ms(text):
    return parse_iso(text).timestamp() * 1000.0


class Proc:
    """A child process in its own session with its output in a log file."""

    def __init__(self, name, argv, logdir, env=None, cwd=None, stdout_path=None,
                 stderr_path=None, user=None):
        self.name = name
        self.argv = list(argv)
        self.stdout_path = stdout_path or os.path.join(logdir, "%s.log" % name)
        self.stderr_path = stderr_path or self.stdout_path
        full_env = dict(os.environ)
        full_env.update({"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
        full_env.update(env or {})
        out = open(self.stdout_path, "ab")
        err = out if self.stderr_path == self.stdout_path else open(self.stderr_path, "ab")
        try:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=err, env=full_env, cwd=cwd,
                                          start_new_session=True, user=user)
        finally:
            out.close()
            if err is not out:
                err.close()
        self.pid = self.popen.pid
        with _live_lock:
            _live.append(self)

    def poll(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def output(self):
        return _read(self.stdout_path)

    def errors(self):
        return _read(self.stderr_path)

    def send_signal(self, sig):
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the leader, waits, then SIGKILLs the whole process group."""
        rc = self.popen.poll()
        if rc is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            rc = self.wait(timeout)
        self.kill_group()
        if rc is None:
            rc = self.wait(5)
        with _live_lock:
            if self in _live:
                _live.remove(self)
        return rc

    def kill_group(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


@atexit.register
def _sweep():
    with _live_lock:
        procs = list(_live)
    for p in procs:
        p.kill_group()


# ---------------------------------------------------------------- HTTP

def http_request(port, path, method="GET", headers=None, body=None, timeout=30):
    """One request on a new connection: (status, body bytes, headers dict)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, dict(resp.getheaders())
    finally:
        conn.close()


def concurrent_clients(nclients, items, one, timeout=120):
    """Runs nclients client threads at once: client k calls one(k, item) for each item of
    items(k), in turn, and one returns (key, value). Returns ({key: value}, errors): errors
    holds "client k, item: exception" for each client an exception stopped. Each thread is
    waited for up to timeout seconds."""
    got, errors, lock = {}, [], threading.Lock()

    def client(k):
        for item in items(k):
            try:
                key, value = one(k, item)
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                errors.append("client %d, %r: %r" % (k, item, exc))
                return
            with lock:
                got[key] = value

    threads = [threading.Thread(target=client, args=(k,)) for k in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return got, errors


def tagged(path):
    """path with a unique query string, so its record can be found by path."""
    return "%s%st=%s" % (path, "&" if "?" in path else "?", nonce())


def wait_http(port, path, proc=None, timeout=30):
    def ready():
        if proc is not None and not proc.alive():
            raise AssertionError("%s exited (rc %s) before serving:\n%s"
                                 % (proc.name, proc.poll(), proc.output()[-3000:]))
        try:
            status, _, _ = http_request(port, path, timeout=5)
            return status == 200
        except OSError:
            return False
    wait_for(ready, timeout, "http://127.0.0.1:%d%s" % (port, path), interval=0.1)


# ---------------------------------------------------------------- Redis

class RedisServer:
    """redis-server on a unix socket (no TCP), or with tcp_port on 127.0.0.1 only;
    no persistence."""

    def __init__(self, tmp, sock=None, tcp_port=None, password=None):
        self.tmp = tmp
        self.tcp_port = tcp_port
        self.password = password
        self.sock = None if tcp_port else (sock or os.path.join(tmp, "redis.sock"))
        self.url = ("redis://127.0.0.1:%d" % tcp_port) if tcp_port else "unix://" + self.sock
        self.proc = None

    def start(self):
        if self.tcp_port:
            argv = [REDIS_SERVER, "--port", str(self.tcp_port), "--bind", "127.0.0.1"]
        else:
            argv = [REDIS_SERVER, "--port", "0", "--unixsocket", self.sock,
                    "--unixsocketperm", "700"]
        argv += ["--save", "", "--appendonly", "no", "--dir", self.tmp]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = Proc("redis-%s" % (self.tcp_port or "unix"), argv, self.tmp)

        def up():
            if not self.proc.alive():
                raise AssertionError("redis-server exited:\n" + self.proc.output())
            if self.sock and not os.path.exists(self.sock):
                return False
            client = self.client()
            try:
                return client.ping()
            except redis.RedisError:
                return False
            finally:
                close_client(client)
        wait_for(up, 15, "redis-server on " + self.url)
        return self

    def client(self, db=0):
        if self.tcp_port:
            return redis.Redis(host="127.0.0.1", port=self.tcp_port, db=db,
                               password=self.password, decode_responses=True, socket_timeout=10)
        return redis.Redis(unix_socket_path=self.sock, db=db, password=self.password,
                           decode_responses=True, socket_timeout=10)

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 5)


def close_client(client):
    """Closes a redis.Redis and its pool's sockets (close() alone keeps them)."""
    client.close()
    client.connection_pool.disconnect()


def folded_label(f):
    """A Python frame's label in a folded stack, as scooby-bpf writes it (docs/FORMAT.md)."""
    text = "%s (%s:%d)" % (f["function"], f["filename"], f["lineno"]) if f["lineno"] is not None \
        else "%s (%s)" % (f["function"], f["filename"])
    return text.replace(";", "_").replace("\n", "_").replace("\r", "_")


def full_form(stored):
    """The full form of a record as scooby-bpf stores it in Redis (docs/FORMAT.md, "The
    stored form"): each stack's frame indices replaced by the frames of the record's
    "frames", a profile's "frame" by that frame's function, filename and lineno, its "fold"
    by the frames' folded labels. Raises ValueError unless the stored form is exact: a
    "frames" table whose frames are distinct and each used, every reference an index into
    it, and "frame"/"fold" naming Python frames only."""
    if not isinstance(stored, dict) or not isinstance(stored.get("frames"), list):
        raise ValueError("not in the stored form (no top-level frames list)")
    rec = dict(stored)
    frames = rec.pop("frames")
    if len({json.dumps(f, sort_keys=True) for f in frames}) != len(frames):
        raise ValueError("a frame is in the frames table twice")
    used = set()

    def at(i, python=False):
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(frames):
            raise ValueError("%r is not an index into frames" % (i,))
        if python and set(frames[i]) != {"filename", "lineno", "function"}:
            raise ValueError("frame %d is not a resolved Python frame" % i)
        used.add(i)
        return frames[i]

    def expand(v):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k == "stack" and isinstance(x, list):
                    out[k] = [at(i) for i in x]
                elif k == "frame":
                    f = at(x, True)
                    out.update(function=f["function"], filename=f["filename"], lineno=f["lineno"])
                elif k == "fold":
                    if not isinstance(x, list) or not x:
                        raise ValueError("fold %r is not a list of indices" % (x,))
                    out["stack"] = ";".join(folded_label(at(i, True)) for i in x)
                else:
                    out[k] = expand(x)
            return out
        if isinstance(v, list):
            return [expand(x) for x in v]
        return v
    rec = expand(rec)
    if used != set(range(len(frames))):
        raise ValueError("frames %s are in the table but used nowhere" % sorted(set(range(len(frames))) - used))
    return rec


class Records:
    """Reads scooby records from Redis: zset scooby:requests -> scooby:req:<uuid>."""

    def __init__(self, client):
        self.r = client
        kwargs = dict(client.connection_pool.connection_kwargs, decode_responses=False)
        kwargs.pop("encoding", None)
        kwargs.pop("encoding_errors", None)
        # values as bytes: invalid UTF-8 is reported, not fatal
        self.raw = redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=client.connection_pool.connection_class, **kwargs))
        self.by_uuid = {}
        self.invalid = {}  # uuid -> why the stored value is not a JSON record

    def close(self):
        close_client(self.r)
        close_client(self.raw)

    def refresh(self):
        for member in self.r.zrange("scooby:requests", 0, -1):
            if member in self.by_uuid or member in self.invalid:
                continue
            raw = self.raw.get("scooby:req:" + member)
            if raw is None:
                continue
            try:
                self.by_uuid[member] = full_form(json.loads(raw.decode("utf-8")))
            except ValueError as exc:  # UnicodeDecodeError is a ValueError
                self.invalid[member] = "%s: %r" % (exc, raw[:400])
        return list(self.by_uuid.values())

    def wait(self, pred, what, timeout=RECORD_TIMEOUT, count=1):
        """Waits until `count` records match pred; returns them (by start time)."""
        def found():
            got = [r for r in self.refresh() if pred(r)]
            return got if len(got) >= count else None
        try:
            got = wait_for(found, timeout, what, interval=0.1)
        except AssertionError:
            raise AssertionError("no record for %s after %.0fs; %d records in Redis (%d not "
                                 "valid UTF-8 JSON: %s), paths: %s"
                                 % (what, timeout, len(self.by_uuid), len(self.invalid),
                                    list(self.invalid.values())[:3],
                                    sorted({str(r.get("request", {}).get("path"))
                                            for r in self.by_uuid.values()})[:40])) from None
        return sorted(got, key=lambda r: r["request"]["start_unix_ms"])

    def by_path(self, path, timeout=RECORD_TIMEOUT):
        """The one record of the request for path (tagged paths are unique)."""
        recs = self.wait(lambda r: r.get("request", {}).get("path") == path, repr(path), timeout)
        if len(recs) != 1:
            raise AssertionError("%d records for %r (expected 1): %s"
                                 % (len(recs), path, [short(r) for r in recs]))
        return recs[0]


def queries(rec):
    return rec["plugins_data"]["SQL"]["queries"]


def texts(rec):
    return [q["query"] for q in queries(rec)]


def short(rec):
    """A compact excerpt of a record for failure messages."""
    req = rec.get("request", {})
    return json.dumps({"uuid": rec.get("uuid"), "method": req.get("method"),
                       "path": req.get("path"), "status": req.get("status"),
                       "pid": req.get("pid"), "tid": req.get("tid"),
                       "duration_ms": req.get("duration_ms"),
                       "queries": [(q.get("db"), q.get("query")[:120] if q.get("query") else None,
                                    q.get("error"), q.get("start_offset_ms"), q.get("time_taken"))
                                   for q in rec.get("plugins_data", {}).get("SQL", {}).get("queries", [])],
                       "lost_events": rec.get("lost_events")})


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    """A throwaway cluster owned by `postgres`, listening only on a unix socket."""

    def __init__(self, tmp):
        self.base = os.path.join(tmp, "pg")
        self.data = os.path.join(self.base, "data")
        self.sockdir = self.base
        self.port = free_port()  # only names the socket: no TCP listener
        self.log = os.path.join(self.base, "postgres.log")
        self.started = False

    def _as_postgres(self, argv, timeout=120):
        r = subprocess.run(["runuser", "-u", "postgres", "--"] + argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                           cwd="/")
        if r.returncode != 0:
            raise AssertionError("%s failed (rc %d):\n%s" % (" ".join(argv), r.returncode,
                                                               r.stdout.decode(errors="replace")))
        return r.stdout.decode(errors="replace")

    def start(self):
        os.makedirs(self.base)
        shutil.chown(self.base, "postgres", "postgres")
        self._as_postgres([PG_BIN + "/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--locale=C", "--no-sync"])
        opts = ("-k %s -p %d -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c timezone=UTC" % (self.sockdir, self.port))
        self.started = True
        atexit.register(self.stop)  # pg_ctl daemonizes: not covered by the Proc sweep
        self._as_postgres([PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.log, "-o", opts,
                           "-w", "-t", "60", "start"])
        return self

    def psql(self, sql, db="postgres"):
        return self._as_postgres([PG_BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                                  self.sockdir, "-p", str(self.port), "-d", db, "-c", sql])

    def env(self, dbname):
        return {"SCOOBY_PG_HOST": self.sockdir, "SCOOBY_PG_PORT": str(self.port),
                "SCOOBY_PG_NAME": dbname, "SCOOBY_PG_USER": "postgres"}

    def stop(self):
        if not self.started:
            return
        self.started = False
        try:
            self._as_postgres([PG_BIN + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w",
                               "-t", "20", "stop"], timeout=30)
        except Exception as exc:  # fall back to killing the postmaster
            log("pg_ctl stop failed: %s" % exc)
            try:
                with open(os.path.join(self.data, "postmaster.pid")) as f:
                    os.kill(int(f.readline()), signal.SIGKILL)
            except (OSError, ValueError):
                pass


# ---------------------------------------------------------------- MariaDB, memcached (issue 4)

MARIADBD = "/usr/sbin/mariadbd"
MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db"
MARIADB = "/usr/bin/mariadb"
MEMCACHED = "/usr/bin/memcached"


class MariaDB:
    """A throwaway mariadbd on 127.0.0.1:<free port> and a unix socket, data in tmp.
    root (socket only, no password) sets it up; the apps use the user `scooby`
    (password `scooby-pw`) on the database `scooby`."""

    user = "scooby"
    password = "scooby-pw"
    database = "scooby"

    def __init__(self, tmp):
        self.port = free_port()
        self.base = os.path.join(tmp, "mariadb-%d" % self.port)
        self.data = os.path.join(self.base, "data")
        self.socket = os.path.join(self.base, "mysqld.sock")
        self.proc = None

    def start(self):
        os.makedirs(self.base)
        r = subprocess.run([MARIADB_INSTALL_DB, "--no-defaults", "--datadir=" + self.data,
                            "--user=root", "--auth-root-authentication-method=normal",
                            "--skip-test-db"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120, cwd=self.base)
        if r.returncode != 0:
            raise AssertionError("mariadb-install-db failed (rc %d):\n%s"
                                 % (r.returncode, r.stdout.decode(errors="replace")))
        argv = [MARIADBD, "--no-defaults", "--datadir=" + self.data, "--socket=" + self.socket,
                "--port=%d" % self.port, "--bind-address=127.0.0.1", "--user=root",
                "--pid-file=" + os.path.join(self.base, "mariadbd.pid"),
                "--log-error=" + os.path.join(self.base, "mariadbd.err"),
                "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0"]
        self.proc = Proc("mariadbd-%d" % self.port, argv, self.base)

        def up():
            if not self.proc.alive():
                raise AssertionError("mariadbd exited (rc %s):\n%s\n%s" % (
                    self.proc.poll(), self.proc.output()[-2000:],
                    _read(os.path.join(self.base, "mariadbd.err"))[-3000:]))
            if not os.path.exists(self.socket):
                return False
            r = subprocess.run(self._client() + ["-e", "SELECT 1"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            return r.returncode == 0
        wait_for(up, 60, "mariadbd on port %d" % self.port, interval=0.1)
        self.sql("CREATE DATABASE %s; CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; "
                 "GRANT ALL ON %s.* TO '%s'@'%%'"
                 % (self.database, self.user, self.password, self.database, self.user))
        return self

    def _client(self):
        return [MARIADB, "--no-defaults", "-S", self.socket, "-u", "root", "--batch",
                "--skip-column-names"]

    def sql(self, text, db=None):
        """Runs SQL as root over the socket; returns what the client printed."""
        argv = self._client() + ["-e", text] + ([db] if db else [])
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise AssertionError("mariadb -e %r failed (rc %d):\n%s"
                                 % (text, r.returncode, r.stdout.decode(errors="replace")))
        return r.stdout.decode(errors="replace")

    def env(self):
        """What tests/apps/storeapp.py reads to reach this server (over TCP)."""
        return {"SCOOBY_MYSQL_HOST": "127.0.0.1", "SCOOBY_MYSQL_PORT": str(self.port),
                "SCOOBY_MYSQL_USER": self.user, "SCOOBY_MYSQL_PASSWORD": self.password,
                "SCOOBY_MYSQL_DB": self.database}

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 20)


class Memcached:
    """memcached on 127.0.0.1:<free port>, TCP only (no UDP)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.proc = None

    def start(self):
        argv = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "16"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]  # memcached refuses to run as root without it
        self.proc = Proc("memcached-%d" % self.port, argv, self.tmp)

        def up():
            if not self.proc.alive():
                raise AssertionError("memcached exited:\n" + self.proc.output())
            try:
                return b"VERSION" in self.command(b"version\r\n")
            except OSError:
                return False
        wait_for(up, 15, "memcached on port %d" % self.port)
        return self

    def command(self, data, timeout=5):
        """Sends raw text-protocol bytes and returns the first reply chunk."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            return s.recv(65536)

    def env(self):
        return {"SCOOBY_MEMCACHED_PORT": str(self.port)}

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 5)


def redis_env(srv):
    """What tests/apps/storeapp.py reads to reach a RedisServer started with tcp_port."""
    return {"SCOOBY_REDIS_PORT": str(srv.tcp_port)}


STOREAPP_MODULE = "storeapp:application"
HIREDIS_CLIENT = os.path.join(APPS, "hiredis_client.c")


def hiredis_client_start(tmp, redis_port, port=None):
    """Builds tests/apps/hiredis_client.c (frame pointers, as cclient) into tmp and runs it
    on 127.0.0.1:<port> against the Redis on redis_port: (Proc, port, exe path)."""
    exe = os.path.join(tmp, "hiredis_client")
    if not os.path.exists(exe):
        r = subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall",
                            HIREDIS_CLIENT, "-lhiredis", "-o", exe], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise AssertionError("building hiredis_client failed:\n" + r.stdout.decode(errors="replace"))
    port = port or free_port()
    proc = Proc("hiredis_client-%d" % port, [exe, str(port), str(redis_port)], tmp)
    wait_for(lambda: "ready" in proc.output() or not proc.alive(), 15, "hiredis_client ready")
    if not proc.alive():
        raise AssertionError("hiredis_client exited:\n" + proc.output())
    wait_http(port, "/noquery", proc)
    return proc, port, exe


# ---------------------------------------------------------------- apps

def django_env(db_env):
    env = {"DJANGO_SETTINGS_MODULE": "djapp.settings"}
    env.update(db_env)
    return env


def sqlite_env(tmp):
    return {"SCOOBY_DB": "sqlite", "SCOOBY_SQLITE_PATH": os.path.join(tmp, "db.sqlite3")}


def django_prepare(tmp, db_env, appdir=DJAPP, items=5):
    """migrate + fixture rows item-1..item-N (ids 1..N), before anything attaches."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **django_env(db_env))
    for argv in (["migrate", "-v", "0"], ["seed", str(items)]):
        r = subprocess.run([PYTHON, "manage.py"] + argv, cwd=appdir, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise AssertionError("manage.py %s failed:\n%s" % (" ".join(argv),
                                                               r.stdout.decode(errors="replace")))


class PreforkServer:
    """A master (self.pid, self.proc) that forks the worker processes serving requests."""

    def workers_pids(self):
        return children(self.pid)

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 10)


class Gunicorn(PreforkServer):
    """Debian's gunicorn on 127.0.0.1:<free port>; self.pid is the master. With python,
    that interpreter runs it (`python -m gunicorn`; env gives it Debian's packages)."""

    def __init__(self, tmp, app, chdir, env, workers=2, worker_class="sync", threads=1,
                 name="gunicorn", unix=None, python=None):
        self.tmp, self.app, self.chdir, self.env = tmp, app, chdir, env
        self.python = python
        self.workers, self.worker_class, self.threads = workers, worker_class, threads
        self.name = name
        self.port = free_port()
        self.unix = unix  # also listen on this unix socket (for nginx in front)
        self.proc = None

    def start(self, ready_path="/noquery/"):
        argv = [self.python, "-m", "gunicorn"] if self.python else [GUNICORN]
        argv += ["-w", str(self.workers), "-b", "127.0.0.1:%d" % self.port,
                "--chdir", self.chdir, "--timeout", "60", "--graceful-timeout", "3"]
        if self.unix:
            argv += ["-b", "unix:" + self.unix]
        if self.worker_class == "gthread":
            argv += ["-k", "gthread", "--threads", str(self.threads), "--keep-alive", "30"]
        else:
            argv += ["-k", self.worker_class]
        argv.append(self.app)
        self.proc = Proc(self.name, argv, self.tmp, env=self.env)
        self.pid = self.proc.pid
        wait_http(self.port, ready_path, self.proc)
        wait_for(lambda: len(self.workers_pids()) == self.workers, 30,
                 "%d gunicorn workers" % self.workers)
        return self


class Runserver:
    """manage.py runserver WITH the autoreloader: self.pid is the reloader parent,
    the server itself is its child."""

    def __init__(self, tmp, appdir, env):
        self.tmp, self.appdir, self.env = tmp, appdir, env
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = Proc("runserver", [PYTHON, "manage.py", "runserver",
                                       "127.0.0.1:%d" % self.port],
                         self.tmp, env=self.env, cwd=self.appdir)
        self.pid = self.proc.pid
        wait_http(self.port, "/noquery/", self.proc)
        return self

    def child(self):
        kids = [p for p in children(self.pid) if pid_alive(p)]
        return kids[0] if len(kids) == 1 else None

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 10)


UWSGI = "/usr/bin/uwsgi"
NGINX = "/usr/sbin/nginx"


class Uwsgi(PreforkServer):
    """Debian's uWSGI (python3 plugin), a master and `processes` workers, serving module from
    chdir either as HTTP on 127.0.0.1:<free port> (http=True, --http-socket) or in the uwsgi
    protocol on a unix socket (for nginx's uwsgi_pass). self.pid is the master."""

    def __init__(self, tmp, module, chdir, env, http=True, processes=2):
        self.tmp, self.module, self.chdir, self.env = tmp, module, chdir, env
        self.http, self.processes = http, processes
        self.port = free_port() if http else None
        self.sock = None if http else os.path.join(tmp, "uwsgi-%s.sock" % nonce())
        self.proc = None

    def start(self):
        argv = [UWSGI, "--plugin", "python3", "--master", "--processes", str(self.processes),
                "--die-on-term", "--need-app", "--chdir", self.chdir, "--module", self.module]
        if self.http:
            argv += ["--http-socket", "127.0.0.1:%d" % self.port]
        else:
            argv += ["--socket", self.sock, "--chmod-socket=600"]
        self.proc = Proc("uwsgi", argv, self.tmp, env=self.env)
        self.pid = self.proc.pid
        if self.http:
            wait_http(self.port, "/noquery/", self.proc)
        else:
            wait_for(lambda: os.path.exists(self.sock), 30, "uwsgi socket " + self.sock)
        wait_for(lambda: len(self.workers_pids()) == self.processes, 30,
                 "%d uwsgi workers" % self.processes)
        return self


class Nginx:
    """Debian's nginx on 127.0.0.1:<free port> in front of one upstream unix socket: uwsgi
    (uwsgi_pass, the uwsgi protocol) or http (proxy_pass over HTTP/1.1 with keep-alive
    upstream connections). Runs as root in the foreground, everything under tmp."""

    def __init__(self, tmp, upstream_sock, proto):
        self.tmp, self.upstream_sock, self.proto = tmp, upstream_sock, proto
        self.port = free_port()
        self.dir = os.path.join(tmp, "nginx-%d" % self.port)
        self.proc = None

    def config(self):
        if self.proto == "uwsgi":
            location = "include /etc/nginx/uwsgi_params; uwsgi_pass unix:%s;" % self.upstream_sock
            upstream = ""
        else:
            upstream = "upstream app { server unix:%s; keepalive 4; }" % self.upstream_sock
            location = ("proxy_pass http://app; proxy_http_version 1.1; "
                        "proxy_set_header Connection \"\"; proxy_set_header Host $http_host;")
        temps = " ".join("%s_temp_path %s/%s;" % (t, self.dir, t)
                         for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return ("daemon off; user root; worker_processes 1; pid %s/nginx.pid;\n"
                "error_log %s/error.log;\n"
                "events { worker_connections 256; }\n"
                "http { access_log off; %s %s\n"
                "  server { listen 127.0.0.1:%d; location / { %s } } }\n"
                % (self.dir, self.dir, temps, upstream, self.port, location))

    def start(self):
        os.makedirs(self.dir)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        self.proc = Proc("nginx", [NGINX, "-c", conf, "-p", self.dir], self.tmp)
        wait_http(self.port, "/noquery/", self.proc)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGQUIT, 10)


WSGIAPP = os.path.join(APPS, "wsgiapp.py")


def python_info(python):
    """What an interpreter is: {"version": (major, minor, micro), "stdlib": its
    standard library directory}. Raises AssertionError when it does not run."""
    code = ("import json, sys, sysconfig; print(json.dumps({'version': list(sys.version_info[:3]),"
            " 'stdlib': sysconfig.get_paths()['stdlib']}))")
    try:
        r = subprocess.run([python, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60, cwd="/")
    except OSError as exc:
        raise AssertionError("%s does not run: %s" % (python, exc))
    if r.returncode != 0:
        raise AssertionError("%s failed (rc %d):\n%s" % (python, r.returncode,
                                                          r.stdout.decode(errors="replace")))
    info = json.loads(r.stdout.decode().strip().splitlines()[-1])
    info["version"] = tuple(info["version"])
    return info


class WsgiApp:
    """tests/apps/wsgiapp.py (standard library only: wsgiref + ThreadingMixIn + sqlite3)
    under `python` on 127.0.0.1:<free port>. imported=False runs it as a script (its
    module is __main__), imported=True imports it (its module is wsgiapp)."""

    def __init__(self, tmp, python=PYTHON, imported=False, name="wsgiapp"):
        self.tmp, self.python, self.imported, self.name = tmp, python, imported, name
        self.port = free_port()
        self.db = os.path.join(tmp, "%s-%d.sqlite3" % (name, self.port))
        self.module = "wsgiapp" if imported else "__main__"
        self.proc = None

    def start(self):
        if self.imported:
            argv = [self.python, "-c", "import wsgiapp; wsgiapp.main()"]
            env = {"PYTHONPATH": APPS}
        else:
            argv = [self.python, WSGIAPP]
            env = {}
        argv += [str(self.port), self.db]
        self.proc = Proc(self.name, argv, self.tmp, env=env, cwd=APPS)
        self.pid = self.proc.pid
        wait_http(self.port, "/noquery", self.proc)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 10)


# ---------------------------------------------------------------- scooby-bpf

class Scooby:
    """scooby-bpf attached to a pid; stdout and stderr go to files in tmp."""

    count = 0

    def __init__(self, tmp, pid, redis_url=None, json_path="auto", args=()):
        Scooby.count += 1
        n = Scooby.count
        self.tmp = tmp
        self.target = pid
        self.json_path = os.path.join(tmp, "scooby-%d.jsonl" % n) if json_path == "auto" else json_path
        argv = [SCOOBY_BPF]
        if pid is not None:
            argv += ["-p", str(pid)]
        if redis_url:
            argv += ["--redis", redis_url]
        if self.json_path:
            argv += ["--json", self.json_path]
        argv += list(args)
        self.argv = argv
        self.proc = Proc("scooby-%d" % n, argv, tmp,
                         stdout_path=os.path.join(tmp, "scooby-%d.out" % n),
                         stderr_path=os.path.join(tmp, "scooby-%d.err" % n))
        self.pid = self.proc.pid

    def stdout(self):
        return self.proc.output()

    def stderr(self):
        return self.proc.errors()

    def attached_lines(self):
        return [l for l in self.stderr().splitlines() if l.startswith("scooby-bpf: attached")]

    def wait_attached(self, timeout=ATTACH_TIMEOUT):
        def attached():
            if self.attached_lines():
                return True
            if not self.proc.alive():
                raise AssertionError("scooby-bpf exited (rc %s) before attaching: %s\nstderr:\n%s"
                                     % (self.proc.poll(), " ".join(self.argv), self.stderr()[-4000:]))
            return False
        try:
            wait_for(attached, timeout, "the 'scooby-bpf: attached' line", interval=0.05)
        except AssertionError as exc:
            if self.proc.alive():
                self.proc.stop(signal.SIGKILL, 5)
                raise AssertionError("%s\nstderr:\n%s" % (exc, self.stderr()[-4000:]))
            raise
        return self

    def stop(self, sig=signal.SIGINT, timeout=15.0):
        """Signals scooby-bpf and returns its exit code (None if it had to be killed)."""
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(sig)
            rc = self.proc.wait(timeout)
        if rc is None:
            self.proc.stop(signal.SIGKILL, 5)
        with _live_lock:
            if self.proc in _live:
                _live.remove(self.proc)
        return rc

    def stop_checked(self):
        """SIGINT; raises unless it exited 0 (used by class cleanups)."""
        if self.proc.poll() is not None:
            rc = self.proc.poll()
            if rc != 0:
                raise AssertionError("scooby-bpf had already exited with %s; stderr:\n%s"
                                     % (rc, self.stderr()[-3000:]))
            return
        rc = self.stop()
        if rc != 0:
            raise AssertionError("scooby-bpf exited with %s after SIGINT (expected 0); stderr:\n%s"
                                 % (rc, self.stderr()[-3000:]))

    def json_records(self):
        out = []
        for line in _read(self.json_path).splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out


# ---------------------------------------------------------------- record checks

def is_number(v):
    """A JSON number. The spec's "float" fields are doubles, but JSON has one number
    type and cJSON writes an integral double as `0`, so ints are accepted."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_record(tc, rec, max_query=None):
    """Schema and timing invariants every record must satisfy."""
    msg = short(rec)
    tc.assertRegex(rec["uuid"], UUID_RE, msg)
    tc.assertEqual(rec["version"], 1, msg)
    tc.assertEqual(rec["lost_events"], 0, msg)
    req = rec["request"]
    for key in ("method", "path", "status", "start_unix_ms", "duration_ms", "pid", "tid",
                "comm", "host", "request_id", "incomplete"):
        tc.assertIn(key, req, msg)
    tc.assertTrue(is_number(req["start_unix_ms"]), msg)
    tc.assertTrue(is_number(req["duration_ms"]), "%s is not a number: %s" % (req["duration_ms"], msg))
    tc.assertIsInstance(req["pid"], int, msg)
    if req["method"] == "background":
        # Only the method ("background") and path (null) are specified for these.
        tc.assertIsNone(req["path"], msg)
        tc.assertTrue(req["tid"] is None or isinstance(req["tid"], int), msg)
    else:
        tc.assertIsInstance(req["tid"], int, msg)
        tc.assertIsInstance(req["status"], int, msg)
        tc.assertIsInstance(req["path"], str, msg)
    tc.assertIsInstance(req["comm"], str, msg)
    tc.assertIs(req["incomplete"], False, msg)
    now_ms = time.time() * 1000.0
    tc.assertTrue(now_ms - 3600e3 < req["start_unix_ms"] <= now_ms + 1000, msg)
    tc.assertGreaterEqual(req["duration_ms"], 0.0, msg)

    pt = rec["plugins_data"]["ProcessTime"]
    tc.assertTrue(is_number(pt["process_time"]), "%s is not a number: %s" % (pt["process_time"], msg))
    start, end = iso_ms(pt["start"]), iso_ms(pt["end"])
    tc.assertLessEqual(start, end, msg)
    tc.assertAlmostEqual(end - start, pt["process_time"], delta=1.0, msg=msg)
    tc.assertAlmostEqual(pt["process_time"], req["duration_ms"], delta=1.0, msg=msg)
    tc.assertAlmostEqual(start, req["start_unix_ms"], delta=1.0, msg=msg)

    sql = rec["plugins_data"]["SQL"]
    qs = sql["queries"]
    tc.assertEqual(sql["count"], len(qs), msg)
    tc.assertTrue(is_number(sql["total_time"]), "%s is not a number: %s" % (sql["total_time"], msg))
    tc.assertAlmostEqual(sql["total_time"], sum(q["time_taken"] for q in qs),
                         delta=0.01 * max(1, len(qs)), msg=msg)
    prev_offset = -1.0
    for q in qs:
        qmsg = "%s\nquery: %s" % (msg, json.dumps(q)[:600])
        for key in ("db", "query", "start", "end", "start_offset_ms", "time_taken", "error",
                    "truncated", "stack"):
            tc.assertIn(key, q, qmsg)
        tc.assertIn(q["db"], ("sqlite", "postgresql", "mysql"), qmsg)
        tc.assertIsInstance(q["query"], str, qmsg)
        tc.assertTrue(is_number(q["start_offset_ms"]), "%s is not a number: %s" % (q["start_offset_ms"], qmsg))
        tc.assertTrue(is_number(q["time_taken"]), "%s is not a number: %s" % (q["time_taken"], qmsg))
        tc.assertGreaterEqual(q["time_taken"], 0.0, qmsg)
        tc.assertIsInstance(q["truncated"], bool, qmsg)
        tc.assertIsInstance(q["stack"], list, qmsg)
        tc.assertTrue(q["error"] is None or isinstance(q["error"], str), qmsg)
        if max_query is not None:
            tc.assertLessEqual(len(q["query"].encode()), max_query, qmsg)
        qs_ms, qe_ms = iso_ms(q["start"]), iso_ms(q["end"])
        tc.assertLessEqual(qs_ms, qe_ms, qmsg)
        if q["db"] == "postgresql" and q.get("via", "library") == "library":
            # libpq: time_taken is the span from the call to the end (docs/FORMAT.md)
            tc.assertAlmostEqual(qe_ms - qs_ms, q["time_taken"], delta=1.0, msg=qmsg)
        else:
            # SQLite, MySQL: time_taken is the time inside the library (prepare + steps;
            # send + read), never more than the start..end span (docs/FORMAT.md)
            tc.assertLessEqual(q["time_taken"], qe_ms - qs_ms + 0.002, qmsg)
        if req["method"] != "background":
            tc.assertGreaterEqual(q["start_offset_ms"], 0.0, qmsg)
            tc.assertLessEqual(q["start_offset_ms"] + q["time_taken"],
                               req["duration_ms"] + 0.001, qmsg)
            tc.assertAlmostEqual(qs_ms, req["start_unix_ms"] + q["start_offset_ms"], delta=1.0,
                                 msg=qmsg)
            tc.assertLessEqual(qe_ms, req["start_unix_ms"] + req["duration_ms"] + 1.0, qmsg)
        # execution order
        tc.assertGreaterEqual(q["start_offset_ms"], prev_offset, qmsg)
        prev_offset = q["start_offset_ms"]


# ---------------------------------------------------------------- base test case

class E2ECase(unittest.TestCase):
    """Class-scoped servers: subclasses build them in setUpClass with the helpers
    below; every helper registers its teardown as a class cleanup (LIFO), so a
    failure half-way through setUpClass still tears everything down."""

    maxDiff = None
    port = None  # the HTTP port requests go to

    @classmethod
    def make_tmp(cls, tag):
        cls.tmp = make_tmpdir(tag)
        cls.addClassCleanup(remove_tmpdir, cls.tmp)
        return cls.tmp

    @classmethod
    def start_redis(cls, sock=None):
        srv = RedisServer(cls.tmp, sock)
        cls.addClassCleanup(srv.stop)
        srv.start()
        cls.redis = srv
        cls.records = Records(srv.client())
        cls.addClassCleanup(cls.records.close)
        return srv

    @classmethod
    def start_mariadb(cls):
        srv = MariaDB(cls.tmp)
        cls.addClassCleanup(srv.stop)
        srv.start()
        cls.mariadb = srv
        return srv

    @classmethod
    def start_memcached(cls):
        srv = Memcached(cls.tmp)
        cls.addClassCleanup(srv.stop)
        srv.start()
        cls.memcached = srv
        return srv

    @classmethod
    def start_store_redis(cls):
        """A second redis-server, on TCP, for the app to use (records stay on start_redis's)."""
        srv = RedisServer(cls.tmp, tcp_port=free_port())
        cls.addClassCleanup(srv.stop)
        srv.start()
        cls.store_redis = srv
        return srv

    @classmethod
    def start_server(cls, kind, *args, **kwargs):
        """Starts kind(cls.tmp, *args, **kwargs) (Gunicorn, Uwsgi, Nginx, WsgiApp), stopped
        at class cleanup; returns it."""
        srv = kind(cls.tmp, *args, **kwargs)
        cls.addClassCleanup(srv.stop)
        srv.start()
        return srv

    @classmethod
    def start_gunicorn(cls, *args, **kwargs):
        return cls.start_server(Gunicorn, *args, **kwargs)

    @classmethod
    def start_uwsgi(cls, *args, **kwargs):
        return cls.start_server(Uwsgi, *args, **kwargs)

    @classmethod
    def start_nginx(cls, *args, **kwargs):
        return cls.start_server(Nginx, *args, **kwargs)

    @classmethod
    def start_wsgiapp(cls, *args, **kwargs):
        return cls.start_server(WsgiApp, *args, **kwargs)

    @classmethod
    def attach(cls, pid, args=(), redis_url=None):
        sc = Scooby(cls.tmp, pid, redis_url or cls.redis.url, args=args)
        cls.addClassCleanup(cls._stop_scooby, sc)
        sc.wait_attached()
        cls.scooby = sc
        return sc

    @classmethod
    def _stop_scooby(cls, sc):
        try:
            sc.stop_checked()
        finally:
            tail = sc.stderr().splitlines()[-15:]
            log("%s: scooby-bpf stderr (last %d lines):\n    %s"
                % (cls.__name__, len(tail), "\n    ".join(tail)))
        lines = sc.attached_lines()
        if len(lines) != 1:
            raise AssertionError("expected exactly one 'scooby-bpf: attached' line, got %r" % lines)

    def get(self, path, method="GET", headers=None, body=None, tag=True, port=None):
        """Sends one request; returns (path as sent, status, body bytes)."""
        sent = tagged(path) if tag else path
        status, data, _ = http_request(port or self.port, sent, method, headers, body)
        return sent, status, data

    def records_for_many(self, path, n=5, status=200):
        """Sends n GETs of path (each tagged), asserts each answered status, and returns
        their records in order."""
        sent = []
        for _ in range(n):
            tagged_path, got, _ = self.get(path)
            self.assertEqual(got, status)
            sent.append(tagged_path)
        return [self.record_for(p, status) for p in sent]

    def record_for(self, path, status=None, method="GET", max_query=None):
        rec = self.records.by_path(path)
        check_record(self, rec, max_query)
        self.assertEqual(rec["request"]["method"], method, short(rec))
        if status is not None:
            self.assertEqual(rec["request"]["status"], status, short(rec))
        return rec

    def assertQueries(self, rec, expected, db="sqlite", failing=()):
        """Exact texts in order, all of `db`; every query succeeded (error null)
        except those whose index is in `failing` (error a non-empty string)."""
        self.assertEqual(texts(rec), expected, short(rec))
        for i, q in enumerate(queries(rec)):
            self.assertEqual(q["db"], db, short(rec))
            if i in failing:
                self.assertIsInstance(q["error"], str, short(rec))
                self.assertTrue(q["error"].strip(), short(rec))
            else:
                self.assertIsNone(q["error"], "query %d should have succeeded: %s"
                                  % (i, short(rec)))


# ---------------------------------------------------------------- faults, floods, soak (issue 7)
# Used by tests/e2e/test_faults.py, tests/e2e/test_flood.py and tests/soak/soak.py.

HANGAPP = os.path.join(APPS, "hangapp.py")

# scooby-bpf's last stderr line on every orderly exit (SIGINT/SIGTERM, -d, target exit)
EXIT_LINE_RE = re.compile(
    r"^scooby-bpf: detached; (\d+) records, (\d+) published to Redis, (\d+) dropped, "
    r"(\d+) unsent, (\d+) events lost \((\d+) query ends\)$")
EXIT_FIELDS = ("records", "published", "dropped", "unsent", "lost", "lost_query_ends")


def exit_summary(stderr):
    """The counts of scooby-bpf's exit line, which must be the last line of its stderr:
    {"records", "published", "dropped", "unsent", "lost", "lost_query_ends"} -> int."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    last = lines[-1] if lines else ""
    m = EXIT_LINE_RE.match(last)
    if not m:
        raise AssertionError("the last stderr line of scooby-bpf is not the exit line "
                             "(%s); stderr ends with:\n%s" % (EXIT_LINE_RE.pattern,
                                                              "\n".join(lines[-10:])))
    return dict(zip(EXIT_FIELDS, (int(g) for g in m.groups())))


def proc_status_fields(pid, names):
    """The kB fields `names` of /proc/PID/status read at once, as a dict, or None once pid is
    gone or one of them is missing."""
    found = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                name = line.split(":", 1)[0]
                if name in names:
                    found[name] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return found if len(found) == len(names) else None


class MemSampler:
    """Samples VmRSS, VmHWM and RssAnon (kB) of pid every `interval` seconds on a thread,
    calling `then` (if given) after each sample: self.samples is a list of (seconds since
    start, rss_kb, hwm_kb, anon_kb)."""

    def __init__(self, pid, interval=1.0, then=None):
        self.pid, self.interval, self.then = pid, interval, then
        self.samples = []
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def sample(self):
        fields = proc_status_fields(self.pid, ("VmRSS", "VmHWM", "RssAnon"))
        if fields is not None:
            self.samples.append((time.monotonic() - self._t0, fields["VmRSS"],
                                 fields["VmHWM"], fields["RssAnon"]))

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            if self.then:
                self.then()
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        return self.samples

    def max_hwm_kb(self):
        return max((s[2] for s in self.samples), default=0)


def bpftool_json(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        raise AssertionError("bpftool %s failed: %s" % (" ".join(args), r.stderr.decode()))
    out = r.stdout.decode().strip()
    return json.loads(out) if out else []


def bpf_objects(pid):
    """{"progs", "links", "maps"}: ids of the BPF objects pid holds fds for (fdinfo)."""
    objs = {"progs": set(), "links": set(), "maps": set()}
    base = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(base):
        try:
            with open(os.path.join(base, fd)) as f:
                info = f.read()
        except OSError:
            continue
        fields = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
        if "link_id" in fields:
            objs["links"].add(int(fields["link_id"]))
        if "prog_id" in fields:
            objs["progs"].add(int(fields["prog_id"]))
        if "map_id" in fields:
            objs["maps"].add(int(fields["map_id"]))
    return objs


def perf_events_of(pid):
    """bpftool's perf-event attachments (uprobes, tracepoints) held by pid."""
    return [e for e in bpftool_json("perf") if e.get("pid") == pid]


def bpf_leftovers(pid, objs):
    """What of objs (from bpf_objects) and of pid's perf events still exists."""
    return {"progs": sorted(p["id"] for p in bpftool_json("prog", "show")
                            if p["id"] in objs["progs"]),
            "links": sorted(l["id"] for l in bpftool_json("link", "show")
                            if l["id"] in objs["links"]),
            "maps": sorted(m["id"] for m in bpftool_json("map", "show")
                           if m["id"] in objs["maps"]),
            "perf": perf_events_of(pid)}


def uprobe_events():
    """The lines of tracefs' uprobe_events (probes created through tracefs)."""
    ensure_tracefs()
    for path in ("/sys/kernel/tracing/uprobe_events", "/sys/kernel/debug/tracing/uprobe_events"):
        try:
            with open(path) as f:
                return [l for l in f.read().splitlines() if l.strip()]
        except OSError:
            continue
    raise AssertionError("uprobe_events not readable (tracefs not mounted?)")


def raw_http(port, request, timeout=30):
    """Sends `request` (bytes, a whole HTTP/1.0-style request) on a new connection and
    returns every byte received until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


DATE_HEADER_RE = re.compile(rb"\r\nDate: [^\r\n]*\r\n", re.IGNORECASE)


def without_date(response):
    """A raw response with the Date header's value blanked (the one part of a response
    that changes from one second to the next)."""
    return DATE_HEADER_RE.sub(b"\r\nDate: -\r\n", response, count=1)


def hangapp_start(tmp, port=None):
    """tests/apps/hangapp.py standalone (wsgiref, a thread per request): (Proc, port)."""
    port = port or free_port()
    proc = Proc("hangapp-%d" % port, [PYTHON, HANGAPP, str(port)], tmp, cwd=APPS)
    wait_http(port, "/noquery", proc)
    return proc, port


# ---------------------------------------------------------------- per-request profiles (issue 6)
# Used by tests/e2e/test_profile.py.

PROFAPP = os.path.join(APPS, "profapp.py")
CALLGRIND_ANNOTATE = "/usr/bin/callgrind_annotate"
# runprofileserver's default file name (scooby-bpf's default --prof-file)
PROF_DEFAULT_FORMAT = "{path}.{duration:06d}ms.{time}"


def profapp_start(tmp, port=None):
    """tests/apps/profapp.py standalone (wsgiref, a thread per request): (Proc, port)."""
    port = port or free_port()
    proc = Proc("profapp-%d" % port, [PYTHON, PROFAPP, str(port)], tmp, cwd=APPS)
    wait_http(port, "/ready", proc)
    return proc, port


def profile_of(rec):
    """plugins_data.Profile of a record (AssertionError when it has none)."""
    prof = rec.get("plugins_data", {}).get("Profile")
    if not isinstance(prof, dict):
        raise AssertionError("record has no plugins_data.Profile: %s\nplugins_data keys: %s"
                             % (short(rec), sorted(rec.get("plugins_data", {}))))
    return prof


def prof_path_key(path):
    """runprofileserver's {path}: the URL path without its query string, outer slashes
    stripped, inner ones as dots, "root" when nothing is left."""
    return path.split("?", 1)[0].strip("/").replace("/", ".") or "root"


def prof_file_names(fmt, rec):
    """The file names a request's profile may have under --prof-file fmt, rendered by
    Python's str.format as runprofileserver renders them ('/' then as '_'): {duration} is
    int(elapsed ms) and {time} the end in whole unix seconds. Usually one name; two when
    the record's microsecond rounding leaves a whole ms or second in doubt."""
    req = rec["request"]
    dur = req["duration_ms"]
    end_s = (req["start_unix_ms"] + dur) / 1000.0
    durs = {max(0, int(dur - 0.001)), max(0, int(dur + 0.001))}
    times = {int(end_s - 0.000002), int(end_s + 0.000002)}
    key = prof_path_key(req["path"])
    return sorted({fmt.format(path=key, duration=d, time=t).replace("/", "_")
                   for d in durs for t in times})


FOLDED_LINE_RE = re.compile(r"^(\S(?:.*\S)?) ([1-9][0-9]*)$")


def parse_folded(text):
    """A folded profile ("outer;...;inner count" lines) as [(stack, count)]; raises
    AssertionError on a line that is not `stack count` with non-empty frames."""
    out = []
    for i, line in enumerate(text.split("\n")):
        if i == len(text.split("\n")) - 1 and line == "":
            break  # the final newline
        m = FOLDED_LINE_RE.match(line)
        if not m or any(not f.strip() for f in m.group(1).split(";")):
            raise AssertionError("folded line %d is not `stack count`: %r" % (i + 1, line))
        out.append((m.group(1), int(m.group(2))))
    return out
