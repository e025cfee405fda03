#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Regenerate tests/unit/fixtures/pyline_<tag>.txt for tests/unit/test_pyline.c.

Run it with every interpreter whose line table user/pyline.c decodes; each
run writes one fixture, named after the interpreter's version:

    for py in /root/.pyenv/versions/3.*/bin/python3 /usr/bin/python3.11; do
        "$py" tools/gen_pyline_fixtures.py
    done

(/usr/bin/python3.11 writes pyline_3.11-debian.txt; pass --tag to choose.)
Debian sid's 3.14 and 3.15 run it in the root of tests/roots/mkroot.py:
copy it into ROOT/tmp, run `chroot ROOT python3.14 /tmp/gen_pyline_fixtures.py
--out /tmp` and copy ROOT/tmp/pyline_3.14-debian.txt here.

It compiles SAMPLE (built below with line gaps of 130, 300 and 70000 lines,
loops, decorators, multi-line calls, a generator, a coroutine, lambdas, a
very wide line, columns past 127, try/finally) and dumps, for every code
object, its raw line table and the line CPython itself gives for every
position: PyCode_Addr2Line() through ctypes, checked against the dis-level
views (dis.findlinestarts on <= 3.9, co_lines() on 3.10+, co_positions() on
3.11+). It also runs SAMPLE and records live frames (a call stack, suspended
generators and coroutines, unstarted ones) as pos -> frame.f_lineno, which
checks the frame field -> pos mapping documented in user/pyline.h.

Fixture format, one case per line ('#' starts a comment line):

    <kind> <name> <firstlineno> <table hex or -> <pos>:<line> ...

