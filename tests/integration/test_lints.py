#!/usr/bin/env python3
"""Stuck tasks, the await graph and lints (targets/lints.py): two tasks that
await each other are a deadlock, each awaiting the other (tasks[].awaits,
awaited_by); a task awaiting a future nobody resolves is stuck, at its await
line; `await asyncio.sleep(0)` in a loop is a busy poll; a 0.15 s step never
yields, with the spinning line; time.sleep and subprocess.run from a
coroutine are blocking calls with the asyncio-native alternative named. In
JSON and in the text report.

    python3 tests/integration/test_lints.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    DEBIAN_PY,
    MS,
    TARGETS,
    check,
    main_for,
    need_exe,
    need_uvloop,
    pyenv,
    run_target_traced,
    show_stack,
    sid_python,
    the_process,
    validate_report,
)

TESTS = []
TARGET = os.path.join(TARGETS, "lints.py")


def the_lint(p, kind, name):
    ls = [lt for lt in p["lints"] if lt["kind"] == kind and lt["name"] == name]
    check(len(ls) == 1, "%d %s lints for %s; all: %s", len(ls), kind, name,
          [(lt["kind"], lt["name"]) for lt in p["lints"]])
    return ls[0]


def at_line(stack, function, line):
    want = "%s (%s:%d)" % (function, TARGET, line)
    return any(f == want for f in stack)


def check_graph(p, tasks, truth):
    a, b = tasks["deadlock-a"], tasks["deadlock-b"]
    for x, y in ((a, b), (b, a)):
        check(x["awaits"] and x["awaits"]["task"] == y["id"] and
              x["awaits"]["type"].endswith("Task"), "%s awaits %s, expected task %s",
              x["name"], x["awaits"], y["name"])
        check(x["awaited_by"] == [y["id"]], "%s awaited by %s, expected %s", x["name"],
              x["awaited_by"], y["id"])
        check(x["awaits"]["at"] == "wait_for (%s:%d)" % (TARGET, truth["lines"]["await-other"]),
              "%s waits at %s", x["name"], x["awaits"]["at"])
    f = tasks["forever"]
    check(f["awaits"] and f["awaits"]["task"] is None and f["awaits"]["type"].endswith("Future")
          and f["since_last_step_ns"] >= 1000 * MS, "forever: awaits %s, %s ns since a step",
          f["awaits"], f["since_last_step_ns"])
    d = the_lint(p, "deadlock", "deadlock-a") if any(
        lt["kind"] == "deadlock" and lt["name"] == "deadlock-a" for lt in p["lints"]) else \
        the_lint(p, "deadlock", "deadlock-b")
    check(d["count"] == 2 and "deadlock-a" in d["message"] and "deadlock-b" in d["message"],
          "deadlock lint: %s", d["message"])
    check(len([lt for lt in p["lints"] if lt["kind"] == "deadlock"]) == 1,
          "the deadlock is told more than once")


def check_lints(p, truth):
    s = the_lint(p, "stuck", "forever")
    check(s["ns"] >= 1000 * MS and at_line(s["stack"], "forever", truth["lines"]["await-forever"]),
          "stuck forever: %.0f ms, at %s", s["ns"] / MS, show_stack(s["stack"]))
    n = the_lint(p, "never_yields", "hog")
    check(140 * MS <= n["ns"] < 1000 * MS and at_line(n["stack"], "spin",
                                                      truth["lines"]["hog-spin"]),
          "never yields: %.0f ms, at %s", n["ns"] / MS, show_stack(n["stack"]))
    b = [lt for lt in p["lints"] if lt["kind"] == "blocking" and lt["name"] == "blocker"]
    sleeps = [lt for lt in b if "sleep call" in lt["message"]]
    check(len(sleeps) == 1 and sleeps[0]["count"] == 3 and
          sleeps[0]["fix"] == "await asyncio.sleep()" and
          at_line(sleeps[0]["stack"], "blocker", truth["lines"]["blocking-sleep"]),
          "blocking sleep lint: %s", [(lt["message"], lt["fix"]) for lt in b])
    procs = [lt for lt in b if "process call" in lt["message"]]
    check(len(procs) == 1 and procs[0]["fix"] == "asyncio.create_subprocess_exec()",
          "blocking process lint: %s", [(lt["message"], lt["fix"]) for lt in b])
    bp = the_lint(p, "busy_poll", "spinner")
    check(bp["count"] >= 100 and bp["fix"], "busy poll: %s", bp["message"])
    check(not [lt for lt in p["lints"] if lt["kind"] == "busy_poll" and lt["name"] != "spinner"],
          "busy polls other than spinner: %s", [lt["name"] for lt in p["lints"]
                                                if lt["kind"] == "busy_poll"])


def check_exports(ctx, p):
    """HTML: the lints table and what each task awaits; Perfetto: an instant per lint."""
    with open(ctx.path("r.html")) as f:
        html = f.read()
    check('<h3>Lints (%d)</h3>' % len(p["lints"]) in html and 'class="lint-deadlock"' in html,
          "no lints table with the deadlock in the HTML report")
    check("<td>task deadlock-b<br>" in html, "the HTML tasks table does not say deadlock-a "
          "awaits task deadlock-b")
    with open(ctx.path("trace.json")) as f:
        events = json.load(f)["traceEvents"]
    got = sorted(e["name"] for e in events if e.get("cat") == "lint")
    check(got == sorted("lint: " + lt["kind"] for lt in p["lints"]),
          "lint instants in the trace: %s", got)


def lints_test(name, py_fn, uvloop=False):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        if uvloop:
            need_uvloop(py)
        report, truth, _ = run_target_traced(
            ctx, [py, TARGET] + (["--uvloop"] if uvloop else []), duration=4,
            tool_extra=["--stuck-after", "1", "-o", "text:" + ctx.path("report.txt"),
                        "-o", "html:" + ctx.path("r.html"),
                        "-o", "chrome:" + ctx.path("trace.json")])
        validate_report(report)
        check(report["config"]["stuck_ns"] == 1000 * MS, "config.stuck_ns %s",
              report["config"]["stuck_ns"])
        p = the_process(report, truth["pid"])
        tasks = {t["name"]: t for t in p["tasks"] if t["state"] == "pending"}
        for want in ("deadlock-a", "deadlock-b", "forever", "spinner"):
            check(want in tasks, "pending task %s not in tasks[]: %s", want, sorted(tasks))
        check_graph(p, tasks, truth)
        check_lints(p, truth)
        with open(ctx.path("report.txt")) as f:
            text = f.read()
        check("lints: " in text and "deadlock-a -> deadlock-b -> deadlock-a" in text or
              "deadlock-b -> deadlock-a -> deadlock-b" in text, "no deadlock in the text report")
        check("instead: await asyncio.sleep()" in text, "no fix in the text report")
        check_exports(ctx, p)
    TESTS.append((name, fn))


lints_test("lints-debian-3.11", lambda: DEBIAN_PY)
lints_test("lints-pyenv-3.8", lambda: pyenv(8))
lints_test("lints-pyenv-3.12", lambda: pyenv(12))
lints_test("lints-pyenv-3.13", lambda: pyenv(13))
lints_test("lints-debian-sid-3.14", lambda: sid_python(14))
lints_test("lints-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)

if __name__ == "__main__":
    sys.exit(main_for(TESTS, "stuck tasks, the await graph and lints"))
