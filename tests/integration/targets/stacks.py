#!/usr/bin/env python3
"""Scenario target: blocking calls and a CPU hog at known Python stacks.

Usage: stacks.py [--stay] [--gap S] GROUND_TRUTH_JSON START_FILE

Same protocol as blocking.py (ready line, START_FILE, ground truth JSON,
--stay). Each step runs one operation from a loop callback (`handler`) or a
task step (`task_handler`), each operation in its own named function, and
records the Python stack the tool must report for it, innermost first, as
[qualname, co_filename, line] with the lines taken from the "# @mark:NAME"
comments of this file:

  legacy_sleep    time.sleep(0.2)                              kind sleep
  read_file_sync  os.read on a FIFO a thread feeds after 100 ms  kind other
                  (a pipe: the tool's kinds put pipes under "other")
  fetch_sync      connect + recv from a local server answering
                  after 150 ms (from a task)                   kind net
  run_subprocess  subprocess.run(["sleep", "0.1"]); the wait4 is
                  inside subprocess.py, so the stack starts with
                  library frames ("lib_prefix": "subprocess.py")  kind process
  cpu_bound       150 ms of pure Python arithmetic (slow callback,
                  no syscall); "cpu_lines" is the loop body's range
  nested          outer() -> middle() -> legacy_sleep()         kind sleep

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
import tempfile
import threading
import time

from marks import marks

GAP_S = 0.3
TAIL_S = 0.5
POLL_S = 0.01
START_TIMEOUT_S = 120


MARK = marks(os.path.abspath(__file__))
now = time.monotonic_ns


def native_tid():
    if hasattr(threading, "get_native_id"):
        return threading.get_native_id()
    import ctypes  # pragma: no cover
    return ctypes.CDLL(None, use_errno=True).syscall(186)


# --- the operations: each returns (kind, t0, t1, detail) ------------------------

def legacy_sleep():
    t0 = now()
    time.sleep(0.2)  # @mark:legacy_sleep
    return "sleep", t0, now(), None


def middle():
    return legacy_sleep()  # @mark:middle


def outer():
    return middle()  # @mark:outer


class Fifo:
    """A FIFO whose writer thread sends its data 100 ms after being started."""

    def __init__(self, delay=0.1):
        self.dir = tempfile.mkdtemp(prefix="stacks-fifo-")
        self.path = os.path.join(self.dir, "fifo")
        os.mkfifo(self.path)
        self.delay = delay
        self.go = threading.Event()
        self.th = threading.Thread(target=self._writer, name="fifo-writer", daemon=True)
        self.th.start()
        self.fd = os.open(self.path, os.O_RDONLY)  # returns once the writer opened

    def _writer(self):
        fd = os.open(self.path, os.O_WRONLY)
        self.go.wait()
        time.sleep(self.delay)
        os.write(fd, b"y" * 4096)
        os.close(fd)

    def close(self):
        self.th.join()
        os.close(self.fd)
        os.unlink(self.path)
        os.rmdir(self.dir)


def read_file_sync(fifo):
    fifo.go.set()
    t0 = now()
    data = os.read(fifo.fd, 4096)  # @mark:read_file_sync
    t1 = now()
    assert data, "empty FIFO read"
    return "other", t0, t1, fifo.path


class SlowServer:
    """127.0.0.1 server answering 150 ms after a client connects."""

    def __init__(self, delay=0.15):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.delay = delay
        self.th = threading.Thread(target=self._serve, name="slow-server", daemon=True)
        self.th.start()

    def _serve(self):
        c, _ = self.srv.accept()
        time.sleep(self.delay)
        c.sendall(b"pong")
        c.close()

    def close(self):
        self.th.join()
        self.srv.close()


def fetch_sync(server):
    cli = socket.create_connection(("127.0.0.1", server.port))
    t0 = now()
    data = cli.recv(4)  # @mark:fetch_sync
    t1 = now()
    cli.close()
    assert data == b"pong", data
    return "net", t0, t1, "127.0.0.1:%d" % server.port


def run_subprocess():
    t0 = now()
    subprocess.run(["sleep", "0.1"], check=True)  # @mark:run_subprocess
    return "process", t0, now(), None


def cpu_bound(secs=0.15):
    mono = time.monotonic_ns
    t0 = mono()
    end = t0 + int(secs * 1e9)
    x, n = 1, 0
    while mono() < end:  # @mark:cpu_first
        x = (x * 1103515245 + 12345) % 2147483648
        n += 1  # @mark:cpu_last
    return "cpu", t0, mono(), None


# --- steps ------------------------------------------------------------------------
# name -> (function, its stack under the caller: [(qualname, mark)], via, setup)

STEPS = [
    ("sleep", legacy_sleep, [("legacy_sleep", "legacy_sleep")], "callback", None),
    ("fifo", read_file_sync, [("read_file_sync", "read_file_sync")], "callback", Fifo),
    ("net", fetch_sync, [("fetch_sync", "fetch_sync")], "task", SlowServer),
    ("process", run_subprocess, [("run_subprocess", "run_subprocess")], "callback", None),
    ("cpu", cpu_bound, [("cpu_bound", "cpu_first")], "callback", None),
    ("nested", outer, [("legacy_sleep", "legacy_sleep"), ("middle", "middle"),
                       ("outer", "outer")], "callback", None),
]


def handler(fut, fn, arg):
    try:
        res = fn(arg) if arg is not None else fn()  # @mark:handler
    except BaseException as e:
        fut.set_exception(e)
        return
    fut.set_result(res)


async def task_handler(fn, arg):
    return fn(arg) if arg is not None else fn()  # @mark:task_handler


def write_json_atomic(path, obj):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


async def wait_for_file(path, stop, timeout=START_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline or stop.is_set():
            return False
        await asyncio.sleep(POLL_S)
    return True


async def run(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    src = legacy_sleep.__code__.co_filename
    truth = {
        "target": "stacks",
        "pid": os.getpid(),
        "loop_tid": native_tid(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "file": src,
        "marks": MARK,
        "cpu_lines": [MARK["cpu_first"], MARK["cpu_last"]],
        "events": [],
    }
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    if not await wait_for_file(args.start_file, stop):
        if stop.is_set():
            return 0
        sys.stderr.write("stacks.py: %s never appeared\n" % args.start_file)
        return 2
    truth["started_ns"] = now()
    for op, fn, inner, via, setup in STEPS:
        res = setup() if setup else None
        try:
            if via == "callback":
                fut = loop.create_future()
                loop.call_later(args.gap, handler, fut, fn, res)
                kind, t0, t1, detail = await fut
                caller = ("handler", "handler")
            else:
                await asyncio.sleep(args.gap)
                t = loop.create_task(task_handler(fn, res))
                kind, t0, t1, detail = await t
                caller = ("task_handler", "task_handler")
        finally:
            if res is not None:
                res.close()
        stack = [[q, src, MARK[m]] for q, m in inner + [caller]]
        truth["events"].append({
            "op": op, "kind": kind, "tid": native_tid(), "via": via,
            "start_ns": t0, "end_ns": t1, "detail": detail, "stack": stack,
            "lib_prefix": "subprocess.py" if op == "process" else None,
        })
    await asyncio.sleep(TAIL_S)
    truth["finished_ns"] = now()
    write_json_atomic(args.ground_truth, truth)
    if args.stay:
        await stop.wait()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("--gap", type=float, default=GAP_S)
    ap.add_argument("ground_truth")
    ap.add_argument("start_file")
    args = ap.parse_args()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
