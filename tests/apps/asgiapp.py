"""A plain ASGI app (standard library sqlite3, no framework) for tests/e2e/test_asgi.py: async
handlers that query SQLite on the event loop's own thread and await between queries, so that
many requests interleave on that thread. GET /q/<n>/ runs n queries, each naming the request's
X-Request-ID in a comment, and answers "ok"."""
import asyncio
import os
import sqlite3

DB = os.environ["SCOOBY_ASGI_DB"]
_conn = sqlite3.connect(DB, check_same_thread=False)
_conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
_conn.execute("INSERT OR IGNORE INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")
_conn.commit()


def query_text(rid, k):
    """The k-th statement of request rid, as SQLite receives it."""
    return "SELECT name FROM items WHERE id = %d /* %s */" % (k % 4 + 1, rid)


def _header(scope, name):
    for key, value in scope.get("headers", ()):
        if key.decode("latin-1").lower() == name:
            return value.decode("latin-1")
    return ""


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    parts = scope["path"].strip("/").split("/")
    n = int(parts[1]) if len(parts) == 2 and parts[0] == "q" else 0
    rid = _header(scope, "x-request-id")
    for k in range(n):
        _conn.execute(query_text(rid, k)).fetchall()
        await asyncio.sleep(0.002)  # another request's task runs meanwhile
    body = b"ok"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
