#!/usr/bin/env python3
"""Hardening target: an asyncio loop whose process changes under the tracer.

Usage: hard_churn.py [--mode MODE] [--no-asyncio-c] [--stay] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py ("ready <pid>", START_FILE, GROUND_TRUTH_JSON
written atomically). After START_FILE appears the loop runs, 0.3 s apart:
a time.sleep(0.2) in a task named "sleeper" (the event every mode records),
then what MODE adds:
  threads  20 threads started and joined, each blocking in time.sleep(0.05)
  fork     a child process (os.fork) that sleeps 0.3 s on its own loop thread
           and exits; the parent does not wait for it on the loop
  flood    FLOOD short syscalls (os.getppid) on the loop thread, 10000 per
           step, as fast as it can: traced with a tiny --blocking-threshold
           each is a record, far more than the ring buffer holds; FLOOD is
           1000000 unless --flood N
  tasks    TASKS short tasks alive at once (gathered), for map limits
  exec     after the ground truth is written, exec `sleep 3` in place
  plain    nothing more
--no-asyncio-c hides the C _asyncio module (sys.modules['_asyncio'] = None)
before asyncio is imported: pure-Python Tasks and Futures, as on a Python
built without it.

Standard library only.
"""
import argparse
import sys

if "--no-asyncio-c" in sys.argv:
    sys.modules["_asyncio"] = None  # asyncio falls back to its pure-Python Task

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402


def now():
    return time.monotonic_ns()


async def sleeper(out):
    await asyncio.sleep(0.01)
    t0 = now()
    time.sleep(0.2)
    out["sleep"] = {"start_ns": t0, "end_ns": now(), "tid": threading.get_native_id()}


def do_threads(n=20):
    ths = [threading.Thread(target=time.sleep, args=(0.05,)) for _ in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()


def do_fork():
    pid = os.fork()
    if pid == 0:
        try:
            loop = asyncio.new_event_loop()
            loop.run_until_complete(asyncio.sleep(0.05))
            time.sleep(0.3)
        finally:
            os._exit(0)
    return pid


async def do_flood(n):
    """n os.getppid() calls on the loop thread, 10000 per callback."""
    for _ in range(n // 10000):
        for _ in range(10000):
            os.getppid()
        await asyncio.sleep(0)


async def do_tasks(n):
    async def short(i):
        await asyncio.sleep(0.01)
        return i
    await asyncio.gather(*(asyncio.ensure_future(short(i)) for i in range(n)))


async def main(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    truth = {"target": "hard_churn", "mode": args.mode, "pid": os.getpid(),
             "loop_tid": threading.get_native_id(),
             "c_asyncio": type(asyncio.Task).__module__ == "_asyncio",
             "python": "%d.%d.%d" % sys.version_info[:3]}
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    deadline = time.monotonic() + 120
    while not os.path.exists(args.start_file):
        if stop.is_set() or time.monotonic() > deadline:
            return 2
        await asyncio.sleep(0.01)
    out = {}
    await asyncio.sleep(0.3)
    await asyncio.ensure_future(sleeper(out))
    await asyncio.sleep(0.3)
    t0 = now()
    if args.mode == "threads":
        do_threads()
    elif args.mode == "fork":
        truth["child"] = do_fork()
        await asyncio.sleep(0.5)
        os.waitpid(truth["child"], 0)
    elif args.mode == "flood":
        await do_flood(args.flood)
    elif args.mode == "tasks":
        await do_tasks(args.tasks)
    truth["mode_ns"] = [t0, now()]
    await asyncio.sleep(0.3)
    truth.update(out)
    tmp = "%s.tmp.%d" % (args.ground_truth, os.getpid())
    with open(tmp, "w") as fp:
        json.dump(truth, fp, indent=1)
    os.replace(tmp, args.ground_truth)
    if args.mode == "exec":
        os.execvp("sleep", ["sleep", "3"])
    if args.stay:
        await stop.wait()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", default="plain",
                    choices=("plain", "threads", "fork", "flood", "tasks", "exec"))
    ap.add_argument("--flood", type=int, default=1000000)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--no-asyncio-c", action="store_true")
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("ground_truth")
    ap.add_argument("start_file")
    sys.exit(asyncio.run(main(ap.parse_args())))
