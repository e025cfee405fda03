#!/usr/bin/env python3
"""Where an asyncio callback ends: context_run's return (uretprobe) against its end points.

    sudo python3 bench/ctxrun_end/run.py [--rounds N]

The tool ends callbacks at plain uprobes on context_run's end points
(user/ctxend.c, docs/design.md); ASYNCPROF_CTX_END=ret keeps the
uretprobe. Workload (a) runs in interleaved rounds: untraced, full mode
with the uretprobe, full mode with the end points (the default, checked
for 200 callbacks first); medians of steps/s and of the target's CPU time
per step. (This began as a patch to the tool, which probed only the last
direct call before the first ret and so missed pyenv's tp_call path.)

context_run_at, exec_segment and end_offset (objdump, last direct call
only) are kept for bench/probe_floor/run.py.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import run as bench  # noqa: E402  (bench/run.py: run_steps, Tracer)

PYTHONS = [("debian-3.11", "/usr/bin/python3.11")]
if os.path.isdir("/root/.pyenv/versions"):
    _v = sorted(v for v in os.listdir("/root/.pyenv/versions") if v.startswith("3.11."))
    if _v:
        PYTHONS.append(("pyenv-" + _v[-1], "/root/.pyenv/versions/%s/bin/python3" % _v[-1]))


def context_run_at(tool, py):
    """(file, file offset of context_run) as the tool attaches it."""
    p = subprocess.Popen([py, "-c", "import asyncio,sys\nasync def m():\n print('ready',flush=True)"
                          "\n while True: await asyncio.sleep(0.01)\nasyncio.run(m())"],
                         stdout=subprocess.PIPE, text=True)
    try:
        p.stdout.readline()
        r = subprocess.run([tool, "--pid", str(p.pid), "--mode", "full", "-v", "-q", "--no-live",
                            "--duration", "0.2", "-o", "json:/dev/null"],
                           stderr=subprocess.PIPE, text=True, timeout=30)
        m = re.search(r"uprobe ap_context_run at (\S+)\+0x([0-9a-f]+)", r.stderr)
        if not m:
            raise RuntimeError("no context_run attach line: %s" % r.stderr[-300:])
        # the tool names the file by /proc/PID/map_files/...: the file, while PID lives
        path = os.path.realpath(m.group(1))
    finally:
        p.kill()
        p.wait()
    return path, int(m.group(2), 16)


def exec_segment(path):
    """(vaddr, file offset) of the executable LOAD segment."""
    out = subprocess.run(["readelf", "-lW", path], stdout=subprocess.PIPE, text=True).stdout
    for l in out.splitlines():
        f = l.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            return int(f[2], 16), int(f[1], 16)
    raise RuntimeError("no executable segment in %s" % path)


def end_offset(path, off):
    """File offset of the last direct call before context_run's first ret."""
    vaddr, foff = exec_segment(path)
    start = off - foff + vaddr
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--start-address=%#x" % start,
                          "--stop-address=%#x" % (start + 0x400), path],
                         stdout=subprocess.PIPE, text=True).stdout
    last = None
    for l in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", l)
        if not m:
            continue
        if m.group(2) == "ret":
            break
        if m.group(2) == "call" and not m.group(3).startswith("*"):
            last = int(m.group(1), 16)
    if last is None:
        raise RuntimeError("no direct call before ret in context_run of %s" % path)
    return last - vaddr + foff


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("| target | config | runs | steps/s (median) | ratio | µs per step | "
              "target CPU µs per step (ratio) |")
        print("|---|---|---|---|---|---|---|")
        for name, py in PYTHONS:
            runs = {"baseline": [], "full-uretprobe": [], "full-end-points": []}
            for rnd in range(a.rounds):
                for c in list(runs)[rnd % 3:] + list(runs)[:rnd % 3]:
                    os.environ.pop("ASYNCPROF_CTX_END", None)
                    if c == "full-uretprobe":
                        os.environ["ASYNCPROF_CTX_END"] = "ret"
                    r = bench.run_steps("baseline" if c == "baseline" else "full", py, False,
                                        tmp)
                    runs[c].append(r)
                    sys.stderr.write("%s %s %.0f steps/s\n" % (name, c, r["rate"]))
            os.environ.pop("ASYNCPROF_CTX_END", None)
            base = statistics.median(r["rate"] for r in runs["baseline"])
            bcpu = statistics.median(r["cpu_us_per_op"] for r in runs["baseline"])
            for c, rs in runs.items():
                rate = statistics.median(r["rate"] for r in rs)
                cpu = statistics.median(r["cpu_us_per_op"] for r in rs)
                print("| %s | %s | %d | %.0f | %.3f | %.2f | %.2f (%.2f) |"
                      % (name, c, len(rs), rate, rate / base, (1 / rate - 1 / base) * 1e6, cpu,
                         cpu / bcpu))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
