"""Plain WSGI app that talks to every data store, one endpoint per client, for the issue 4 tests.

Run: /usr/bin/gunicorn -w 1 -b 127.0.0.1:PORT --chdir tests/apps storeapp:application
Only the standard library and Debian's python3 packages (MySQLdb, pymysql, redis, pylibmc,
pymemcache, psycopg2). Each driver is imported on first use, and each connection is opened
lazily once per thread and reused, as real apps do; so a warm-up request per endpoint before
attaching leaves the measured requests with exactly the statements below.

Environment:
  SCOOBY_MYSQL_HOST/PORT/USER/PASSWORD/DB    MariaDB (TCP)
  SCOOBY_REDIS_HOST (127.0.0.1), SCOOBY_REDIS_PORT
  SCOOBY_MEMCACHED_HOST (127.0.0.1), SCOOBY_MEMCACHED_PORT
  SCOOBY_PG_DSN, or SCOOBY_PG_HOST/PORT/NAME/USER (as tests/apps/pgapp.py)

Endpoints (each answers 200 with a short text; a failing statement is caught):
  /noquery/      nothing
  /mysqldb/      MySQLdb (libmariadb): MYSQL_SELECT, MYSQL_INSERT, MYSQL_FAIL (fails)
  /mysqldb-async/  MySQLdb's send_query + read_query_result: MYSQL_SELECT
  /mysql-stmt/   libmariadb through ctypes: mysql_stmt_prepare(MYSQL_STMT_SQL), two
                 mysql_stmt_execute, mysql_stmt_close, mysql_stmt_prepare(MYSQL_FAIL) (fails)
  /mysql-stmt-kept/  mysql_stmt_execute of MYSQL_STMT_KEPT, prepared when the ctypes
                 connection opened (the first request: warm it up before attaching)
  /pymysql/      pymysql (pure Python, wire): the same three as /mysqldb/
  /redispy/      redis-py (wire): REDIS_SET, REDIS_GET, REDIS_FAIL (fails), then
                 REDIS_PIPELINE (5 commands, no MULTI) sent at once
  /pylibmc/      pylibmc (libmemcached): MC_OPS in order
  /pylibmc-down/  pylibmc get of MC_KEY from 127.0.0.1:SCOOBY_MEMCACHED_DOWN_PORT (nothing
                 listens there): libmemcached fails to connect
  /pymemcache/   pymemcache (wire): MC_OPS in order
  /psycopg2/     psycopg2 (libpq): PG_SELECTS
  /pg8000/       pg8000 (pure Python, extended protocol over the unix socket): pg8000_statements()
                 with the request's query string in a comment, so that each request prepares
                 anew (pg8000 caches prepared statements per connection)
  /redis-inline/ a raw socket sends Redis's inline form (REDIS_INLINE), which no first-bytes
                 check recognizes: seen only with --port-proto PORT=redis
  /log/          LOG_MESSAGE through logging to stderr, PRINT_LINE to stdout
  /hiredis/      nothing here (the hiredis scenario is tests/apps/hiredis_client.c)
"""
import logging
import os
import sys
import threading

# MariaDB; MYSQL_SCHEMA is run by the tests before the app starts.
MYSQL_SCHEMA = ("CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL); "
                "INSERT INTO item VALUES (1, 'item-1'), (2, 'item-2'), (3, 'item-3'); "
                "CREATE TABLE hit (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(64))")
MYSQL_SELECT = "SELECT id, name FROM item WHERE id = 2"
MYSQL_INSERT = "INSERT INTO hit (who) VALUES ('storeapp')"
MYSQL_FAIL = "SELECT * FROM nope"
MYSQL_STATEMENTS = [MYSQL_SELECT, MYSQL_INSERT, MYSQL_FAIL]
MYSQL_FAIL_ERROR = "Table 'scooby.nope' doesn't exist"

# Redis: (command, args...) as sent; REDIS_FAIL fails (INCR of a non-integer value).
REDIS_KEY = "sc:k"
REDIS_SET = ("SET", REDIS_KEY, "v")
REDIS_GET = ("GET", REDIS_KEY)
REDIS_FAIL = ("INCR", REDIS_KEY)
REDIS_FAIL_ERROR = "value is not an integer or out of range"
REDIS_PIPELINE = [("SET", "sc:p1", "1"), ("INCR", "sc:p1"), ("GET", "sc:p1"),
                  ("LPUSH", "sc:l", "a"), ("LLEN", "sc:l")]
