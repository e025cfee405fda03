#!/usr/bin/env python3
"""Export target: tasks and callbacks with hostile names, blocking and CPU stalls.

Usage: hostile.py [--stay] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py: "ready <pid>", poll START_FILE every 10 ms,
run, idle 0.5 s, write GROUND_TRUTH_JSON atomically, exit (or --stay until
SIGTERM).

What runs (each step after 0.2 s of idle loop):
- "<script>alert(1)</script>": a task that awaits twice, then blocks the loop
  in time.sleep(0.15) (a clock_nanosleep of ~150 ms), then finishes (done);
- 'semi;colon\\nnew"line': a task that burns ~120 ms of CPU (a slow
  callback), then finishes (done);
- "<img src=x onerror=alert(2)>": a task cancelled while it waits;
- "fails & </td>": a task that raises RuntimeError (failed);
- a plain callback whose __qualname__ is "evil;</pre>\\n<b>cb" that sleeps
  60 ms (a blocking call outside any task).
The ground truth records the monotonic interval of the 150 ms sleep.

Standard library only.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time

SCRIPT_NAME = "<script>alert(1)</script>"
SEMI_NAME = 'semi;colon\nnew"line'
IMG_NAME = "<img src=x onerror=alert(2)>"
FAIL_NAME = "fails & </td>"
CB_QUALNAME = "evil;</pre>\n<b>cb"


def now():
    return time.monotonic_ns()


async def sleeper(out):
    await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    t0 = now()
    time.sleep(0.15)
    out["sleep"] = {"start_ns": t0, "end_ns": now(), "tid": threading.get_native_id()}


async def burner():
    await asyncio.sleep(0.01)
    end = time.monotonic() + 0.12
    x = 0
    while time.monotonic() < end:
        x += 1


async def waiter():
    await asyncio.sleep(3600)


async def failer():
    await asyncio.sleep(0.01)
    raise RuntimeError("boom <b>")


def evil_cb():
    time.sleep(0.06)


evil_cb.__qualname__ = CB_QUALNAME


async def main(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    truth = {"target": "hostile", "pid": os.getpid(), "loop_tid": threading.get_native_id(),
             "names": [SCRIPT_NAME, SEMI_NAME, IMG_NAME, FAIL_NAME],
             "callback": CB_QUALNAME}
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    deadline = time.monotonic() + 120
    while not os.path.exists(args.start_file):
        if stop.is_set() or time.monotonic() > deadline:
            return 2
        await asyncio.sleep(0.01)
    truth["started_ns"] = now()
    out = {}
    await asyncio.sleep(0.2)
    w = loop.create_task(waiter(), name=IMG_NAME)
    await loop.create_task(sleeper(out), name=SCRIPT_NAME)
    await asyncio.sleep(0.2)
    await loop.create_task(burner(), name=SEMI_NAME)
    await asyncio.sleep(0.2)
    f = loop.create_task(failer(), name=FAIL_NAME)
    await asyncio.gather(f, return_exceptions=True)
    w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    await asyncio.sleep(0.2)
    loop.call_soon(evil_cb)
    await asyncio.sleep(0.5)
    truth.update(out)
    truth["finished_ns"] = now()
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
