#!/usr/bin/env python3
"""A loop stuck for longer than the trace (targets/stuck.py). In a blocking
call: the call is reported as still in progress when tracing ends
(blocking_calls[].in_progress), with its syscall, kind, duration so far, the
Python stack of the off-CPU thread (walked from userspace) and the callback,
whether it began while tracing (BPF saw it enter) or before the tool attached
(no event of the loop thread in the whole window); a worker thread asleep as
long is not reported. Busy in Python (no syscall): a slow callback still in
progress (slow_callbacks[].in_progress), with the spinning line.

    python3 tests/integration/test_stuck.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    DEBIAN_PY,
    MS,
    TARGETS,
    Proc,
    check,
    finish_tool,
    main_for,
    need_exe,
    need_uvloop,
    pyenv,
    show_stack,
    sid_python,
    start_tool,
    the_process,
)

TESTS = []


def wait_file(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        check(time.monotonic() < deadline, "no %s after %d s", path, timeout)
        time.sleep(0.05)
    with open(path) as f:
        return json.load(f)


def stuck_test(name, py_fn, before, uvloop=False, spin=False, recv=False):
    """before: the loop is stuck when the tool attaches; else it gets stuck while
    traced. spin: stuck busy in Python (a slow callback in progress), not in a
    call."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        if uvloop:
            need_uvloop(py)
        go, truth_path = ctx.path("go"), ctx.path("truth.json")
        argv = [py, os.path.join(TARGETS, "stuck.py"), "--worker"] + (
            ["--uvloop"] if uvloop else []) + (["--spin"] if spin else []) + (
            ["--recv"] if recv else []) + [go, truth_path]
        target = Proc(ctx, "target", argv, cwd=ctx.dir)
        pid = int(target.wait_line("stdout", r"^ready (\d+)", 30).group(1))
        if before:
            open(go, "w").close()
            wait_file(truth_path, 10)
            time.sleep(0.3)  # in the sleep
        tool = start_tool(ctx, pid, duration=3, extra=["-o", "text:" + ctx.path("report.txt")])
        if not before:
            time.sleep(0.5)  # a few loop iterations traced first
            open(go, "w").close()
        report = finish_tool(tool, 40)
        truth = wait_file(truth_path, 10)
        target.kill()
        p = the_process(report, pid)
        if not before:
            check_iteration(report, p, truth, spin)
        else:
            check_stuck_loop(report, p, truth)
        if spin:
            return check_spin(ctx, report, p, truth, before, uvloop)
        b = the_one_in_progress(report, p["blocking_calls"], "calls", truth, before, "stuck",
                                lambda d: abs(d) <= 20 * MS)
        if recv:
            check(b["kind"] == "net" and b["syscall"] in ("recvfrom", "read") and
                  b["detail"] == truth["peer"], "kind %r syscall %r detail %r, expected a recv "
                  "from %s", b["kind"], b["syscall"], b["detail"], truth["peer"])
        else:
            check(b["kind"] == "sleep" and b["syscall"] in ("clock_nanosleep", "select",
                                                             "pselect6", "nanosleep"),
                  "kind %r syscall %r, expected a sleep", b["kind"], b["syscall"])
        if not before and not uvloop:
            check(b["callback"] == "stuck", "callback %r, expected stuck", b["callback"])
        with open(ctx.path("report.txt")) as f:
            text = f.read()
        check("[still in progress when tracing ended]" in text,
              "the text report does not say the call is in progress")
    TESTS.append((name, fn))


def check_stuck_loop(report, p, truth):
    """Stuck before the tool attached: the loop is listed all the same, stuck
    since before the window, its lag the whole window's."""
    loops = [lp for lp in p["loops"] if lp["tid"] == truth["loop_tid"]]
    check(len(loops) == 1, "the stuck loop %d is not in loops[]: %s", truth["loop_tid"],
          [lp["tid"] for lp in p["loops"]])
    lp, w = loops[0], report["window"]["end_ns"] - report["window"]["start_ns"]
    check(lp["stuck_before_window"] and lp["iterations"] == 0 and lp["lag"]["max_ns"] >= w and
          lp["lag"]["p50_ns"] > 0, "stuck loop: stuck_before_window %s, %d iterations, lag max "
          "%.0f ms p50 %.0f ms, window %.0f ms", lp["stuck_before_window"], lp["iterations"],
          lp["lag"]["max_ns"] / MS, lp["lag"]["p50_ns"] / MS, w / MS)


