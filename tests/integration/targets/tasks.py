#!/usr/bin/env python3
"""Task target: named tasks that count their own steps, a slow callback, a timer.

Usage: tasks.py [--uvloop] [--stay] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py: "ready <pid>", poll START_FILE every 10 ms,
run, idle 0.5 s, write GROUND_TRUTH_JSON atomically, exit (or --stay until
SIGTERM).

What runs, and what the ground truth records:
- named tasks, each counting its own steps. A step is one run of the task's
  coroutine until its next suspension, so steps = 1 + the number of awaits
  that suspended (+1 for the step that delivers a cancellation):
    counter-1  coro counter  8 x asyncio.sleep(0), returns         -> done
    sleeper-1  coro sleeper  5 x asyncio.sleep(0.02), returns      -> done
    waiter-1   coro waiter   3 x asyncio.sleep(0), then waits and
                             is cancelled by main                  -> cancelled
    faulty-1   coro faulty   4 x asyncio.sleep(0), raises ValueError -> failed
    spawner-1  coro spawner  creates child-1 (coro child), awaits it -> done
- cpu_hog: a 150 ms CPU-bound callback scheduled with loop.call_soon;
- Ticker.tick: a bound method re-armed with loop.call_later 5 times.
Task ids are id(task) in hex, the Task object's address.

Standard library only; runs on CPython 3.8 to 3.13 (and uvloop).
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time

CPU_HOG_S = 0.15
TICKS = 5
TICK_PERIOD_S = 0.05


def now():
    return time.monotonic_ns()


def native_tid():
    return threading.get_native_id()


class StepLog:
    """Per-task step counter, kept by the task's coroutine itself."""

    def __init__(self):
        self.steps = {}

    def step(self, name):
        self.steps[name] = self.steps.get(name, 0) + 1


LOG = StepLog()
PARENTS = {}  # task name -> hex id of the task that created it


async def counter(name, n):
    LOG.step(name)
    for _ in range(n):
        await asyncio.sleep(0)
        LOG.step(name)
    return n


async def sleeper(name, n):
    LOG.step(name)
    for _ in range(n):
        await asyncio.sleep(0.02)
        LOG.step(name)
    return n


async def waiter(name, n):
    LOG.step(name)
    for _ in range(n):
        await asyncio.sleep(0)
        LOG.step(name)
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        LOG.step(name)  # the step that delivers the cancellation
        raise


async def faulty(name, n):
    LOG.step(name)
    for _ in range(n):
        await asyncio.sleep(0)
        LOG.step(name)
    raise ValueError("faulty task %s" % name)


async def child(name):
    LOG.step(name)
    await asyncio.sleep(0.01)
    LOG.step(name)


async def spawner(name, tasks):
    LOG.step(name)
    PARENTS["child-1"] = hex(id(asyncio.current_task()))
    t = asyncio.get_running_loop().create_task(child("child-1"), name="child-1")
    tasks.append(("child-1", "child", t, "done", None))
    await t
    LOG.step(name)


def cpu_hog(secs, out):
    t0 = now()
    end = t0 + int(secs * 1e9)
    x = 0
    while now() < end:
        x += 1
    out.update(start_ns=t0, end_ns=now(), tid=native_tid())


class Ticker:
    def __init__(self, loop, count, period):
        self.loop, self.left, self.period = loop, count, period
        self.count = 0
        self.done = loop.create_future()

    def tick(self):
        self.count += 1
        self.left -= 1
        if self.left > 0:
            self.loop.call_later(self.period, self.tick)
        elif not self.done.done():
            self.done.set_result(self.count)


async def main(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    truth = {
        "target": "tasks",
        "pid": os.getpid(),
        "loop_tid": native_tid(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "loop_class": type(loop).__module__ + "." + type(loop).__qualname__,
        "uvloop": bool(args.uvloop),
    }
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    deadline = time.monotonic() + 120
    while not os.path.exists(args.start_file):
        if stop.is_set():
            return 0
        if time.monotonic() > deadline:
            return 2
        await asyncio.sleep(0.01)
    truth["started_ns"] = now()

    await asyncio.sleep(0.2)
    tasks = []  # (name, coro qualname, task, expected state, expected error)

    def spawn(coro, name, coro_name, state, error=None):
        t = loop.create_task(coro, name=name)
        tasks.append((name, coro_name, t, state, error))
        return t

    spawn(counter("counter-1", 8), "counter-1", "counter", "done")
    spawn(sleeper("sleeper-1", 5), "sleeper-1", "sleeper", "done")
    w = spawn(waiter("waiter-1", 3), "waiter-1", "waiter", "cancelled")
    spawn(faulty("faulty-1", 4), "faulty-1", "faulty", "failed", "ValueError")
    spawn(spawner("spawner-1", tasks), "spawner-1", "spawner", "done")
    await asyncio.sleep(0.1)
    w.cancel()
    await asyncio.gather(*[t for _, _, t, _, _ in tasks], return_exceptions=True)

    await asyncio.sleep(0.2)
    hog = {}
    loop.call_soon(cpu_hog, CPU_HOG_S, hog)
    await asyncio.sleep(0.3)

    ticker = Ticker(loop, TICKS, TICK_PERIOD_S)
    loop.call_later(TICK_PERIOD_S, ticker.tick)
    await ticker.done

    await asyncio.sleep(0.5)
    out = []
    for name, coro_name, t, state, error in tasks:
        if t.cancelled():
            got = "cancelled"
        elif t.exception() is not None:
            got = "failed"
        else:
            got = "done"
        if got != state:
            sys.stderr.write("tasks.py: %s ended %s, expected %s\n" % (name, got, state))
            return 3
        out.append({"id": hex(id(t)), "name": name, "coro": coro_name,
                    "steps": LOG.steps.get(name, 0), "state": state, "error": error,
                    "parent": PARENTS.get(name)})
    truth["tasks"] = out
    truth["cpu_hog"] = dict(hog, qualname=cpu_hog.__qualname__)
    truth["ticker"] = {"qualname": Ticker.tick.__qualname__, "count": ticker.count}
    truth["finished_ns"] = now()
    tmp = "%s.tmp.%d" % (args.ground_truth, os.getpid())
    with open(tmp, "w") as f:
        json.dump(truth, f, indent=1)
    os.replace(tmp, args.ground_truth)
    if args.stay:
        await stop.wait()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("ground_truth")
    ap.add_argument("start_file")
    a = ap.parse_args()
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.exit(asyncio.run(main(a)))
