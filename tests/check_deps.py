#!/usr/bin/python3
"""Checks src/'s include graph between folders: no cycle, and no store including another.

Each #include "..." of src/**/*.{c,h} is resolved as the compiler does (the including
file's folder, then -Isrc); a file's folder is its first component under src/ (main.c
is "main"), except that src/stores/NAME/ is "stores/NAME" and src/stores/*.{c,h} is
"stores". Prints the folder graph, lowest first; exits 1 on a cycle, a store reaching
into another store, or anything but src/main.c including src/ itself.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder(rel):
    parts = rel.split('/')
    if len(parts) == 1:
        return 'main'
    if parts[0] == 'stores' and len(parts) > 2:
        return 'stores/' + parts[1]
    return parts[0]


def main():
    edges = {}
    bad = []
    for d, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(('.c', '.h')):
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, SRC)
            src = folder(rel)
            edges.setdefault(src, set())
            with open(path) as fh:
                text = fh.read()
            for name in INC.findall(text):
                for cand in (os.path.join(d, name), os.path.join(SRC, name)):
                    if os.path.exists(cand):
                        dst = folder(os.path.relpath(os.path.normpath(cand), SRC))
                        break
                else:
                    continue  # include/scooby/*.h, the generated skeleton
                if dst == src:
                    continue
                edges[src].add(dst)
                if src.startswith('stores/') and dst.startswith('stores/'):
                    bad.append('%s includes %s: one store never reaches into another' % (rel, name))
                if dst == 'main':
                    bad.append('%s includes %s: nothing includes main' % (rel, name))
    # the store folders sit inside "stores" for the layering: cycles are looked for there
    top = {}
    for s, ds in edges.items():
        ts = s.split('/')[0]
        top.setdefault(ts, set()).update(d.split('/')[0] for d in ds if d.split('/')[0] != ts)
    order, state = [], {}

    def visit(n, stack):
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            bad.append('cycle: ' + ' -> '.join(stack[stack.index(n):] + [n]))
            return
        state[n] = 1
        for m in sorted(top.get(n, ())):
            visit(m, stack + [n])
        state[n] = 2
        order.append(n)

    for n in sorted(top):
        visit(n, [])
    for n in order:
        print('  %-8s -> %s' % (n, ' '.join(sorted(top.get(n, ()))) or '(nothing)'))
    for s in sorted(e for e in edges if e.startswith('stores/')):
        print('  %-20s -> %s' % (s, ' '.join(sorted(edges[s]))))
    for b in bad:
        print('check-deps: ' + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
