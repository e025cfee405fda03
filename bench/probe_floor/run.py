#!/usr/bin/env python3
"""The per-callback floor: empty uprobes on CPython's context_run.

    sudo python3 bench/probe_floor/run.py [--rounds N] [--json FILE]   (make probe-floor first)

Any design that probes each asyncio callback pays at least the kernel's
uprobe mechanism. This measures it alone: probe_floor attaches empty BPF
programs to context_run (the C function behind Handle._run's
`self._context.run(...)`, one call per callback) in a running workload (a)
(100 tasks x `await asyncio.sleep(0)`: one callback per step), in four
configurations, run in interleaved rounds:
  none        nothing attached;
  entry       an empty uprobe at context_run's entry;
  entry+ret   the same plus an empty uretprobe;
  entry+end   the same plus an empty plain uprobe on the last direct call
              of each path to context_run's first ret: the last direct call
              before it (bench/ctxrun_end/run.py), and any direct call that
              jumps back to the instruction after that one. On pyenv's 3.11
              the last call (_Py_CheckFunctionResult) is on the vectorcall
              path only; the tp_call path (_PyObject_MakeTpCall, which
              checks the result itself) jumps past it, and asyncio's Task
              steps (TaskStepMethWrapper) take that path.
For pyenv 3.11 (context_run from its shared libpython's symbol table) and
Debian's python3.11 (stripped: the offset asked of asyncprof-bpf -v, as
bench/ctxrun_end does).
Figures: medians of steps/s and of the target's CPU per step; µs per
callback over `none` from the medians, (1/rate - 1/rate_none).
"""
import argparse
import importlib.util
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import run as bench  # noqa: E402  (bench/run.py: run_steps, machine)

_spec = importlib.util.spec_from_file_location("ctxrun_end", os.path.join(BENCH, "ctxrun_end",
                                                                          "run.py"))
ctxrun_end = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ctxrun_end)

FLOOR = os.path.join(ROOT, ".output", "probe_floor", "probe_floor")
CONFIGS = ["none", "entry", "entry+ret", "entry+end"]


def pythons():
    """(name, interpreter, libpython or None: ask the tool)."""
    out = []
    v = sorted(d for d in os.listdir("/root/.pyenv/versions") if d.startswith("3.11."))
    if v:
        lib = "/root/.pyenv/versions/%s/lib/libpython3.11.so.1.0" % v[-1]
        out.append(("pyenv-" + v[-1], "/root/.pyenv/versions/%s/bin/python3" % v[-1], lib))
    out.append(("debian-3.11", bench.DEBIAN_PY, None))
    return out


def symbol_offset(path, name):
    """File offset of a function in path's symbol table (pyenv's libpython keeps it)."""
    out = subprocess.run(["readelf", "-sW", path], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[7] == name and f[3] == "FUNC":
            vaddr, foff = ctxrun_end.exec_segment(path)
            return int(f[1], 16) - vaddr + foff
    raise RuntimeError("no %s in the symbol table of %s" % (name, path))


def end_offsets(path, off):
    """File offsets of the last direct call on each path to context_run's first ret."""
    last = ctxrun_end.end_offset(path, off)
    vaddr, foff = ctxrun_end.exec_segment(path)
    start = off - foff + vaddr
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--start-address=%#x" % start,
                          "--stop-address=%#x" % (start + 0x400), path],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    insns = []
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if m:
            insns.append((int(m.group(1), 16), m.group(2), m.group(3)))
    addrs = [a for a, _, _ in insns]
    last_va = last - foff + vaddr
    join = addrs[addrs.index(last_va) + 1]  # where the last call returns to
    ends = [last]
    for i, (a, op, arg) in enumerate(insns[:-1]):
        nxt = insns[i + 1]
        if (op == "call" and not arg.startswith("*") and nxt[1] == "jmp" and
                nxt[2].split()[0] == "%x" % join):
            ends.append(a - vaddr + foff)
    return ends


class Floor:
    """probe_floor attached to pid in one configuration."""

    def __init__(self, config, pid, path, entry, ends):
        argv = [FLOOR, "--pid", str(pid), "--path", path, "--entry", hex(entry)]
        if config == "entry+ret":
            argv.append("--ret")
        elif config == "entry+end":
            for e in ends:
                argv += ["--end", hex(e)]
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        if self.p.stdout.readline().strip() != "attached":
            self.p.wait()
            raise RuntimeError("probe_floor did not attach (rc %s)" % self.p.returncode)

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        self.p.wait(10)
        return {"rc": self.p.returncode}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not os.access(FLOOR, os.X_OK):
        sys.exit("bench/probe_floor/run.py: build it first: make probe-floor")
    results = {"machine": bench.machine(), "rounds": a.rounds, "targets": {}}
    print("| target | config | runs | steps/s (median) | ratio | µs per callback | "
          "target CPU µs per step (+ over none) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, py, lib in pythons():
            # the tool names a shared libpython by /proc/PID/map_files/..., gone with PID
            path, off = ((lib, symbol_offset(lib, "context_run")) if lib else
                         ctxrun_end.context_run_at(bench.TOOL, py))
            end = end_offsets(path, off)
            bench.log("%s: context_run at %s+%#x, end probes at %s", name, path, off,
                      ", ".join("+%#x" % e for e in end))
            runs = {c: [] for c in CONFIGS}
            for rnd in range(a.rounds):
                for c in CONFIGS[rnd % 4:] + CONFIGS[:rnd % 4]:
                    # run_steps attaches through bench.attach: ours for this configuration
                    bench.attach = (lambda cfg, pid, t, c=c:
                                    Floor(c, pid, path, off, end) if c != "none" else None)
                    r = bench.run_steps("floor", py, False, tmp)
                    runs[c].append(r)
                    bench.log("%s %-10s %.0f steps/s, %.3f µs CPU/step", name, c, r["rate"],
                              r["cpu_us_per_op"])
            base = statistics.median(r["rate"] for r in runs["none"])
            bcpu = statistics.median(r["cpu_us_per_op"] for r in runs["none"])
            rows = []
            for c, rs in runs.items():
                rate = statistics.median(r["rate"] for r in rs)
                cpu = statistics.median(r["cpu_us_per_op"] for r in rs)
                row = {"config": c, "n": len(rs), "rate": rate, "ratio": rate / base,
                       "us_per_callback": (1 / rate - 1 / base) * 1e6, "cpu_us": cpu,
                       "cpu_us_over_none": cpu - bcpu}
                rows.append(row)
                print("| %s | %s | %d | %.0f | %.3f | %.2f | %.2f (%+.2f) |"
                      % (name, c, len(rs), rate, rate / base, row["us_per_callback"], cpu,
                         cpu - bcpu))
                sys.stdout.flush()
            results["targets"][name] = {"python": py, "path": path, "context_run": off,
                                        "end_probes": end, "runs": runs, "summary": rows}
    bench.save_results(results, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
