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


def stuck_test(name, py_fn, before, uvloop=False, spin=False):
    """before: the loop is stuck when the tool attaches; else it gets stuck while
    traced. spin: stuck busy in Python (a slow callback in progress), not in a
    call."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        if uvloop:
            need_uvloop(py)
        go, truth_path = ctx.path("go"), ctx.path("truth.json")
        argv = [py, os.path.join(TARGETS, "stuck.py"), "--worker"] + (
            ["--uvloop"] if uvloop else []) + (["--spin"] if spin else []) + [go, truth_path]
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
        if spin:
            return check_spin(ctx, report, p, truth, before, uvloop)
        w0, w1 = report["window"]["start_ns"], report["window"]["end_ns"]
        mine = [b for b in p["blocking_calls"] if b.get("in_progress")]
        check(len(mine) == 1, "%d calls in progress, expected the loop's one: %s", len(mine),
              [(b["tid"], b["syscall"], b["duration_ns"] // MS) for b in mine])
        b = mine[0]
        check(b["tid"] == truth["loop_tid"], "the call in progress is on tid %d, the loop is %d",
              b["tid"], truth["loop_tid"])
        check(b["kind"] == "sleep" and b["syscall"] in ("clock_nanosleep", "select",
                                                         "pselect6", "nanosleep"),
              "kind %r syscall %r, expected a sleep", b["kind"], b["syscall"])
        check(b["began_before_window"] is before, "began_before_window %r, expected %r",
              b["began_before_window"], before)
        if before:
            check(b["start_ns"] == w0, "starts %+.1f ms from the window's start, expected at it",
                  (b["start_ns"] - w0) / MS)
        else:
            check(abs(b["start_ns"] - truth["start_ns"]) <= 20 * MS,
                  "starts %+.1f ms off the sleep's start", (b["start_ns"] - truth["start_ns"]) / MS)
        check(b["start_ns"] + b["duration_ns"] == w1, "lasts to %+.1f ms of the window's end,"
              " expected its end (so far)", (b["start_ns"] + b["duration_ns"] - w1) / MS)
        want = "stuck.py:%d)" % truth["line"]
        check(b["stack"] and b["stack"][0].startswith("stuck (") and b["stack"][0].endswith(want),
              "stack %s, expected stuck (...%s first", show_stack(b["stack"]), want)
        if not before and not uvloop:
            check(b["callback"] == "stuck", "callback %r, expected stuck", b["callback"])
        with open(ctx.path("report.txt")) as f:
            text = f.read()
        check("[still in progress when tracing ended]" in text,
              "the text report does not say the call is in progress")
    TESTS.append((name, fn))


def check_spin(ctx, report, p, truth, before, uvloop):
    """The loop busy in Python at the end: a slow callback still in progress,
    with the spinning function first in its stack; no blocking call of it."""
    w0, w1 = report["window"]["start_ns"], report["window"]["end_ns"]
    mine = [c for c in p["slow_callbacks"] if c.get("in_progress")]
    check(len(mine) == 1, "%d slow callbacks in progress, expected the loop's one: %s",
          len(mine), [(c["tid"], c["callback"], c["duration_ns"] // MS) for c in mine])
    c = mine[0]
    check(c["tid"] == truth["loop_tid"], "on tid %d, the loop is %d", c["tid"],
          truth["loop_tid"])
    check(c["began_before_window"] is before, "began_before_window %r, expected %r",
          c["began_before_window"], before)
    if before:
        check(c["start_ns"] == w0, "starts %+.1f ms from the window's start, expected at it",
              (c["start_ns"] - w0) / MS)
    else:
        check(0 <= truth["start_ns"] - c["start_ns"] <= 20 * MS,
              "starts %+.1f ms off the callback's first line", (c["start_ns"] - truth["start_ns"]) / MS)
        if not uvloop:
            check(c["callback"] == "stuck", "callback %r, expected stuck", c["callback"])
    check(c["start_ns"] + c["duration_ns"] == w1, "runs to %+.1f ms of the window's end",
          (c["start_ns"] + c["duration_ns"] - w1) / MS)
    want = "stuck.py:%d)" % truth["line"]
    check(c["stack"] and c["stack"][0].startswith("spin (") and c["stack"][0].endswith(want),
          "stack %s, expected spin (...%s first", show_stack(c["stack"]), want)
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
stuck_test("spin-while-traced-debian-3.11", lambda: DEBIAN_PY, before=False, spin=True)
stuck_test("spin-while-traced-pyenv-3.13", lambda: pyenv(13), before=False, spin=True)
stuck_test("spin-before-attach-debian-3.11", lambda: DEBIAN_PY, before=True, spin=True)
stuck_test("spin-before-attach-debian-sid-3.14", lambda: sid_python(14), before=True, spin=True)

if __name__ == "__main__":
    sys.exit(main_for(TESTS, "calls in progress when tracing ends"))
