#!/usr/bin/env python3
"""CPython 3.14 and 3.15 as Debian sid ships them (static, stripped), run in
a chroot of tests/roots/mkroot.py's sid root: the tool reads and checks the
interpreter's own _Py_DebugOffsets and _asyncio's from the live process,
and, until the uprobe backend knows these versions, traces the loop with
the syscall backend: the lag and each blocking call with its kind and
syscall.

    python3 tests/integration/test_newpy.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py; the root is built by `make roots`.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    MS,
    ROOT,
    TARGETS,
    Proc,
    check,
    finish_tool,
    main_for,
    registrar,
    start_tool,
    the_process,
)

TESTS = []
test = registrar(TESTS)


def sid_root():
    """The sid root (built by make roots, else now)."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "roots", "mkroot.py"),
                          "--path", "sid"], stdout=subprocess.PIPE, text=True)
    check(out.returncode == 0, "no sid root (tests/roots/mkroot.py sid failed)")
    return out.stdout.strip().splitlines()[-1]


def newpy_test(minor):
    def fn(ctx):
        root = sid_root()
        py = "/usr/bin/python3.%d" % minor
        version = subprocess.run(["chroot", root, py, "-c",
                                  "import platform; print(platform.python_version())"],
                                 stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        # the target's file inside the root, where the chrooted interpreter sees it
        tdir = os.path.join(root, "tmp", "asyncprof-test")
        os.makedirs(tdir, exist_ok=True)
        shutil.copy(os.path.join(TARGETS, "newpy_sleep.py"), tdir)
        target = Proc(ctx, "target", ["chroot", root, py, "/tmp/asyncprof-test/newpy_sleep.py",
                                      "--seconds", "30"])
        pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
        tool = start_tool(ctx, pid, duration=3, extra=["-v"])
        report = finish_tool(tool, 40)
        err = "\n".join(tool.stderr_lines())
        check("_Py_DebugOffsets of CPython %s read and checked" % version in err,
              "the tool did not say it read %s's debug offsets: %s", version,
              tool.tail("stderr", 5))
        check("_asyncio's debug offsets read and checked" in err,
              "the tool did not say it read _asyncio's debug offsets: %s", tool.tail("stderr", 5))
        p = the_process(report, pid)
        check(p["runtime"] == "cpython" and p["runtime_version"] == version,
              "runtime %s %s, expected cpython %s", p["runtime"], p["runtime_version"], version)
        check(p["backend"] == "syscall", "backend %r: 3.%d has no uprobe backend yet",
              p["backend"], minor)
        check(p["loops"] and p["loops"][0]["kind"] == "asyncio" and p["loops"][0]["tid"] == pid,
              "loops %s: expected the asyncio loop on the main thread", p["loops"])
        check(p["loops"][0]["lag"]["max_ns"] >= 190 * MS, "lag max %.1f ms < 190 ms",
              p["loops"][0]["lag"]["max_ns"] / MS)
        sleeps = [b for b in p["blocking_calls"]
                  if b["kind"] == "sleep" and b["syscall"] == "clock_nanosleep"
                  and 190 * MS <= b["duration_ns"] <= 400 * MS and b["tid"] == pid]
        check(len(sleeps) >= 5, "%d sleeps of ~200 ms in 3 s (one every 0.3 s): %s",
              len(sleeps), [(b["kind"], b["syscall"], b["duration_ns"] // MS)
                            for b in p["blocking_calls"]][:8])
        target.kill()
    TESTS.append(("newpy-debian-sid-3.%d" % minor, fn))


newpy_test(14)
newpy_test(15)


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "CPython 3.14 and 3.15"))
