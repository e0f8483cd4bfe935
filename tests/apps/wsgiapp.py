"""Standard-library-only WSGI app on SQLite for the scooby-bpf Python stack tests
(tests/e2e/test_stacks.py). It runs unchanged under every CPython from 3.6 on, so the
version matrix does not depend on Django (rulings 13).

Run as a script (module name __main__):
    python3 wsgiapp.py PORT DBPATH
or imported (module name wsgiapp):
    cd tests/apps && python3 -c 'import wsgiapp; wsgiapp.main()' PORT DBPATH

Served by wsgiref.simple_server with ThreadingMixIn: every request runs on a new
thread, started after scooby-bpf attached. DBPATH is created with a table
item(id INTEGER PRIMARY KEY, name TEXT) holding item-1 .. item-5. Each request opens
its own connection.

Endpoints (the SQL below is exactly what SQLite receives):
  /item      application -> item_view (# V1) -> Repo.fetch (# Q1):
             SELECT id, name FROM item WHERE id = ?          (bound 3)
  /init      application -> init_view (# V2) -> CountingRepo.__init__ (# Q2), 3 times:
             SELECT COUNT(*) FROM item                        (3.13 enters a class's
             __init__ through a hidden frame once the call is specialized)
  /noquery   no SQL
  /dyn?n=N   dyn_view -> two functions compiled for this request alone, named
             dyn<24*N x's>_outer -> ..._inner -> Repo.fetch: the SQL of /item. They are
             freed when the next /dyn begins (scooby-bpf reads a code object after the
             fact: one freed within the request could not be named), so that request's
             code objects may take their addresses (the response lists the addresses:
             id() of each code object)

The tests find the lines by their marker comments (# Q1, # V1, # A1): keep one marker
per line, and do not reuse a marker.
"""
import json
import sqlite3
import sys
from urllib.parse import parse_qs
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

DB_PATH = None
SQL_ITEM = "SELECT id, name FROM item WHERE id = ?"


class Repo:
    def __init__(self, conn):
        self.conn = conn

    def fetch(self, item_id):
        return self.conn.execute(SQL_ITEM, (item_id,)).fetchone()  # Q1


SQL_COUNT = "SELECT COUNT(*) FROM item"


class CountingRepo:
    def __init__(self, conn):
        self.count = conn.execute(SQL_COUNT).fetchone()[0]  # Q2


def item_view(environ):
    conn = sqlite3.connect(DB_PATH)
    try:
        row = Repo(conn).fetch(3)  # V1
    finally:
        conn.close()
    return "200 OK", {"id": row[0], "name": row[1]}


def init_view(environ):
    conn = sqlite3.connect(DB_PATH)
    try:
        counts = []
        for _ in range(3):
            counts.append(CountingRepo(conn).count)  # V2
    finally:
        conn.close()
    return "200 OK", {"counts": counts}


DYN_SRC = '''
def %(name)s_inner(repo):
    return repo.fetch(3)
def %(name)s_outer(repo):
    return %(name)s_inner(repo)
'''


DYN_LAST = {}


def dyn_view(environ):
    n = int(parse_qs(environ.get("QUERY_STRING", "")).get("n", ["1"])[0])
    DYN_LAST.clear()  # the functions' globals hold them: a cycle the GC would take later
    # a name of another length each time: its string object cannot take the last one's
    # address, even where the code object takes its code's
    name = "dyn" + "x" * (24 * n)
    ns = DYN_LAST
    exec(compile(DYN_SRC % {"name": name}, "<dyn>", "exec"), ns)
    codes = [hex(id(ns[name + "_outer"].__code__)), hex(id(ns[name + "_inner"].__code__))]
    conn = sqlite3.connect(DB_PATH)
    try:
        row = ns[name + "_outer"](Repo(conn))
    finally:
        conn.close()
    return "200 OK", {"id": row[0], "name": name, "codes": codes}


def noquery_view(environ):
    return "200 OK", {"query": None}


ROUTES = {"/item": item_view, "/init": init_view, "/noquery": noquery_view, "/dyn": dyn_view}


def application(environ, start_response):
    view = ROUTES.get(environ.get("PATH_INFO", ""))
    if view is None:
        status, payload = "404 Not Found", {"error": "not found"}
    else:
        status, payload = view(environ)  # A1
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def setup_db(path):
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.execute("DELETE FROM item")
        conn.executemany("INSERT INTO item (id, name) VALUES (?, ?)",
                         [(i, "item-%d" % i) for i in range(1, 6)])
        conn.commit()
    finally:
        conn.close()


def main(argv=None):
    global DB_PATH
    argv = sys.argv[1:] if argv is None else argv
    port, DB_PATH = int(argv[0]), argv[1]
    setup_db(DB_PATH)
    server = make_server("127.0.0.1", port, application, server_class=ThreadingWSGIServer,
                         handler_class=QuietHandler)
    sys.stdout.write("serving on 127.0.0.1:%d (%s, module %s)\n"
                     % (port, sys.version.split()[0], __name__))
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
