#!/usr/bin/env python3
"""Light-mode target: tasks that burn CPU, a task that blocks, a slow callback.

Usage: light.py [--uvloop] [--stay] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py: "ready <pid>", poll START_FILE every 10 ms,
run, idle 0.3 s, write GROUND_TRUTH_JSON atomically, exit (or --stay until
SIGTERM). What runs, with its own CLOCK_MONOTONIC ground truth:
- task cruncher-1 (coro cruncher): 8 steps of 40 ms of CPU time each
  (thread CPU time, so a loaded machine does not change it), a 10 ms sleep
  between them;
- task napper-1 (coro napper): 3 x time.sleep(0.06) in nap_blocking(),
  a blocking call with a known Python stack;
- spin_callback: a 150 ms CPU-bound plain callback (loop.call_soon): a
  slow iteration.
Standard library only; CPython 3.8 to 3.13, asyncio or uvloop.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import sys
import threading
import time

CRUNCH_STEPS = 8
CRUNCH_S = 0.04
NAPS = 3
NAP_S = 0.06
SPIN_S = 0.15


def now():
    return time.monotonic_ns()


def burn(secs):
    """secs of this thread's CPU time (the sampler sees CPU time, not wall time)."""
    end = time.thread_time_ns() + int(secs * 1e9)
    x = 0
    while time.thread_time_ns() < end:  # @burn
        x += 1
    return x


async def cruncher(truth):
    for _ in range(CRUNCH_STEPS):
        t0 = time.thread_time_ns()
        burn(CRUNCH_S)
        truth["cpu_ns"] += time.thread_time_ns() - t0
        await asyncio.sleep(0.01)


def nap_blocking(events):
    t0 = now()
    time.sleep(NAP_S)  # @nap
    events.append({"start_ns": t0, "end_ns": now()})


async def napper(events):
    for _ in range(NAPS):
        nap_blocking(events)  # @napper
        await asyncio.sleep(0.02)


def spin_callback(out):
    t0 = now()
    burn(SPIN_S)  # @spin
    out.update(start_ns=t0, end_ns=now())


def marks():
    """Line numbers of the # @name comments in this file."""
    rx = re.compile(r"# @(\w+)$")
    with open(__file__) as f:
        return {m.group(1): i + 1 for i, l in enumerate(f) for m in [rx.search(l)] if m}


async def main(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    here = os.path.abspath(__file__)
    truth = {"target": "light", "pid": os.getpid(), "loop_tid": threading.get_native_id(),
             "python": sys.version.split()[0], "uvloop": bool(args.uvloop), "file": here,
             "lines": marks()}
    print("ready %d" % os.getpid(), flush=True)
    while not os.path.exists(args.start_file):
        if stop.is_set():
            return 0
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    crunch = {"name": "cruncher-1", "coro": "cruncher", "cpu_ns": 0}
    naps = []
    t1 = loop.create_task(cruncher(crunch), name="cruncher-1")
    t2 = loop.create_task(napper(naps), name="napper-1")
    crunch["id"] = hex(id(t1))
    await asyncio.gather(t1, t2)
    spin = {}
    loop.call_soon(spin_callback, spin)
    await asyncio.sleep(0.3)
    truth.update(cruncher=crunch, napper={"name": "napper-1", "coro": "napper",
                                          "id": hex(id(t2)), "naps": naps}, spin=spin)
    tmp = args.truth + ".tmp"
    with open(tmp, "w") as f:
        json.dump(truth, f)
    os.rename(tmp, args.truth)
    if args.stay:
        await stop.wait()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("truth")
    ap.add_argument("start_file")
    a = ap.parse_args()
    if a.uvloop:
        import uvloop
        uvloop.install()
    sys.exit(asyncio.run(main(a)))
