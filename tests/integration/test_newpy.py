#!/usr/bin/env python3
"""CPython 3.14 and 3.15 as Debian sid ships them (static, stripped), run in
a chroot of tests/roots/mkroot.py's sid root: the tool reads and checks the
interpreter's own _Py_DebugOffsets and _asyncio's from the live process,
with the fields they lack from Debian's DWARF. In full mode (the default,
the uprobe backend) and in light mode: the lag, each blocking call with its
Python stack (file and line, through 3.14's tagged frame references and
3.15's thread-local thread state) and its task by name; in full mode also
every step of the task and the slow ones.

    python3 tests/integration/test_newpy.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py; the root is built by `make roots`.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    MS,
    TOOL,
    check_frames,
    ROOT,
    TARGETS,
    Proc,
    check,
    finish_tool,
    main_for,
    registrar,
    sid_root,
    start_tool,
    the_process,
)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets"))
from marks import marks  # noqa: E402

TESTS = []
test = registrar(TESTS)
IN_ROOT = "/tmp/asyncprof-test"
TARGET_IN_ROOT = IN_ROOT + "/newpy_sleep.py"


def start_target(ctx, minor, container=False, uvloop=False, script="newpy_sleep.py",
                 args=("--seconds", "30")):
    """script (newpy_sleep.py) under the root's python3.minor: (target, pid,
    version, ready match). container: in its own mount and PID namespaces
    (unshare), where it is pid 1; pid is then the host's, found by its NSpid."""
    root = sid_root()
    py = "/usr/bin/python3.%d" % minor
    version = subprocess.run(["chroot", root, py, "-c",
                              "import platform; print(platform.python_version())"],
                             stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    # the target's files inside the root, where the chrooted interpreter sees them
    tdir = os.path.dirname(root + TARGET_IN_ROOT)
    os.makedirs(tdir, exist_ok=True)
    shutil.copy(os.path.join(TARGETS, script), tdir)
    argv = ["chroot", root, py, os.path.join(IN_ROOT, script)] + list(args) + (
        ["--uvloop"] if uvloop else [])
    if container:
        # --kill-child: the namespace's init goes with unshare when the test kills it
        argv = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"] + argv
    target = Proc(ctx, "target", argv)
    ready = target.wait_line("stdout", r"^ready (\d+)(?: (\d+))?", 30)
    pid = int(ready.group(1))
    if container:
        check(pid == 1, "the target says it is pid %d in its namespace, expected 1", pid)
        pid = child_in_namespace(target.pid)
    return target, pid, version, ready


def child_in_namespace(parent):
    """The host pid of parent's child that is pid 1 of its own PID namespace."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d) as f:
                st = dict(l.split(":", 1) for l in f if ":" in l)
        except OSError:
            continue
        nspid = st.get("NSpid", "").split()
        if st.get("PPid", "").strip() == str(parent) and len(nspid) > 1 and nspid[-1] == "1":
            return int(d)
    check(False, "no child of unshare (pid %d) is pid 1 of its own PID namespace", parent)


def check_loop_and_sleeps(p, pid, version, kind="asyncio"):
    """The loop on the main thread, its lag, the 200 ms sleeps: the sleeps."""
    check(p["runtime"] == "cpython" and p["runtime_version"] == version,
          "runtime %s %s, expected cpython %s", p["runtime"], p["runtime_version"], version)
    check(p["loops"] and p["loops"][0]["kind"] == kind and p["loops"][0]["tid"] == pid,
          "loops %s: expected the %s loop on the main thread", p["loops"], kind)
    check(p["loops"][0]["lag"]["max_ns"] >= 190 * MS, "lag max %.1f ms < 190 ms",
          p["loops"][0]["lag"]["max_ns"] / MS)
    sleeps = [b for b in p["blocking_calls"]
              if b["kind"] == "sleep" and b["syscall"] == "clock_nanosleep"
              and 190 * MS <= b["duration_ns"] <= 400 * MS and b["tid"] == pid]
    check(len(sleeps) >= 5, "%d sleeps of ~200 ms in 3 s (one every 0.3 s): %s",
          len(sleeps), [(b["kind"], b["syscall"], b["duration_ns"] // MS)
                        for b in p["blocking_calls"]][:8])
    return sleeps


def check_sleeps_attributed(p, sleeps, minor, window_start, caller="Handle._run"):
    """Each sleep has its Python stack and the task named 'sleeper' (its coroutine).
    caller: the qualname of the frame below the coroutine's (uvloop runs handles from
    C: asyncio's Runner.run is next), in asyncio's own files."""
    mark = marks(os.path.join(TARGETS, "newpy_sleep.py"))["sleep"]
    names = {t["id"]: t["name"] for t in p["tasks"]}
    for b in sleeps:
        check_frames("sleep at %+d ms" % ((b["start_ns"] - window_start) // MS),
                     b["stack"], 0, [("sleeper", TARGET_IN_ROOT, mark)])
        want = "%s (/usr/lib/python3.%d/asyncio/" % (caller, minor)
        check(len(b["stack"]) > 1 and b["stack"][1].startswith(want),
              "frame #1 %r, expected %s...)", b["stack"][1:2], want)
        check(names.get(b["task"]) == "sleeper", "the sleep's task %r (%r), expected the"
              " task named 'sleeper'; tasks %s", b["task"], names.get(b["task"]),
              sorted(names.values()))
        check(b["callback"] == "sleeper", "callback %r, expected the coroutine 'sleeper'",
              b["callback"])


def newpy_test(minor):
    """Full mode (the default): the uprobe backend, every step of the task."""
    def fn(ctx):
        target, pid, version, _ = start_target(ctx, minor)
        tool = start_tool(ctx, pid, duration=3, extra=["-v"])
        report = finish_tool(tool, 40)
        err = "\n".join(tool.stderr_lines())
        check("_Py_DebugOffsets of CPython %s read and checked" % version in err,
              "the tool did not say it read %s's debug offsets: %s", version,
              tool.tail("stderr", 5))
        check("_asyncio's debug offsets read and checked" in err,
              "the tool did not say it read _asyncio's debug offsets: %s", tool.tail("stderr", 5))
        check("warning" not in err, "the tool warned: %s",
              [l for l in tool.stderr_lines() if "warning" in l])
        p = the_process(report, pid)
        check(p["backend"] == "uprobe", "backend %r, expected uprobe", p["backend"])
        sleeps = check_loop_and_sleeps(p, pid, version)
        check_sleeps_attributed(p, sleeps, minor, report["window"]["start_ns"])
        tasks = [t for t in p["tasks"] if t["name"] == "sleeper"]
        check(tasks, "no task named 'sleeper': %s", [t["name"] for t in p["tasks"]])
        t = tasks[0]
        # a step every 0.3 s, each ~200 ms of it blocked in the sleep
        check(t["coro"] == "sleeper" and t["state"] == "pending" and t["steps"] >= 5 and
              t["blocked_ns"] >= 5 * 190 * MS and t["max_step_ns"] >= 190 * MS,
              "task %s: expected coro sleeper, pending, >= 5 steps of ~200 ms blocked",
              {k: t[k] for k in ("coro", "state", "steps", "blocked_ns", "max_step_ns")})
        slow = [s for s in p["slow_callbacks"] if s["task"] == t["id"]]
        check(len(slow) >= 5 and all(s["duration_ns"] >= 190 * MS for s in slow),
              "%d slow callbacks of the task (expected its ~200 ms steps)", len(slow))
        target.kill()
    TESTS.append(("newpy-debian-sid-3.%d" % minor, fn))


def newpy_container_test(minor):
    """In its own mount and PID namespaces: --list and --pid find it by its host
    pid, which every output gives, with ns_pid 1 beside it; full mode as above;
    system-wide light mode finds it too."""
    def fn(ctx):
        target, pid, version, _ = start_target(ctx, minor, container=True)
        out = subprocess.run([TOOL, "--list"], stdout=subprocess.PIPE, text=True).stdout
        row = [l.split() for l in out.splitlines() if l.split()[:1] == [str(pid)]]
        check(row and row[0][2:4] == ["cpython", version], "--list: %s, expected pid %d as"
              " cpython %s", row, pid, version)
        tool = start_tool(ctx, pid, duration=3)
        report = finish_tool(tool, 40)
        p = the_process(report, pid)
        check(p["ns_pid"] == 1, "ns_pid %r, expected 1", p.get("ns_pid"))
        check(p["backend"] == "uprobe", "backend %r, expected uprobe", p["backend"])
        sleeps = check_loop_and_sleeps(p, pid, version)
        check_sleeps_attributed(p, sleeps, minor, report["window"]["start_ns"])
        # system-wide (light mode), limited to the interpreter's name
        sw = ctx.path("systemwide.json")
        tool = Proc(ctx, "tool-sw", [TOOL, "--comm", "python3.%d" % minor, "-d", "3",
                                     "--no-live", "-q", "-o", "json:" + sw])
        check(tool.wait(60) == 0, "system-wide run failed: %s", tool.tail("stderr", 5))
        with open(sw) as f:
            rep = json.load(f)
        p = the_process(rep, pid)
        check(p["ns_pid"] == 1, "system-wide: ns_pid %r, expected 1", p.get("ns_pid"))
        sleeps = check_loop_and_sleeps(p, pid, version)
        check_sleeps_attributed(p, sleeps, minor, rep["window"]["start_ns"])
        target.kill()
    TESTS.append(("newpy-container-debian-sid-3.%d" % minor, fn))


def newpy_uvloop_test(minor):
    """uvloop (Debian sid's python3-uvloop), full mode: its dispatch probes found in
    the stripped interpreter and _asyncio (TaskStepMethWrapper through its
    PyType_Spec), the task's steps, the sleeps with stack and task."""
    def fn(ctx):
        target, pid, version, _ = start_target(ctx, minor, uvloop=True)
        tool = start_tool(ctx, pid, duration=3)
        report = finish_tool(tool, 40)
        p = the_process(report, pid)
        check(p["backend"] == "uprobe" and p["loops"] and p["loops"][0]["kind"] == "uvloop",
              "backend %r, loops %s: expected uprobe on uvloop", p["backend"],
              [l["kind"] for l in p["loops"]])
        sleeps = check_loop_and_sleeps(p, pid, version, kind="uvloop")
        check_sleeps_attributed(p, sleeps, minor, report["window"]["start_ns"],
                                caller="Runner.run")
        t = [t for t in p["tasks"] if t["name"] == "sleeper"]
        check(t and t[0]["steps"] >= 5, "task sleeper: %s", t)
        target.kill()
    TESTS.append(("newpy-uvloop-debian-sid-3.%d" % minor, fn))


def wait_port(port, timeout):
    """Until the service accepts connections on port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            check(time.monotonic() < deadline, "nothing listens on port %d after %d s", port,
                  timeout)
            time.sleep(0.1)


def get_all(port, n):
    """n GET /block, one after the other (each blocks the loop 100 ms)."""
    for _ in range(n):
        with urllib.request.urlopen("http://127.0.0.1:%d/block" % port, timeout=10) as r:
            check(r.status == 200, "GET /block: %d", r.status)


def task_at(p, tid, ns):
    """The task of id tid running at ns, the last to start before it: a finished
    Task's address comes back for a new one (each request has its own), so an id
    alone may name several."""
    c = [t for t in p["tasks"] if t["id"] == tid and t["first_run_ns"] <= ns]
    return max(c, key=lambda t: t["first_run_ns"]) if c else None


def newpy_web_test(minor, framework, handler_mark, handler, task_coro):
    """A web service in its own namespaces, full mode: each request's blocking
    time.sleep with its stack down to the handler and the request's task
    (task_coro: the framework's coroutine that runs a request)."""
    def fn(ctx):
        target, pid, version, ready = start_target(
            ctx, minor, container=True, script="web_block.py",
            args=("--framework", framework, "--seconds", "60"))
        port = int(ready.group(2))
        wait_port(port, 30)
        get_all(port, 1)  # up and serving: the first request warms it up
        tool = start_tool(ctx, pid, duration=4)
        get_all(port, 8)
        report = finish_tool(tool, 40)
        p = the_process(report, pid)
        check(p["backend"] == "uprobe", "backend %r, expected uprobe", p["backend"])
        sleeps = [b for b in p["blocking_calls"] if b["kind"] == "sleep"
                  and 95 * MS <= b["duration_ns"] <= 300 * MS and b["tid"] == pid]
        check(len(sleeps) >= 8, "%d sleeps of ~100 ms for 8 requests: %s", len(sleeps),
              [(b["kind"], b["syscall"], b["duration_ns"] // MS)
               for b in p["blocking_calls"]][:10])
        marks_ = marks(os.path.join(TARGETS, "web_block.py"))
        script = IN_ROOT + "/web_block.py"
        for b in sleeps:
            check_frames("request sleep", b["stack"], 0,
                         [("blocking_work", script, marks_["web_sleep"]),
                          (handler, script, marks_[handler_mark])])
            t = task_at(p, b["task"], b["start_ns"])
            check(t and t["coro"] == task_coro, "the sleep's task %s, expected one running %s",
                  t and {k: t[k] for k in ("name", "coro")}, task_coro)
        target.kill()
    TESTS.append(("newpy-%s-debian-sid-3.%d" % (framework, minor), fn))


def newpy_light_test(minor):
    """--mode light: each sleep with its Python stack and its task, by name."""
    def fn(ctx):
        target, pid, version, _ = start_target(ctx, minor)
        tool = start_tool(ctx, pid, duration=3, extra=["--mode", "light"])
        report = finish_tool(tool, 40)
        p = the_process(report, pid)
        check(report["config"]["mode"] == "light", "config.mode %r", report["config"]["mode"])
        sleeps = check_loop_and_sleeps(p, pid, version)
        check_sleeps_attributed(p, sleeps, minor, report["window"]["start_ns"])
        target.kill()
    TESTS.append(("newpy-light-debian-sid-3.%d" % minor, fn))


newpy_test(14)
newpy_test(15)
newpy_light_test(14)
newpy_light_test(15)
newpy_container_test(14)
newpy_container_test(15)
newpy_uvloop_test(14)  # sid builds uvloop for 3.14 only
for _minor in (14, 15):
    newpy_web_test(_minor, "fastapi", "fastapi_handler", "serve_fastapi.<locals>.block",
                   "RequestResponseCycle.run_asgi")
    newpy_web_test(_minor, "aiohttp", "aiohttp_handler", "serve_aiohttp.<locals>.block",
                   "RequestHandler.start")


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "CPython 3.14 and 3.15"))
