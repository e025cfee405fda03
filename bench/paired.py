#!/usr/bin/env python3
"""Overhead of one tracer mode by paired, in-process alternation.

    sudo python3 bench/paired.py [--only WORKLOAD]... [--mode light|full|none] [--control]
                                 [--pairs N] [--window S] [--json FILE]
    python3 bench/paired.py --pool RUN.json...   (pairs of several runs together)

bench/run.py compares separate runs; on this shared 2-CPU VM two runs of
the same configuration differ by up to ±10 %, so it cannot show a 1-2 %
cost. Here one target runs for the whole measurement and prints its
cumulative operations and process CPU time every TICK s (workload.py
--ticks, fastapi_app.py PORT TICK). The tracer is attached and detached
in turn: off, on, off, on, ..., off. Each on window starts SETTLE s after
the tracer prints "Tracing" and each off window SETTLE s after it exited
(attach, detach and report writing are left out), and lasts --window s.
Every on window is compared with the mean of the off windows either side
of it, so a slow drift and a neighbour's load that lasts longer than a
few seconds cancel within the pair. The figures are the median of the
per-pair ratios (target CPU per operation on/off, operations per second
on/off) with a bootstrap 95 % confidence interval of that median.

--control also runs a second copy of the target on the same CPU, never
traced (for fastapi, a second server under a second wrk on wrk's CPU),
and divides each window's figures by the control's over the same window: the two processes share the CPU at the
scheduler's time slice, so a neighbour's load within a window, which the
pairing cannot remove, slows both alike. (The control still runs the
tracepoints' and the sampler's first test, that the pid is not traced:
that part of the cost is in both, and not measured.)

--mode none runs the same schedule without attaching anything (an A/A
test): its interval shows what the method itself can resolve.

Workloads: steps-debian, steps-uvloop, steps-pyenv39 (workload (a)) and
fastapi (workload (b), under a steady wrk load started before the first
window). The target runs on CPU 1, wrk on CPU 0, the tracer unpinned, as
in bench/run.py, whose helpers this reuses. Standard library only.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import shutil

import run as bench

TICK = 0.1
SETTLE = 0.5
BOOTSTRAP = 10000


class Ticks:
    """The target's "tick <mono> <ops> <cpu>" lines, read on a thread."""

    def __init__(self, stream):
        self.rows = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.t.start()

    def _read(self, stream):
        for line in stream:
            f = line.split()
            if len(f) == 4 and f[0] == "tick":
                with self.lock:
                    self.rows.append((float(f[1]), int(f[2]), float(f[3])))

    def window(self, t0, t1):
        """Operations per second and CPU µs per operation between t0 and t1."""
        with self.lock:
            rows = [r for r in self.rows if t0 <= r[0] <= t1]
        if len(rows) < 2 or rows[-1][1] == rows[0][1]:
            raise RuntimeError("no progress in window %.1f-%.1f" % (t0, t1))
        (m0, n0, c0), (m1, n1, c1) = rows[0], rows[-1]
        return {"t0": m0, "t1": m1, "ops": n1 - n0, "rate": (n1 - n0) / (m1 - m0),
                "cpu_us_per_op": (c1 - c0) / (n1 - n0) * 1e6, "cpu_frac": (c1 - c0) / (m1 - m0)}


def measure(ticks, control, seconds):
    t0 = time.monotonic()
    time.sleep(seconds)
    w = ticks.window(t0, time.monotonic())
    if control:
        w["control"] = control.window(t0, time.monotonic())
    return w


def alternate(pid, ticks, control, a, tmp):
    """off, on, off, ..., off: 2 * pairs + 1 windows."""
    offs, ons, tracer = [], [], []
    time.sleep(SETTLE)
    offs.append(measure(ticks, control, a.window))
    for i in range(a.pairs):
        t = None
        if a.mode != "none":
            t = bench.Tracer(pid, a.mode, tmp, a.tool_args.split())
        else:
            time.sleep(0.7)  # about the attach time, so the schedule is the same
        time.sleep(SETTLE)
        ons.append(measure(ticks, control, a.window))
        if t:
            tracer.append(t.stop())
        time.sleep(SETTLE)
        offs.append(measure(ticks, control, a.window))
        bench.log("  pair %2d: cpu/op %.4f (off %.4f, %.4f)  rate %.0f (off %.0f, %.0f)", i,
                  ons[-1]["cpu_us_per_op"], offs[-2]["cpu_us_per_op"], offs[-1]["cpu_us_per_op"],
                  ons[-1]["rate"], offs[-2]["rate"], offs[-1]["rate"])
    return offs, ons, tracer


