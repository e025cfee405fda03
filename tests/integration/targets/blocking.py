#!/usr/bin/env python3
"""Scenario target: an asyncio loop that blocks itself at known times.

Usage: blocking.py [-c CASE] [--uvloop] [--stay] GROUND_TRUTH_JSON START_FILE
       blocking.py -l

Protocol (shared by every target in this directory):
  1. start the event loop, print "ready <pid>" on stdout;
  2. poll asynchronously (every 10 ms) until START_FILE exists;
  3. run the case's steps, GAP seconds of idle loop before each one;
  4. idle 0.5 s, write GROUND_TRUTH_JSON atomically, exit 0
     (with --stay: keep the loop idle until SIGTERM/SIGINT).

Each step runs one blocking operation from a loop callback (call_later) or a
task step, and records what happened as seen from inside the process:
kind (the tool's blocking-call kind it must be reported as), tid, and the
time.monotonic_ns() interval around the blocking call. `main` is the interval
of the one syscall expected to dominate (for "file": the longer of write and
fsync); tests compare the tool's longest call of that kind with it.

Standard library only; runs on CPython 3.8 to 3.13.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

GAP_S = 0.3          # idle loop before each step
TAIL_S = 0.5         # idle loop after the last step
POLL_S = 0.01        # START_FILE polling period
START_TIMEOUT_S = 120  # give up (exit 2) if never started: never linger


def native_tid():
    if hasattr(threading, "get_native_id"):
        return threading.get_native_id()
    import ctypes  # pragma: no cover (CPython < 3.8)
    return ctypes.CDLL(None, use_errno=True).syscall(186)  # SYS_gettid, x86-64


def now():
    return time.monotonic_ns()


# --- blocking operations: each named, each returns (kind, main, phases, detail) ---

def blocking_sleep(secs=0.2):
    t0 = now()
    time.sleep(secs)
    t1 = now()
    return "sleep", (t0, t1), [("clock_nanosleep", t0, t1)], None


def blocking_file(path, size=4 << 20):
    data = b"x" * size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        t0 = now()
        os.write(fd, data)
        t1 = now()
        os.fsync(fd)
        t2 = now()
    finally:
        os.close(fd)
        os.unlink(path)
    main = (t0, t1) if t1 - t0 >= t2 - t1 else (t1, t2)
    return "file", main, [("write", t0, t1), ("fsync", t1, t2)], path


def blocking_process(secs="0.1"):
    t0 = now()
    subprocess.run(["sleep", secs], check=True)
    t1 = now()
    return "process", (t0, t1), [("subprocess.run", t0, t1)], None


def blocking_lock(hold=0.15):
    """Wait on a threading.Lock a helper thread holds (futex on the loop thread)."""
    lock = threading.Lock()
    held = threading.Event()

    def holder():
        with lock:
            held.set()
            time.sleep(hold)

    th = threading.Thread(target=holder, name="lock-holder")
    th.start()
    held.wait()
    t0 = now()
    lock.acquire()
    t1 = now()
    lock.release()
    th.join()
    return "lock", (t0, t1), [("futex", t0, t1)], None


def blocking_net(delay=0.15):
    """A synchronous socket client waiting for a slow local server."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def server():
        c, _ = srv.accept()
        time.sleep(delay)
        c.sendall(b"pong")
        c.close()

    th = threading.Thread(target=server, name="slow-server")
    th.start()
    cli = socket.create_connection(("127.0.0.1", port))
    t0 = now()
    cli.recv(4)
    t1 = now()
    cli.close()
    th.join()
    srv.close()
    return "net", (t0, t1), [("recvfrom", t0, t1)], "127.0.0.1:%d" % port


def cpu_burn(secs=0.15):
    """Pure CPU: no syscall, only loop lag."""
    t0 = now()
    end = t0 + int(secs * 1e9)
    n = 0
    while now() < end:
        n += 1
    t1 = now()
    return "cpu", (t0, t1), [], None


def short_sleeps(count=20, secs=0.005):
    t0 = now()
    for _ in range(count):
        time.sleep(secs)
    t1 = now()
    return "sleep", (t0, t1), [("clock_nanosleep", t0, t1)], "%d x %g s" % (count, secs)


# --- the case table: name -> (description, [(op, via), ...]) ---
# op is a key of OPS; via is "callback" (loop.call_later) or "task".

OPS = {
    "sleep": lambda ctx: blocking_sleep(0.2),
    "file": lambda ctx: blocking_file(ctx["scratch"]),
    "process": lambda ctx: blocking_process("0.1"),
    "lock": lambda ctx: blocking_lock(0.15),
    "net": lambda ctx: blocking_net(0.15),
    "cpu": lambda ctx: cpu_burn(0.15),
    "short-sleeps": lambda ctx: short_sleeps(20, 0.005),
}

