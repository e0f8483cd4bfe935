"""Writes the line-table fixtures that tests/unit/test_pyline.c checks pyline_addr2line against.

Run it with each CPython (3.8 to 3.13) to test:

    /root/.pyenv/versions/3.12.1/bin/python tests/pyline/gen_fixtures.py

It compiles a sample module built to exercise every corner of the line tables
(line deltas past one byte in both directions, long runs of bytecode on one line,
instructions with no line, long columns, nested code objects) plus a real
standard-library module, and writes, for every code object found through
co_consts, its first line, its raw line table and the line CPython itself
reports for every instruction offset. It then runs the sample and, at calls
made from many kinds of places, records each Python caller frame's f_lasti and
f_lineno: the pair a stack walker sees, which checks that the offset convention
(3.11/3.12 prev_instr, 3.13 instr_ptr) needs no adjustment.

The output file is tests/unit/fixtures/pyline_3.X.txt (or the path given with
--out). Its lines:

    # comment
    version 3.X.Y
    minor X
    code INDEX NAME FIRSTLINENO CODELEN TABLEHEX      (TABLEHEX "-" when empty)
    lines INDEX OFFSET:LINE ...                        (LINE 0: no line)
    end INDEX OFFSET                                   (first offset past the table: -1)
    live INDEX LASTI LINENO                            (a caller frame seen at a call)
"""

import argparse
import dis
import os
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "..", "unit", "fixtures")
VERSION = sys.version_info[:3]


def gap(n):
    """Blank lines, to make line deltas of any size."""
    return "\n" * n


def long_sum(name, terms):
    """One source line whose bytecode is far longer than 255 bytes."""
    return " + ".join("%s[%d]" % (name, i) for i in range(terms))


SAMPLE = textwrap.dedent(
    '''\
    """Sample module for the pyline fixtures; every function calls probe() somewhere."""
    import functools


    def simple(a, b):
        c = a + b
        probe()
        return c


    def loops(n):
        total = 0
        for i in range(n):
            if i % 2:
                total += i
            else:
                total -= 1
            probe()
        while total > 0:
            total //= 2
        return total


    def multiline_call(a):
        return probe(
            a,
            [x * 2
             for x in range(3)],
            {k: v for k, v in
             zip("ab", (1, 2))},
            (lambda y:
                 y + 1)(a),
        )


    def comprehensions(items):
        squares = [probe() or i * i for i in items if i]
        table = {i: [probe() for _ in range(2)] for i in items}
        gen = sum(probe() or 1 for _ in items)
        return squares, table, gen


    def exceptions(x):
        try:
            probe()
            return 1 / x
        except ZeroDivisionError as e:
            probe()
            return str(e)
        finally:
            probe()


    def with_block(path):
        import contextlib
        with contextlib.suppress(KeyError):
            probe()
            raise KeyError(path)
        return path


    def deco(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            probe()
            return f(*args, **kwargs)
        return wrapper


    @deco
    def decorated(
        a,
        b=2,
    ):
        return probe() or a + b


    def through_c(items):
        # calls made from inside C functions (map, sorted, list): the Python
        # caller is suspended in a CALL of a C function, as in a DB driver
        out = list(map(lambda v: probe() or v, items))
        out = sorted(items, key=lambda v: (probe(), v)[1])
        return out


    def generator(n):
        for i in range(n):
            probe()
            yield i


    async def coroutine(n):
        probe()
        return n


    class Klass:
        attr = 1

        def method(self, a):
            return probe(a,
                         self.attr)

        @property
        def prop(self):
            return probe()

        @staticmethod
        def static(
            x
        ):
            return probe(x)


    def closure(a):
        def inner(b):
            def innermost(c):
                return probe(a, b, c)
            return innermost(b)
        return inner(a)


    def big_gap():
        probe()
    ''' + gap(200) + '''\
        probe()
    ''' + gap(300) + '''\
        probe()
    ''' + gap(1000) + '''\
        x = probe()
        return x


    def backward(a):
        # the call's own line comes after arguments far below it: large negative deltas
        return probe(a,
    ''' + gap(150) + '''\
                     a,
    ''' + gap(400) + '''\
                     a)


    def long_line(a):
        b = ''' + long_sum("a", 160) + '''
        probe()
        return b


    def long_columns(a):
        ''' + "x" * 300 + ''' = probe(a)
        ''' + "y" * 140 + ''' = probe(''' + "x" * 300 + ''')
        return ''' + "x" * 300 + '''


    def many_constants():
        # more than 256 locals and constants: EXTENDED_ARG prefixes
        ''' + "; ".join("v%d = %d" % (i, 1000 + i) for i in range(300)) + '''
        probe()
        return v299


    def conditional(a):
        return (probe() if a else
                None)


    def unreachable_tail(a):
        while True:
            if a:
                probe()
                break
            a += 1
        return a


    def main():
        simple(1, 2)
        loops(5)
        multiline_call(1)
        comprehensions([1, 2])
        exceptions(0)
        exceptions(1)
        with_block("p")
        decorated(1)
        through_c([3, 1, 2])
        list(generator(2))
        co = coroutine(1)
        try:
            co.send(None)
        except StopIteration:
            pass
        k = Klass()
        k.method(1)
        k.prop
        Klass.static(1)
        closure(1)
        big_gap()
        backward(1)
        long_line(list(range(200)))
        long_columns(1)
        many_constants()
        conditional(1)
        unreachable_tail(0)
    '''
)

