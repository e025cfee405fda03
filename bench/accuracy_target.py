"""Accuracy target: injected blocking calls and a lag ticker, with ground truth.

Usage: accuracy_target.py [--uvloop] [--seconds S] [--seed N] TRUTH_JSON START_FILE

Prints "ready <pid>", waits for START_FILE, then for S seconds (default 10):
- a ticker task sleeps 10 ms again and again and logs how late each wake-up
  was (CLOCK_MONOTONIC, the clock of the report): the in-process lag;
- an injector task, every 150-400 ms, makes one blocking call from a plain
  callback (loop.call_soon): time.sleep, a lock held by another thread, a
  recv from a peer that answers late, or subprocess.run of sleep(1), lasting
  2 to 180 ms, and logs its start and end around the call;
- 50 background tasks step with asyncio.sleep(0.001) so the loop is busy
  with short callbacks in between.
Then writes TRUTH_JSON atomically and exits. Standard library only.
"""
import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

now = time.monotonic_ns


def tid():
    return threading.get_native_id()


class Peer:
    """A thread that answers each request after the number of ms it asks for."""

    def __init__(self):
        self.a, self.b = socket.socketpair()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            data = self.b.recv(16)
            if not data:
                return
            time.sleep(int(data) / 1000)
            self.b.send(b"x")

    def call(self, ms):
        self.a.send(b"%d" % ms)
        self.a.recv(1)


class Holder:
    """A thread that holds a lock for the number of ms asked."""

    def __init__(self):
        self.lock = threading.Lock()
        self.req = threading.Event()
        self.held = threading.Event()
        self.ms = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            self.req.wait()
            self.req.clear()
            with self.lock:
                self.held.set()
                time.sleep(self.ms / 1000)

    def arm(self, ms):
        self.ms = ms
        self.held.clear()
        self.req.set()
        self.held.wait()


def inject(kind, ms, peer, holder, log):
    if kind == "lock":
        holder.arm(ms)  # the holder has the lock when this returns
    t0 = now()
    if kind == "sleep":
        time.sleep(ms / 1000)
    elif kind == "lock":
        holder.lock.acquire()
        holder.lock.release()
    elif kind == "net":
        peer.call(ms)
    elif kind == "process":
        subprocess.run(["sleep", "%.3f" % (ms / 1000)], check=True)
    log.append({"kind": kind, "want_ms": ms, "start_ns": t0, "end_ns": now(), "tid": tid()})


async def ticker(stop, lags):
    period = 10_000_000
    while not stop.is_set():
        due = now() + period
        await asyncio.sleep(period / 1e9)
        lags.append([due, now() - due])


async def background(stop):
    while not stop.is_set():
        await asyncio.sleep(0.001)


async def main(a):
    loop = asyncio.get_running_loop()
    rnd = random.Random(a.seed)
    peer, holder = Peer(), Holder()
    truth = {"pid": os.getpid(), "loop_tid": tid(), "python": sys.version.split()[0],
             "uvloop": a.uvloop, "blocking": [], "ticks": []}
    print("ready %d" % os.getpid(), flush=True)
    while not os.path.exists(a.start_file):
        await asyncio.sleep(0.01)
    stop = asyncio.Event()
    tasks = [loop.create_task(ticker(stop, truth["ticks"]))]
    tasks += [loop.create_task(background(stop)) for _ in range(50)]
    truth["start_ns"] = now()
    end = time.monotonic() + a.seconds
    while time.monotonic() < end - 0.5:
        await asyncio.sleep(rnd.uniform(0.15, 0.4))
        kind = rnd.choice(["sleep", "sleep", "lock", "net", "process"])
        ms = rnd.choice([2, 5, 12, 30, 60, 120, 180]) if kind != "process" else \
            rnd.choice([30, 60, 120])
        done = loop.create_future()
        loop.call_soon(lambda k=kind, m=ms: (inject(k, m, peer, holder, truth["blocking"]),
                                             done.set_result(None)))
        await done
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.gather(*tasks)
    truth["end_ns"] = now()
    tmp = a.truth + ".tmp"
    with open(tmp, "w") as f:
        json.dump(truth, f)
    os.rename(tmp, a.truth)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("truth")
    ap.add_argument("start_file")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(main(args))
