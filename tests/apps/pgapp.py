"""Plain WSGI app on psycopg2 for the scooby-bpf PostgreSQL tests.

Run: /usr/bin/gunicorn -w 2 -b 127.0.0.1:PORT --chdir tests/apps pgapp:application
Environment: SCOOBY_PG_HOST (unix socket dir), SCOOBY_PG_PORT, SCOOBY_PG_NAME,
SCOOBY_PG_USER. Expects a table item(id int primary key, name text).

Endpoints (every SQL text below is what psycopg2 sends, literals inlined):
  /sync/item/<id>    sync connection (PQexec): SELECT id, name FROM item WHERE id = <id>
  /sync/two          sync: SELECT count(*) FROM item ; SELECT id, name FROM item ORDER BY id
  /sync/fail         sync: SELECT * FROM nope -> 500 with PostgreSQL's message
  /async/item/<id>   new async_=1 connection polled with select() (PQsendQuery +
                     PQgetResult): SELECT id, name FROM item WHERE id = <id>
  /async/two         async: SELECT count(*) FROM item ; SELECT id, name FROM item ORDER BY id
  /async/fail        async: SELECT * FROM nope -> 500
  /noquery           no SQL
"""
import json
import os
import select
import threading

import psycopg2
import psycopg2.extensions

_local = threading.local()


def _dsn_kwargs():
    return dict(
        host=os.environ["SCOOBY_PG_HOST"],
        port=int(os.environ.get("SCOOBY_PG_PORT", "5432")),
        dbname=os.environ.get("SCOOBY_PG_NAME", "scooby"),
        user=os.environ.get("SCOOBY_PG_USER", "postgres"),
    )


def _sync_conn():
    """One autocommit connection per thread, kept across requests (no BEGIN/COMMIT)."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg2.connect(**_dsn_kwargs())
        conn.autocommit = True
        _local.conn = conn
    return conn


def _wait(conn):
    """psycopg2's documented poll loop for async connections."""
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], 10)
        elif state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], 10)
        else:
            raise psycopg2.OperationalError("poll() returned %s" % state)


def _run_sync(queries):
    out = []
    with _sync_conn().cursor() as cur:
        for sql, params in queries:
            cur.execute(sql, params)
            out.append(cur.fetchall())
    return out


def _run_async(queries):
    conn = psycopg2.connect(async_=1, **_dsn_kwargs())
    try:
        _wait(conn)
        out = []
        cur = conn.cursor()
        for sql, params in queries:
            cur.execute(sql, params)
            _wait(conn)
            out.append(cur.fetchall())
        return out
    finally:
        conn.close()


ITEM = "SELECT id, name FROM item WHERE id = %s"
TWO = [("SELECT count(*) FROM item", None), ("SELECT id, name FROM item ORDER BY id", None)]
FAIL = [("SELECT * FROM nope", None)]


def _respond(start_response, status, body, ctype="application/json"):
    data = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    parts = [p for p in path.split("/") if p]
    if parts == ["noquery"]:
        return _respond(start_response, "200 OK", "no query here\n", "text/plain")
    if len(parts) < 2 or parts[0] not in ("sync", "async"):
        return _respond(start_response, "404 Not Found", "not found\n", "text/plain")
    run = _run_sync if parts[0] == "sync" else _run_async
    if parts[1:2] == ["item"] and len(parts) == 3 and parts[2].isdigit():
        queries = [(ITEM, (int(parts[2]),))]
    elif parts[1:] == ["two"]:
        queries = TWO
    elif parts[1:] == ["fail"]:
        queries = FAIL
    else:
        return _respond(start_response, "404 Not Found", "not found\n", "text/plain")
    try:
        result = run(queries)
    except psycopg2.Error as exc:
        return _respond(start_response, "500 Internal Server Error", str(exc), "text/plain")
    if queries[0][0] == ITEM and not result[0]:
        return _respond(start_response, "404 Not Found", "no such item\n", "text/plain")
    return _respond(start_response, "200 OK", json.dumps(result))
