#!/usr/bin/env python3
"""Many-tasks target: more finished tasks than the report keeps.

Usage: many_tasks.py [--uvloop] [--stay] [--count N] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py: "ready <pid>", poll START_FILE every 10 ms,
run, write GROUND_TRUTH_JSON atomically, exit (or --stay until SIGTERM).

Runs N tiny tasks (one step each, in batches) and, among them, a few named
"heavy-K" tasks whose one step burns ~5 ms of CPU: the busiest tasks, which
the report must keep however many others it leaves out. The ground truth
gives the number of tasks created and the heavy tasks' ids.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time

HEAVY = 5
BATCH = 500


async def tiny():
    return 1


async def heavy():
    end = time.monotonic() + 0.005
    while time.monotonic() < end:
        pass


async def main(count):
    created, heavy_ids = 0, []
    while created < count:
        ts = [asyncio.ensure_future(tiny()) for _ in range(BATCH)]
        if len(heavy_ids) < HEAVY and created >= count // 2:
            h = asyncio.ensure_future(heavy())
            h.set_name("heavy-%d" % len(heavy_ids))
            heavy_ids.append(hex(id(h)))
            ts.append(h)
        await asyncio.gather(*ts)
        created += len(ts)
    return created, heavy_ids


def run(args):
    if args.uvloop:
        global uvloop
        import uvloop  # before "ready": the tracer looks for it when it attaches
    print("ready %d" % os.getpid(), flush=True)
    while not os.path.exists(args.start):
        time.sleep(0.01)
    loop = uvloop.new_event_loop() if args.uvloop else asyncio.new_event_loop()
    created, heavy_ids = loop.run_until_complete(main(args.count))
    # run_until_complete wrapped main() in a task too
    truth = {"pid": os.getpid(), "created": created + 1, "heavy": heavy_ids}
    tmp = args.truth + ".tmp"
    with open(tmp, "w") as f:
        json.dump(truth, f)
    os.rename(tmp, args.truth)
    if args.stay:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:  # no more tasks: the count stays exact
            time.sleep(0.1)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--count", type=int, default=26000)
    ap.add_argument("truth")
    ap.add_argument("start")
    run(ap.parse_args())
