#!/usr/bin/env python3
"""asyncio tasks and callbacks: names, coroutines, steps, busy and blocked
time, how they ended, also with uvloop and the bounded stack walk, and
tasks already stalled when tracing began.

    python3 tests/integration/test_tasks.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    show_stack,
    registrar,
    main_for,
    DEBIAN_PY,
    sid_python,
    MS,
    Proc,
    Skip,
    TARGETS,
    check,
    finish_tool,
    need_exe,
    need_uvloop,
    pyenv,
    run_target_traced,
    start_tool,
    the_process,
    vlog,
)

TESTS = []
test = registrar(TESTS)

def tasks_bounded(ctx, uvloop):
    """More finished tasks than the report keeps: the busiest stay, the rest are counted.
    Also the default probes, checked then reduced while tracing: asyncio
    callbacks end at context_run's end points, checked against the return
    for 200 callbacks, then alone; uvloop's task probes go once the register
    search found 200 task steps (every task's end is counted across that
    switch)."""
    py = need_exe(DEBIAN_PY or pyenv(11), "python3.11")
    argv = [py, os.path.join(TARGETS, "many_tasks.py")]
    if uvloop:
        need_uvloop(py)
        argv.append("--uvloop")
    report, truth, _ = run_target_traced(ctx, argv, duration=14, tool_extra=["-v"])
    want = "uvloop: detaching the task probes" if uvloop else "context_run: callbacks end at"
    check([l for l in ctx.tool_stderr if want in l], "no %r: %s", want,
          [l for l in ctx.tool_stderr if "context_run:" in l or "uvloop:" in l])
    check(report["drops"]["callback_ends"] == 0, "%d callback ends not seen",
          report["drops"]["callback_ends"])
    p = the_process(report, truth["pid"])
    finished = [t for t in p["tasks"] if t["finished_ns"] is not None]
    vlog("%d finished tasks listed, %d omitted, %d created", len(finished),
         p["tasks_omitted"], truth["created"])
    check(report["drops"]["events"] == 0, "%d events dropped", report["drops"]["events"])
    check(p["tasks_omitted"] > 0, "no task omitted of %d created (listed %d)",
          truth["created"], len(finished))
    check(len(finished) + p["tasks_omitted"] == truth["created"],
          "%d listed + %d omitted != %d created", len(finished), p["tasks_omitted"],
          truth["created"])
    ids = {t["id"] for t in finished}
    missing = [h for h in truth["heavy"] if h not in ids]
    check(not missing, "busiest tasks %s not kept", missing)
    least_kept = min(t["busy_ns"] for t in finished)
    heavy_busy = [t["busy_ns"] for t in finished if t["id"] in truth["heavy"]]
    check(min(heavy_busy) >= least_kept, "heavy task less busy than a kept one")


TESTS.append(("tasks-bounded", lambda ctx: tasks_bounded(ctx, False)))
TESTS.append(("tasks-bounded-uvloop", lambda ctx: tasks_bounded(ctx, True)))


def stalled_test(name, py_fn, uvloop=False):
    """The loop is blocked in time.sleep when the tracer attaches: the call
    is reported, from the window's start (a lower bound) to its real end,
    with its stack; a worker thread's sleep that also began before is not."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        go, truth_path = ctx.path("go"), ctx.path("truth.json")
        argv = [py, os.path.join(TARGETS, "stalled.py")] + (["--uvloop"] if uvloop else [])
        if uvloop:
            need_uvloop(py)
        target = Proc(ctx, "target", argv + [go, truth_path], cwd=ctx.dir)
        pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
        open(go, "w").close()
        time.sleep(0.5)  # the loop is in its 2.5 s sleep
        tool = start_tool(ctx, pid, duration=5)
        report = finish_tool(tool, 40)
        check(os.path.exists(truth_path), "no ground truth: %s", target.tail("stderr"))
        with open(truth_path) as f:
            truth = json.load(f)
        p = the_process(report, pid)
        start = report["window"]["start_ns"]
        check(truth["start_ns"] < start < truth["end_ns"], "the tool did not attach during "
              "the sleep (%+.0f ms after its start)", (start - truth["start_ns"]) / MS)
        mine = [b for b in p["blocking_calls"] if b["tid"] == truth["loop_tid"]
                and b["start_ns"] == start]
        check(len(mine) == 1, "not one call from the window's start on the loop thread: %s",
              [(b["tid"], b["syscall"], b["start_ns"] - start) for b in p["blocking_calls"]])
        b = mine[0]
        check(b.get("began_before_window") is True, "began_before_window: %r",
              b.get("began_before_window"))
        later = [x for x in p["blocking_calls"] if x is not b and x.get("began_before_window")]
        check(not later, "calls that began in the window marked as before it: %s",
              [(x["syscall"], x["start_ns"] - start) for x in later])
        end = b["start_ns"] + b["duration_ns"]
        check(abs(end - truth["end_ns"]) <= 20 * MS, "the sleep ends %+.1f ms off",
              (end - truth["end_ns"]) / MS)
        want = "stalled.py:%d" % truth["line"]
        check(b["stack"] and "stall" in b["stack"][0] and want in b["stack"][0],
              "stack %s, want stall (%s) first", show_stack(b["stack"]), want)
        others = [x for x in p["blocking_calls"] if x["tid"] != truth["loop_tid"]]
        check(not others, "a call of a thread that is not a loop: %s",
              [(x["tid"], x["syscall"]) for x in others])
        target.signal(signal.SIGTERM)
        target.wait(10)
    TESTS.append((name, fn))


