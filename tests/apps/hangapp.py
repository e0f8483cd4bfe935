"""A standard-library-only WSGI app whose requests do not end on time: the subject of
the request-timeout and killed-worker tests (tests/e2e/test_flood.py, test_faults.py).

Run standalone (wsgiref + ThreadingMixIn, a new thread per request):
    python3 hangapp.py PORT
or under gunicorn:
    gunicorn --chdir tests/apps hangapp:application

Endpoints (every SQLite statement below is exactly what SQLite receives; each request
opens its own :memory: connection):
  /sleep/<S>   runs  SELECT 'hangapp-before-sleep'  then, when HANGAPP_STATE names a
               directory and the query string has t=<tag>, writes "<pid> <tid>" to
               <HANGAPP_STATE>/<tag> (so a test knows who is sleeping), sleeps S
               seconds, and answers 200 with a Content-Length
  /stream/<S>  answers 200 at once with no Content-Length (gunicorn sends it chunked,
               wsgiref delimits it by the close), then one line every 0.5 s for S seconds
  /query       runs  SELECT 'hangapp-query'  and answers 200 with "<pid>\\n"
  /noquery     answers 200 with "<pid>\\n"
"""
import os
import re
import sqlite3
import sys
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

SQL_BEFORE_SLEEP = "SELECT 'hangapp-before-sleep'"
SQL_QUERY = "SELECT 'hangapp-query'"


def run_query(sql):
    conn = sqlite3.connect(":memory:")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def tag_of(environ):
    m = re.search(r"(?:^|&)t=([0-9A-Za-z_-]{1,64})", environ.get("QUERY_STRING", ""))
    return m.group(1) if m else None


def text(start_response, body, status="200 OK"):
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def stream(seconds):
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        yield ("line %d\n" % n).encode()
        n += 1
        time.sleep(0.5)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    m = re.match(r"^/(sleep|stream)/(\d+(?:\.\d+)?)$", path)
    if m and m.group(1) == "sleep":
        run_query(SQL_BEFORE_SLEEP)
        state, tag = os.environ.get("HANGAPP_STATE"), tag_of(environ)
        if state and tag:
            tmp = os.path.join(state, ".%s.tmp" % tag)
            with open(tmp, "w") as f:
                f.write("%d %d\n" % (os.getpid(), threading.get_native_id()))
            os.rename(tmp, os.path.join(state, tag))
        time.sleep(float(m.group(2)))
        return text(start_response, "slept %s\n" % m.group(2))
    if m and m.group(1) == "stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream(float(m.group(2)))
    if path == "/query":
        run_query(SQL_QUERY)
        return text(start_response, "%d\n" % os.getpid())
    if path == "/noquery":
        return text(start_response, "%d\n" % os.getpid())
    return text(start_response, "not found\n", "404 Not Found")


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0])
    server = make_server("127.0.0.1", port, application, server_class=ThreadingWSGIServer,
                         handler_class=QuietHandler)
    sys.stdout.write("serving on 127.0.0.1:%d\n" % port)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