CASES = {
    "basic": ("time.sleep(0.2), 4 MB write+fsync, subprocess.run(sleep 0.1)",
              [("sleep", "callback"), ("file", "callback"), ("process", "task")]),
    "sleep": ("time.sleep(0.2) from a call_later callback", [("sleep", "callback")]),
    "sleep-task": ("time.sleep(0.2) inside a task step", [("sleep", "task")]),
    "file": ("4 MB write + fsync from a callback", [("file", "callback")]),
    "process": ("subprocess.run(['sleep','0.1']) in a task", [("process", "task")]),
    "lock": ("threading.Lock held 150 ms by another thread", [("lock", "callback")]),
    "net": ("sync socket recv from a server answering after 150 ms", [("net", "task")]),
    "cpu": ("150 ms CPU loop (lag without a syscall)", [("cpu", "callback")]),
    "short-sleeps": ("20 x time.sleep(0.005) (threshold checks)", [("short-sleeps", "callback")]),
    "all": ("every operation once, alternating callback and task",
            [(op, "callback" if i % 2 == 0 else "task")
             for i, op in enumerate(["sleep", "file", "process", "lock", "net", "cpu"])]),
}


def run_op(op, ctx):
    kind, main, phases, detail = OPS[op](ctx)
    return {
        "op": op,
        "kind": kind,
        "tid": native_tid(),
        "start_ns": phases[0][1] if phases else main[0],
        "end_ns": phases[-1][2] if phases else main[1],
        "main": {"start_ns": main[0], "end_ns": main[1]},
        "phases": [{"name": n, "start_ns": a, "end_ns": b} for n, a, b in phases],
        "detail": detail,
    }


def write_json_atomic(path, obj):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
    os.replace(tmp, path)


async def wait_for_file(path, stop, timeout=START_TIMEOUT_S):
    """True once path exists; False on timeout or SIGTERM/SIGINT (stop set)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline or stop.is_set():
            return False
        await asyncio.sleep(POLL_S)
    return True


def announce_ready():
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()


async def step_task(op, ctx):
    return run_op(op, ctx)


def step_callback(fut, op, ctx):
    try:
        rec = run_op(op, ctx)
    except BaseException as e:  # report it to the driver rather than to the loop
        fut.set_exception(e)
        return
    fut.set_result(rec)


async def run_case(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    truth = {
        "target": "blocking",
        "case": args.case,
        "pid": os.getpid(),
        "loop_tid": native_tid(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "loop_class": type(loop).__module__ + "." + type(loop).__qualname__,
        "uvloop": bool(args.uvloop),
        "events": [],
    }
    announce_ready()
    if not await wait_for_file(args.start_file, stop):
        if stop.is_set():
            return 0
        sys.stderr.write("blocking.py: %s never appeared\n" % args.start_file)
        return 2
    truth["started_ns"] = now()
    ctx = {"scratch": os.path.join(os.path.dirname(os.path.abspath(args.ground_truth)),
                                   ".blocking-scratch.%d" % os.getpid())}
    for i, (op, via) in enumerate(CASES[args.case][1]):
        fut = loop.create_future()
        if via == "callback":
            loop.call_later(args.gap, step_callback, fut, op, ctx)
            rec = await fut
        else:
            await asyncio.sleep(args.gap)
            t = loop.create_task(step_task(op, ctx))
            if hasattr(t, "set_name"):
                t.set_name("step-%d-%s" % (i, op))
            rec = await t
        rec["via"] = via
        truth["events"].append(rec)
    await asyncio.sleep(TAIL_S)
    truth["finished_ns"] = now()
    write_json_atomic(args.ground_truth, truth)
    if args.stay:
        await stop.wait()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-l", "--list", action="store_true", help="list the cases and exit")
    ap.add_argument("-c", "--case", default="basic", help="case to run (default basic)")
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop")
    ap.add_argument("--stay", action="store_true", help="stay idle until SIGTERM after the case")
    ap.add_argument("--gap", type=float, default=GAP_S, help="idle seconds before each step")
    ap.add_argument("ground_truth", nargs="?")
    ap.add_argument("start_file", nargs="?")
    args = ap.parse_args()
    if args.list:
        for name, (desc, steps) in CASES.items():
            print("%-13s %s  [%s]" % (name, desc, ", ".join("%s/%s" % s for s in steps)))
        return 0
    if args.case not in CASES:
        ap.error("unknown case %r (-l lists them)" % args.case)
    if not args.ground_truth or not args.start_file:
        ap.error("GROUND_TRUTH_JSON and START_FILE are required")
    if args.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(run_case(args))


if __name__ == "__main__":
    sys.exit(main())
