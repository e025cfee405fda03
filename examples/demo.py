#!/usr/bin/env python3
"""A small asyncio service with a few classic mistakes, for asyncprof-bpf to find.

    python3 examples/demo.py [--duration S]      # runs until Ctrl-C by default
    sudo ./asyncprof-bpf --pid <the pid it prints>

The service: a "poller" task fetches jobs (simulated with asyncio.sleep) and
puts them on a queue; three workers ("worker-1".."worker-3") handle them.
Everything is asynchronous, except for the mistakes that every few jobs a
handler makes, each of which stalls the whole event loop:

    legacy_sleep()    time.sleep(0.15) in an old synchronous helper
    save_report()     writes a file and fsync()s it on the loop thread
    compress()        subprocess.run(["sleep", "0.05"]) instead of asyncio's subprocesses
    checksum()        ~120 ms of pure-Python CPU work

asyncprof-bpf should show each of them as a blocking call (or, for the CPU
loop, as loop lag and a slow callback) with the task and the Python stack.
"""
import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time

JOB_PERIOD_S = 0.05  # the poller finds a job this often
WORKERS = 3


# --- the mistakes: synchronous code called from async handlers ---------------

def legacy_sleep():
    """An old helper that "waits a bit" the synchronous way."""
    time.sleep(0.15)


def save_report(job_id):
    """Writes and fsyncs a file on the loop thread."""
    path = os.path.join(tempfile.gettempdir(), "asyncprof-demo-%d.txt" % os.getpid())
    with open(path, "w") as f:
        f.write(("job %d\n" % job_id) * 20000)
        f.flush()
        os.fsync(f.fileno())
    os.unlink(path)


def compress():
    """Runs a child process and waits for it, blocking the loop."""
    subprocess.run(["sleep", "0.05"], check=True)


def checksum(data):
    """About 120 ms of CPU-bound work."""
    end = time.monotonic() + 0.12
    total = 0
    while time.monotonic() < end:
        for b in data:
            total = (total * 31 + b) & 0xFFFFFFFF
    return total


# --- the service ---------------------------------------------------------------

async def poller(queue):
    """Finds a job every JOB_PERIOD_S seconds and queues it."""
    job_id = 0
    while True:
        await asyncio.sleep(JOB_PERIOD_S)  # e.g. waiting on an HTTP API
        job_id += 1
        await queue.put(job_id)


async def handle(job_id):
    """Handles one job; every few jobs it makes one of the mistakes above."""
    await asyncio.sleep(0.01)  # e.g. a database query
    if job_id % 20 == 5:
        legacy_sleep()
    elif job_id % 20 == 10:
        save_report(job_id)
    elif job_id % 20 == 15:
        compress()
    elif job_id % 20 == 0:
        checksum(b"asyncprof" * 100)


async def worker(queue):
    while True:
        job_id = await queue.get()
        try:
            await handle(job_id)
        finally:
            queue.task_done()


async def main(duration):
    print("demo pid %d" % os.getpid(), flush=True)
    # SIGTERM stops the service cleanly, like Ctrl-C.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    queue = asyncio.Queue(maxsize=100)
    tasks = [asyncio.create_task(poller(queue), name="poller")]
    for i in range(1, WORKERS + 1):
        tasks.append(asyncio.create_task(worker(queue), name="worker-%d" % i))
    try:
        if duration is None:
            await asyncio.gather(*tasks)
        else:
            await asyncio.sleep(duration)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="asyncio demo service for asyncprof-bpf")
    ap.add_argument("--duration", type=float, help="stop after S seconds (default: run forever)")
    args = ap.parse_args()
    try:
        asyncio.run(main(args.duration))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    sys.exit(0)
