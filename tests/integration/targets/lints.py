#!/usr/bin/env python3
"""Scenario target: the mistakes the tool's lints name, all in one loop.

Usage: lints.py [--uvloop] [--stay] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py. Once START_FILE exists it starts, each a named
task:
  deadlock-a, deadlock-b  each awaits the other (a deadlock);
  forever                 awaits a future nobody resolves (stuck);
  spinner                 `await asyncio.sleep(0)` in a loop (a busy poll);
  hog                     one step of 0.15 s of Python (never yields);
  blocker                 time.sleep(0.02) three times and one
                          subprocess.run(["sleep", "0.05"]) from the coroutine
                          (blocking calls in the loop).
The ground truth gives the loop's tid and each task's line where it waits.

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

POLL_S = 0.01
START_TIMEOUT_S = 120
TASKS = {}
LINES = {}


def native_tid():
    if hasattr(threading, "get_native_id"):
        return threading.get_native_id()
    import ctypes  # pragma: no cover
    return ctypes.CDLL(None, use_errno=True).syscall(186)


def line_of(tag):
    """The line of this file that holds `# <tag>`."""
    with open(__file__) as f:
        for i, text in enumerate(f, 1):
            if text.rstrip().endswith("# " + tag):
                return i
    raise SystemExit("no line tagged %s" % tag)


async def wait_for(other):
    while other not in TASKS:
        await asyncio.sleep(0.01)
    await TASKS[other]  # await-other


async def forever():
    await asyncio.get_running_loop().create_future()  # await-forever


async def spinner(stop):
    while not stop.is_set():
        await asyncio.sleep(0)  # spin


def spin(secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:  # hog-spin
        pass


async def hog():
    await asyncio.sleep(0.05)
    spin(0.15)


async def blocker():
    for _ in range(3):
        time.sleep(0.02)  # blocking-sleep
        await asyncio.sleep(0.05)
    subprocess.run(["sleep", "0.05"], check=True)  # blocking-process


def write_json_atomic(path, obj):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


async def run(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready %d" % os.getpid(), flush=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not os.path.exists(args.start_file):
        if time.monotonic() > deadline:
            sys.exit(2)
        await asyncio.sleep(POLL_S)
    for a, b in (("deadlock-a", "deadlock-b"), ("deadlock-b", "deadlock-a")):
        TASKS[a] = asyncio.ensure_future(wait_for(b))
        TASKS[a].set_name(a)
    TASKS["forever"] = asyncio.ensure_future(forever())
    TASKS["forever"].set_name("forever")
    spin_stop = asyncio.Event()
    TASKS["spinner"] = asyncio.ensure_future(spinner(spin_stop))
    TASKS["spinner"].set_name("spinner")
    for name, coro in (("hog", hog()), ("blocker", blocker())):
        TASKS[name] = asyncio.ensure_future(coro)
        TASKS[name].set_name(name)
    await asyncio.gather(TASKS["hog"], TASKS["blocker"])
    truth = {"target": "lints", "pid": os.getpid(), "loop_tid": native_tid(),
             "lines": {tag: line_of(tag) for tag in ("await-other", "await-forever", "spin",
                                                     "hog-spin", "blocking-sleep",
                                                     "blocking-process")}}
    write_json_atomic(args.truth, truth)
    if args.stay:
        await stop.wait()
    spin_stop.set()
    # the deadlocked tasks never end, and cancelling them at asyncio.run's exit
    # recurses: leave now
    sys.stdout.flush()
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("truth")
    ap.add_argument("start_file")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
