"""A standard-library-only WSGI app for the per-request CPU profile tests
(tests/e2e/test_profile.py, issue 6).

    python3 profapp.py PORT

Served by wsgiref.simple_server with ThreadingMixIn: every request runs on a new thread.
Any path is served; the query string says what the request does:
  work=a&ms=N      spin_a spins in pure Python for N ms (wall clock)  (# SPIN_A)
  work=b&ms=N      spin_b, the same in another function               (# SPIN_B)
  work=sleep&ms=N  time.sleep(N / 1000): off the CPU                  (# SLEEP)
  (no work)        answers at once
application calls the work on the line marked CALL. The answer is 200 with
"<work> <iterations>\\n" (iterations: 0 but for a spin).

The tests find the lines by their marker comments: each spin loop is on one line so that
every sample of the function falls on the marker's line. Keep one marker per line, and do
not reuse a marker.
"""
import sys
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def spin_a(ms):
    end, n = time.perf_counter() + ms / 1000.0, 0
    while time.perf_counter() < end: n += 1  # SPIN_A
    return n


def spin_b(ms):
    end, n = time.perf_counter() + ms / 1000.0, 0
    while time.perf_counter() < end: n += 1  # SPIN_B
    return n


def sleep_view(ms):
    time.sleep(ms / 1000.0)  # SLEEP
    return 0


WORK = {"a": spin_a, "b": spin_b, "sleep": sleep_view}


def application(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    work = qs.get("work", [""])[0]
    ms = float(qs.get("ms", ["0"])[0])
    n = WORK[work](ms) if work in WORK else 0  # CALL
    body = ("%s %d\n" % (work or "-", n)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0])
    server = make_server("127.0.0.1", port, application, server_class=ThreadingWSGIServer,
                         handler_class=QuietHandler)
    sys.stdout.write("serving on 127.0.0.1:%d (%s)\n" % (port, sys.version.split()[0]))
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