REDIS_INLINE = b"PING hello\r\n"
REDIS_COMMANDS = [REDIS_SET, REDIS_GET, REDIS_FAIL] + REDIS_PIPELINE

# memcached: (Scooby's func_name, key(s)). The counter is created when a connection opens
# (add, so an existing one is kept) so that the incr finds it.
MC_KEY = "sc:mk"
MC_MISSING = "sc:missing"
MC_COUNTER = "sc:n"
MC_MULTI = ["sc:m1", "sc:m2", "sc:m3"]
# what pymemcache sends: the text protocol's verbs, a get of several keys (its get_many)
# named get_multi as libmemcached's mget is
MC_WIRE_OPS = [("set", MC_KEY), ("get", MC_KEY), ("get", MC_MISSING), ("delete", MC_KEY),
               ("incr", MC_COUNTER), ("get_multi", " ".join(MC_MULTI))]
MC_OPS = [("set", MC_KEY), ("get", MC_KEY), ("get", MC_MISSING), ("delete", MC_KEY),
          ("incr", MC_COUNTER), ("get_multi", " ".join(MC_MULTI))]

# PostgreSQL through psycopg2
PG_SELECTS = ["SELECT 1", "SELECT 2"]
PG_SCHEMA = ("CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL); "
             "INSERT INTO item SELECT i, 'item-' || i FROM generate_series(1, 3) AS i")
PG8000_SELECT = "SELECT id, name FROM item WHERE id = %s /* {tag} */"
PG8000_FAIL = "SELECT * FROM nope /* {tag} */"
PG8000_FAIL_ERROR = 'ERROR:  relation "nope" does not exist'


def pg8000_statements(tag):
    """The entries /pg8000/?<tag> makes: pg8000 prepares each new statement in a round trip
    of its own (Parse, Describe, Sync), then binds and executes it; its %s becomes $1. The
    failing statement fails at its Parse, so it is never executed."""
    select = PG8000_SELECT.replace("%s", "$1").format(tag=tag)
    return [select, select, PG8000_FAIL.format(tag=tag)]

# /log/
LOG_MESSAGE = "hello 1"
LOG_LINE = "WARNING storeapp: hello 1"
PRINT_LINE = "storeapp print 42"

_local = threading.local()
_log = logging.getLogger("storeapp")


def _log_setup():
    """One stderr handler on the app's logger (gunicorn leaves the root logger bare)."""
    if not _log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        _log.addHandler(h)
        _log.propagate = False
        _log.setLevel(logging.INFO)


def _conn(name, opener):
    """The thread's connection for name, opened on first use."""
    c = getattr(_local, name, None)
    if c is None:
        c = opener()
        setattr(_local, name, c)
    return c


def _mysql_kwargs():
    e = os.environ
    return dict(host=e.get("SCOOBY_MYSQL_HOST", "127.0.0.1"),
                port=int(e.get("SCOOBY_MYSQL_PORT", "3306")),
                user=e.get("SCOOBY_MYSQL_USER", "scooby"),
                password=e.get("SCOOBY_MYSQL_PASSWORD", ""),
                database=e.get("SCOOBY_MYSQL_DB", "scooby"))


def _open_mysqldb():
    import MySQLdb
    kw = _mysql_kwargs()
    return MySQLdb.connect(host=kw["host"], port=kw["port"], user=kw["user"],
                           passwd=kw["password"], db=kw["database"], autocommit=True)


def _open_pymysql():
    import pymysql
    return pymysql.connect(autocommit=True, **_mysql_kwargs())


def _run_sql(conn, statements, errors):
    """Runs each statement on its own cursor; a failure is noted, not raised."""
    out = []
    for sql in statements:
        cur = conn.cursor()
        try:
            cur.execute(sql)  # sql:execute
            out.append(len(cur.fetchall()) if cur.description else cur.rowcount)
        except errors as exc:
            out.append("error: %s" % (exc,))
        finally:
            cur.close()
    return out


def mysqldb():
    import MySQLdb
    return _run_sql(_conn("mysqldb", _open_mysqldb), MYSQL_STATEMENTS, MySQLdb.Error)


def mysqldb_async():
    """MySQLdb's low-level non-blocking pair: mysql_send_query, then mysql_read_query_result."""
    db = _conn("mysqldb", _open_mysqldb)
    db.send_query(MYSQL_SELECT.encode())  # sql:send
    db.read_query_result()
    res = db.store_result()
    return [len(res.fetch_row(maxrows=0))]


