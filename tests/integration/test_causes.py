#!/usr/bin/env python3
"""Why the loop was late (targets/causes.py): each slow loop iteration is
split by cause (running Python, waiting for a CPU, waiting for the GIL,
blocking calls by kind, short syscalls), the parts sum to its duration, and
each case's iteration is named for the cause the target produced: a
time.sleep, a Python spin, the GIL held by another thread, a CPU hog pinned
to the loop thread's CPU.

    python3 tests/integration/test_causes.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    DEBIAN_PY,
    MS,
    TARGETS,
    causes_sum,
    check,
    main_for,
    need_exe,
    need_uvloop,
    pyenv,
    run_target_traced,
    sid_python,
    the_process,
    validate_report,
)

TESTS = []


def shares(it):
    d = it["duration_ns"]
    return ", ".join("%s %.0f%%" % (k[:-3], 100.0 * v / d)
                     for k, v in it["causes"].items() if v)


def the_iteration(p, tid, case, name):
    """The one slow iteration of the loop that holds the case's callback."""
    mine = [it for it in p["slow_iterations"] if it["tid"] == tid and
            it["start_ns"] <= case["start_ns"] and
            it["start_ns"] + it["duration_ns"] >= case["end_ns"]]
    check(len(mine) == 1, "%s: %d slow iterations hold the callback (%.0f ms); all: %s", name,
          len(mine), (case["end_ns"] - case["start_ns"]) / MS,
          [(it["tid"], it["duration_ns"] // MS) for it in p["slow_iterations"]])
    return mine[0]


# the cause each case's callback is named for
CULPRIT = {"sleep": "sleep", "spin": "running", "gil": "gil", "runq": "running"}


def check_case(name, it, case, truth):
    c, d = it["causes"], it["duration_ns"]
    who = it["culprits"].get(CULPRIT[name]) or {}
    check(who.get("callback") == "case_" + name, "%s: the %s culprit is %s, expected case_%s",
          name, CULPRIT[name], who.get("callback"), name)
    work = case["end_ns"] - case["start_ns"]
    check(abs(causes_sum(c) - d) <= d * 0.05, "%s: causes sum to %.1f ms of %.1f", name,
          causes_sum(c) / MS, d / MS)
    if name == "sleep":
        check(c["sleep_ns"] >= 0.9 * work, "sleep: %s; expected the 200 ms sleep", shares(it))
    elif name == "spin":
        check(c["running_ns"] >= 0.5 * d and c["running_ns"] + (c["run_queue_ns"] or 0)
              >= 0.9 * d, "spin: %s; expected running", shares(it))
    elif name == "gil":
        check(who.get("holder_tid") == truth["gil_holder_tid"], "gil: held by thread %s, "
              "the holder is %d", who.get("holder_tid"), truth["gil_holder_tid"])
        # 3.14 gives threads their Python name as the OS's
        want = "gil-holder" if truth["python"] >= [3, 14] else None
        check(want is None or who.get("holder_comm") == want, "gil: the holder's name %r, "
              "expected %r", who.get("holder_comm"), want)
        h0, h1 = truth["gil_held"]
        held = min(h1, case["end_ns"]) - max(h0, case["start_ns"])
        check(held > 50 * MS, "the GIL was held %.0f ms in the callback: no test", held / MS)
        check(c["gil_ns"] >= 0.7 * held and c["gil_ns"] <= d,
              "gil: %s; expected about %.0f ms waiting for the GIL", shares(it), held / MS)
    elif name == "runq":
        check(c["run_queue_ns"] is not None and c["run_queue_ns"] >= 0.25 * d and
              c["running_ns"] >= 0.25 * d,
              "runq: %s; expected about half running, half waiting for the CPU", shares(it))


def check_exports(ctx, p, tid):
    """Perfetto: a slice per slow iteration on the loop's track, around its
    callback's, with the causes as args; HTML: the section, bar and legend."""
    with open(ctx.path("trace.json")) as f:
        events = json.load(f)["traceEvents"]
    its = [e for e in events if e.get("cat") == "iteration" and e["tid"] == tid]
    check(len(its) == len([i for i in p["slow_iterations"] if i["tid"] == tid]),
          "%d iteration slices for %d slow iterations", len(its), len(p["slow_iterations"]))
    sleep = [e for e in its if e["name"] == "slow iteration: 100% sleep"]
    check(len(sleep) == 1 and sleep[0]["args"].get("sleep", "").endswith(" ms in case_sleep"),
          "no 'slow iteration: 100%% sleep' slice with its sleep in case_sleep: %s",
          [(e["name"], e["args"]) for e in its])
    cb = [e for e in events if e.get("name") == "case_sleep" and e.get("ph") == "X"]
    check(len(cb) == 1 and sleep[0]["ts"] <= cb[0]["ts"] and
          cb[0]["ts"] + cb[0]["dur"] <= sleep[0]["ts"] + sleep[0]["dur"],
          "the case_sleep slice is not inside its iteration's")
    with open(ctx.path("r.html")) as f:
        html = f.read()
    check("Why thread %d was late: %d slow iterations" % (tid, len(its)) in html,
          "no 'why late' section in the HTML report")
    check(re.search(r'<span><i class="c5"></i>sleep [0-9.]+% \([^)]*\) in case_sleep</span>',
                    html), "no sleep legend entry in case_sleep in the HTML report")


def causes_test(name, py_fn, uvloop=False, light=False, exports=False):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        if uvloop:
            need_uvloop(py)
        argv = [py, os.path.join(TARGETS, "causes.py")] + (["--uvloop"] if uvloop else [])
        extra = ["-o", "text:" + ctx.path("report.txt")] + (["--mode", "light"] if light else [])
        if exports:
            extra += ["-o", "chrome:" + ctx.path("trace.json"), "-o", "html:" + ctx.path("r.html")]
        report, truth, _ = run_target_traced(ctx, argv, duration=5, tool_extra=extra)
        validate_report(report)
        p = the_process(report, truth["pid"])
        tid = truth["loop_tid"]
        loops = [lp for lp in p["loops"] if lp["tid"] == tid]
        check(len(loops) == 1, "the loop %d is not in loops[]", tid)
        check(loops[0]["slow_iterations"] >= 4, "loop: %d slow iterations, expected >= 4",
              loops[0]["slow_iterations"])
        for case_name, case in sorted(truth["cases"].items()):
            check_case(case_name, the_iteration(p, tid, case, case_name), case, truth)
        with open(ctx.path("report.txt")) as f:
            late = [ln for ln in f if ln.strip().startswith("late:")]
        check(len(late) == 1 and "sleep in case_sleep" in late[0] and
              "GIL in case_gil held by thread %d" % truth["gil_holder_tid"] in late[0] and
              "run queue" in late[0],
              "the text report's late line: %s", late)
        if exports:
            check_exports(ctx, p, tid)
    TESTS.append((name, fn))


causes_test("causes-debian-3.11", lambda: DEBIAN_PY, exports=True)
causes_test("causes-pyenv-3.8", lambda: pyenv(8))
causes_test("causes-pyenv-3.12", lambda: pyenv(12))
causes_test("causes-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)
causes_test("causes-debian-3.11-light", lambda: DEBIAN_PY, light=True)
causes_test("causes-debian-sid-3.14", lambda: sid_python(14))

if __name__ == "__main__":
    sys.exit(main_for(TESTS, "why the loop was late: slow iterations by cause"))
