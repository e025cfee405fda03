"""Launch-mode target: its very first task step blocks, then it exits.

    python3 first_loop.py [SECONDS [uvloop|thread]]

It first sleeps 0.4 s before any loop exists (slow imports, say): that
is not loop lag. main() awaits once (so the loop has polled twice), then first_block()
sleeps 200 ms synchronously inside the first step of Task-1; with SECONDS
it then keeps a loop busy with 30 ms sleeps until SECONDS have passed.
"thread" runs the loop in a second thread, "uvloop" with uvloop.
Prints "ids UID GID GROUPS HOME USER" first, for the user-switch test.
"""
import asyncio
import os
import sys
import time


def first_block():
    time.sleep(0.2)


def later_block():
    time.sleep(0.03)


async def main(seconds):
    print("ids", os.getuid(), os.getgid(), ",".join(map(str, os.getgroups())),
          os.environ.get("HOME"), os.environ.get("USER"), flush=True)
    await asyncio.sleep(0.01)
    first_block()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(0.05)
        later_block()


SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 0
time.sleep(0.4)  # start-up before any event loop
if sys.argv[2:] == ["uvloop"]:
    import uvloop
    uvloop.install()
if sys.argv[2:] == ["thread"]:
    import threading
    t = threading.Thread(target=asyncio.run, args=(main(SECONDS),), name="loop")
    t.start()
    t.join()
else:
    asyncio.run(main(SECONDS))
