#!/usr/bin/env python3
"""System-wide mode: without --pid, every event loop on the host is traced.

Starts a CPython asyncio target, a uvloop target (Debian's python3.11 with
python3-uvloop) and a Node.js target, runs asyncprof-bpf with no --pid, and
checks that the JSON report lists all three with the right runtime, loop
kind and backend; that a process started after the tracer is picked up;
and that --comm narrows the set. Ends with "N passed, N failed, N skipped"
(harness.main_for: --list, --filter, --keep, -v).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (main_for: --list, --filter, artifacts)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("AP_TOOL", os.path.join(ROOT, "asyncprof-bpf"))
DEBIAN_PY = "/usr/bin/python3.11"
TICKER = ("import asyncio,sys,time\n"
          "if 'uv' in sys.argv: import uvloop; uvloop.install()\n"
          "async def main():\n"
          "    while True:\n"
          "        await asyncio.sleep(0.05); time.sleep(0.002)\n"
          "print('ready', flush=True); asyncio.run(main())\n")
NODE = "console.log('ready'); setInterval(() => { const t = Date.now(); while (Date.now() - t < 3); }, 50);"


class Fail(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise Fail(msg % args)


def start(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    check(p.stdout.readline().strip() == "ready", "%s did not start", argv)
    return p


def trace(args, duration, during=None):
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    # full mode: these tests check the per-process uprobe backend (light: test_light.py)
    tool = subprocess.Popen([TOOL, "--duration", str(duration), "-q", "--no-live",
                             "--mode", "full", "-o", "json:" + out] + args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = tool.stderr.readline()
    check(line.startswith("Tracing"), "tool said %r", line)
    later = during() if during else []
    try:
        rc = tool.wait(timeout=duration + 60)
        check(rc == 0, "tool exit %d: %s", rc, tool.stderr.read())
        with open(out) as f:
            return json.load(f), later
    finally:
        os.unlink(out)
        for p in later:
            p.kill()


def by_pid(report):
    return {p["pid"]: p for p in report["processes"]}


def test_three_runtimes():
    procs = [start([DEBIAN_PY, "-c", TICKER]), start([DEBIAN_PY, "-c", TICKER, "uv"]),
             start(["node", "-e", NODE])]
    try:
        report, _ = trace([], 4)
        seen = by_pid(report)
        want = [(procs[0].pid, "cpython", "asyncio", "uprobe"),
                (procs[1].pid, "cpython", "uvloop", "uprobe"),
                (procs[2].pid, "node", "libuv", "syscall")]
        for pid, runtime, kind, backend in want:
            p = seen.get(pid)
            check(p, "pid %d (%s) missing; seen %s", pid, kind, sorted(seen))
            check(p["runtime"] == runtime, "pid %d runtime %s", pid, p["runtime"])
            check(p["backend"] == backend, "pid %d backend %s", pid, p["backend"])
            check(p["loops"] and p["loops"][0]["kind"] == kind, "pid %d loops %s", pid,
                  [l["kind"] for l in p["loops"]])
            check(p["loops"][0]["lag"]["samples"] > 0, "pid %d no lag samples", pid)
        check(os.getpid() not in seen, "the test runner itself is listed")
        check(all(p["comm"] != "asyncprof-bpf" for p in report["processes"]),
              "the tracer lists itself")
    finally:
        for p in procs:
            p.kill()


def test_picks_up_later_process():
    def later():
        time.sleep(1.0)
        return [start([DEBIAN_PY, "-c", TICKER])]

    report, started = trace([], 4, later)
    p = by_pid(report).get(started[0].pid)
    check(p and p["loops"], "process started after the tracer not found")
    check(p["backend"] == "uprobe", "backend %s", p["backend"])


def test_comm_filter():
    procs = [start([DEBIAN_PY, "-c", TICKER]), start(["node", "-e", NODE])]
    try:
        report, _ = trace(["--comm", "node"], 3)
        comms = {p["comm"] for p in report["processes"]}
        check(comms == {"node"}, "comms %s", comms)
        check(procs[1].pid in by_pid(report), "the node target is missing")
    finally:
        for p in procs:
            p.kill()


TESTS = [("systemwide-" + fn.__name__[5:].replace("_", "-"), (lambda f: lambda ctx: f())(fn))
         for fn in (test_three_runtimes, test_picks_up_later_process, test_comm_filter)]

if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "system-wide mode"))
