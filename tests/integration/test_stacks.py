#!/usr/bin/env python3
"""Python stacks of blocking calls and slow callbacks down to file and line,
and GIL waits, against the target's own frames.

    python3 tests/integration/test_stacks.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    check_frames,
    matching_call,
    parse_frame,
    show_stack,
    registrar,
    main_for,
    DEBIAN_PY,
    sid_python,
    MS,
    TARGETS,
    check,
    need_exe,
    overlap,
    pyenv,
    run_target_traced,
    the_process,
    vlog,
)

TESTS = []
test = registrar(TESTS)

def check_stacks(report, truth):
    p = the_process(report, truth["pid"])
    check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"],
          "no loop on the loop thread %d", truth["loop_tid"])
    lo, hi = truth["cpu_lines"]
    for ev in truth["events"]:
        if ev["kind"] == "cpu":
            slow = [s for s in p["slow_callbacks"] if s["tid"] == ev["tid"]
                    and overlap(s["start_ns"], s["start_ns"] + s["duration_ns"],
                                ev["start_ns"], ev["end_ns"]) > 0]
            check(slow, "%s: no slow callback overlaps it (%d slow callbacks)", ev["op"],
                  len(p["slow_callbacks"]))
            s = max(slow, key=lambda s: overlap(s["start_ns"], s["start_ns"] + s["duration_ns"],
                                                 ev["start_ns"], ev["end_ns"]))
            st = s["stack"]
            fn, f = ev["stack"][0][0], ev["stack"][0][1]
            at = [i for i, fr in enumerate(st) if parse_frame(fr)
                  and parse_frame(fr)[:2] == (fn, f) and lo <= parse_frame(fr)[2] <= hi]
            check(at, "%s: slow callback %r stack has no '%s (%s:%d..%d)': %s", ev["op"],
                  s["callback"], fn, f, lo, hi, show_stack(st))
            check_frames("%s slow callback" % ev["op"], st, at[0] + 1, ev["stack"][1:])
            continue
        c = matching_call(p, ev)
        st = c["stack"]
        what = "%s (%s %s, %.1f ms)" % (ev["op"], c["kind"], c["syscall"], c["duration_ns"] / MS)
        check(st, "%s: empty stack", what)
        start = 0
        if ev.get("lib_prefix"):
            # the syscall is in library code (subprocess.py) below our function
            while start < len(st) and parse_frame(st[start]) and \
                    os.path.basename(parse_frame(st[start])[1]) == ev["lib_prefix"]:
                start += 1
            check(start > 0, "%s: first frame %r is not in %s", what, st[0], ev["lib_prefix"])
        check_frames(what, st, start, ev["stack"])
        check_blocked_slow_cb(p, c, what)


def check_blocked_slow_cb(p, c, what):
    """A slow callback mostly spent blocked shows its longest blocking call's
    stack, not where a stray CPU sample caught it."""
    end = c["start_ns"] + c["duration_ns"]
    for s in p["slow_callbacks"]:
        if s["tid"] != c["tid"] or not s["start_ns"] <= c["start_ns"] < end <= \
                s["start_ns"] + s["duration_ns"] or 2 * s["blocked_ns"] < s["duration_ns"]:
            continue
        inside = [b for b in p["blocking_calls"] if b["tid"] == s["tid"] and
                  s["start_ns"] <= b["start_ns"] < s["start_ns"] + s["duration_ns"]]
        if max(inside, key=lambda b: b["duration_ns"]) is c:
            check(s["stack"] == c["stack"], "%s: the slow callback around it (blocked %.1f of "
                  "%.1f ms) shows %s", what, s["blocked_ns"] / MS, s["duration_ns"] / MS,
                  show_stack(s["stack"]))


def stacks_test(name, py_fn):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        report, truth, _ = run_target_traced(ctx, [py, os.path.join(TARGETS, "stacks.py")],
                                             duration=7)
        check_stacks(report, truth)
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    stacks_test("stacks-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
stacks_test("stacks-debian-3.11", lambda: DEBIAN_PY)
for _minor in (14, 15):
    stacks_test("stacks-debian-sid-3.%d" % _minor, (lambda m: lambda: sid_python(m))(_minor))



def check_gil(report, truth):
    p = the_process(report, truth["pid"])
    check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"],
          "no loop on the loop thread %d", truth["loop_tid"])
    loop = p["loops"][0]
    bursts = [(b["start_ns"], b["end_ns"]) for b in truth["bursts"]]
    check(bursts, "target logged no bursts")
    total = sum(b1 - b0 for b0, b1 in bursts)
    mine = [c for c in p["blocking_calls"] if c["tid"] == truth["loop_tid"]]

    def in_bursts(c):
        return sum(max(0, overlap(c["start_ns"], c["start_ns"] + c["duration_ns"], b0, b1))
                   for b0, b1 in bursts)

    gil = [c for c in mine if c["kind"] == "gil"]
    gil_total = sum(c["duration_ns"] for c in gil)
    gil_in = sum(in_bursts(c) for c in gil)
    kinds = {}
    for c in mine:
        kinds.setdefault(c["kind"], [0, 0])
        kinds[c["kind"]][0] += 1
        kinds[c["kind"]][1] += in_bursts(c)
    summary = ", ".join("%s: %d calls, %.1f ms in bursts" % (k, n, t / MS)
                        for k, (n, t) in sorted(kinds.items()))
    check(gil_in >= 0.5 * total,
          "gil calls on the loop thread cover %.1f ms of the bursts' %.1f ms (< 50%%); %s",
          gil_in / MS, total / MS, summary or "no blocking calls on the loop thread")
    for c in mine:
        if c["kind"] != "gil":
            check(in_bursts(c) <= 5 * MS,
                  "a %s call (%s, %.1f ms) overlaps the bursts by %.1f ms: the GIL wait is"
                  " reported as another kind; %s", c["kind"], c["syscall"],
                  c["duration_ns"] / MS, in_bursts(c) / MS, summary)
    gw = loop.get("gil_wait_ns")
    check(isinstance(gw, int) and not isinstance(gw, bool),
          "loops[0].gil_wait_ns is %r, expected an integer", gw)
    check(gw >= 0.5 * total, "loops[0].gil_wait_ns %.1f ms < 50%% of the bursts' %.1f ms",
          gw / MS, total / MS)
    check(gw >= gil_total, "loops[0].gil_wait_ns %.1f ms < the total %.1f ms of the %d"
          " blocking calls of kind gil on the loop thread", gw / MS, gil_total / MS, len(gil))
    vlog("bursts %.1f ms; gil calls %d, %.1f ms (%.1f in bursts); gil_wait_ns %.1f ms; %s",
         total / MS, len(gil), gil_total / MS, gil_in / MS, gw / MS, summary)


def gil_test(name, py_fn):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        report, truth, _ = run_target_traced(ctx, [py, os.path.join(TARGETS, "gil.py")],
                                             duration=6)
        check_gil(report, truth)
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    gil_test("gil-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
gil_test("gil-debian-3.11", lambda: DEBIAN_PY)
for _minor in (14, 15):
    gil_test("gil-debian-sid-3.%d" % _minor, (lambda m: lambda: sid_python(m))(_minor))


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "stacks and the GIL"))