class _MysqlC:
    """libmariadb called directly through ctypes: the only way to its prepared statements
    from Python (MySQLdb prepares nothing)."""

    def __init__(self):
        import ctypes
        lib = ctypes.CDLL("libmariadb.so.3")
        P, S, U = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong
        for name, res, args in (("mysql_init", P, [P]),
                                ("mysql_real_connect", P, [P, S, S, S, S, ctypes.c_uint, S, U]),
                                ("mysql_stmt_init", P, [P]), ("mysql_stmt_prepare", ctypes.c_int, [P, S, U]),
                                ("mysql_stmt_execute", ctypes.c_int, [P]),
                                ("mysql_stmt_store_result", ctypes.c_int, [P]),
                                ("mysql_stmt_free_result", ctypes.c_char, [P]),
                                ("mysql_stmt_close", ctypes.c_char, [P]),
                                ("mysql_stmt_error", S, [P])):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        self.lib = lib
        kw = _mysql_kwargs()
        self.conn = lib.mysql_init(None)
        if not lib.mysql_real_connect(self.conn, kw["host"].encode(), kw["user"].encode(),
                                      kw["password"].encode(), kw["database"].encode(),
                                      kw["port"], None, 0):
            raise RuntimeError("mysql_real_connect failed")
        # prepared when the connection opens (before attach): executed by /mysql-stmt-kept/
        self.kept = self.prepare(MYSQL_STMT_KEPT)

    def prepare(self, sql):
        """A prepared statement, or (None, the error) when the prepare fails."""
        stmt = self.lib.mysql_stmt_init(self.conn)
        b = sql.encode()
        if self.lib.mysql_stmt_prepare(stmt, b, len(b)):  # sql:prepare
            err = self.lib.mysql_stmt_error(stmt).decode()
            self.lib.mysql_stmt_close(stmt)
            return None, err
        return stmt, None

    def execute(self, stmt):
        rc = self.lib.mysql_stmt_execute(stmt)  # sql:stmt-execute
        self.lib.mysql_stmt_store_result(stmt)
        self.lib.mysql_stmt_free_result(stmt)
        return rc


# /mysql-stmt/: prepare MYSQL_STMT_SQL, execute it twice, close it, then a prepare that fails.
MYSQL_STMT_SQL = "SELECT id, name FROM item WHERE id = 3"
MYSQL_STMT_KEPT = "SELECT count(*) FROM item"


def mysql_stmt():
    c = _conn("mysqlc", _MysqlC)
    stmt, err = c.prepare(MYSQL_STMT_SQL)
    out = [err, c.execute(stmt), c.execute(stmt)]
    c.lib.mysql_stmt_close(stmt)
    out.append(c.prepare(MYSQL_FAIL)[1])
    return out


def mysql_stmt_kept():
    """Executes the statement the connection prepared when it opened."""
    c = _conn("mysqlc", _MysqlC)
    return [c.execute(c.kept[0])]


def pymysql_():
    import pymysql
    return _run_sql(_conn("pymysql", _open_pymysql), MYSQL_STATEMENTS, pymysql.Error)


def _open_redis():
    import redis
    return redis.Redis(host=os.environ.get("SCOOBY_REDIS_HOST", "127.0.0.1"),
                       port=int(os.environ.get("SCOOBY_REDIS_PORT", "6379")),
                       socket_timeout=10)


def redispy():
    import redis
    r = _conn("redis", _open_redis)
    out = []
    for cmd in (REDIS_SET, REDIS_GET, REDIS_FAIL):
        try:
            out.append(r.execute_command(*cmd))
        except redis.ResponseError as exc:
            out.append("error: %s" % exc)
    pipe = r.pipeline(transaction=False)
    for cmd in REDIS_PIPELINE:
        pipe.execute_command(*cmd)
    out.append(pipe.execute())
    return out


def redis_inline():
    import socket
    s = _conn("redis_raw", lambda: socket.create_connection(
        (os.environ.get("SCOOBY_REDIS_HOST", "127.0.0.1"),
         int(os.environ.get("SCOOBY_REDIS_PORT", "6379"))), timeout=10))
    s.sendall(REDIS_INLINE)  # redis:inline
    return [s.recv(64)]


def _mc_address():
    return (os.environ.get("SCOOBY_MEMCACHED_HOST", "127.0.0.1"),
            int(os.environ.get("SCOOBY_MEMCACHED_PORT", "11211")))


