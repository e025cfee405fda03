#!/usr/bin/env python3
"""Where a tracer mode's cost goes: run time of each BPF program per operation.

    sudo python3 bench/bpf_cost.py [--workload steps-debian|steps-uvloop|steps-pyenv39]
                                   [--mode light|full] [--seconds S] [--control] [--json FILE]

Runs workload (a) with ticks (as bench/paired.py does, optionally with its
never-traced control on the same CPU), attaches asyncprof-bpf, turns on
kernel.bpf_stats_enabled for the window (restoring it after) and reads
`bpftool -j prog show` for the tracer's programs at its start and end:
runs per second, ns per run, and ns per operation of the target next to
the target's CPU per operation. BPF time is charged to whatever runs when
the program fires (the target for its syscalls and samples; any process,
the control too, for sched_switch). --idle traces an asyncio loop that
sleeps instead: then nearly every run is another process's, which gives
the cost of a run that is not the target's (to take out of the above).
Standard library and bpftool.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import paired
import run as bench


def prog_ids(pid):
    """Ids of the BPF programs pid holds, from its descriptors' fdinfo (this bpftool is
    built without the pids column, and other engineers' tracers load the same names)."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def prog_stats(tracer_pid):
    out = subprocess.run(["bpftool", "-j", "prog", "show"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    ids = prog_ids(tracer_pid)
    return {p["name"]: (p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in json.loads(out) if p["id"] in ids}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", default="steps-debian",
                    choices=["steps-debian", "steps-uvloop", "steps-pyenv39"])
    ap.add_argument("--mode", default="light", choices=["light", "full"])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--control", action="store_true")
    ap.add_argument("--idle", action="store_true",
                    help="trace a loop that sleeps: the cost of the other processes' runs")
    ap.add_argument("--json")
    a = ap.parse_args()
    py = bench.PYENV39 if a.workload == "steps-pyenv39" else bench.DEBIAN_PY
    args = [py, os.path.join(bench.HERE, "workload.py"), "steps", "--tasks",
            str(bench.STEPS_TASKS), "--ticks", str(paired.TICK)]
    if a.workload == "steps-uvloop":
        args.append("--uvloop")
    if a.idle:
        # an operation is one wake-up every 0.1 s
        args = [py, "-c", "import asyncio, os, time\nasync def m():\n"
                " print('ready', os.getpid(), flush=True)\n i = 0\n while True:\n"
                "  print('tick %f %d %f' % (time.monotonic(), i, time.process_time()),"
                " flush=True)\n  i += 1\n  await asyncio.sleep(0.1)\nasyncio.run(m())"]
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        was = f.read().strip()
    procs, tracer = [], None
    try:
        paired.start_copies(args, 2 if a.control else 1, procs)
        ticks = paired.Ticks(procs[0].stdout)
        with tempfile.TemporaryDirectory() as tmp:
            tracer = bench.Tracer(procs[0].pid_, a.mode, tmp)
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write("1")
            time.sleep(paired.SETTLE)
            t0, s0 = time.monotonic(), prog_stats(tracer.p.pid)
            time.sleep(a.seconds)
            t1, s1 = time.monotonic(), prog_stats(tracer.p.pid)
            w = ticks.window(t0, t1)
            tracer.stop()
            tracer = None
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(was)
        if tracer:
            tracer.stop()
        for p in procs:
            paired.stop(p)
    secs = t1 - t0
    rows = []
    print("%s, %s mode%s: %.0f ops/s, target CPU %.3f µs/op (%.0f %% of a CPU)"
          % (a.workload, a.mode, ", with control" if a.control else "", w["rate"],
             w["cpu_us_per_op"], 100 * w["cpu_frac"]))
    print("\n| program | runs/s | ns per run | ns per op | % of the target's CPU |")
    print("|---|---|---|---|---|")
    total = 0
    for name in sorted(s1):
        cnt = s1[name][0] - s0.get(name, (0, 0))[0]
        ns = s1[name][1] - s0.get(name, (0, 0))[1]
        if not cnt:
            continue
        per_op = ns / secs / w["rate"]
        total += per_op
        rows.append({"prog": name, "runs_per_s": cnt / secs, "ns_per_run": ns / cnt,
                     "ns_per_op": per_op})
        print("| %s | %.0f | %.0f | %.2f | %.2f |" % (name, cnt / secs, ns / cnt, per_op,
                                                      100 * per_op / (w["cpu_us_per_op"] * 1e3)))
    print("| all | | | %.2f | %.2f |" % (total, 100 * total / (w["cpu_us_per_op"] * 1e3)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": bench.machine(), "args": vars(a), "window": w,
                       "seconds": secs, "progs": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
