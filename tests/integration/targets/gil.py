#!/usr/bin/env python3
"""Scenario target: a thread holds the GIL in bursts while the loop ticks.

Usage: gil.py [--stay] [--bursts N] [--burst-ms MS] [--period-ms MS]
              GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py. The loop runs a ticker (asyncio.sleep(0.01)
forever). Once START_FILE exists, a helper thread runs N bursts, one every
PERIOD ms: each burst is one `sum(range(K))`, a single C call that never
releases the GIL, with K calibrated at start-up to take about BURST ms. The
loop thread, waking from epoll every 10 ms, waits on the GIL (a futex wait
the tool must report as kind "gil") for the rest of each burst. The ground
truth lists each burst's time.monotonic_ns() interval.

Standard library only; runs on CPython 3.8 to 3.13.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time

POLL_S = 0.01
TAIL_S = 0.5
START_TIMEOUT_S = 120
now = time.monotonic_ns


def native_tid():
    if hasattr(threading, "get_native_id"):
        return threading.get_native_id()
    import ctypes  # pragma: no cover
    return ctypes.CDLL(None, use_errno=True).syscall(186)


def calibrate(ms):
    """K such that sum(range(K)) takes about ms milliseconds."""
    k = 200000
    while True:
        t0 = now()
        sum(range(k))
        dt = now() - t0
        if dt >= 20 * 1000000 or k >= 1 << 34:
            break
        k *= 4
    return max(1, int(k * ms * 1000000 / dt))


def holder(args, k, go, bursts, done):
    go.wait()
    bursts_tid = native_tid()
    for i in range(args.bursts):
        time.sleep((args.period_ms - args.burst_ms) / 1000.0)
        t0 = now()
        sum(range(k))  # one C call: the GIL is held throughout
        t1 = now()
        bursts.append({"start_ns": t0, "end_ns": t1, "tid": bursts_tid})
    done.set()


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
    k = calibrate(args.burst_ms)
    truth = {
        "target": "gil",
        "pid": os.getpid(),
        "loop_tid": native_tid(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "switch_interval_s": sys.getswitchinterval(),
        "k": k,
        "bursts": [],
    }
    go, done = threading.Event(), threading.Event()
    th = threading.Thread(target=holder, args=(args, k, go, truth["bursts"], done),
                          name="gil-holder", daemon=True)
    th.start()
    ticks = [0]

    async def ticker():
        while not stop.is_set():
            await asyncio.sleep(0.01)
            ticks[0] += 1

    tick_task = loop.create_task(ticker())
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not os.path.exists(args.start_file):
        if time.monotonic() > deadline or stop.is_set():
            tick_task.cancel()
            return 0 if stop.is_set() else 2
        await asyncio.sleep(POLL_S)
    truth["started_ns"] = now()
    go.set()
    while not done.is_set():
        await asyncio.sleep(POLL_S)
    th.join()
    await asyncio.sleep(TAIL_S)
    truth["finished_ns"] = now()
    truth["ticks"] = ticks[0]
    write_json_atomic(args.ground_truth, truth)
    if args.stay:
        await stop.wait()
    tick_task.cancel()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("--bursts", type=int, default=5)
    ap.add_argument("--burst-ms", type=float, default=150)
    ap.add_argument("--period-ms", type=float, default=400)
    ap.add_argument("ground_truth")
    ap.add_argument("start_file")
    args = ap.parse_args()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
