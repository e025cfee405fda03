#!/usr/bin/env python3
"""Hardening target: names built to attack the tool's outputs.

Usage: hard_names.py [--stay] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py. Before "ready" it sets its own comm (what
/proc/PID/comm shows, 15 bytes) to ESC [ 2 J, a double quote, a newline and
a backslash. After START_FILE: a task whose name holds terminal escape
sequences (clear screen, an OSC 52 clipboard write, a C1 CSI, bidi override,
a lone surrogate) blocks the loop in time.sleep(0.15); its coroutine is
renamed the same way (the function's __qualname__). The ground truth holds
the names as Python sees them.

Standard library only.
"""
import argparse
import asyncio
import ctypes
import json
import os
import signal
import sys
import threading
import time

COMM = b'\x1b[2J"q\nx\\'
TASK_NAME = "t\x1b[2J\x1b]52;c;ZXZpbA==\x07\x9b31m\u202eevil\ud800\\end"
PR_SET_NAME = 15


def now():
    return time.monotonic_ns()


async def attack(out):
    await asyncio.sleep(0.01)
    t0 = now()
    time.sleep(0.15)
    out["sleep"] = {"start_ns": t0, "end_ns": now()}


attack.__qualname__ = TASK_NAME


async def main(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(COMM), 0, 0, 0)
    with open("/proc/self/comm", "rb") as f:
        comm = f.read().rstrip(b"\n")
    truth = {"target": "hard_names", "pid": os.getpid(), "loop_tid": threading.get_native_id(),
             "comm": comm.decode("latin-1"), "task": TASK_NAME.encode("utf-8", "surrogatepass")
             .decode("latin-1")}
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    deadline = time.monotonic() + 120
    while not os.path.exists(args.start_file):
        if stop.is_set() or time.monotonic() > deadline:
            return 2
        await asyncio.sleep(0.01)
    out = {}
    await asyncio.sleep(0.2)
    await loop.create_task(attack(out), name=TASK_NAME)
    await asyncio.sleep(0.3)
    truth.update(out)
    tmp = "%s.tmp.%d" % (args.ground_truth, os.getpid())
    with open(tmp, "w") as fp:
        json.dump(truth, fp, indent=1)
    os.replace(tmp, args.ground_truth)
    if args.stay:
        await stop.wait()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("ground_truth")
    ap.add_argument("start_file")
    sys.exit(asyncio.run(main(ap.parse_args())))