stalled_test("stalled-at-attach-debian-3.11", lambda: DEBIAN_PY)
stalled_test("stalled-at-attach-pyenv-3.8", lambda: pyenv(8))
stalled_test("stalled-at-attach-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)


def tasks_test(name, py_fn, uvloop=False, ends="probe"):
    """ends: how asyncio callbacks end (ASYNCPROF_CTX_END): "probe", at
    context_run's end points from the start, or "ret", at its return."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        argv = [py, os.path.join(TARGETS, "tasks.py")]
        if uvloop:
            need_uvloop(py)
            argv.append("--uvloop")
        # uvloop: the register search alone, without _asyncio's task probes
        env = {"ASYNCPROF_CTX_END": ends, "ASYNCPROF_UV_TASK_PROBES": "none"}
        report, truth, _ = run_target_traced(ctx, argv, duration=5, tool_extra=["-v"],
                                             tool_env=env)
        if not uvloop:
            used = [l for l in ctx.tool_stderr if "uprobe ap_context_run_end at" in l]
            check(bool(used) == (ends == "probe"), "end point probes %s with %s: %s",
                  "missing" if ends == "probe" else "attached", ends, used)
        check(report["drops"]["callback_ends"] == 0, "%d callback ends not seen",
              report["drops"]["callback_ends"])
        p = the_process(report, truth["pid"])
        if p["backend"] != "uprobe":
            raise Skip("backend is %r, not 'uprobe' (CPython backend not there yet)"
                       % p["backend"])
        check(p["runtime"] == "cpython", "runtime %r", p["runtime"])
        check(p["runtime_version"] == truth["python"], "runtime_version %r != %r",
              p["runtime_version"], truth["python"])
        check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"],
              "no loop on the loop thread %d", truth["loop_tid"])
        check(p["loops"][0]["callbacks"] is not None, "loops[0].callbacks is null under uprobe")
        by_name = {}
        for t in p["tasks"]:
            by_name.setdefault(t["name"], []).append(t)
        for gt in truth["tasks"]:
            got = by_name.get(gt["name"])
            check(got, "task %r missing (names seen: %s)", gt["name"],
                  sorted(str(n) for n in by_name)[:20])
            check(len(got) == 1, "task %r reported %d times", gt["name"], len(got))
            t = got[0]
            check(t["id"] == gt["id"], "task %s id %s != %s", gt["name"], t["id"], gt["id"])
            check(t["coro"] is not None and t["coro"].split(".")[-1] == gt["coro"],
                  "task %s coro %r != %r", gt["name"], t["coro"], gt["coro"])
            check(abs(t["steps"] - gt["steps"]) <= 2, "task %s steps %d, logged %d",
                  gt["name"], t["steps"], gt["steps"])
            check(t["state"] == gt["state"], "task %s state %r != %r",
                  gt["name"], t["state"], gt["state"])
            if gt["state"] == "failed":
                check(t["error"] == gt["error"], "task %s error %r != %r",
                      gt["name"], t["error"], gt["error"])
            check(t["loop_tid"] == truth["loop_tid"], "task %s loop_tid %d",
                  gt["name"], t["loop_tid"])
            if gt.get("parent") and t["parent"] is not None:
                check(t["parent"] == gt["parent"], "task %s parent %s != %s",
                      gt["name"], t["parent"], gt["parent"])
        hog = truth["cpu_hog"]
        hog_ns = hog["end_ns"] - hog["start_ns"]
        slow = [s for s in p["slow_callbacks"]
                if s["callback"] and "cpu_hog" in s["callback"]]
        check(slow, "cpu_hog not in slow_callbacks (callbacks seen: %s)",
              [s["callback"] for s in p["slow_callbacks"]])
        s = slow[0]
        check(s["task"] is None, "cpu_hog slow callback has task %s", s["task"])
        check(s["tid"] == truth["loop_tid"], "cpu_hog tid %d", s["tid"])
        check(abs(s["duration_ns"] - hog_ns) <= 0.2 * hog_ns,
              "cpu_hog duration %.1f ms, ground truth %.1f ms",
              s["duration_ns"] / MS, hog_ns / MS)
        check(abs(s["start_ns"] - hog["start_ns"]) <= 20 * MS,
              "cpu_hog start %+.1f ms off", (s["start_ns"] - hog["start_ns"]) / MS)
        tick = truth["ticker"]
        cbs = [c for c in p["callbacks"] if c["name"] and tick["qualname"] in c["name"]]
        check(cbs, "callback %s missing from callbacks (names: %s)", tick["qualname"],
              sorted(str(c["name"]) for c in p["callbacks"])[:20])
        check(sum(c["count"] for c in cbs) == tick["count"], "%s count %d != %d",
              tick["qualname"], sum(c["count"] for c in cbs), tick["count"])
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    tasks_test("tasks-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
tasks_test("tasks-debian-3.11", lambda: DEBIAN_PY)
tasks_test("tasks-pyenv-3.11-uretprobe", lambda: pyenv(11), ends="ret")
tasks_test("tasks-debian-3.11-uretprobe", lambda: DEBIAN_PY, ends="ret")
tasks_test("tasks-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)
for _minor in (14, 15):
    tasks_test("tasks-debian-sid-3.%d" % _minor, (lambda m: lambda: sid_python(m))(_minor))
tasks_test("tasks-debian-sid-3.14-uvloop", lambda: sid_python(14), uvloop=True)



# --- Python stacks ------------------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "tasks"))
