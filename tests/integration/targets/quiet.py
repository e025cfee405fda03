#!/usr/bin/env python3
"""Quiet target: only asynchronous I/O, nothing that blocks the loop.

Usage: quiet.py [--seconds S] [--uvloop] [--stay] [START_FILE]

An asyncio TCP echo server and a few clients on 127.0.0.1 exchange small
messages, with asyncio.sleep timers in between, for S seconds (default 3)
after START_FILE appears (immediately without START_FILE), then exit 0.
Prints "ready <pid>" once the loop runs and a warm-up exchange is done, so
that imports and first-use costs are over before anyone traces it.
The test asserts the tool reports no blocking call >= 10 ms.

Standard library only; runs on CPython 3.8 to 3.13.
"""
import argparse
import asyncio
import os
import signal
import sys
import time

CLIENTS = 3
PERIOD_S = 0.02


async def handle_echo(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line)
            await writer.drain()
    finally:
        writer.close()


async def client(port, name, until, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    while time.monotonic() < until:
        msg = ("%s %d\n" % (name, n)).encode()
        writer.write(msg)
        await writer.drain()
        if await reader.readline() != msg:
            raise RuntimeError("echo mismatch")
        n += 1
        await asyncio.sleep(PERIOD_S)
    writer.close()
    counts[name] = n


async def ticker(until):
    while time.monotonic() < until:
        await asyncio.sleep(0.005)


async def main(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Warm-up: first use of streams, sockets and timers before "ready".
    await client(port, "warmup", time.monotonic() + 0.1, {})

    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    if args.start_file:
        while not os.path.exists(args.start_file):
            if stop.is_set():
                return 0
            await asyncio.sleep(0.01)
    until = time.monotonic() + args.seconds
    counts = {}
    await asyncio.gather(ticker(until),
                         *[client(port, "client-%d" % i, until, counts) for i in range(CLIENTS)])
    server.close()
    await server.wait_closed()
    if args.stay:
        await stop.wait()
    sys.stdout.write("done %s\n" % " ".join("%s=%d" % kv for kv in sorted(counts.items())))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--stay", action="store_true", help="stay idle until SIGTERM afterwards")
    ap.add_argument("start_file", nargs="?")
    a = ap.parse_args()
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.exit(asyncio.run(main(a)))
