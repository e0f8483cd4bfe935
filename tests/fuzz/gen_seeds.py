#!/usr/bin/env python3
"""Writes the checked-in seed corpora under tests/fuzz/corpus/ (run from the repo root).

Seeds are small on purpose: a few dozen inputs per harness, taken from the unit tests'
cases, the pyline fixtures, and a tiny ELF compiled here and then cut and corrupted.
Re-running it rewrites the corpora (the ELF seeds depend on the local gcc/binutils).
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = "tests/fuzz/corpus"


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def reset(target):
    shutil.rmtree(os.path.join(ROOT, target), ignore_errors=True)


# fuzz_http: flags byte, 2 PRNG seed bytes, then the stream (a request or a response)
HTTP = [
    ("get", b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
    ("headers", b"GET /a?b=1 HTTP/1.1\r\nHOST: a:8000\r\nX-Request-ID: abc-123\r\n"
                b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"),
    ("bare-lf", b"POST /lf HTTP/1.0\nHost: lf\n\nbody"),
    ("cut", b"PROPFIND /dav HTT"),
    ("cl", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\nhello world!"),
    ("cl-list", b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nConnection: keep-alive, close\r\n\r\nhello"),
    ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                b"5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"),
    ("chunked-trailer", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"3\r\n10\r\n\r\n000\r\n\r\n"),
    ("interim", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
    ("304", b"HTTP/1.0 304 Not Modified\r\nContent-Length: 99\r\n\r\n"),
    ("no-length", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstreaming..."),
    ("long-path", b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\nHost: h\r\n\r\n"),
    ("bad-cl", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx"),
    # the uwsgi protocol (nginx's uwsgi_pass): header, then 16-bit length-prefixed vars
    ("uwsgi", b"\x00\x34\x00\x00\x0e\x00REQUEST_METHOD\x03\x00GET"
              b"\x09\x00PATH_INFO\x04\x00/a/b\x09\x00HTTP_HOST\x01\x00h"),
]
FLAGS = [0x00, 0x08, 0x12, 0x1a, 0x20, 0x05, 0x40, 0x18]


def gen_http():
    reset("http")
    for i, (name, s) in enumerate(HTTP):
        write("http", name, bytes([FLAGS[i % len(FLAGS)], 0x5a ^ i, 0x11 * i & 0xff]) + s)


def gen_procmaps():
    reset("procmaps")
    lines = [
        "7f1c2a028000-7f1c2a19d000 r-xp 00028000 08:01 1835043                    /usr/lib/x86_64-linux-gnu/libc.so.6\n",
        "55d4c6a00000-55d4c6a21000 r-xp 00000000 fd:01 42 /usr/bin/python3.11",
        "7ffd5c1e0000-7ffd5c201000 rw-p 00000000 00:00 0 \n",
        "5581d8e2b000-5581d8e4c000 rw-p 00000000 00:00 0                          [heap]\n",
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
        "7f0000000000-7f0000001000 rw-s 00001000 00:05 123 /dev/shm/x\n",
        "7f0000000000-7f0000001000 r-xp 00000000 08:02 99 /opt/app/lib.so (deleted)\n",
        "7f0000000000-7f0000001000 r-xp 00000000 08:02 7 /srv/my app/lib x.so\n",
        "7f0000000000-7f0000001000 r-xp 00000000 08:02 7 /a\\012b\n",
        "0-ffffffffffffffff r-xp ffffffffffffffff ffffffff:ffffffff 18446744073709551615 /x\n",
    ]
    for i, line in enumerate(lines):
        write("procmaps", "line%02d" % i, line)


def gen_redis_url():
    reset("redis_url")
    urls = [
        "redis://127.0.0.1:6379/15",
        "redis://alice:s3cret@cache:6380/1",
        "redis://:s3cret@cache",
        "redis://password@host",
        "redis://al%69ce:p%40ss%3Aw%2Fo%3Frd%23%25@cache",
        "redis://[::1]:6380/3",
        "redis://[fe80::1%25eth0]:6379",
        "redis://[::ffff:127.0.0.1]:1",
        "redis://h/1?db=4&db=5",
        "REDIS://H",
        "unix:///run/redis/redis.sock",
        "unix://:pw@/tmp/r%20s.sock?db=2",
        "rediss://h",
        "redis://:raw@at@cache",
        "redis://h:65536",
    ]
    for i, u in enumerate(urls):
        write("redis_url", "url%02d" % i, u)
    # regression: no '?' leaves the query span NULL, and NULL + 0 is undefined
    write("redis_url", "regress-no-query", "redis://h")


def gen_utf8():
    reset("utf8")
    seeds = [
        b"SELECT * FROM t WHERE a = 'x'",
        "caf\u00e9 \u20ac \U0001f600".encode(),
        b"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
        b"a\x00b\x00",
        b"\x80\xbf\xc0\x80\xc1\xbf\xe0\x80\x80\xed\xa0\x80\xf0\x80\x80\x80\xf4\x90\x80\x80\xf5\xfe\xff",
        b"ab\xc3",
        b"\xe2\x82A\xf0\x9f\x98x\xe2\x28\xa1",
        b"na\xefve caf\xe9",
        b"\xf0\x9f\x98\x80\xf0\x9f\x98",
    ]
    for i, s in enumerate(seeds):
        write("utf8", "s%02d" % i, s)


def gen_fingerprint():
    reset("fingerprint")
    sqls = [
        'SELECT "app_item"."id", "app_item"."name" FROM "app_item" WHERE "app_item"."id" = 3 LIMIT 21',
        'SELECT * FROM "t" WHERE "t"."id" IN (1, 2, 3) AND b = -2.5e10',
        'INSERT INTO "t" ("a", "b") VALUES (1, \'x\'), (2, NULL), (DEFAULT, 0x1F)',
        "SELECT E'it\\'s', N'x', X'ff', B'0101', U&'d\\0061t', $$a$$, $fn$ b $fn$",
        "UPDATE t SET a = %s, b = %(name)s, c = $1, d = :x, e = @y, f = ?2 WHERE g = ?",
        "SELECT a--1\nFROM t /* c */ WHERE x::int = 5 -- end",
        "select `x`, [y] from t where true or false",
        "SELECT 'unterminated",
        'SELECT "caf\xc3\xa9", \'\xe2\x82\xac\' FROM t',
    ]
    for i, s in enumerate(sqls):
        write("fingerprint", "sql%02d" % i, s.encode("latin-1") if "\xc3" in s else s)


def gen_redact():
    """A flags byte (bit 0: literals too), then SQL: the fingerprint seeds and secrets."""
    reset("redact")
    sqls = [
        "ALTER USER bob WITH PASSWORD 'hunter2' VALID UNTIL '2030-01-01'",
        "CREATE ROLE r LOGIN PASSWORD 'x''y'; SELECT 'kept'",
        "SET PASSWORD FOR 'u'@'h' = 'secret'",
        "CREATE USER 'u'@'%' IDENTIFIED BY 'p4ss' PASSWORD EXPIRE",
        "ALTER USER u PASSWORD E'a\\'b' -- c",
        "SELECT * FROM t WHERE a = 1 AND b = -2.5e3 AND c = $1 AND d = $$x$$ AND e = 0x1f",
        'INSERT INTO "t" ("a") VALUES (1), (\'x\'), (NULL)',
    ]
    for i, s in enumerate(sqls):
        write("redact", "sql%02d" % i, bytes([i & 1]) + s.encode())
    # regression: the ? put for "1." must not make ":5" lex as anything but the marker it was
    write("redact", "regress-number-dot-marker", b"\x01SELECT 1.:5")
    for name in sorted(os.listdir(os.path.join(ROOT, "fingerprint"))):
        with open(os.path.join(ROOT, "fingerprint", name), "rb") as f:
            write("redact", "fp-" + name, b"\x01" + f.read())


def gen_pyline():
    """Minor selector, 4 bytes firstlineno << 1, 4 bytes offset, then a real table."""
    reset("pyline")
    fx = "tests/unit/fixtures"
    n = 0
    for fname in sorted(os.listdir(fx)):
        minor = None
        taken = 0
        with open(os.path.join(fx, fname)) as f:
            for line in f:
                w = line.split()
                if w and w[0] == "minor":
                    minor = int(w[1])
                if not w or w[0] != "code" or len(w[5]) > 400 or taken >= 3:
                    continue
                first, codelen, table = int(w[3]), int(w[4]), bytes.fromhex(w[5])
                off = (codelen // 3) & ~1
                seed = bytes([minor - 8]) + struct.pack("<II", first << 1, off) + table
                write("pyline", "%s-%s" % (fname[:-4], w[1]), seed)
                taken += 1
                n += 1
    if not n:
        sys.exit("gen_seeds: no pyline fixtures found")


ELF_SRC = r"""
struct s { char pad[40]; long field; char state; };
struct big { char pad[4096]; long f; };
long acc_load(struct s *p) { return p->field; }
int acc_cmp(struct s *p) { return p->state == 3; }
long acc_far(struct big *p) { return p->f; }
void _start(void) { for (;;) ; }
"""


def gen_elfsym():
    """A tiny shared object and executable with the harness's symbols, cut and corrupted."""
    reset("elfsym")
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write(ELF_SRC)
        common = ["gcc", "-O2", "-nostdlib", "-fno-asynchronous-unwind-tables",
                  "-Wl,--build-id=none", "-Wl,-z,noseparate-code", "-Wl,-z,max-page-size=16",
                  "-Wl,--hash-style=gnu"]
        so, exe = os.path.join(tmp, "t.so"), os.path.join(tmp, "t.exe")
        subprocess.run(common + ["-shared", "-fPIC", src, "-o", so], check=True)
        subprocess.run(common + ["-static", "-no-pie", src, "-o", exe], check=True)
        stripped = os.path.join(tmp, "t.stripped.so")
        subprocess.run(["strip", "--strip-all", so, "-o", stripped], check=True)
        blobs = {}
        for name, p in (("so", so), ("exe", exe), ("stripped", stripped)):
            with open(p, "rb") as f:
                blobs[name] = f.read()
    finally:
        shutil.rmtree(tmp)
    for name, b in blobs.items():
        if len(b) > 20000:
            sys.exit("gen_seeds: %s ELF is %d bytes, too big for a seed" % (name, len(b)))
        write("elfsym", name, b)
    so = blobs["so"]
    shoff, = struct.unpack_from("<Q", so, 0x28)
    phoff, = struct.unpack_from("<Q", so, 0x20)
    # cut: the ELF header alone, and everything before the section headers
    write("elfsym", "cut-ehdr", so[:64])
    write("elfsym", "cut-before-shdrs", so[:shoff + 64 * 3])
    # section headers beyond the end of the file
    b = bytearray(so)
    struct.pack_into("<Q", b, 0x28, len(so) + 4096)
    write("elfsym", "shoff-past-end", bytes(b))
    # every sh_entsize zeroed, and every sh_link pointing at a section that is not there
    shnum, = struct.unpack_from("<H", so, 0x3c)
    b1, b2 = bytearray(so), bytearray(so)
    for i in range(shnum):
        struct.pack_into("<Q", b1, shoff + 64 * i + 0x38, 0)
        struct.pack_into("<I", b2, shoff + 64 * i + 0x28, 0xffff)
    write("elfsym", "entsize-zero", bytes(b1))
    write("elfsym", "bad-links", bytes(b2))
    # program headers: a huge count, and the executable PT_LOAD moved far away
    b = bytearray(so)
    struct.pack_into("<H", b, 0x38, 0xffff)
    write("elfsym", "phnum-huge", bytes(b))
    b = bytearray(so)
    phnum, = struct.unpack_from("<H", so, 0x38)
    for i in range(phnum):
        o = phoff + 56 * i
        if struct.unpack_from("<I", b, o)[0] == 1:  # PT_LOAD
            struct.pack_into("<Q", b, o + 0x08, 0x7ffffffffffff000)  # p_offset
            struct.pack_into("<Q", b, o + 0x20, 0xffffffffffffff00)  # p_filesz
    write("elfsym", "load-far", bytes(b))
    # regression: p_vaddr - p_offset of the executable PT_LOAD overflows a long long
    b = bytearray(so)
    for i in range(phnum):
        o = phoff + 56 * i
        if struct.unpack_from("<II", b, o) == (1, 5):  # PT_LOAD, R+X
            struct.pack_into("<Q", b, o + 0x08, 0x7000000000000000)  # p_offset
            struct.pack_into("<Q", b, o + 0x10, 0x8000000000000000)  # p_vaddr
    write("elfsym", "regress-exec-delta-overflow", bytes(b))
    # the decoders on plain code: disp8, disp32, REX.B (r15, not rdi) and cmpb forms
    write("elfsym", "code", bytes.fromhex("48 8b 47 28 c3 49 8b 47 10 48 8b 87 00 10 00 00"
                                          "80 7f 30 03 80 bf 00 01 00 00 07 41 80 7f 01 02"))


