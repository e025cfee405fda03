#!/usr/bin/env python3
"""Stalled target: the loop is already blocked when the tracer attaches.

Usage: stalled.py [--uvloop] GO_FILE GROUND_TRUTH_JSON

Prints "ready <pid>" with the loop running (a 10 ms ticker) and a worker
thread already sleeping for STALL_S + 1 s (blocked when the tracer
attaches, waking while it traces, but not a loop: not to be reported). Once
GO_FILE appears, a callback (stall) calls time.sleep(STALL_S): the test
attaches the tracer during that sleep. After it, the ground truth
(CLOCK_MONOTONIC ns) is written atomically: the loop's tid and the sleep's
start and end, with the line of the sleep call. Runs until SIGTERM.

Standard library only; runs on CPython 3.8 to 3.13 (and uvloop).
"""
import asyncio
import json
import os
import signal
import sys
import threading
import time

STALL_S = 2.5


def stall(truth_path):
    start = time.monotonic_ns()
    time.sleep(STALL_S)  # STALL LINE
    end = time.monotonic_ns()
    truth = {"pid": os.getpid(), "loop_tid": threading.get_native_id(),
             "start_ns": start, "end_ns": end, "line": stall_line()}
    tmp = truth_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(truth, f)
    os.rename(tmp, truth_path)


def stall_line():
    with open(__file__) as f:
        return next(i for i, l in enumerate(f, 1) if l.rstrip().endswith("# STALL LINE"))


async def main(go, truth_path):
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    threading.Thread(target=time.sleep, args=(STALL_S + 1,), daemon=True).start()
    print("ready %d" % os.getpid(), flush=True)
    while not os.path.exists(go):
        await asyncio.sleep(0.01)
    loop.call_soon(stall, truth_path)
    while True:
        await asyncio.sleep(0.01)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--uvloop" in args:
        import uvloop
        uvloop.install()
        args.remove("--uvloop")
    try:
        asyncio.run(main(args[0], args[1]))
    except RuntimeError:
        pass  # loop.stop() on SIGTERM ends run() before main() returns
    sys.exit(0)
