#!/usr/bin/env python3
"""Scenario target: slow loop iterations, each late for one known cause.

Usage: causes.py [--uvloop] [--stay] [--cpu N] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py. Once START_FILE exists, with GAP seconds of
idle loop before each, one callback per case makes its iteration slow:
  sleep  time.sleep(0.2) (the iteration's time is the sleep's);
  spin   0.2 s of pure Python (running);
  gil    0.2 s of Python while a helper thread ("gil-holder", its OS name
         on 3.14+) holds the GIL for 0.15 s in one C call (sum(range(K))):
         the loop waits for the GIL that long;
  runq   0.3 s of Python with the loop thread pinned to CPU N beside a CPU
         hog pinned there too (another process): about half of it is spent
         waiting for the CPU.
The ground truth gives each case's time.monotonic_ns() interval around the
callback's work and the loop's native tid.

Standard library only (uvloop with --uvloop); runs on CPython 3.8 to 3.15.
"""
import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time

GAP_S = 0.3
TAIL_S = 0.5
POLL_S = 0.01
START_TIMEOUT_S = 120
now = time.monotonic_ns


def native_tid():
    if hasattr(threading, "get_native_id"):
        return threading.get_native_id()
    import ctypes  # pragma: no cover
    return ctypes.CDLL(None, use_errno=True).syscall(186)


def spin(secs):
    end = now() + int(secs * 1e9)
    n = 0
    while now() < end:
        n += 1
    return n


def calibrate(ms):
    """K such that sum(range(K)) takes about ms milliseconds."""
    k = 200000
    while True:
        t0 = now()
        sum(range(k))
        dt = now() - t0
        if dt >= 20 * 1000000 or k >= 1 << 34:
            break
        k *= 4
    return max(1, int(k * ms * 1000000 / dt))


class GilHolder:
    """A thread that, when told, holds the GIL in one C call of about 150 ms."""

    def __init__(self):
        self.k = calibrate(150)
        self.go = threading.Event()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.interval = None
        self.tid = None
        threading.Thread(target=self.run, name="gil-holder", daemon=True).start()

    def run(self):
        self.tid = native_tid()
        self.go.wait()
        t0 = now()
        sum(range(self.k))
        self.interval = (t0, now())
        self.done.set()
        self.stop.wait()  # alive to the end: the tool names it


# Each case is its own callback (the tool names it as the culprit): it
# records the interval of its work in fut.


def case_sleep(fut, _ctx):
    t0 = now()
    time.sleep(0.2)
    fut.set_result((t0, now()))


def case_spin(fut, _ctx):
    t0 = now()
    spin(0.2)
    fut.set_result((t0, now()))


def case_gil(fut, ctx):
    t0 = now()
    ctx["gil"].go.set()
    spin(0.2)
    fut.set_result((t0, now()))


def case_runq(fut, _ctx):
    t0 = now()
    spin(0.3)
    fut.set_result((t0, now()))


CASES = [("sleep", case_sleep), ("spin", case_spin), ("gil", case_gil), ("runq", case_runq)]


def hog_start(cpu):
    """A CPU hog pinned to cpu, in another process (never traced)."""
    return subprocess.Popen([sys.executable, "-c", "import os\nos.sched_setaffinity(0, {%d})\n"
                             "while True: pass" % cpu])


def write_json_atomic(path, obj):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


async def run_case(fn, ctx):
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.call_soon(fn, fut, ctx)
    return await fut


async def run(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ctx = {"gil": GilHolder()}
    truth = {"target": "causes", "pid": os.getpid(), "loop_tid": native_tid(), "cases": {}}
    print("ready %d" % os.getpid(), flush=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not os.path.exists(args.start_file):
        if time.monotonic() > deadline:
            sys.exit(2)
        await asyncio.sleep(POLL_S)
    allowed = os.sched_getaffinity(0)
    for name, fn in CASES:
        hog = None
        if name == "runq":
            os.sched_setaffinity(0, {args.cpu})  # this thread: the loop's
            hog = hog_start(args.cpu)
            await asyncio.sleep(0.2)  # the hog is running
        await asyncio.sleep(GAP_S)
        t0, t1 = await run_case(fn, ctx)
        truth["cases"][name] = {"start_ns": t0, "end_ns": t1}
        if hog:
            hog.kill()
            hog.wait()
            os.sched_setaffinity(0, allowed)
    ctx["gil"].done.wait(5)
    truth["gil_held"] = ctx["gil"].interval
    truth["gil_holder_tid"] = ctx["gil"].tid
    truth["python"] = list(sys.version_info[:2])
    await asyncio.sleep(TAIL_S)
    write_json_atomic(args.truth, truth)
    if args.stay:
        await stop.wait()
    ctx["gil"].stop.set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("truth")
    ap.add_argument("start_file")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