def gen_record():
    """The harness's format: flags, length-prefixed strings, little-endian numbers."""
    reset("record")

    def s(t):
        t = t.encode() if isinstance(t, str) else t
        return struct.pack("<H", len(t)) + t

    def opt(t):
        return b"\x00" if t is None else b"\x01" + s(t)

    def frame_py(fn, func, line):
        return b"\x00" + opt(fn) + opt(func) + struct.pack("<H", line)

    def frame_native(mod, sym, off):
        return b"\x01" + opt(mod) + opt(sym) + struct.pack("<I", off)

    def query(flags, sql, err, start, dur, busy, tid, frames, sflags=0):
        return (bytes([flags]) + opt(sql) + opt(err) + struct.pack("<QIII", start, dur, busy, tid)
                + bytes([len(frames) | sflags]) + b"".join(frames))

    def record(flags, method, comm, path, host, rid, view, status, start, dur, queries,
               profile=None):
        """profile: None, or (hz byte, samples per query, off-CPU ns)"""
        b = (bytes([flags]) + s(method) + s(comm) + opt(path) + opt(host) + opt(rid) + opt(view)
             + struct.pack("<HQ", status, start) + struct.pack("<Q", dur)[:6]
             + struct.pack("<IIQ", 4242, 4243, 0) + bytes([len(queries)]) + b"".join(queries))
        if profile:
            hz, times, offcpu = profile
            b += b"\x01" + bytes([hz]) + bytes(times) + struct.pack("<Q", offcpu)[:5]
        return b

    st = [frame_py("/usr/lib/python3/dist-packages/django/db/backends/utils.py", "execute", 89),
          frame_py("/srv/app/views.py", "items", 15),
          frame_native("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", "sqlite3_step", 0x42)]
    q1 = query(0, 'SELECT "a"."id" FROM "a" WHERE "a"."id" = 1', None, 10**12 + 5000, 2000, 1500,
               4243, st)
    q2 = query(1, "SELECT * FROM t WHERE x = 'caf\xe9'".encode("latin-1"), "no such table: t",
               10**12 - 10, 100, 90, 4243, st[1:2], 0x10)
    q3 = query(0, 'SELECT "a"."id" FROM "a" WHERE "a"."id" = 2', None, 10**12 + 9000, 2000, 1500,
               4243, st)
    write("record", "get", record(0, "GET", "gunicorn", "/items/", "127.0.0.1:8000", None,
                                  "app.views.items", 200, 10**12, 4 * 10**6, [q1, q2, q3, q3],
                                  (24, [3, 1, 2, 0], 1500000)))
    write("record", "background", record(1, "", "python3", None, None, "req-\xff", None, 0,
                                         10**12, 10**6, [q2]))
    write("record", "bytes", record(2, "POST", "x\x00y", b"/p\xc3\x28\xed\xa0\x80\x00z",
                                    b"h\xf4\x90\x80\x80", b"\x01\x1f\"\\", b"\xe2\x82", 500, 10**9,
                                    1, [query(2, b"\x00\xff", b"\xc0\xaf", 0, 0, 0, 0,
                                              [frame_py(b"a;b\nc\xff", b"f\r;", 3),
                                               frame_native(b"/l\xc3", None, 9)])],
                                    (0, [3], 10**12)))


def main():
    if not os.path.isdir("tests/fuzz"):
        sys.exit("gen_seeds: run from the repository root")
    gen_http()
    gen_procmaps()
    gen_redis_url()
    gen_utf8()
    gen_fingerprint()
    gen_redact()
    gen_pyline()
    gen_elfsym()
    gen_record()


if __name__ == "__main__":
    main()