# Syntax that only newer versions accept, each its own module.
EXTRAS = [
    (
        (3, 10),
        "extra_match.py",
        textwrap.dedent(
            """\
            def matcher(v):
                match v:
                    case [a, b]:
                        return probe(a, b)
                    case {"k": x}:
                        return probe(x)
                    case str() as s if len(s) > 1:
                        return probe(s)
                    case _:
                        return probe()


            def main():
                matcher([1, 2])
                matcher({"k": 1})
                matcher("ab")
                matcher(0)
            """
        ),
    ),
    (
        (3, 11),
        "extra_except_star.py",
        textwrap.dedent(
            """\
            def grouped():
                try:
                    raise ExceptionGroup("g", [ValueError(1), KeyError(2)])
                except* ValueError:
                    probe()
                except* KeyError:
                    probe()


            def main():
                grouped()
            """
        ),
    ),
    (
        (3, 12),
        "extra_generics.py",
        textwrap.dedent(
            """\
            type Alias[T] = list[T]


            def first[T](xs: list[T]) -> T:
                return probe(xs[0])


            class Box[T]:
                def get(self) -> T:
                    return probe()


            def main():
                first([1])
                Box().get()
            """
        ),
    ),
]


def code_objects(code):
    """Every code object reachable from code through co_consts, depth first."""
    out = [code]
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            out.extend(code_objects(const))
    return out


def line_table(code):
    if VERSION >= (3, 10):
        return code.co_linetable
    return code.co_lnotab


def lines_by_offset(code):
    """Returns {byte offset: line} (0 for no line) as CPython reports it."""
    n = len(code.co_code)
    result = {}
    if VERSION < (3, 10):
        # co_lnotab: each offset takes the line of the last line start at or
        # before it; findlinestarts is dis's own reading of the table
        starts = list(dis.findlinestarts(code))
        line = code.co_firstlineno
        idx = 0
        for off in range(0, n, 2):
            while idx < len(starts) and starts[idx][0] <= off:
                line = starts[idx][1]
                idx += 1
            result[off] = line
        return result
    # 3.10+: co_lines gives (start, end, line) ranges straight from the table
    for start, end, line in code.co_lines():
        for off in range(start, end, 2):
            result[off] = line or 0
    if VERSION >= (3, 11):
        # co_positions gives one location per code unit (caches included)
        for i, pos in enumerate(code.co_positions()):
            line = pos[0] or 0
            if result.get(2 * i, line) != line:
                raise SystemExit("%s: co_lines and co_positions disagree at %d" % (code.co_name, 2 * i))
            result[2 * i] = line
    return result


def table_end(code):
    """The first offset past the table (where pyline must say -1), or None."""
    if VERSION < (3, 10):
        return None  # co_lnotab has no end: past its last entry is the last line
    ends = [end for _, end, _ in code.co_lines()]
    return max(ends) if ends else 0


class Recorder:
    """probe(): records (code, f_lasti, f_lineno) of every sample frame on the stack."""

    def __init__(self, codes):
        self.index = {id(c): i for i, c in enumerate(codes)}
        self.codes = codes  # keep them alive so ids stay unique
        self.seen = []

    def probe(self, *args):
        frame = sys._getframe(1)
        depth = 0
        while frame is not None and depth < 100:
            i = self.index.get(id(frame.f_code))
            if i is not None:
                rec = (i, frame.f_lasti, frame.f_lineno)
                if rec not in self.seen:
                    self.seen.append(rec)
            frame = frame.f_back
            depth += 1
        return None


def emit(out, modules):
    codes = []
    for filename, src in modules:
        codes.extend(code_objects(compile(src, filename, "exec")))
    out.write("# pyline fixture from CPython %s (%s) by tests/pyline/gen_fixtures.py: do not edit\n"
              % (".".join(map(str, VERSION)), sys.executable))
    out.write("version %s\n" % ".".join(map(str, VERSION)))
    out.write("minor %d\n" % VERSION[1])
    for i, code in enumerate(codes):
        name = getattr(code, "co_qualname", code.co_name).replace(" ", "_")
        table = line_table(code)
        out.write("code %d %s %d %d %s\n" % (i, name, code.co_firstlineno, len(code.co_code),
                                             table.hex() if table else "-"))
        lines = lines_by_offset(code)
        out.write("lines %d %s\n" % (i, " ".join("%d:%d" % (off, lines[off]) for off in sorted(lines))))
        end = table_end(code)
        if end is not None:
            out.write("end %d %d\n" % (i, end))
    return codes


def run_live(out, modules, codes):
    rec = Recorder(codes)
    # the module code objects are the first of each module's run of codes
    by_name = {}
    for code in codes:
        if code.co_name == "<module>":
            by_name[code.co_filename] = code
    for filename, _ in modules:
        namespace = {"probe": rec.probe, "__name__": filename[:-3]}
        exec(by_name[filename], namespace)
        namespace["main"]()
    for i, lasti, lineno in rec.seen:
        out.write("live %d %d %d\n" % (i, lasti, lineno or 0))
    return len(rec.seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="output file (default tests/unit/fixtures/pyline_3.X.txt)")
    args = ap.parse_args()
    if not (3, 8) <= VERSION[:2] <= (3, 13):
        raise SystemExit("CPython 3.8 to 3.13 only, this is %s" % sys.version)
    path = args.out or os.path.join(DEFAULT_DIR, "pyline_3.%d.txt" % VERSION[1])

    modules = [("sample.py", SAMPLE)]
    for min_version, filename, src in EXTRAS:
        if VERSION[:2] >= min_version:
            modules.append((filename, src))
    # a real module too, whatever the sample misses; only compiled, never run
    import textwrap as real
    with open(real.__file__, encoding="utf-8") as f:
        stdlib = [("textwrap.py", f.read())]

    with open(path, "w") as out:
        codes = emit(out, modules + stdlib)
        nlive = run_live(out, modules, codes)
    print("%s: %d code objects, %d live frames" % (os.path.relpath(path), len(codes), nlive))


if __name__ == "__main__":
    main()
