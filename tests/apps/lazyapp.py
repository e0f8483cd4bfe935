"""A stdlib WSGI app that loads SQLite only when asked (/load), so that libsqlite3 is
dlopen()ed after scooby-bpf attached; /query then runs one statement. /first loads it and
queries at once, within microseconds of the load, and answers the statements it ran."""
import json
import socketserver
import sys
from wsgiref.simple_server import WSGIServer, make_server

state = {}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/load":
        import sqlite3  # dlopen()s _sqlite3 and with it libsqlite3

        state["db"] = sqlite3.connect(":memory:", check_same_thread=False)
        body = b"loaded"
    elif path == "/first":
        import sqlite3

        db = sqlite3.connect(":memory:")
        ran = ["SELECT %d + 1" % i for i in range(5)]
        for sql in ran:
            db.execute(sql).fetchall()
        db.close()
        body = json.dumps(ran).encode()
    elif path == "/query":
        body = str(state["db"].execute("SELECT 41 + 1").fetchone()[0]).encode()
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


if __name__ == "__main__":
    make_server("127.0.0.1", int(sys.argv[1]), application, server_class=Server).serve_forever()