kind is "code" (every position of the code object) or "frame" (a live
frame), pos is what pyline__line() takes (4294967295 = not started) and
line is CPython's answer, -1 meaning no line (CPython returns -1).
"""
import argparse
import ctypes
import dis
import os
import sys
import types

VER = sys.version_info[:2]
POS_START = 0xFFFFFFFF

addr2line = ctypes.pythonapi.PyCode_Addr2Line
addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
addr2line.restype = ctypes.c_int


def gap(n):
    return "\n" * n


# Line gaps > 127 and > 255 force multi-entry deltas; the 70000-line gap
# needs several varint bytes on 3.11+ and hundreds of pairs before.
SAMPLE = (
    "import types\n"
    "\n"
    "def straight(a, b):\n"
    "    x = a + b\n"
    "    y = x * 2\n"
    "    return y\n"
    "\n"
    "def gaps(a):\n"
    "    x = a + 1\n" + gap(130) +
    "    y = x + 2\n" + gap(300) +
    "    z = y + 3\n" + gap(70000) +
    "    return x + y + z\n"
    "\n"
    "def loops(n):\n"
    "    total = 0\n"
    "    for i in range(n):\n"
    "        total += i\n" + gap(300) +
    "        if i % 3:\n"
    "            continue\n"
    "        while total > 100:\n"
    "            total -= 7\n"
    "    return total\n"
    "\n"
    "def deco(f):\n"
    "    return f\n"
    "\n"
    "@deco\n" + gap(200) +
    "@deco\n"
    "def decorated(x):\n"
    "    return [y * 2\n"
    "            for y in range(x)\n"
    "            if y]\n"
    "\n"
    "def multiline(a, probe=max):\n"
    "    return probe(\n"
    "        a,\n" + gap(200) +
    "        a + 1,\n" + gap(300) +
    "        a + 2,\n"
    "    )\n"
    "\n"
    "def gen(n):\n"
    "    for i in range(n):\n"
    "        yield i\n" + gap(140) +
    "        yield from range(i)\n"
    "\n"
    "@types.coroutine\n"
    "def yield_once():\n"
    "    yield\n"
    "\n"
    "async def coro(n):\n"
    "    await yield_once()\n" + gap(129) +
    "    total = 0\n"
    "    for i in range(n):\n"
    "        total += i\n"
    "        await yield_once()\n"
    "    return total\n"
    "\n"
    "lam = lambda x: (x +\n" + gap(260) +
    "                 1)\n"
    "\n"
    "def with_lambda(xs):\n"
    "    return sorted(xs, key=lambda v: -v)\n"
    "\n"
    "def wide(a):\n"
    "    return " + "+".join(["a"] * 300) + "\n"
    "\n"
    "def far_columns(a):\n"
    "    x = " + " " * 140 + "(a + 1) * (a - 1)\n"
    "    return x\n"
    "\n"
    "def guarded(f):\n"
    "    try:\n"
    "        with open(f) as fh:\n"
    "            return fh.read()\n"
    "    except OSError as e:\n"
    "        return str(e)\n"
    "    finally:\n"
    "        f = None\n"
    "\n"
    "class Klass:\n"
    "    def method(self, probe):\n"
    "        return self.helper(\n" + gap(150) +
    "            probe)\n"
    "\n"
    "    def helper(self, probe):\n"
    "        return probe()\n"
)
FILENAME = "<pyline-sample>"


def code_units(code):
    """Positions a frame can hold: code units (3.10+) or byte offsets."""
    if VER >= (3, 10):
        return range(len(code.co_code) // 2)
    return range(0, len(code.co_code), 2)


def pos_to_addr(pos):
    return pos * 2 if VER >= (3, 10) else pos


def check_lnotab(code, expect):
    starts = list(dis.findlinestarts(code))
    for pos, line in expect.items():
        want = None
        for off, ln in starts:
            if off <= pos:
                want = ln
        want = code.co_firstlineno if want is None else want
        assert want == line, (code.co_name, pos, want, line)


def check_co_lines(code, expect):
    for start, end, line in code.co_lines():
        for addr in range(start, end, 2):
            want = -1 if line is None else line
            assert expect[addr // 2] == want, (code.co_name, addr, want)
    if VER >= (3, 11):
        for pos, p in enumerate(code.co_positions()):
            want = -1 if p[0] is None else p[0]
            assert expect[pos] == want, (code.co_name, pos, want)


def table(code):
    return code.co_lnotab if VER < (3, 10) else code.co_linetable


def code_case(code, qual):
    expect = {}
    for pos in code_units(code):
        expect[pos] = addr2line(code, pos_to_addr(pos))
    if VER < (3, 10):
        check_lnotab(code, expect)
    else:
        check_co_lines(code, expect)
    expect[POS_START] = addr2line(code, -1)
    if VER >= (3, 10):
        n = len(code.co_code) // 2
        expect[n] = -1  # past the end: PyCode_Addr2Line gives -1 too
    return ("code", qual, code, sorted(expect.items()))


def walk_codes(code, qual):
    yield code, qual
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            for sub in walk_codes(c, qual + "." + c.co_name):
                yield sub


def frame_pos(f):
    lasti = f.f_lasti
    if lasti < 0:
        return POS_START
    return lasti // 2 if VER >= (3, 10) else lasti


def frame_line(f):
    return -1 if f.f_lineno is None else f.f_lineno


def frame_case(f, what):
    assert f.f_code.co_filename == FILENAME
    name = "%s:%s" % (what, f.f_code.co_name)
    return ("frame", name, f.f_code, [(frame_pos(f), frame_line(f))])


def stack_cases(ns):
    """Frames of a call stack: each caller sits in its call instruction."""
    got = []

    def probe():
        f = sys._getframe(1)
        while f is not None:
            if f.f_code.co_filename == FILENAME:
                got.append(frame_case(f, "stack"))
            f = f.f_back
        return 0

    ns["Klass"]().method(probe)
    ns["multiline"](1, lambda *a: probe())
    return got


def suspended_cases(ns):
    got = []
    g = ns["gen"](5)
    got.append(frame_case(g.gi_frame, "unstarted"))
    for i in range(3):
        next(g)
        got.append(frame_case(g.gi_frame, "yielded%d" % i))
    c = ns["coro"](3)
    got.append(frame_case(c.cr_frame, "unstarted"))
    for i in range(3):
        c.send(None)
        got.append(frame_case(c.cr_frame, "awaiting%d" % i))
    c.close()
    return got


def fmt_case(case):
    kind, name, code, pairs = case
    tab = table(code).hex() or "-"
    items = " ".join("%d:%d" % p for p in pairs)
    return "%s %s %d %s %s" % (kind, name, code.co_firstlineno, tab, items)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tag", help="fixture tag (default: major.minor, "
                    "with -debian for /usr/bin)")
    ap.add_argument("--out", help="output directory")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    out = args.out or os.path.join(here, "..", "tests", "unit", "fixtures")
    tag = args.tag or "%d.%d" % VER
    if not args.tag and sys.executable.startswith("/usr/bin/"):
        tag += "-debian"

    top = compile(SAMPLE, FILENAME, "exec")
    ns = {"__name__": "pyline_sample"}
    exec(top, ns)
    cases = [code_case(c, q) for c, q in walk_codes(top, "<module>")]
    cases += stack_cases(ns) + suspended_cases(ns)

    path = os.path.join(out, "pyline_%s.txt" % tag)
    with open(path, "w") as fh:
        fh.write("# generated by tools/gen_pyline_fixtures.py: Python %s\n"
                 % sys.version.split()[0])
        fh.write("# <kind> <name> <firstlineno> <table hex> <pos>:<line>...\n")
        fh.write("version %d %d\n" % VER)
        for case in cases:
            fh.write(fmt_case(case) + "\n")
    print("%s: %d cases" % (os.path.normpath(path), len(cases)))


if __name__ == "__main__":
    main()
