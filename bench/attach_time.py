#!/usr/bin/env python3
"""Time from exec to "Tracing" (probes attached), per mode.

    sudo python3 bench/attach_time.py [--runs N] [--modes full-asyncio,full-uvloop,light]
                                      [--json FILE]

Starts one idle target per loop kind (Debian python3.11: a loop whose one
task sleeps 100 ms again and again, on asyncio or on uvloop), then runs
asyncprof-bpf against it N times per mode, interleaved (every round runs
each mode once), and prints the median and maximum in ms with the load
average at the start and the end. The measure is bench/run.py's: exec to
the "Tracing" line on stderr. AP_TOOL picks the binary (default
./asyncprof-bpf at the repo root), to compare two builds. Standard library
only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: its Tracer times exec to "Tracing")

TARGET = """
import asyncio, sys
if sys.argv[1] == "uvloop":
    import uvloop
    uvloop.install()

async def main():
    print("ready", flush=True)
    while True:
        await asyncio.sleep(0.1)

asyncio.run(main())
"""

# mode name: (loop kind of the target, --mode)
MODES = {
    "full-asyncio": ("asyncio", "full"),
    "full-uvloop": ("uvloop", "full"),
    "light": ("asyncio", "light"),
}


def start_target(kind):
    p = subprocess.Popen([run.DEBIAN_PY, "-c", TARGET, kind], stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("target (%s) did not start" % kind)
    return p


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--json", help="write every run to this file")
    a = ap.parse_args()
    modes = a.modes.split(",")
    for m in modes:
        if m not in MODES:
            ap.error("unknown mode %r (one of %s)" % (m, ", ".join(MODES)))
    targets = {kind: start_target(kind) for kind in {MODES[m][0] for m in modes}}
    times = {m: [] for m in modes}
    load0 = loadavg()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(a.runs):
                for m in modes:
                    kind, mode = MODES[m]
                    t = run.Tracer(targets[kind].pid, mode, tmp)
                    times[m].append(t.attach_ms)
                    out = t.stop()
                    if out["rc"] != 0:
                        raise RuntimeError("asyncprof-bpf (%s) exited %d" % (m, out["rc"]))
    finally:
        for p in targets.values():
            p.kill()
            p.wait()
    load1 = loadavg()
    print("exec to \"Tracing\", %d runs per mode, load average %.1f -> %.1f" %
          (a.runs, load0, load1))
    print("| mode | median ms | max ms | runs (ms) |")
    print("|---|---|---|---|")
    for m in modes:
        xs = times[m]
        print("| %s | %.0f | %.0f | %s |" % (m, statistics.median(xs), max(xs),
                                           " ".join("%.0f" % x for x in xs)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"runs": times, "loadavg": [load0, load1]}, f, indent=1)


if __name__ == "__main__":
    main()
