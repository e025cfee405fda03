#!/usr/bin/env python3
"""Native frames: a blocking call made from C (ctypes into libc, standing
in for a C extension) carries its native leaf frame next to the Python
stack. Runs on Debian's python3.11 and pyenv 3.11/3.12 when present.
Ends with "N passed, N failed, N skipped"
(harness.main_for: --list, --filter, --keep, -v).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (main_for: --list, --filter, artifacts)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("AP_TOOL", os.path.join(ROOT, "asyncprof-bpf"))
TARGET = """
import asyncio, ctypes, os, sys
libc = ctypes.CDLL("libc.so.6")
def c_ext_sleep():
    libc.usleep(150000)  # @native
async def main():
    print("ready", flush=True)
    while not os.path.exists(sys.argv[1]):
        await asyncio.sleep(0.01)
    asyncio.get_running_loop().call_soon(c_ext_sleep)
    await asyncio.sleep(0.5)
asyncio.run(main())
"""
PYTHONS = ["/usr/bin/python3.11"] + sorted(glob.glob("/root/.pyenv/versions/3.1[12]*/bin/python3"))


class Fail(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise Fail(msg % args)


def run(py):
    with tempfile.TemporaryDirectory() as d:
        script, go, out = os.path.join(d, "t.py"), os.path.join(d, "go"), os.path.join(d, "r.json")
        with open(script, "w") as f:
            f.write(TARGET)
        line = [i + 1 for i, l in enumerate(TARGET.splitlines()) if "@native" in l][0]
        target = subprocess.Popen([py, script, go], stdout=subprocess.PIPE, text=True)
        try:
            check(target.stdout.readline().strip() == "ready", "target did not start")
            tool = subprocess.Popen([TOOL, "--pid", str(target.pid), "-q", "--no-live", "-o",
                                     "json:" + out], stderr=subprocess.PIPE, text=True)
            check(tool.stderr.readline().startswith("Tracing"), "tool did not attach")
            open(go, "w").close()
            target.wait(timeout=30)
            check(tool.wait(timeout=30) == 0, "tool failed")
        finally:
            if target.poll() is None:
                target.kill()
        with open(out) as f:
            p = json.load(f)["processes"][0]
    calls = [b for b in p["blocking_calls"] if b["kind"] == "sleep" and b["duration_ns"] > 100e6]
    check(len(calls) == 1, "sleep calls: %s", [(b["syscall"], b["duration_ns"]) for b in calls])
    b = calls[0]
    check(b["native_stack"], "no native frames")
    leaf = b["native_stack"][0]
    check(leaf.endswith("(libc.so.6)") and "nanosleep+0x" in leaf, "native leaf %r", leaf)
    check(b["stack"] and b["stack"][0] == "c_ext_sleep (%s:%d)" % (script, line),
          "python stack %s (want c_ext_sleep at line %d)", b["stack"][:2], line)


def native_name(py):
    return "native-" + py.split("/")[-3] if "pyenv" in py else "native-debian-3.11"


# the interpreters this machine has (one test each)
TESTS = [(native_name(py), (lambda p: lambda ctx: run(p))(py))
         for py in PYTHONS if os.access(py, os.X_OK)]

if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "native stacks"))
