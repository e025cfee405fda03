#!/usr/bin/env python3
"""Bad input and endings: a pid that does not exist, one that is not a
program the tool knows, SIGINT, the target exiting: one line and an exit
status, and a report still written.

    python3 tests/integration/test_errors.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    one_error_line,
    check_blocking,
    registrar,
    main_for,
    DEBIAN_PY,
    Proc,
    TARGETS,
    TOOL,
    check,
    finish_tool,
    load_report,
    need_exe,
    need_tool,
    pyenv,
    start_tool,
    vlog,
)

TESTS = []
test = registrar(TESTS)

def free_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


@test("errors-nonexistent-pid")
def t_err_nopid(ctx):
    need_tool()
    out = ctx.path("report.json")
    tool = Proc(ctx, "tool", [TOOL, "--pid", str(free_pid()), "--duration", "2",
                              "--format", "json", "--output", out])
    rc = tool.wait(20)
    check(rc != 0, "exit 0 for a nonexistent pid")
    one_error_line(tool, "nonexistent pid")
    check(not os.path.exists(out), "output file created")


@test("errors-bad-pid-argument")
def t_err_badpid(ctx):
    # without --pid the tool watches the whole host (test_systemwide.py);
    # a --pid that is not a number is a usage error
    need_tool()
    out = ctx.path("report.json")
    for bad in ("abc", "0", "-5", "12x"):
        tool = Proc(ctx, "tool", [TOOL, "--pid", bad, "--duration", "2", "--format", "json",
                                  "--output", out])
        rc = tool.wait(20)
        check(rc != 0, "exit 0 for --pid %s", bad)
        one_error_line(tool, "--pid %s" % bad)
        check(not os.path.exists(out), "output file created")


@test("errors-not-python")
def t_err_notpython(ctx):
    need_tool()
    target = Proc(ctx, "target", ["sleep", "30"])
    time.sleep(0.2)
    out = ctx.path("report.json")
    tool = Proc(ctx, "tool", [TOOL, "--pid", str(target.pid), "--duration", "2",
                              "--format", "json", "--output", out])
    rc = tool.wait(30)
    check(rc != 0, "exit 0 for `sleep 30` (no runtime, no event loop)%s",
          "; report has %d loops" % len(load_report(out)["processes"][0]["loops"])
          if os.path.exists(out) else "")
    line = one_error_line(tool, "not-python target")
    check(re.search(r"python|node|runtime|event loop|epoll", line, re.I),
          "error line does not mention the runtime: %r", line)
    check(not os.path.exists(out), "output file created")


@test("sigint-mid-run")
def t_sigint(ctx):
    py = need_exe(pyenv(11) or DEBIAN_PY, "python3.11")
    gt_path, start = ctx.path("truth.json"), ctx.path("start")
    target = Proc(ctx, "target", [py, os.path.join(TARGETS, "blocking.py"), "-c", "sleep",
                                  "--stay", gt_path, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid)
    open(start, "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(gt_path):
        check(time.monotonic() < deadline, "no ground truth from target")
        time.sleep(0.05)
    tool.signal(signal.SIGINT)
    report = finish_tool(tool, 15)
    with open(gt_path) as f:
        truth = json.load(f)
    check_blocking(report, truth)


@test("target-exits-mid-run")
def t_target_exit(ctx):
    py = need_exe(pyenv(11) or DEBIAN_PY, "python3.11")
    gt_path, start = ctx.path("truth.json"), ctx.path("start")
    target = Proc(ctx, "target", [py, os.path.join(TARGETS, "blocking.py"), "-c", "sleep",
                                  gt_path, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid, duration=60)
    open(start, "w").close()
    rc = target.wait(20)
    check(rc == 0, "target exit %s", rc)
    t0 = time.monotonic()
    report = finish_tool(tool, 15)
    vlog("tool exited %.2fs after the target", time.monotonic() - t0)
    with open(gt_path) as f:
        truth = json.load(f)
    check_blocking(report, truth)


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "errors and endings"))
