#!/usr/bin/env python3
"""Stuck target: the loop stalls in time.sleep for longer than any trace.

Usage: stuck.py [--uvloop] [--worker] GO_FILE GROUND_TRUTH_JSON

Prints "ready <pid>" with the loop running (a 10 ms ticker). Once GO_FILE
appears, a callback (stuck) writes the ground truth (CLOCK_MONOTONIC ns:
the loop's tid, the sleep's start, the line of the sleep call) and calls
time.sleep(STUCK_S), which outlasts the test. --worker: a thread that is
not a loop sleeps as long from the start (not to be reported). Runs until
killed.

Standard library only; CPython 3.8+ (and uvloop).
"""
import asyncio
import json
import os
import sys
import threading
import time

STUCK_S = 120


def stuck(truth_path):
    truth = {"pid": os.getpid(), "loop_tid": threading.get_native_id(),
             "start_ns": time.monotonic_ns(), "line": LINE}
    with open(truth_path + ".tmp", "w") as f:
        json.dump(truth, f)
    os.replace(truth_path + ".tmp", truth_path)
    time.sleep(STUCK_S)  # STUCK LINE


with open(__file__) as _f:
    LINE = [i for i, l in enumerate(_f, 1) if l.rstrip().endswith("# STUCK LINE")][0]


async def main(go, truth_path):
    print("ready %d" % os.getpid(), flush=True)
    while not os.path.exists(go):
        await asyncio.sleep(0.01)
    asyncio.get_running_loop().call_soon(stuck, truth_path)
    while True:
        await asyncio.sleep(0.01)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--worker" in sys.argv:
        threading.Thread(target=time.sleep, args=(STUCK_S,), daemon=True).start()
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    asyncio.run(main(*args))