def check_iteration(report, p, truth, spin):
    """Stuck while traced: the loop's iteration in progress is a slow one, to
    the window's end, its time the sleep's (or running, for a spin)."""
    its = [i for i in p["slow_iterations"] if i["in_progress"]]
    check(len(its) == 1 and its[0]["tid"] == truth["loop_tid"], "slow iterations in progress:"
          " %s, expected the loop's one", [(i["tid"], i["duration_ns"] // MS) for i in its])
    it, end = its[0], report["window"]["end_ns"]
    check(it["start_ns"] + it["duration_ns"] == end, "the iteration in progress ends %+.1f ms "
          "from the window's end", (it["start_ns"] + it["duration_ns"] - end) / MS)
    stuck = end - truth["start_ns"]
    cause = "running_ns" if spin else "net_ns" if "peer" in truth else "sleep_ns"
    check(it["causes"][cause] >= (0.5 if spin else 0.9) * stuck, "the iteration in progress "
          "(%.0f ms): %s, expected the %.0f ms stuck in %s", it["duration_ns"] / MS,
          {k: v // MS for k, v in it["causes"].items() if v}, stuck / MS, cause[:-3])


def the_one_in_progress(report, entries, what, truth, before, function, start_ok):
    """The one entry of entries (blocking calls or slow callbacks) in progress at
    the end: the loop's, from the window's start (before) or its own
    (start_ok(truth start - its start)), to the window's end, with function at
    the truth's line first in its stack."""
    w0, w1 = report["window"]["start_ns"], report["window"]["end_ns"]
    mine = [e for e in entries if e.get("in_progress")]
    check(len(mine) == 1, "%d %s in progress, expected the loop's one: %s", len(mine), what,
          [(e["tid"], e.get("syscall", e.get("callback")), e["duration_ns"] // MS)
           for e in mine])
    e = mine[0]
    check(e["tid"] == truth["loop_tid"], "in progress on tid %d, the loop is %d", e["tid"],
          truth["loop_tid"])
    check(e["began_before_window"] is before, "began_before_window %r, expected %r",
          e["began_before_window"], before)
    if before:
        check(e["start_ns"] == w0, "starts %+.1f ms from the window's start, expected at it",
              (e["start_ns"] - w0) / MS)
    else:
        check(start_ok(truth["start_ns"] - e["start_ns"]), "starts %+.1f ms off the truth's"
              " start", (e["start_ns"] - truth["start_ns"]) / MS)
    check(e["start_ns"] + e["duration_ns"] == w1, "lasts to %+.1f ms of the window's end,"
          " expected its end (so far)", (e["start_ns"] + e["duration_ns"] - w1) / MS)
    want = "stuck.py:%d)" % truth["line"]
    check(e["stack"] and e["stack"][0].startswith(function + " (") and
          e["stack"][0].endswith(want), "stack %s, expected %s (...%s first",
          show_stack(e["stack"]), function, want)
    return e


def check_spin(ctx, report, p, truth, before, uvloop):
    """The loop busy in Python at the end: a slow callback still in progress,
    with the spinning function first in its stack; no blocking call of it."""
    c = the_one_in_progress(report, p["slow_callbacks"], "slow callbacks", truth, before, "spin",
                            lambda d: 0 <= d <= 20 * MS)
    if not before and not uvloop:
        check(c["callback"] == "stuck", "callback %r, expected stuck", c["callback"])
    check(not [b for b in p["blocking_calls"] if b["tid"] == truth["loop_tid"] and
               b.get("in_progress")], "a blocking call in progress on a loop busy in Python")
    with open(ctx.path("report.txt")) as f:
        check("[still running when tracing ended" in f.read(),
              "the text report does not say the callback is still running")


stuck_test("stuck-while-traced-debian-3.11", lambda: DEBIAN_PY, before=False)
stuck_test("stuck-while-traced-pyenv-3.8", lambda: pyenv(8), before=False)
stuck_test("stuck-while-traced-debian-3.11-uvloop", lambda: DEBIAN_PY, before=False, uvloop=True)
stuck_test("stuck-while-traced-debian-sid-3.14", lambda: sid_python(14), before=False)
stuck_test("stuck-before-attach-debian-3.11", lambda: DEBIAN_PY, before=True)
stuck_test("stuck-before-attach-pyenv-3.8", lambda: pyenv(8), before=True)
stuck_test("stuck-before-attach-pyenv-3.13", lambda: pyenv(13), before=True)
stuck_test("stuck-before-attach-debian-3.11-uvloop", lambda: DEBIAN_PY, before=True, uvloop=True)
stuck_test("stuck-before-attach-debian-sid-3.15", lambda: sid_python(15), before=True)
stuck_test("recv-while-traced-debian-3.11", lambda: DEBIAN_PY, before=False, recv=True)
stuck_test("recv-before-attach-pyenv-3.12", lambda: pyenv(12), before=True, recv=True)
stuck_test("spin-while-traced-debian-3.11", lambda: DEBIAN_PY, before=False, spin=True)
stuck_test("spin-while-traced-pyenv-3.13", lambda: pyenv(13), before=False, spin=True)
stuck_test("spin-before-attach-debian-3.11", lambda: DEBIAN_PY, before=True, spin=True)
stuck_test("spin-before-attach-debian-sid-3.14", lambda: sid_python(14), before=True, spin=True)

if __name__ == "__main__":
    sys.exit(main_for(TESTS, "calls in progress when tracing ends"))
