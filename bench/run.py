#!/usr/bin/env python3
"""Overhead of asyncprof-bpf against the alternatives, side by side.

    sudo python3 bench/run.py [--rounds N] [--only WORKLOAD]... [--configs C,C,...]
                              [--json FILE] [--seconds S]

Workloads (docs/performance.md says why these):
  steps-debian   (a) 100 tasks x `await asyncio.sleep(0)` for 3 s, Debian python3.11: steps/s
  steps-uvloop   (a) the same on uvloop (Debian python3.11)
  steps-pyenv39  (a) the same on pyenv 3.9: the one CPython Debian's austin 1.0.1 reads
  fastapi        (b) FastAPI on uvicorn + uvloop + httptools under wrk: requests/s, p99
  aiohttp        (c) an aiohttp server under wrk: requests/s, p99

Configurations: baseline (untraced), full (asyncprof-bpf --mode full),
light (--mode light), asyncio-debug (PYTHONASYNCIODEBUG=1), yappi (wall
clock, in process), austin (attached, 100 Hz). Each round runs every
configuration once, in an order rotated per round; the figures are medians
over the rounds, as ratios to the baseline's median. For the tracer it also
records its own CPU time and peak RSS (wait4), the time from exec to
"Tracing" (probes attached), and the drops the report counts.

Prints Markdown tables; --json writes every raw run. Standard library only.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOL = os.environ.get("AP_TOOL", os.path.join(ROOT, "asyncprof-bpf"))
DEBIAN_PY = "/usr/bin/python3.11"
PYENV39 = next((os.path.join("/root/.pyenv/versions", v, "bin/python3")
                for v in sorted(os.listdir("/root/.pyenv/versions"))
                if v.startswith("3.9")), None) if os.path.isdir("/root/.pyenv/versions") else None
STEPS_TASKS, STEPS_SECONDS = 100, 3.0
WRK_CONNS = 50
APP_CPU, WRK_CPU = 1, 0  # the server and wrk each on a CPU of their own (2-CPU VM)

CONFIGS = ["baseline", "full", "light", "asyncio-debug", "yappi", "austin"]
# which configurations apply to which workload (None: not applicable, with why)
NOT_APPLICABLE = {
    ("steps-debian", "austin"): "Debian's austin 1.0.1 cannot read CPython 3.11",
    ("steps-uvloop", "austin"): "Debian's austin 1.0.1 cannot read CPython 3.11",
    ("fastapi", "austin"): "Debian's austin 1.0.1 cannot read CPython 3.11",
    ("aiohttp", "austin"): "Debian's austin 1.0.1 cannot read CPython 3.11",
    ("steps-pyenv39", "yappi"): "Debian's python3-yappi is built for python3.11 only",
    ("steps-uvloop", "yappi"): "(a) on asyncio already shows yappi's per-call cost",
    ("steps-uvloop", "asyncio-debug"): "uvloop's debug mode is not asyncio's",
}


def log(fmt, *args):
    sys.stderr.write((fmt % args if args else fmt) + "\n")
    sys.stderr.flush()


# --- profilers around one run ---------------------------------------------------------

def proc_cpu(pid):
    """User + system CPU seconds of pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Tracer:
    """asyncprof-bpf attached to pid; its own cost read with wait4 at the end."""

    def __init__(self, pid, mode, tmp, extra=()):
        self.report = os.path.join(tmp, "report-%d.json" % pid)
        argv = [TOOL, "--pid", str(pid), "--mode", mode, "-q", "--no-live",
                "-o", "json:" + self.report] + list(extra)
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        while True:
            line = self.p.stderr.readline()
            if not line:
                raise RuntimeError("asyncprof-bpf exited before attaching")
            if line.startswith("Tracing"):
                break
        self.attached = time.monotonic()
        self.attach_ms = (self.attached - self.t0) * 1e3
        self.cpu0 = proc_cpu(self.p.pid)

    def stop(self):
        window = time.monotonic() - self.attached
        cpu = proc_cpu(self.p.pid) - self.cpu0  # while attached: no loading, no report
        self.p.send_signal(signal.SIGINT)
        _, status, ru = os.wait4(self.p.pid, 0)
        self.p.returncode = os.waitstatus_to_exitcode(status)
        self.p.stderr.close()
        out = {"attach_ms": self.attach_ms, "cpu_s": cpu, "window_s": window,
               "cpu_total_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
               "rc": self.p.returncode}
        try:
            with open(self.report) as f:
                r = json.load(f)
            out["drops_events"] = r["drops"]["events"]
            out["drops_stacks"] = r["drops"]["stacks"]
            loops = [l for p in r["processes"] for l in p["loops"]]
            cbs = sum(l["callbacks"] or 0 for l in loops)
            out["callbacks"] = cbs
            out["report_window_s"] = (r["window"]["end_ns"] - r["window"]["start_ns"]) / 1e9
        except (OSError, ValueError, KeyError) as e:
            out["report_error"] = str(e)
        return out


