"""A tight SQLite query loop that times itself on demand: one line on stdin -> ns per query."""
import sqlite3
import sys
import time

db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
db.executemany("INSERT INTO item (name) VALUES (?)", [("n%d" % i,) for i in range(100)])
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
q = "SELECT name FROM item WHERE id = ?"
DEPTH = int(sys.argv[2]) if len(sys.argv) > 2 else 30


def loop():
    for line in sys.stdin:
        t0 = time.perf_counter_ns()
        for i in range(N):
            db.execute(q, (i % 100 + 1,)).fetchall()
        print((time.perf_counter_ns() - t0) / N, flush=True)


def nest(depth):
    """Runs the loop DEPTH Python frames deep, so stacks have that many frames."""
    if depth <= 2:
        print("ready", flush=True)
        loop()
    else:
        nest(depth - 1)


nest(DEPTH)
