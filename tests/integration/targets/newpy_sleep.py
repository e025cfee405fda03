"""An asyncio loop that blocks itself: every 0.3 s a task step calls
time.sleep(0.2). Prints "ready <pid>", runs --seconds, exits 0.
Any CPython 3.8+; the newest ones run from a Debian root in a chroot.
--uvloop: on uvloop's loop (Debian sid's python3-uvloop, for 3.14)."""
import argparse
import asyncio
import os
import time


async def sleeper():
    while True:
        time.sleep(0.2)  # @mark:sleep
        await asyncio.sleep(0.1)


async def main(seconds):
    task = asyncio.create_task(sleeper(), name="sleeper")
    print("ready %d" % os.getpid(), flush=True)
    await asyncio.sleep(seconds)
    task.cancel()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop's loop")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop
        uvloop.run(main(args.seconds))
    else:
        asyncio.run(main(args.seconds))
