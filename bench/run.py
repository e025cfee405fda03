#!/usr/bin/env python3
"""Overhead of asyncprof-bpf on a target, measured side by side.

For each interpreter and workload, runs ROUNDS interleaved pairs: the
workload alone, and the workload traced by asyncprof-bpf (started, attached,
then the workload begins). Reports medians and the per-event cost. Noisy
neighbours make single figures unstable: compare the ratio within a run.

Usage: sudo python3 bench/run.py [--rounds N] [--python PATH ...] [--backend auto|syscall]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "asyncprof-bpf")
WORKLOAD = os.path.join(ROOT, "bench", "workload.py")


def run_once(python, workload, traced, backend, extra):
    with tempfile.TemporaryDirectory() as d:
        go = os.path.join(d, "go")
        p = subprocess.Popen([python, WORKLOAD, workload, "--wait-file", go] + extra,
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline().split()
        pid = int(line[1])
        tracer = None
        if traced:
            tracer = subprocess.Popen([TOOL, "--pid", str(pid), "--backend", backend, "-q",
                                       "-o", os.path.join(d, "r.json")],
                                      stderr=subprocess.PIPE, text=True)
            while True:
                l = tracer.stderr.readline()
                if not l or l.startswith("Tracing"):
                    break
        open(go, "w").close()
        out = p.stdout.read().split()
        p.wait()
        if tracer:
            tracer.wait(timeout=30)
        return float(out[2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python", action="append")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--workload", action="append")
    a = ap.parse_args()
    pythons = a.python or ["/root/.pyenv/versions/3.11.7/bin/python3", "/usr/bin/python3.11"]
    workloads = a.workload or ["steps", "echo"]
    print("| python | workload | backend | untraced median (s) | traced median (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for py in pythons:
        for spec in workloads:
            extra = []
            name = spec
            if spec.endswith("+uvloop"):
                name, extra = spec[:-7], ["--uvloop"]
            base, traced = [], []
            for _ in range(a.rounds):
                base.append(run_once(py, name, False, a.backend, extra))
                traced.append(run_once(py, name, True, a.backend, extra))
            mb, mt = statistics.median(base), statistics.median(traced)
            print("| %s | %s | %s | %.3f | %.3f | %.2f |" % (py, spec, a.backend, mb, mt, mt / mb))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