def bootstrap_median(xs, seed=1):
    """Median of xs and a percentile bootstrap 95 % interval of it."""
    rnd = random.Random(seed)
    meds = sorted(statistics.median(rnd.choices(xs, k=len(xs))) for _ in range(BOOTSTRAP))
    return statistics.median(xs), meds[int(0.025 * BOOTSTRAP)], meds[int(0.975 * BOOTSTRAP) - 1]


def pair_ratios(offs, ons, key, controlled):
    """Each on window over the mean of the off windows either side (each first divided by
    the control's figure over the same window when controlled)."""
    def v(w):
        return w[key] / w["control"][key] if controlled else w[key]
    return [v(on) / ((v(offs[i]) + v(offs[i + 1])) / 2) for i, on in enumerate(ons)]


def summarise(offs, ons, tracer):
    out = {"pairs": len(ons), "controlled": "control" in ons[0]}
    for key in ("cpu_us_per_op", "rate"):
        ratios = pair_ratios(offs, ons, key, out["controlled"])
        m, lo, hi = bootstrap_median(ratios)
        out[key] = {"ratio": m, "ci95": [lo, hi], "ratios": ratios,
                    "off_median": statistics.median(o[key] for o in offs),
                    "on_median": statistics.median(o[key] for o in ons)}
        if out["controlled"]:
            # the same without the control, to show what it removes
            m, lo, hi = bootstrap_median(pair_ratios(offs, ons, key, False))
            out[key]["uncontrolled"] = {"ratio": m, "ci95": [lo, hi]}
    if tracer:
        out["tracer_cpu_pct"] = statistics.median(100 * t["cpu_s"] / t["window_s"] for t in tracer)
        out["drops"] = sum(t.get("drops_events", 0) + t.get("drops_stacks", 0) for t in tracer)
    return out


stop = bench.stop_app


def start_copies(args, n, procs):
    """Start n copies of workload argv args on the app's CPU into procs, each
    with its pid (from its "ready PID" line) in .pid_."""
    for _ in range(n):
        procs.append(subprocess.Popen(["taskset", "-c", str(bench.APP_CPU)] + args,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True))
        procs[-1].pid_ = int(procs[-1].stdout.readline().split()[1])


def run_steps(py, uvloop, a, tmp):
    args = [py, os.path.join(bench.HERE, "workload.py"), "steps", "--tasks",
            str(bench.STEPS_TASKS), "--ticks", str(TICK)] + (["--uvloop"] if uvloop else [])
    procs = []
    try:
        start_copies(args, 2 if a.control else 1, procs)
        control = Ticks(procs[1].stdout) if a.control else None
        return alternate(procs[0].pid_, Ticks(procs[0].stdout), control, a, tmp)
    finally:
        for p in procs:
            stop(p)


