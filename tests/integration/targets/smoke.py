#!/usr/bin/env python3
"""Smoke target of the kernel matrix: a named task blocks the loop in time.sleep.

Usage: smoke.py [--uvloop] [--stay] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py (ready line, START_FILE, ground truth JSON,
--stay). Once started, the task named "smoke-sleeper" runs `sleeper`,
which twice calls `legacy_sleep` (time.sleep(0.05) on the loop thread)
with idle loop in between. The ground truth has each sleep's interval, the
Python stack the tool must report for it (innermost first, [qualname, file,
line] from the "# @mark:NAME" comments) and the task's name.

Standard library only (uvloop from Debian's python3-uvloop); CPython 3.8+.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time

from marks import marks

GAP_S = 0.3
SLEEP_S = 0.05
TASK_NAME = "smoke-sleeper"
START_TIMEOUT_S = 120
now = time.monotonic_ns


MARK = marks(os.path.abspath(__file__))


def legacy_sleep():
    t0 = now()
    time.sleep(SLEEP_S)  # @mark:legacy_sleep
    return t0, now()


async def sleeper(events):
    for _ in range(2):
        await asyncio.sleep(GAP_S)
        t0, t1 = legacy_sleep()  # @mark:sleeper
        events.append({"start_ns": t0, "end_ns": t1})
    await asyncio.sleep(GAP_S)


async def wait_start(path):
    deadline = time.monotonic() + START_TIMEOUT_S
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit(2)
        await asyncio.sleep(0.01)


async def main(args, uvloop_used):
    print("ready %d" % os.getpid(), flush=True)
    await wait_start(args.start_file)
    events = []
    task = asyncio.ensure_future(sleeper(events))
    task.set_name(TASK_NAME) if hasattr(task, "set_name") else None
    await task
    me = os.path.abspath(__file__)
    truth = {
        "pid": os.getpid(),
        "loop_tid": threading.get_native_id(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "uvloop": uvloop_used,
        "task_name": TASK_NAME,
        "events": events,
        "stack": [["legacy_sleep", me, MARK["legacy_sleep"]], ["sleeper", me, MARK["sleeper"]]],
    }
    tmp = args.truth + ".tmp"
    with open(tmp, "w") as f:
        json.dump(truth, f)
    os.replace(tmp, args.truth)
    if args.stay:
        stop = asyncio.Event()
        loop = asyncio.get_event_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        await stop.wait()


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("truth")
    ap.add_argument("start_file")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main(args, args.uvloop))


if __name__ == "__main__":
    run()