def _open_pylibmc():
    import pylibmc
    c = pylibmc.Client(["%s:%d" % _mc_address()])
    c.add(MC_COUNTER, "0")
    return c


def _open_pymemcache():
    from pymemcache.client.base import Client
    c = Client(_mc_address(), timeout=10, connect_timeout=10)
    c.add(MC_COUNTER, "0", noreply=False)
    return c


def _mc_ops(c):
    """MC_OPS in order through a client with the python-memcached style API, one call per
    line (the tests find each line by its `# mc:` marker)."""
    out = [c.set(MC_KEY, "v")]  # mc:set
    out.append(c.get(MC_KEY))  # mc:get
    out.append(c.get(MC_MISSING))  # mc:get-missing
    out.append(c.delete(MC_KEY))  # mc:delete
    out.append(c.incr(MC_COUNTER, 1))  # mc:incr
    out.append(sorted(c.get_multi(MC_MULTI)))  # mc:get_multi
    return out


def pylibmc_():
    return _mc_ops(_conn("pylibmc", _open_pylibmc))


def pylibmc_down():
    """A get from a server that is not there: libmemcached's connection failure."""
    import pylibmc
    port = int(os.environ.get("SCOOBY_MEMCACHED_DOWN_PORT", "1"))
    c = pylibmc.Client(["127.0.0.1:%d" % port])
    try:
        return [c.get(MC_KEY)]  # mc:down
    except pylibmc.Error as exc:
        return ["error: %s" % exc]
    finally:
        c.disconnect_all()


def pymemcache_():
    return _mc_ops(_conn("pymemcache", _open_pymemcache))


def _open_pg():
    import psycopg2
    dsn = os.environ.get("SCOOBY_PG_DSN")
    if dsn:
        conn = psycopg2.connect(dsn)
    else:
        conn = psycopg2.connect(host=os.environ["SCOOBY_PG_HOST"],
                                port=int(os.environ.get("SCOOBY_PG_PORT", "5432")),
                                dbname=os.environ.get("SCOOBY_PG_NAME", "postgres"),
                                user=os.environ.get("SCOOBY_PG_USER", "postgres"))
    conn.autocommit = True
    return conn


def psycopg2_():
    import psycopg2
    return _run_sql(_conn("pg", _open_pg), PG_SELECTS, psycopg2.Error)


def _open_pg8000():
    import pg8000
    sock = os.path.join(os.environ["SCOOBY_PG_HOST"],
                        ".s.PGSQL.%s" % os.environ.get("SCOOBY_PG_PORT", "5432"))
    conn = pg8000.connect(user=os.environ.get("SCOOBY_PG_USER", "postgres"), unix_sock=sock,
                          database=os.environ.get("SCOOBY_PG_NAME", "postgres"))
    conn.autocommit = True
    return conn


def pg8000_():
    import pg8000
    tag = getattr(_local, "query_string", "")
    conn = _conn("pg8000", _open_pg8000)
    out = []
    for sql, args in ((PG8000_SELECT.format(tag=tag), (2,)), (PG8000_FAIL.format(tag=tag), ())):
        cur = conn.cursor()
        try:
            cur.execute(sql, args)  # pg8000:execute
            out.append(len(cur.fetchall()))
        except pg8000.Error as exc:
            out.append("error: %s" % (exc,))
        finally:
            cur.close()
    return out


def log():
    _log_setup()
    _log.warning("hello %s", 1)
    print(PRINT_LINE, flush=True)
    return "logged"


ROUTES = {
    "/noquery/": lambda: "no store here",
    "/mysqldb/": mysqldb,
    "/mysqldb-async/": mysqldb_async,
    "/pymysql/": pymysql_,
    "/redispy/": redispy,
    "/mysql-stmt/": mysql_stmt,
    "/mysql-stmt-kept/": mysql_stmt_kept,
    "/pylibmc/": pylibmc_,
    "/pylibmc-down/": pylibmc_down,
    "/pymemcache/": pymemcache_,
    "/psycopg2/": psycopg2_,
    "/pg8000/": pg8000_,
    "/redis-inline/": redis_inline,
    "/log/": log,
    "/hiredis/": lambda: "the hiredis scenario runs in hiredis_client.c",
}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if not path.endswith("/"):
        path += "/"
    route = ROUTES.get(path)
    _local.query_string = environ.get("QUERY_STRING", "")
    if route is None:
        status, body = "404 Not Found", "not found\n"
    else:
        status, body = "200 OK", "%s %r\n" % (path.strip("/") or "root", route())
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