class Austin:
    """Debian's austin attached to pid, sampling every 10 ms (100 Hz)."""

    def __init__(self, pid, tmp):
        self.out = os.path.join(tmp, "austin-%d.txt" % pid)
        self.p = subprocess.Popen(["austin", "-i", "10000", "-o", self.out, "-p", str(pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # austin finds the interpreter state
        if self.p.poll() is not None:
            raise RuntimeError("austin exited (rc %d) attaching to pid %d" % (self.p.returncode,
                                                                              pid))

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        n = 0
        if os.path.exists(self.out):
            with open(self.out, errors="replace") as f:
                n = sum(1 for l in f if l.strip() and not l.startswith("#"))
        return {"samples": n}


def attach(config, pid, tmp):
    if config in ("full", "light"):
        return Tracer(pid, config, tmp)
    if config == "austin":
        return Austin(pid, tmp)
    return None


def launch_argv(config, py, script, args):
    wrap = "yappi" if config == "yappi" else "none"
    return [py, os.path.join(HERE, "inproc.py"), wrap, script] + list(args)


def launch_env(config):
    env = dict(os.environ)
    env.pop("PYTHONASYNCIODEBUG", None)
    if config == "asyncio-debug":
        env["PYTHONASYNCIODEBUG"] = "1"
    return env


# --- workloads --------------------------------------------------------------------

def run_steps(config, py, uvloop, tmp):
    """(a): steps per second of 100 tasks doing `await asyncio.sleep(0)`."""
    go = os.path.join(tmp, "go")
    if os.path.exists(go):
        os.unlink(go)
    args = ["steps", "--wait-file", go, "--tasks", str(STEPS_TASKS), "--seconds",
            str(STEPS_SECONDS)]
    if uvloop:
        args.append("--uvloop")
    p = subprocess.Popen(["taskset", "-c", str(APP_CPU)] +
                         launch_argv(config, py, os.path.join(HERE, "workload.py"), args),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=launch_env(config))
    pid = int(p.stdout.readline().split()[1])
    prof = attach(config, pid, tmp)
    open(go, "w").close()
    out = p.stdout.read().split()
    p.wait()
    res = {"seconds": float(out[2]), "steps": int(out[3]), "rate": int(out[3]) / float(out[2]),
           "cpu_us_per_op": float(out[4]) / int(out[3]) * 1e6}
    if prof:
        res["prof"] = prof.stop()
    return res


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen on port %d" % port)


def wrk(port, seconds):
    """requests/s and p99 latency (ms) of wrk against GET / on loopback."""
    r = subprocess.run(["taskset", "-c", str(WRK_CPU), "wrk", "-t1", "-c%d" % WRK_CONNS, "-d%ds" % seconds, "--latency",
                        "http://127.0.0.1:%d/" % port], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=seconds + 30)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    nreq = re.search(r"(\d+) requests in", r.stdout)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", r.stdout, re.M)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", r.stdout)
    if not rps or not p99:
        raise RuntimeError("wrk output not understood: %s" % r.stdout[-400:])
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return (float(rps.group(1)), float(p99.group(1)) * scale, int(nreq.group(1)),
            errs.group(0) if errs else None)


def run_http(config, app, seconds, tmp):
    """(b), (c): an app under wrk; the profiler attaches after a 1 s warm-up."""
    port = free_port()
    p = subprocess.Popen(["taskset", "-c", str(APP_CPU)] +
                         launch_argv(config, DEBIAN_PY, os.path.join(HERE, "apps", app),
                                     [str(port)]),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=launch_env(config))
    prof = None
    try:
        pid = int(p.stdout.readline().split()[1])
        wait_port(port)
        wrk(port, 1)
        prof = attach(config, pid, tmp)
        c0 = proc_cpu(pid)
        rps, p99, nreq, errs = wrk(port, seconds)
        res = {"rate": rps, "p99_ms": p99, "cpu_us_per_op": (proc_cpu(pid) - c0) / nreq * 1e6}
        if errs:
            res["wrk_errors"] = errs
        if prof:
            res["prof"] = prof.stop()
            prof = None
        return res
    finally:
        if prof:
            prof.stop()
        stop_app(p)


def stop_app(p):
    """SIGINT, then SIGKILL after 10 s."""
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def save_results(results, path):
    """Note the load average at the end, print it, write results to path (if any)."""
    results["machine"]["loadavg_end"] = os.getloadavg()
    print("\nload average at the start %s, at the end %s"
          % (results["machine"].get("loadavg_start"), results["machine"]["loadavg_end"]))
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=1)


WORKLOADS = {
    "steps-debian": lambda c, a, t: run_steps(c, DEBIAN_PY, False, t),
    "steps-uvloop": lambda c, a, t: run_steps(c, DEBIAN_PY, True, t),
    "steps-pyenv39": lambda c, a, t: run_steps(c, PYENV39, False, t),
    "fastapi": lambda c, a, t: run_http(c, "fastapi_app.py", a.seconds, t),
    "aiohttp": lambda c, a, t: run_http(c, "aiohttp_app.py", a.seconds, t),
}


# --- summary ------------------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summarise(name, runs, configs):
    base = med([r["rate"] for r in runs.get("baseline", [])])
    base_cpu = med([r["cpu_us_per_op"] for r in runs.get("baseline", [])])
    rows = []
    for c in configs:
        rs = runs.get(c)
        if not rs:
            continue
        rate = med([r["rate"] for r in rs])
        row = {"config": c, "n": len(rs), "rate": rate, "ratio": rate / base,
               "cpu_us": med([r["cpu_us_per_op"] for r in rs]),
               "cpu_ratio": med([r["cpu_us_per_op"] for r in rs]) / base_cpu}
        if name.startswith("steps"):
            # the cost of one step (a callback), from the two medians
            row["us_per_step"] = (1 / rate - 1 / base) * 1e6
        else:
            row["p99_ms"] = med([r["p99_ms"] for r in rs])
        profs = [r["prof"] for r in rs if "prof" in r and "cpu_s" in r["prof"]]
        if profs:
            row["tracer_cpu_pct"] = med([100 * p["cpu_s"] / p["window_s"] for p in profs])
            row["tracer_maxrss_mb"] = max(p["maxrss_kb"] for p in profs) / 1024
            row["attach_ms"] = med([p["attach_ms"] for p in profs])
            row["attach_ms_max"] = max(p["attach_ms"] for p in profs)
            row["drops"] = sum(p.get("drops_events", 0) + p.get("drops_stacks", 0)
                               for p in profs)
            cbs = [p["callbacks"] / p["report_window_s"] for p in profs
                   if p.get("callbacks") and p.get("report_window_s")]
            if cbs:
                row["callbacks_per_s"] = med(cbs)
        rows.append(row)
    return rows


def print_table(name, rows, unit):
    print("\n### %s\n" % name)
    steps = name.startswith("steps")
    print("| config | runs | %s (median) | ratio | %s | target CPU µs per %s (ratio) | "
          "tracer CPU %% of a core | tracer peak RSS | attach ms (median/max) | drops |"
          % (unit, "µs per step" if steps else "p99 ms", "step" if steps else "request"))
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        extra = ("%.2f" % r["us_per_step"]) if steps else ("%.2f" % r["p99_ms"])
        if "tracer_cpu_pct" in r:
            tr = ("%.1f" % r["tracer_cpu_pct"], "%.0f MB" % r["tracer_maxrss_mb"],
                  "%.0f / %.0f" % (r["attach_ms"], r["attach_ms_max"]), "%d" % r["drops"])
        else:
            tr = ("", "", "", "")
        print("| %s | %d | %.0f | %.3f | %s | %.2f (%.3f) | %s | %s | %s | %s |"
              % ((r["config"], r["n"], r["rate"], r["ratio"], extra, r["cpu_us"],
                  r["cpu_ratio"]) + tr))
    sys.stdout.flush()


def machine():
    with open("/proc/cpuinfo") as f:
        model = re.search(r"model name\s*:\s*(.*)", f.read())
    return {"cpu": model.group(1) if model else "?", "ncpu": os.cpu_count(),
            "kernel": os.uname().release, "loadavg_start": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", action="append", choices=sorted(WORKLOADS))
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    ap.add_argument("--json", help="write every run here")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/run.py: needs root (BPF)")
    configs = a.configs.split(",")
    names = a.only or list(WORKLOADS)
    results = {"machine": machine(), "rounds": a.rounds, "workloads": {}}
    print("machine: %s" % json.dumps(results["machine"]))
    global TOOL
    with tempfile.TemporaryDirectory() as tmp:
        # a private copy: a rebuild of the shared tree must not change the tool mid-run
        shutil.copy2(TOOL, os.path.join(tmp, "asyncprof-bpf"))
        TOOL = os.path.join(tmp, "asyncprof-bpf")
        for name in names:
            runs = {}
            cs = [c for c in configs if (name, c) not in NOT_APPLICABLE]
            for c in configs:
                if (name, c) in NOT_APPLICABLE:
                    log("%s: %s not run: %s", name, c, NOT_APPLICABLE[(name, c)])
            for rnd in range(a.rounds):
                order = cs[rnd % len(cs):] + cs[:rnd % len(cs)]
                for c in order:
                    try:
                        r = WORKLOADS[name](c, a, tmp)
                    except (RuntimeError, OSError, subprocess.SubprocessError, IndexError,
                            ValueError) as e:
                        log("%s %s round %d failed: %s", name, c, rnd, e)
                        continue
                    runs.setdefault(c, []).append(r)
                    log("%s round %d %-13s rate %.0f%s", name, rnd, c, r["rate"],
                        " p99 %.2f ms" % r["p99_ms"] if "p99_ms" in r else "")
            rows = summarise(name, runs, cs)
            results["workloads"][name] = {"runs": runs, "summary": rows}
            print_table(name, rows, "steps/s" if name.startswith("steps") else "requests/s")
    save_results(results, a.json)
    return 0


if __name__ == "__main__":
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sys.exit(main())
