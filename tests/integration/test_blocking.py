#!/usr/bin/env python3
"""Blocking calls on the loop (every CPython, uvloop, raw_tp), quiet targets
with none, and Node.js: each call found with its kind, syscall, detail and
task against the target's own log.

    python3 tests/integration/test_blocking.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    check_blocking,
    registrar,
    main_for,
    DEBIAN_PY,
    sid_python,
    MS,
    NODE,
    Proc,
    TARGETS,
    check,
    finish_tool,
    need_exe,
    need_uvloop,
    pyenv,
    run_target_traced,
    start_tool,
    the_process,
)

TESTS = []
test = registrar(TESTS)

# --- tests ----------------------------------------------------------------------

def blocking_test(name, py_fn, uvloop=False, case="basic", raw_tp=False):
    """raw_tp: the raw_tp flavour of the tracepoint programs, which kernels
    without tp_btf load (ASYNCPROF_TRACEPOINTS=raw forces it here)."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        if uvloop:
            need_uvloop(py)
        argv = [py, os.path.join(TARGETS, "blocking.py"), "-c", case]
        if uvloop:
            argv.append("--uvloop")
        env = dict(os.environ, ASYNCPROF_TRACEPOINTS="raw") if raw_tp else None
        report, truth, _ = run_target_traced(ctx, argv, duration=5, tool_env=env,
                                             tool_extra=["-v"] if raw_tp else ())
        if raw_tp:
            check(any("using raw_tp tracepoints" in l for l in ctx.tool_stderr),
                  "the tool did not say it loaded the raw_tp flavour")
        kernel = report["config"].get("kernel") or {}
        check(kernel.get("tracepoints") == ("raw_tp" if raw_tp else "tp_btf"),
              "config.kernel %s", kernel)
        check_blocking(report, truth)
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    blocking_test("blocking-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
blocking_test("blocking-debian-3.11", lambda: DEBIAN_PY)
blocking_test("blocking-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)
for _minor in (14, 15):
    blocking_test("blocking-debian-sid-3.%d" % _minor, (lambda m: lambda: sid_python(m))(_minor))
blocking_test("blocking-debian-sid-3.14-uvloop", lambda: sid_python(14), uvloop=True)
blocking_test("blocking-all-ops-pyenv-3.11", lambda: pyenv(11), case="all")
blocking_test("blocking-raw-tp-debian-3.11", lambda: DEBIAN_PY, raw_tp=True)


def quiet_test(name, py_fn, uvloop=False):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        argv = [py, os.path.join(TARGETS, "quiet.py"), "--seconds", "3"]
        if uvloop:
            need_uvloop(py)
            argv.append("--uvloop")
        report, _, target = run_target_traced(ctx, argv, gt=False, duration=4,
                                              tool_extra=["--blocking-threshold", "10"])
        p = the_process(report, target.pid)
        check(report["config"]["blocking_ns"] == 10 * MS,
              "config.blocking_ns %s != 10 ms (--blocking-threshold 10)",
              report["config"]["blocking_ns"])
        check(p["loops"], "no loop found (loops is empty)")
        check(p["loops"][0]["lag"]["samples"] > 0, "lag.samples is 0")
        long = [(c["kind"], c["syscall"], round(c["duration_ns"] / MS, 1))
                for c in p["blocking_calls"] if c["duration_ns"] >= 10 * MS]
        check(not long, "blocking calls >= 10 ms reported for a non-blocking target: %s", long)
    TESTS.append((name, fn))


quiet_test("quiet-pyenv-3.11", lambda: pyenv(11))
quiet_test("quiet-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)


@test("node")
def t_node(ctx):
    node = need_exe(NODE, "node")
    target = Proc(ctx, "target", [node, os.path.join(TARGETS, "busy.js"), "30"])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid, duration=3)
    report = finish_tool(tool, 40)
    p = the_process(report, pid)
    check(p["runtime"] == "node", "runtime %r, expected 'node'", p["runtime"])
    check(p["loops"], "no loop found (loops is empty)")
    check(p["loops"][0]["kind"] == "libuv", "loops[0].kind %r, expected 'libuv'",
          p["loops"][0]["kind"])
    check(p["loops"][0]["tid"] == pid, "loops[0].tid %d != node main thread %d",
          p["loops"][0]["tid"], pid)
    mx = p["loops"][0]["lag"]["max_ns"]
    check(mx >= 190 * MS, "lag.max_ns %.1f ms < 190 ms", mx / MS)


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "blocking calls"))