def start_fastapi(procs):
    """A FastAPI server on the app's CPU, into procs: (pid, port, its Ticks)."""
    port = bench.free_port()
    procs.append(subprocess.Popen(["taskset", "-c", str(bench.APP_CPU), bench.DEBIAN_PY,
                                   os.path.join(bench.HERE, "apps", "fastapi_app.py"), str(port),
                                   str(TICK)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True))
    pid = int(procs[-1].stdout.readline().split()[1])
    ticks = Ticks(procs[-1].stdout)
    bench.wait_port(port)
    return pid, port, ticks


def run_fastapi(a, tmp):
    """With --control, a second server on the same CPU under its own wrk (on wrk's CPU),
    never traced: as for (a), each window's CPU per request is divided by its."""
    procs, wrks = [], []
    try:
        servers = [start_fastapi(procs) for _ in range(2 if a.control else 1)]
        # one wrk per server for the whole schedule: its start-up is not in any window
        total = int(a.pairs * (2 * a.window + 3 * SETTLE + 2) + a.window + 10)
        for _, port, _ in servers:
            wrks.append(subprocess.Popen(["taskset", "-c", str(bench.WRK_CPU), "wrk", "-t1",
                                          "-c%d" % bench.WRK_CONNS, "-d%ds" % total,
                                          "http://127.0.0.1:%d/" % port],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2)  # warm-up
        control = servers[1][2] if a.control else None
        return alternate(servers[0][0], servers[0][2], control, a, tmp)
    finally:
        for p in wrks + procs:
            stop(p)


WORKLOADS = {
    "steps-debian": lambda a, t: run_steps(bench.DEBIAN_PY, False, a, t),
    "steps-uvloop": lambda a, t: run_steps(bench.DEBIAN_PY, True, a, t),
    "steps-pyenv39": lambda a, t: run_steps(bench.PYENV39, False, a, t),
    "fastapi": run_fastapi,
}


def fmt(r):
    return "%+.2f %% [%+.2f, %+.2f]" % ((r["ratio"] - 1) * 100, (r["ci95"][0] - 1) * 100,
                                         (r["ci95"][1] - 1) * 100)


def pool(paths):
    """One row per workload and mode over the pairs of several runs: the run-to-run spread,
    which a single run's interval does not include, is then in the interval."""
    runs = {}
    for path in paths:
        with open(path) as f:
            d = json.load(f)
        for name, w in d["workloads"].items():
            # controlled and uncontrolled ratios differ in spread: never pooled together
            key = (name, d["mode"] + (", control" if w["summary"].get("controlled") else ""))
            runs.setdefault(key, []).append(w["summary"])
    print("| workload | mode | runs | pairs | target CPU per op, on/off - 1 (95 % CI) | "
          "ops/s, on/off - 1 (95 % CI) |")
    print("|---|---|---|---|---|---|")
    for (name, mode), ss in sorted(runs.items()):
        row = []
        for key in ("cpu_us_per_op", "rate"):
            m, lo, hi = bootstrap_median([r for s in ss for r in s[key]["ratios"]])
            row.append(fmt({"ratio": m, "ci95": [lo, hi]}))
        print("| %s | %s | %d | %d | %s | %s |" % (name, mode, len(ss),
                                                  sum(s["pairs"] for s in ss), row[0], row[1]))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", choices=sorted(WORKLOADS))
    ap.add_argument("--mode", default="light", choices=["light", "full", "none"])
    ap.add_argument("--pairs", type=int, default=12)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--control", action="store_true",
                    help="a second, never traced target on the same CPU (for fastapi with its own "
                    "wrk); each "
                    "window's figure is the traced one's over the control's")
    ap.add_argument("--tool-args", default="", metavar="ARGS",
                    help="more asyncprof-bpf options, e.g. \"--frequency 99\"")
    ap.add_argument("--json", help="write every window here")
    ap.add_argument("--pool", nargs="+", metavar="JSON",
                    help="measure nothing: pool the pairs of earlier runs' JSON per workload")
    a = ap.parse_args()
    if a.pool:
        return pool(a.pool)
    if os.geteuid() != 0:
        sys.exit("bench/paired.py: needs root (BPF)")
    results = {"machine": bench.machine(), "mode": a.mode, "tool_args": a.tool_args,
               "pairs": a.pairs, "window_s": a.window,
               "settle_s": SETTLE, "tick_s": TICK, "workloads": {}}
    print("machine: %s" % json.dumps(results["machine"]))
    print("\n| workload | mode | pairs | control | target CPU per op, on/off - 1 (95 % CI) | "
          "ops/s, on/off - 1 (95 % CI) | without the control: CPU per op; ops/s | "
          "off: CPU µs/op, ops/s | tracer CPU % | drops |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        # a private copy: a rebuild of the tree must not change the tool mid-run
        shutil.copy2(bench.TOOL, os.path.join(tmp, "asyncprof-bpf"))
        bench.TOOL = os.path.join(tmp, "asyncprof-bpf")
        for name in a.only or list(WORKLOADS):
            bench.log("%s, %s: %d pairs of %.1f s windows", name, a.mode, a.pairs, a.window)
            offs, ons, tracer = WORKLOADS[name](a, tmp)
            s = summarise(offs, ons, tracer)
            results["workloads"][name] = {"summary": s, "off": offs, "on": ons, "tracer": tracer}
            cpu, rate = s["cpu_us_per_op"], s["rate"]
            print("| %s | %s | %d | %s | %s | %s | %s | %.3f, %.0f | %s | %s |"
                  % (name, a.mode, s["pairs"], "yes" if s["controlled"] else "no", fmt(cpu),
                     fmt(rate), "%s; %s" % (fmt(cpu["uncontrolled"]), fmt(rate["uncontrolled"]))
                     if s["controlled"] else "", cpu["off_median"], rate["off_median"],
                     "%.1f" % s["tracer_cpu_pct"] if "tracer_cpu_pct" in s else "",
                     s.get("drops", "")))
            sys.stdout.flush()
    bench.save_results(results, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
