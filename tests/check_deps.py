#!/usr/bin/python3
"""Checks src/'s include graph between folders: no cycle, and no store including another.

Each #include "..." of src/**/*.{c,h} is resolved as the compiler does (the including
file's folder, then -Isrc); a file's folder is its first component under src/ (main.c
is "main"), except that src/stores/NAME/ is "stores/NAME" and src/stores/*.{c,h} is
"stores". Prints the folder graph, lowest first; exits 1 on a cycle, a store reaching
into another store, anything but src/main.c including src/ itself, or a header both BPF
and userspace read (include/scooby/stores/*.h, src/stores/registry.h) including a file.
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


def leaf_headers():
    """The headers both halves read include nothing of their own: scooby/events.h lists every
    include/scooby/stores/NAME.h (for BPF and userspace alike), and bpf/wire.bpf.h reads
    src/stores/registry.h for the order of the stores' guesses."""
    bad = []
    root = os.path.join(SRC, '..')
    sdir = os.path.join(root, 'include', 'scooby', 'stores')
    leaves = [os.path.join(sdir, f) for f in sorted(os.listdir(sdir)) if f.endswith('.h')] \
        if os.path.isdir(sdir) else []
    leaves.append(os.path.join(SRC, 'stores', 'registry.h'))
    for path in leaves:
        with open(path) as fh:
            for name in INC.findall(fh.read()):
                bad.append('%s includes %s: it is read by BPF and userspace alike, and includes nothing'
                           % (os.path.relpath(path, root), name))
    return bad


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
    bad += leaf_headers()
    for b in bad:
        print('check-deps: ' + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
