#!/usr/bin/env python3
"""Stuck target: the loop stalls in time.sleep for longer than any trace.

Usage: stuck.py [--uvloop] [--worker] [--spin | --recv] GO_FILE GROUND_TRUTH_JSON

Prints "ready <pid>" with the loop running (a 10 ms ticker). Once GO_FILE
appears, a callback (stuck) writes the ground truth (CLOCK_MONOTONIC ns:
the loop's tid, the sleep's start, the line of the sleep call) and calls
time.sleep(STUCK_S), which outlasts the test; --spin: it spins in Python
instead, with no syscall (the line is then the spinning one); --recv: it
waits in a recv on a TCP socket connected to a listener on 127.0.0.1 that
never sends (the ground truth adds the peer). --worker: a
thread that is not a loop sleeps as long from the start (not to be
reported). Runs until killed.

Standard library only; CPython 3.8+ (and uvloop).
"""
import asyncio
import json
import os
import socket
import sys
import threading
import time

STUCK_S = 120


def spin():
    n = 0
    while True: n += 1  # noqa: E701  # SPIN LINE


def stuck(truth_path, spinning):
    recv = "--recv" in sys.argv
    truth = {"pid": os.getpid(), "loop_tid": threading.get_native_id(),
             "start_ns": time.monotonic_ns(),
             "line": LINES["SPIN" if spinning else "RECV" if recv else "STUCK"],
             "function": "spin" if spinning else "stuck"}
    if recv:
        # connected through the listener's backlog: no accept, nothing ever sent
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname())
        truth["peer"] = "127.0.0.1:%d" % listener.getsockname()[1]
    with open(truth_path + ".tmp", "w") as f:
        json.dump(truth, f)
    os.replace(truth_path + ".tmp", truth_path)
    if spinning:
        spin()
    if recv:
        client.recv(1)  # RECV LINE
    time.sleep(STUCK_S)  # STUCK LINE


with open(__file__) as _f:
    LINES = {l.rstrip().rsplit("# ", 1)[1].split()[0]: i for i, l in enumerate(_f, 1)
             if l.rstrip().endswith(" LINE")}


async def main(go, truth_path, spinning):
    print("ready %d" % os.getpid(), flush=True)
    while not os.path.exists(go):
        await asyncio.sleep(0.01)
    asyncio.get_running_loop().call_soon(stuck, truth_path, spinning)
    while True:
        await asyncio.sleep(0.01)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--worker" in sys.argv:
        threading.Thread(target=time.sleep, args=(STUCK_S,), daemon=True).start()
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    asyncio.run(main(*args, "--spin" in sys.argv))
