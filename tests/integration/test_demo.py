#!/usr/bin/env python3
"""`make demo` end to end, short: examples/run_demo.py runs the demo HTTP
service under asyncprof-bpf (launch mode) with its load generator; the
three files must be written and each of the service's four faults named.

    python3 tests/integration/test_demo.py [--keep] [-v]

Runs as root. Prints "ok NAME" / "FAIL NAME: reason" / "skip NAME: reason"
and closes with "N passed, N failed, N skipped".
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

RUN_DEMO = os.path.join(harness.ROOT, "examples", "run_demo.py")
# each fault: its name in the output, and the function the report must point at
FAULTS = [
    ("sync sleep in a handler", r"legacy_auth \(examples/demo_service\.py:\d+\): time\.sleep"),
    ("sync HTTP call to a slow upstream", r"fetch_quote \(examples/demo_service\.py:\d+\)"),
    ("CPU-heavy JSON encode", r"render_report \(examples/demo_service\.py:\d+\): \d+ slow"),
    ("a thread hogging the GIL", r"waited for the GIL \d+ times"),
]
TESTS = []


def test(name):
    def reg(fn):
        TESTS.append((name, fn))
        return fn
    return reg


@test("demo-end-to-end")
def t_demo(ctx):
    harness.need_tool()
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    env = dict(os.environ, DEMO_SECONDS="4", DEMO_OUT=ctx.dir, DEMO_PYTHON=py)
    r = subprocess.run([sys.executable, RUN_DEMO], capture_output=True, text=True, env=env,
                       timeout=120)
    with open(ctx.path("run_demo.stdout"), "w") as f:
        f.write(r.stdout + "\n--- stderr\n" + r.stderr)
    check(r.returncode == 0, "run_demo exit %d; stderr: %s", r.returncode, r.stderr[-400:])
    out = r.stdout
    check(re.search(r"^load: \d+ requests", out, re.M), "no load line")
    for name, rx in FAULTS:
        m = re.search(r"^  ok   %s.*\n       (.*)$" % re.escape(name), out, re.M)
        check(m, "fault not found: %s", name)
        check(re.search(rx, m.group(1)), "%s: %r does not name it", name, m.group(1))
    rep = harness.load_report(ctx.path("report.json"))
    check(rep["processes"] and rep["processes"][0]["backend"] == "uprobe", "backend")
    with open(ctx.path("trace.json")) as f:
        trace = json.load(f)
    names = {e.get("name", "") for e in trace["traceEvents"]}
    check(any(n.startswith("[syscall] clock_nanosleep") for n in names),
          "no sleep in trace.json")
    with open(ctx.path("report.html")) as f:
        page = f.read()
    check(page.lstrip().lower().startswith("<!doctype html") and "legacy_auth" in page,
          "report.html is not the report")
    for what in ("report.json", "trace.json", "report.html"):
        check(os.path.join(os.path.relpath(ctx.dir), what) in out or what in out,
              "how to open %s is not said", what)


if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "make demo, end to end"))
