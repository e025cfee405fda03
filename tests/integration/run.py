#!/usr/bin/env python3
"""Integration tests: real interpreters traced by the real asyncprof-bpf.

    python3 tests/integration/run.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root. Each test is a function in TESTS; it starts a target from
targets/, waits for its "ready <pid>" line, starts the tool against it, waits
for the tool's "Tracing" line on stderr, touches the target's START_FILE,
waits for both (everything has a timeout; leftovers are killed), then checks
the JSON report against the target's ground truth.

Prints "ok NAME", "FAIL NAME: reason" or "skip NAME: reason" per test and a
closing "N passed, N failed, N skipped"; exits 1 if any test failed.
Artifacts go to $AP_TEST_OUT or tests/integration/.out/<test>/ and are kept
for failed tests (for every test with --keep).

Environment: AP_TOOL (default ./asyncprof-bpf at the repo root), AP_TEST_OUT.
Standard library only.
"""
import argparse
import glob
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGETS = os.path.join(HERE, "targets")
TOOL = os.environ.get("AP_TOOL", os.path.join(ROOT, "asyncprof-bpf"))
OUT = os.environ.get("AP_TEST_OUT", os.path.join(HERE, ".out"))
DEBIAN_PY = "/usr/bin/python3.11"
NODE = "/usr/bin/node"
MS = 1000000

VERBOSE = False


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, fmt, *args):
    if not cond:
        raise Fail(fmt % args if args else fmt)


def vlog(fmt, *args):
    if VERBOSE:
        sys.stderr.write("  # " + (fmt % args if args else fmt) + "\n")


# --- interpreters --------------------------------------------------------------

def pyenv(minor):
    """The pyenv CPython 3.<minor>, or None."""
    hits = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3" % minor))
    return hits[-1] if hits else None


def need_exe(path, what):
    if not path or not os.access(path, os.X_OK):
        raise Skip("%s not installed (%s)" % (what, path))
    return path


def need_uvloop(py):
    if subprocess.run([py, "-c", "import uvloop"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        raise Skip("uvloop not importable by %s" % py)


# --- processes -----------------------------------------------------------------

class Proc:
    """A child process whose stdout/stderr lines are read by threads,
    copied to files in the test dir and made available to wait_line()."""

    def __init__(self, ctx, name, argv, **kw):
        self.name = name
        self.argv = argv
        self.lines = {"stdout": [], "stderr": []}
        self.cond = threading.Condition()
        vlog("start %s: %s", name, " ".join(argv))
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, **kw)
        ctx.procs.append(self)
        self.threads = []
        for stream in ("stdout", "stderr"):
            f = open(os.path.join(ctx.dir, "%s.%s" % (name, stream)), "w")
            th = threading.Thread(target=self._pump, args=(getattr(self.p, stream), stream, f),
                                  daemon=True)
            th.start()
            self.threads.append(th)

    def _pump(self, pipe, stream, f):
        for raw in iter(pipe.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            f.write(line + "\n")
            f.flush()
            with self.cond:
                self.lines[stream].append(line)
                self.cond.notify_all()
        f.close()
        with self.cond:
            self.lines[stream].append(None)  # EOF
            self.cond.notify_all()

    @property
    def pid(self):
        return self.p.pid

    def wait_line(self, stream, pattern, timeout):
        """First line of stream matching regex pattern; Fail on EOF or timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = 0
            while True:
                buf = self.lines[stream]
                while i < len(buf):
                    if buf[i] is None:
                        raise Fail("%s ended (rc %s) before printing /%s/ on %s; %s: %s"
                                   % (self.name, self.p.poll(), pattern, stream,
                                      "stderr", self.tail("stderr")))
                    m = rx.search(buf[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail("%s: no /%s/ on %s within %gs; stderr: %s"
                               % (self.name, pattern, stream, timeout, self.tail("stderr")))
                self.cond.wait(left)

    def wait(self, timeout):
        """Exit code; Fail (after killing it) if it does not end in time."""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail("%s did not exit within %gs (killed); stderr: %s"
                       % (self.name, timeout, self.tail("stderr")))
        for th in self.threads:
            th.join(5)
        return rc

    def stderr_lines(self):
        with self.cond:
            return [l for l in self.lines["stderr"] if l is not None]

    def tail(self, stream, n=3):
        with self.cond:
            ls = [l for l in self.lines[stream] if l is not None]
        return " | ".join(ls[-n:]) if ls else "(empty)"

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def kill(self):
        if self.p.poll() is None:
            vlog("kill %s (pid %d)", self.name, self.p.pid)
            self.p.kill()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                pass


class Ctx:
    """Per-test state: its directory and the processes to clean up."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(OUT, re.sub(r"[^\w.-]", "_", name))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.procs = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def cleanup(self):
        # Terminate targets gently first so they exit 0; then kill what is left.
        for p in reversed(self.procs):
            p.signal(signal.SIGTERM)
        deadline = time.monotonic() + 3
        for p in reversed(self.procs):
            try:
                p.p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()


# --- the tool ------------------------------------------------------------------

def need_tool():
    if not os.access(TOOL, os.X_OK):
        raise Fail("tool binary %s not found (run make)" % TOOL)
    if os.geteuid() != 0:
        raise Skip("needs root")


def start_tool(ctx, pid, duration=None, extra=(), name="tool", env=None):
    """Start asyncprof-bpf writing json to <dir>/report.json; wait for "Tracing".
    env: variables added to the tool's environment."""
    need_tool()
    report = ctx.path("report.json")
    argv = [TOOL, "--pid", str(pid), "--format", "json", "--output", report]
    if duration is not None:
        argv += ["--duration", str(duration)]
    argv += list(extra)
    tool = Proc(ctx, name, argv, env=dict(os.environ, **(env or {})))
    tool.report = report
    tool.wait_line("stderr", r"^Tracing", 30)
    return tool


def finish_tool(tool, timeout):
    rc = tool.wait(timeout)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    return load_report(tool.report)


def load_report(path):
    check(os.path.exists(path), "no report file %s", path)
    try:
        with open(path) as f:
            r = json.load(f)
    except ValueError as e:
        raise Fail("report %s is not JSON: %s" % (path, e))
    validate_report(r)
    return r


# --- the report schema (docs/report-v1.md) ---------------------------------------

class Opt:
    """A field that may be null."""

    def __init__(self, t):
        self.t = t


class Enum:
    def __init__(self, *values):
        self.values = values


class Addr:
    pass


INT, STR, NUM, BOOL = "int", "str", "num", "bool"
ADDR = Addr()

LAG = {"samples": INT, "max_ns": INT, "mean_ns": INT, "p50_ns": INT, "p90_ns": INT,
       "p99_ns": INT, "histogram": [{"le_ns": Opt(INT), "count": INT}]}
LOOP = {"tid": INT, "kind": Enum("asyncio", "uvloop", "libuv", "epoll"), "iterations": INT,
        "busy_ns": INT, "idle_ns": INT, "callbacks": Opt(INT), "lag": LAG}
TASK = {"id": ADDR, "name": Opt(STR), "coro": Opt(STR), "loop_tid": INT, "parent": Opt(ADDR),
        "created_ns": Opt(INT), "first_run_ns": INT, "last_run_ns": INT,
        "finished_ns": Opt(INT),
        "state": Opt(Enum("pending", "done", "cancelled", "failed")), "error": Opt(STR),
        "steps": INT, "busy_ns": INT, "max_step_ns": INT, "blocked_ns": INT}
CALLBACK = {"name": Opt(STR), "count": INT, "total_ns": INT, "max_ns": INT}
SLOW = {"tid": INT, "start_ns": INT, "duration_ns": INT, "task": Opt(ADDR),
        "callback": Opt(STR), "stack": [STR], "blocked_ns": INT}
BLOCKING = {"tid": INT, "start_ns": INT, "duration_ns": INT, "syscall": Opt(STR),
            "kind": Enum("sleep", "file", "net", "process", "lock", "gil", "other"),
            "detail": Opt(STR), "task": Opt(ADDR), "callback": Opt(STR), "stack": [STR],
            "began_before_window": BOOL}
PROCESS = {"pid": INT, "comm": STR, "exe": Opt(STR),
           "runtime": Enum("cpython", "node", "unknown"), "runtime_version": Opt(STR),
           "backend": Enum("uprobe", "syscall"), "loops": [LOOP], "tasks": [TASK],
           "callbacks": [CALLBACK], "slow_callbacks": [SLOW], "blocking_calls": [BLOCKING]}
REPORT = {"schema": Enum("asyncprof-bpf/report/v1"), "tool": {"name": STR, "version": STR},
          "window": {"start_ns": INT, "end_ns": INT},
          "config": {"slow_callback_ns": INT, "blocking_ns": INT, "lag_interval_ns": INT},
          "drops": {"events": INT, "stacks": INT}, "processes": [PROCESS]}


def _type_ok(v, t):
    if t == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    if t == STR:
        return isinstance(v, str)
    if t == NUM:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == BOOL:
        return isinstance(v, bool)
    return False


def schema_errors(v, t, where="$"):
    """Every field the spec lists is present with the right JSON type."""
    errs = []
    if isinstance(t, Opt):
        return [] if v is None else schema_errors(v, t.t, where)
    if isinstance(t, dict):
        if not isinstance(v, dict):
            return ["%s: expected object, got %s" % (where, type(v).__name__)]
        for k, sub in t.items():
            if k not in v:
                errs.append("%s.%s: missing" % (where, k))
            else:
                errs += schema_errors(v[k], sub, "%s.%s" % (where, k))
        return errs
    if isinstance(t, list):
        if not isinstance(v, list):
            return ["%s: expected array, got %s" % (where, type(v).__name__)]
        for i, item in enumerate(v):
            errs += schema_errors(item, t[0], "%s[%d]" % (where, i))
        return errs
    if isinstance(t, Enum):
        return [] if v in t.values else ["%s: %r not one of %s" % (where, v, list(t.values))]
    if isinstance(t, Addr):
        ok = isinstance(v, str) and re.match(r"^0x[0-9a-f]+$", v)
        return [] if ok else ["%s: %r is not an address string" % (where, v)]
    return [] if _type_ok(v, t) else ["%s: %r is not %s" % (where, v, t)]


def validate_report(r):
    errs = schema_errors(r, REPORT)
    if not errs:
        w = r["window"]
        if w["start_ns"] > w["end_ns"]:
            errs.append("window start_ns > end_ns")
        k = r["config"].get("kernel")
        if k is not None and (k.get("release") != os.uname().release or
                              k.get("tracepoints") not in ("tp_btf", "raw_tp") or
                              k.get("stack_walk") not in ("bpf_loop", "bounded")):
            errs.append("config.kernel %s: not this kernel's, or an unknown variant" % k)
        for pi, p in enumerate(r["processes"]):
            for li, loop in enumerate(p["loops"]):
                h = loop["lag"]["histogram"]
                where = "$.processes[%d].loops[%d].lag.histogram" % (pi, li)
                if not h or h[-1]["le_ns"] is not None:
                    errs.append("%s: last bucket must have le_ns null" % where)
                counts = [b["count"] for b in h]
                if counts != sorted(counts):
                    errs.append("%s: counts not cumulative: %s" % (where, counts))
                if h and h[-1]["count"] != loop["lag"]["samples"]:
                    errs.append("%s: +Inf bucket %d != samples %d"
                                % (where, h[-1]["count"], loop["lag"]["samples"]))
            for i, b in enumerate(p["blocking_calls"]):
                # the uretprobe syscall's exit (its trampoline) is the tool's, not the target's
                if any("[uprobes]" in f for f in b.get("native_stack") or []):
                    errs.append("$.processes[%d].blocking_calls[%d]: the tool's own uprobe "
                                "trampoline reported as a blocking call" % (pi, i))
                if b["began_before_window"] and b["start_ns"] > w["start_ns"]:
                    errs.append("$.processes[%d].blocking_calls[%d]: began before the window "
                                "but starts in it" % (pi, i))
            for k in ("blocking_calls", "slow_callbacks"):
                for i, c in enumerate(p[k]):
                    if c["duration_ns"] < 0:
                        errs.append("$.processes[%d].%s[%d]: negative duration" % (pi, k, i))
    check(not errs, "report does not match the spec: %s%s", "; ".join(errs[:5]),
          " (+%d more)" % (len(errs) - 5) if len(errs) > 5 else "")


def the_process(r, pid):
    check(len(r["processes"]) == 1, "expected 1 process in report, got %d", len(r["processes"]))
    p = r["processes"][0]
    check(p["pid"] == pid, "report pid %s != target pid %d", p["pid"], pid)
    return p


# --- scenario runner -----------------------------------------------------------

def run_target_traced(ctx, argv, gt=True, duration=6, tool_extra=(), stay=True,
                      target_timeout=30, tool_env=None):
    """Start target argv (+ GT START args), trace it for `duration` s, return
    (report, ground truth or None, target Proc)."""
    gt_path, start = ctx.path("truth.json"), ctx.path("start")
    full = list(argv)
    if gt:
        full += (["--stay"] if stay else []) + [gt_path, start]
    else:
        full += (["--stay"] if stay else []) + [start]
    target = Proc(ctx, "target", full, cwd=ctx.dir)
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    check(pid == target.pid, "target says pid %d, it is %d", pid, target.pid)
    tool = start_tool(ctx, pid, duration=duration, extra=tool_extra, env=tool_env)
    open(start, "w").close()
    report = finish_tool(tool, duration + 30)
    ctx.tool_stderr = tool.stderr_lines()
    truth = None
    if gt:
        deadline = time.monotonic() + target_timeout
        while not os.path.exists(gt_path):
            check(target.p.poll() is None or os.path.exists(gt_path),
                  "target exited (rc %s) without ground truth: %s", target.p.poll(),
                  target.tail("stderr"))
            check(time.monotonic() < deadline, "no ground truth after %ds", target_timeout)
            time.sleep(0.05)
        with open(gt_path) as f:
            truth = json.load(f)
    target.signal(signal.SIGTERM)
    rc = target.wait(10)
    check(rc == 0, "target exit %s: %s", rc, target.tail("stderr"))
    return report, truth, target


def overlap(a0, a1, b0, b1):
    return min(a1, b1) - max(a0, b0)


def check_blocking(report, truth):
    p = the_process(report, truth["pid"])
    check(p["loops"], "no loop found (loops is empty)")
    loop = p["loops"][0]
    check(loop["tid"] == truth["loop_tid"], "loops[0].tid %d != loop thread tid %d",
          loop["tid"], truth["loop_tid"])
    check(p["runtime"] == "cpython", "runtime %r, expected 'cpython'", p["runtime"])
    check(p["runtime_version"] == truth["python"], "runtime_version %r, target runs %s",
          p["runtime_version"], truth["python"])
    want_kind = "uvloop" if truth.get("uvloop") else "asyncio"
    check(loop["kind"] == want_kind, "loops[0].kind %r, expected %r", loop["kind"], want_kind)
    w = report["window"]
    calls = p["blocking_calls"]
    for ev in truth["events"]:
        check(w["start_ns"] <= ev["start_ns"] and ev["end_ns"] <= w["end_ns"],
              "ground-truth %s event [%d, %d] outside the report window [%d, %d]"
              " (clocks differ?)", ev["op"], ev["start_ns"], ev["end_ns"],
              w["start_ns"], w["end_ns"])
        m0, m1 = ev["main"]["start_ns"], ev["main"]["end_ns"]
        want = m1 - m0
        if ev["kind"] == "cpu":
            continue  # no syscall: lag only
        if want < report["config"]["blocking_ns"]:
            vlog("%s lasted %.2f ms < threshold, not checked", ev["op"], want / MS)
            continue
        cands = [c for c in calls if c["tid"] == ev["tid"] and c["kind"] == ev["kind"]
                 and overlap(c["start_ns"], c["start_ns"] + c["duration_ns"],
                             ev["start_ns"], ev["end_ns"]) > 0]
        if not cands:
            near = [(c["kind"], c["syscall"], c["tid"], round(c["duration_ns"] / MS, 1),
                     round((c["start_ns"] - ev["start_ns"]) / MS, 1))
                    for c in calls if overlap(c["start_ns"], c["start_ns"] + c["duration_ns"],
                                              ev["start_ns"] - 50 * MS, ev["end_ns"] + 50 * MS) > 0]
            raise Fail("%s (%.1f ms, tid %d): no blocking call of kind %r on that tid overlaps it;"
                       " calls near it (kind, syscall, tid, ms, start offset ms): %s"
                       % (ev["op"], want / MS, ev["tid"], ev["kind"], near or "none"))
        c = max(cands, key=lambda c: c["duration_ns"])
        # The Python-side timing also holds what surrounds the syscall: taking
        # the GIL back (reported apart, kind gil) and, on a loaded host, being
        # preempted before the clock is read. So it may exceed the syscall by
        # a few ms more than the syscall may exceed it.
        gil = sum(overlap(g["start_ns"], g["start_ns"] + g["duration_ns"], m0, m1)
                  for g in calls if g["tid"] == ev["tid"] and g["kind"] == "gil")
        over, under = max(0.2 * want, 0.5 * MS), max(0.2 * want, 2 * MS) + gil
        check(-under <= c["duration_ns"] - want <= over,
              "%s: reported %s %s lasted %.2f ms, ground truth %.2f ms (tolerance -%.2f/+%.2f ms)",
              ev["op"], c["kind"], c["syscall"], c["duration_ns"] / MS, want / MS, under / MS,
              over / MS)
        check(abs(c["start_ns"] - m0) <= 20 * MS,
              "%s: reported start %+.2f ms off the ground truth (tolerance 20 ms)",
              ev["op"], (c["start_ns"] - m0) / MS)
        # detail may be null ("when known"), but never wrong
        if ev["kind"] in ("file", "net") and ev.get("detail") and c["detail"] is not None:
            check(c["detail"] == ev["detail"], "%s: detail %r, expected %r",
                  ev["op"], c["detail"], ev["detail"])
    longest = max(e["end_ns"] - e["start_ns"] for e in truth["events"])
    check(loop["lag"]["max_ns"] >= 0.95 * longest,
          "lag.max_ns %.1f ms < longest ground-truth event %.1f ms",
          loop["lag"]["max_ns"] / MS, longest / MS)


# --- tests ----------------------------------------------------------------------

TESTS = []


def test(name):
    def reg(fn):
        TESTS.append((name, fn))
        return fn
    return reg


def blocking_test(name, py_fn, uvloop=False, case="basic", raw_tp=False):
    """raw_tp: the raw_tp flavour of the tracepoint programs, which kernels
    without tp_btf load (ASYNCPROF_TRACEPOINTS=raw forces it here)."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        if uvloop:
            need_uvloop(py)
        argv = [py, os.path.join(TARGETS, "blocking.py"), "-c", case]
        if uvloop:
            argv.append("--uvloop")
        env = dict(os.environ, ASYNCPROF_TRACEPOINTS="raw") if raw_tp else None
        report, truth, _ = run_target_traced(ctx, argv, duration=5, tool_env=env,
                                             tool_extra=["-v"] if raw_tp else ())
        if raw_tp:
            check(any("using raw_tp tracepoints" in l for l in ctx.tool_stderr),
                  "the tool did not say it loaded the raw_tp flavour")
        kernel = report["config"].get("kernel") or {}
        check(kernel.get("tracepoints") == ("raw_tp" if raw_tp else "tp_btf"),
              "config.kernel %s", kernel)
        check_blocking(report, truth)
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    blocking_test("blocking-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
blocking_test("blocking-debian-3.11", lambda: DEBIAN_PY)
blocking_test("blocking-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)
blocking_test("blocking-all-ops-pyenv-3.11", lambda: pyenv(11), case="all")
blocking_test("blocking-raw-tp-debian-3.11", lambda: DEBIAN_PY, raw_tp=True)


def quiet_test(name, py_fn, uvloop=False):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        argv = [py, os.path.join(TARGETS, "quiet.py"), "--seconds", "3"]
        if uvloop:
            need_uvloop(py)
            argv.append("--uvloop")
        report, _, target = run_target_traced(ctx, argv, gt=False, duration=4,
                                              tool_extra=["--blocking-threshold", "10"])
        p = the_process(report, target.pid)
        check(report["config"]["blocking_ns"] == 10 * MS,
              "config.blocking_ns %s != 10 ms (--blocking-threshold 10)",
              report["config"]["blocking_ns"])
        check(p["loops"], "no loop found (loops is empty)")
        check(p["loops"][0]["lag"]["samples"] > 0, "lag.samples is 0")
        long = [(c["kind"], c["syscall"], round(c["duration_ns"] / MS, 1))
                for c in p["blocking_calls"] if c["duration_ns"] >= 10 * MS]
        check(not long, "blocking calls >= 10 ms reported for a non-blocking target: %s", long)
    TESTS.append((name, fn))


quiet_test("quiet-pyenv-3.11", lambda: pyenv(11))
quiet_test("quiet-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)


@test("node")
def t_node(ctx):
    node = need_exe(NODE, "node")
    target = Proc(ctx, "target", [node, os.path.join(TARGETS, "busy.js"), "30"])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid, duration=3)
    report = finish_tool(tool, 40)
    p = the_process(report, pid)
    check(p["runtime"] == "node", "runtime %r, expected 'node'", p["runtime"])
    check(p["loops"], "no loop found (loops is empty)")
    check(p["loops"][0]["kind"] == "libuv", "loops[0].kind %r, expected 'libuv'",
          p["loops"][0]["kind"])
    check(p["loops"][0]["tid"] == pid, "loops[0].tid %d != node main thread %d",
          p["loops"][0]["tid"], pid)
    mx = p["loops"][0]["lag"]["max_ns"]
    check(mx >= 190 * MS, "lag.max_ns %.1f ms < 190 ms", mx / MS)


def one_error_line(tool, what):
    lines = [l for l in tool.stderr_lines() if l.strip()]
    # argp usage errors add a "Try `asyncprof-bpf --help'" hint line: allow it.
    real = [l for l in lines if not l.startswith("Try ")]
    check(len(real) == 1, "%s: expected one error line on stderr, got %d: %s",
          what, len(real), lines)
    return real[0]


def free_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


@test("errors-nonexistent-pid")
def t_err_nopid(ctx):
    need_tool()
    out = ctx.path("report.json")
    tool = Proc(ctx, "tool", [TOOL, "--pid", str(free_pid()), "--duration", "2",
                              "--format", "json", "--output", out])
    rc = tool.wait(20)
    check(rc != 0, "exit 0 for a nonexistent pid")
    one_error_line(tool, "nonexistent pid")
    check(not os.path.exists(out), "output file created")


@test("errors-bad-pid-argument")
def t_err_badpid(ctx):
    # without --pid the tool watches the whole host (test_systemwide.py);
    # a --pid that is not a number is a usage error
    need_tool()
    out = ctx.path("report.json")
    for bad in ("abc", "0", "-5", "12x"):
        tool = Proc(ctx, "tool", [TOOL, "--pid", bad, "--duration", "2", "--format", "json",
                                  "--output", out])
        rc = tool.wait(20)
        check(rc != 0, "exit 0 for --pid %s", bad)
        one_error_line(tool, "--pid %s" % bad)
        check(not os.path.exists(out), "output file created")


@test("errors-not-python")
def t_err_notpython(ctx):
    need_tool()
    target = Proc(ctx, "target", ["sleep", "30"])
    time.sleep(0.2)
    out = ctx.path("report.json")
    tool = Proc(ctx, "tool", [TOOL, "--pid", str(target.pid), "--duration", "2",
                              "--format", "json", "--output", out])
    rc = tool.wait(30)
    check(rc != 0, "exit 0 for `sleep 30` (no runtime, no event loop)%s",
          "; report has %d loops" % len(load_report(out)["processes"][0]["loops"])
          if os.path.exists(out) else "")
    line = one_error_line(tool, "not-python target")
    check(re.search(r"python|node|runtime|event loop|epoll", line, re.I),
          "error line does not mention the runtime: %r", line)
    check(not os.path.exists(out), "output file created")


@test("sigint-mid-run")
def t_sigint(ctx):
    py = need_exe(pyenv(11) or DEBIAN_PY, "python3.11")
    gt_path, start = ctx.path("truth.json"), ctx.path("start")
    target = Proc(ctx, "target", [py, os.path.join(TARGETS, "blocking.py"), "-c", "sleep",
                                  "--stay", gt_path, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid)
    open(start, "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(gt_path):
        check(time.monotonic() < deadline, "no ground truth from target")
        time.sleep(0.05)
    tool.signal(signal.SIGINT)
    report = finish_tool(tool, 15)
    with open(gt_path) as f:
        truth = json.load(f)
    check_blocking(report, truth)


@test("target-exits-mid-run")
def t_target_exit(ctx):
    py = need_exe(pyenv(11) or DEBIAN_PY, "python3.11")
    gt_path, start = ctx.path("truth.json"), ctx.path("start")
    target = Proc(ctx, "target", [py, os.path.join(TARGETS, "blocking.py"), "-c", "sleep",
                                  gt_path, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid, duration=60)
    open(start, "w").close()
    rc = target.wait(20)
    check(rc == 0, "target exit %s", rc)
    t0 = time.monotonic()
    report = finish_tool(tool, 15)
    vlog("tool exited %.2fs after the target", time.monotonic() - t0)
    with open(gt_path) as f:
        truth = json.load(f)
    check_blocking(report, truth)


def bpftool_json(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        raise Fail("bpftool %s: %s" % (" ".join(args), r.stderr.decode().strip()))
    out = r.stdout.decode().strip()
    return json.loads(out) if out else []


def attached(tool_pid):
    """Ids of the BPF programs the tool holds (its fds' fdinfo), and of their links.

    Exact even when another tracer runs on the host, unlike "programs that
    appeared meanwhile" (bpftool here does not list the owning pids)."""
    progs, links = set(), set()
    d = "/proc/%d/fdinfo" % tool_pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                info = f.read()
        except OSError:
            continue
        progs |= {int(x) for x in re.findall(r"^prog_id:\s*(\d+)", info, re.M)}
        links |= {int(x) for x in re.findall(r"^link_id:\s*(\d+)", info, re.M)}
    return progs, links


@test("probes-left-behind")
def t_probes(ctx):
    if not shutil.which("bpftool"):
        raise Skip("bpftool not installed")
    py = need_exe(pyenv(11) or DEBIAN_PY, "python3.11")
    gt_path, start = ctx.path("truth.json"), ctx.path("start")
    target = Proc(ctx, "target", [py, os.path.join(TARGETS, "blocking.py"), "-c", "sleep",
                                  "--stay", gt_path, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid)
    prog_ids, link_ids = attached(tool.pid)
    mine = [p for p in bpftool_json("prog", "show") if p["id"] in prog_ids]
    links = [l for l in bpftool_json("link", "show") if l["id"] in link_ids]
    perf = [e for e in bpftool_json("perf") if e.get("pid") == tool.pid]
    with open(ctx.path("attached.json"), "w") as f:
        json.dump({"progs": mine, "links": links, "perf": perf}, f, indent=1)
    check(mine, "no BPF program appeared while tracing")
    ids = {p["id"] for p in mine}
    names = sorted({p.get("name", "?") for p in mine})
    vlog("tool programs: %s; links %d; perf events %d", names, len(links), len(perf))
    tool.signal(signal.SIGINT)
    finish_tool(tool, 15)
    # The kernel frees tracing programs after an RCU grace period, not at
    # close(): allow it a few seconds.
    t0 = time.monotonic()
    while True:
        left = [p for p in bpftool_json("prog", "show") if p["id"] in ids]
        if not left or time.monotonic() - t0 > 5:
            break
        time.sleep(0.1)
    vlog("programs gone %.2fs after the tool exited", time.monotonic() - t0)
    check(not left, "programs still loaded after exit: %s",
          [(p["id"], p.get("name")) for p in left])
    left_links = [l for l in bpftool_json("link", "show")
                  if l["id"] in link_ids or l.get("prog_id") in ids]
    check(not left_links, "links still present after exit: %s",
          [(l["id"], l.get("type"), l.get("prog_id")) for l in left_links])
    left_perf = [e for e in bpftool_json("perf")
                 if e.get("prog_id") in ids or e.get("pid") == tool.pid]
    check(not left_perf, "perf events still attached after exit: %s", left_perf)


def tasks_bounded(ctx, uvloop):
    """More finished tasks than the report keeps: the busiest stay, the rest are counted.
    Also the default probes, checked then reduced while tracing: asyncio
    callbacks end at context_run's end points, checked against the return
    for 200 callbacks, then alone; uvloop's task probes go once the register
    search found 200 task steps (every task's end is counted across that
    switch)."""
    py = need_exe(DEBIAN_PY or pyenv(11), "python3.11")
    argv = [py, os.path.join(TARGETS, "many_tasks.py")]
    if uvloop:
        need_uvloop(py)
        argv.append("--uvloop")
    report, truth, _ = run_target_traced(ctx, argv, duration=14, tool_extra=["-v"])
    want = "uvloop: detaching the task probes" if uvloop else "context_run: callbacks end at"
    check([l for l in ctx.tool_stderr if want in l], "no %r: %s", want,
          [l for l in ctx.tool_stderr if "context_run:" in l or "uvloop:" in l])
    check(report["drops"]["callback_ends"] == 0, "%d callback ends not seen",
          report["drops"]["callback_ends"])
    p = the_process(report, truth["pid"])
    finished = [t for t in p["tasks"] if t["finished_ns"] is not None]
    vlog("%d finished tasks listed, %d omitted, %d created", len(finished),
         p["tasks_omitted"], truth["created"])
    check(report["drops"]["events"] == 0, "%d events dropped", report["drops"]["events"])
    check(p["tasks_omitted"] > 0, "no task omitted of %d created (listed %d)",
          truth["created"], len(finished))
    check(len(finished) + p["tasks_omitted"] == truth["created"],
          "%d listed + %d omitted != %d created", len(finished), p["tasks_omitted"],
          truth["created"])
    ids = {t["id"] for t in finished}
    missing = [h for h in truth["heavy"] if h not in ids]
    check(not missing, "busiest tasks %s not kept", missing)
    least_kept = min(t["busy_ns"] for t in finished)
    heavy_busy = [t["busy_ns"] for t in finished if t["id"] in truth["heavy"]]
    check(min(heavy_busy) >= least_kept, "heavy task less busy than a kept one")


TESTS.append(("tasks-bounded", lambda ctx: tasks_bounded(ctx, False)))
TESTS.append(("tasks-bounded-uvloop", lambda ctx: tasks_bounded(ctx, True)))


def stalled_test(name, py_fn, uvloop=False):
    """The loop is blocked in time.sleep when the tracer attaches: the call
    is reported, from the window's start (a lower bound) to its real end,
    with its stack; a worker thread's sleep that also began before is not."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        go, truth_path = ctx.path("go"), ctx.path("truth.json")
        argv = [py, os.path.join(TARGETS, "stalled.py")] + (["--uvloop"] if uvloop else [])
        if uvloop:
            need_uvloop(py)
        target = Proc(ctx, "target", argv + [go, truth_path], cwd=ctx.dir)
        pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
        open(go, "w").close()
        time.sleep(0.5)  # the loop is in its 2.5 s sleep
        tool = start_tool(ctx, pid, duration=5)
        report = finish_tool(tool, 40)
        check(os.path.exists(truth_path), "no ground truth: %s", target.tail("stderr"))
        with open(truth_path) as f:
            truth = json.load(f)
        p = the_process(report, pid)
        start = report["window"]["start_ns"]
        check(truth["start_ns"] < start < truth["end_ns"], "the tool did not attach during "
              "the sleep (%+.0f ms after its start)", (start - truth["start_ns"]) / MS)
        mine = [b for b in p["blocking_calls"] if b["tid"] == truth["loop_tid"]
                and b["start_ns"] == start]
        check(len(mine) == 1, "not one call from the window's start on the loop thread: %s",
              [(b["tid"], b["syscall"], b["start_ns"] - start) for b in p["blocking_calls"]])
        b = mine[0]
        check(b.get("began_before_window") is True, "began_before_window: %r",
              b.get("began_before_window"))
        later = [x for x in p["blocking_calls"] if x is not b and x.get("began_before_window")]
        check(not later, "calls that began in the window marked as before it: %s",
              [(x["syscall"], x["start_ns"] - start) for x in later])
        end = b["start_ns"] + b["duration_ns"]
        check(abs(end - truth["end_ns"]) <= 20 * MS, "the sleep ends %+.1f ms off",
              (end - truth["end_ns"]) / MS)
        want = "stalled.py:%d" % truth["line"]
        check(b["stack"] and "stall" in b["stack"][0] and want in b["stack"][0],
              "stack %s, want stall (%s) first", show_stack(b["stack"]), want)
        others = [x for x in p["blocking_calls"] if x["tid"] != truth["loop_tid"]]
        check(not others, "a call of a thread that is not a loop: %s",
              [(x["tid"], x["syscall"]) for x in others])
        target.signal(signal.SIGTERM)
        target.wait(10)
    TESTS.append((name, fn))


stalled_test("stalled-at-attach-debian-3.11", lambda: DEBIAN_PY)
stalled_test("stalled-at-attach-pyenv-3.8", lambda: pyenv(8))
stalled_test("stalled-at-attach-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)


def tasks_test(name, py_fn, uvloop=False, ends="probe"):
    """ends: how asyncio callbacks end (ASYNCPROF_CTX_END): "probe", at
    context_run's end points from the start, or "ret", at its return."""
    def fn(ctx):
        py = need_exe(py_fn(), name)
        argv = [py, os.path.join(TARGETS, "tasks.py")]
        if uvloop:
            need_uvloop(py)
            argv.append("--uvloop")
        # uvloop: the register search alone, without _asyncio's task probes
        env = {"ASYNCPROF_CTX_END": ends, "ASYNCPROF_UV_TASK_PROBES": "none"}
        report, truth, _ = run_target_traced(ctx, argv, duration=5, tool_extra=["-v"],
                                             tool_env=env)
        if not uvloop:
            used = [l for l in ctx.tool_stderr if "uprobe ap_context_run_end at" in l]
            check(bool(used) == (ends == "probe"), "end point probes %s with %s: %s",
                  "missing" if ends == "probe" else "attached", ends, used)
        check(report["drops"]["callback_ends"] == 0, "%d callback ends not seen",
              report["drops"]["callback_ends"])
        p = the_process(report, truth["pid"])
        if p["backend"] != "uprobe":
            raise Skip("backend is %r, not 'uprobe' (CPython backend not there yet)"
                       % p["backend"])
        check(p["runtime"] == "cpython", "runtime %r", p["runtime"])
        check(p["runtime_version"] == truth["python"], "runtime_version %r != %r",
              p["runtime_version"], truth["python"])
        check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"],
              "no loop on the loop thread %d", truth["loop_tid"])
        check(p["loops"][0]["callbacks"] is not None, "loops[0].callbacks is null under uprobe")
        by_name = {}
        for t in p["tasks"]:
            by_name.setdefault(t["name"], []).append(t)
        for gt in truth["tasks"]:
            got = by_name.get(gt["name"])
            check(got, "task %r missing (names seen: %s)", gt["name"],
                  sorted(str(n) for n in by_name)[:20])
            check(len(got) == 1, "task %r reported %d times", gt["name"], len(got))
            t = got[0]
            check(t["id"] == gt["id"], "task %s id %s != %s", gt["name"], t["id"], gt["id"])
            check(t["coro"] is not None and t["coro"].split(".")[-1] == gt["coro"],
                  "task %s coro %r != %r", gt["name"], t["coro"], gt["coro"])
            check(abs(t["steps"] - gt["steps"]) <= 2, "task %s steps %d, logged %d",
                  gt["name"], t["steps"], gt["steps"])
            check(t["state"] == gt["state"], "task %s state %r != %r",
                  gt["name"], t["state"], gt["state"])
            if gt["state"] == "failed":
                check(t["error"] == gt["error"], "task %s error %r != %r",
                      gt["name"], t["error"], gt["error"])
            check(t["loop_tid"] == truth["loop_tid"], "task %s loop_tid %d",
                  gt["name"], t["loop_tid"])
            if gt.get("parent") and t["parent"] is not None:
                check(t["parent"] == gt["parent"], "task %s parent %s != %s",
                      gt["name"], t["parent"], gt["parent"])
        hog = truth["cpu_hog"]
        hog_ns = hog["end_ns"] - hog["start_ns"]
        slow = [s for s in p["slow_callbacks"]
                if s["callback"] and "cpu_hog" in s["callback"]]
        check(slow, "cpu_hog not in slow_callbacks (callbacks seen: %s)",
              [s["callback"] for s in p["slow_callbacks"]])
        s = slow[0]
        check(s["task"] is None, "cpu_hog slow callback has task %s", s["task"])
        check(s["tid"] == truth["loop_tid"], "cpu_hog tid %d", s["tid"])
        check(abs(s["duration_ns"] - hog_ns) <= 0.2 * hog_ns,
              "cpu_hog duration %.1f ms, ground truth %.1f ms",
              s["duration_ns"] / MS, hog_ns / MS)
        check(abs(s["start_ns"] - hog["start_ns"]) <= 20 * MS,
              "cpu_hog start %+.1f ms off", (s["start_ns"] - hog["start_ns"]) / MS)
        tick = truth["ticker"]
        cbs = [c for c in p["callbacks"] if c["name"] and tick["qualname"] in c["name"]]
        check(cbs, "callback %s missing from callbacks (names: %s)", tick["qualname"],
              sorted(str(c["name"]) for c in p["callbacks"])[:20])
        check(sum(c["count"] for c in cbs) == tick["count"], "%s count %d != %d",
              tick["qualname"], sum(c["count"] for c in cbs), tick["count"])
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    tasks_test("tasks-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
tasks_test("tasks-debian-3.11", lambda: DEBIAN_PY)
tasks_test("tasks-pyenv-3.11-uretprobe", lambda: pyenv(11), ends="ret")
tasks_test("tasks-debian-3.11-uretprobe", lambda: DEBIAN_PY, ends="ret")
tasks_test("tasks-debian-3.11-uvloop", lambda: DEBIAN_PY, uvloop=True)



# --- Python stacks ------------------------------------------------------------------

FRAME_RX = re.compile(r"^(.*) \((.*):(-?\d+)\)$")


def parse_frame(s):
    """("qualname", "file", line) of a Python frame string, None for others."""
    m = FRAME_RX.match(s)
    return (m.group(1), m.group(2), int(m.group(3))) if m else None


def show_stack(stack, n=8):
    return "[%s%s]" % (", ".join(repr(f) for f in stack[:n]),
                       ", ... (%d frames)" % len(stack) if len(stack) > n else "")


def matching_call(p, ev):
    """The longest blocking call of ev's kind on ev's tid overlapping it."""
    calls = p["blocking_calls"]
    cands = [c for c in calls if c["tid"] == ev["tid"] and c["kind"] == ev["kind"]
             and overlap(c["start_ns"], c["start_ns"] + c["duration_ns"],
                         ev["start_ns"], ev["end_ns"]) > 0]
    if not cands:
        near = [(c["kind"], c["syscall"], c["tid"], round(c["duration_ns"] / MS, 1),
                 round((c["start_ns"] - ev["start_ns"]) / MS, 1))
                for c in calls if overlap(c["start_ns"], c["start_ns"] + c["duration_ns"],
                                          ev["start_ns"] - 50 * MS, ev["end_ns"] + 50 * MS) > 0]
        raise Fail("%s (%.1f ms, tid %d): no blocking call of kind %r on that tid overlaps it;"
                   " calls near it (kind, syscall, tid, ms, start offset ms): %s"
                   % (ev["op"], (ev["end_ns"] - ev["start_ns"]) / MS, ev["tid"], ev["kind"],
                      near or "none"))
    return max(cands, key=lambda c: c["duration_ns"])


def check_frames(what, stack, start, want):
    """stack[start:] begins with the frames want ([qualname, file, line]...)."""
    for j, (q, f, line) in enumerate(want):
        i = start + j
        check(i < len(stack), "%s: stack has %d frames, expected %s (%s:%d) at #%d; stack %s",
              what, len(stack), q, f, line, i, show_stack(stack))
        got = parse_frame(stack[i])
        check(got is not None, "%s: frame #%d %r is not 'qualname (file:line)'; stack %s",
              what, i, stack[i], show_stack(stack))
        check(got == (q, f, line), "%s: frame #%d is %r, expected %r; stack %s",
              what, i, stack[i], "%s (%s:%d)" % (q, f, line), show_stack(stack))


def check_stacks(report, truth):
    p = the_process(report, truth["pid"])
    check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"],
          "no loop on the loop thread %d", truth["loop_tid"])
    lo, hi = truth["cpu_lines"]
    for ev in truth["events"]:
        if ev["kind"] == "cpu":
            slow = [s for s in p["slow_callbacks"] if s["tid"] == ev["tid"]
                    and overlap(s["start_ns"], s["start_ns"] + s["duration_ns"],
                                ev["start_ns"], ev["end_ns"]) > 0]
            check(slow, "%s: no slow callback overlaps it (%d slow callbacks)", ev["op"],
                  len(p["slow_callbacks"]))
            s = max(slow, key=lambda s: overlap(s["start_ns"], s["start_ns"] + s["duration_ns"],
                                                 ev["start_ns"], ev["end_ns"]))
            st = s["stack"]
            fn, f = ev["stack"][0][0], ev["stack"][0][1]
            at = [i for i, fr in enumerate(st) if parse_frame(fr)
                  and parse_frame(fr)[:2] == (fn, f) and lo <= parse_frame(fr)[2] <= hi]
            check(at, "%s: slow callback %r stack has no '%s (%s:%d..%d)': %s", ev["op"],
                  s["callback"], fn, f, lo, hi, show_stack(st))
            check_frames("%s slow callback" % ev["op"], st, at[0] + 1, ev["stack"][1:])
            continue
        c = matching_call(p, ev)
        st = c["stack"]
        what = "%s (%s %s, %.1f ms)" % (ev["op"], c["kind"], c["syscall"], c["duration_ns"] / MS)
        check(st, "%s: empty stack", what)
        start = 0
        if ev.get("lib_prefix"):
            # the syscall is in library code (subprocess.py) below our function
            while start < len(st) and parse_frame(st[start]) and \
                    os.path.basename(parse_frame(st[start])[1]) == ev["lib_prefix"]:
                start += 1
            check(start > 0, "%s: first frame %r is not in %s", what, st[0], ev["lib_prefix"])
        check_frames(what, st, start, ev["stack"])
        check_blocked_slow_cb(p, c, what)


def check_blocked_slow_cb(p, c, what):
    """A slow callback mostly spent blocked shows its longest blocking call's
    stack, not where a stray CPU sample caught it."""
    end = c["start_ns"] + c["duration_ns"]
    for s in p["slow_callbacks"]:
        if s["tid"] != c["tid"] or not s["start_ns"] <= c["start_ns"] < end <= \
                s["start_ns"] + s["duration_ns"] or 2 * s["blocked_ns"] < s["duration_ns"]:
            continue
        inside = [b for b in p["blocking_calls"] if b["tid"] == s["tid"] and
                  s["start_ns"] <= b["start_ns"] < s["start_ns"] + s["duration_ns"]]
        if max(inside, key=lambda b: b["duration_ns"]) is c:
            check(s["stack"] == c["stack"], "%s: the slow callback around it (blocked %.1f of "
                  "%.1f ms) shows %s", what, s["blocked_ns"] / MS, s["duration_ns"] / MS,
                  show_stack(s["stack"]))


def stacks_test(name, py_fn):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        report, truth, _ = run_target_traced(ctx, [py, os.path.join(TARGETS, "stacks.py")],
                                             duration=7)
        check_stacks(report, truth)
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    stacks_test("stacks-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
stacks_test("stacks-debian-3.11", lambda: DEBIAN_PY)



def check_gil(report, truth):
    p = the_process(report, truth["pid"])
    check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"],
          "no loop on the loop thread %d", truth["loop_tid"])
    loop = p["loops"][0]
    bursts = [(b["start_ns"], b["end_ns"]) for b in truth["bursts"]]
    check(bursts, "target logged no bursts")
    total = sum(b1 - b0 for b0, b1 in bursts)
    mine = [c for c in p["blocking_calls"] if c["tid"] == truth["loop_tid"]]

    def in_bursts(c):
        return sum(max(0, overlap(c["start_ns"], c["start_ns"] + c["duration_ns"], b0, b1))
                   for b0, b1 in bursts)

    gil = [c for c in mine if c["kind"] == "gil"]
    gil_total = sum(c["duration_ns"] for c in gil)
    gil_in = sum(in_bursts(c) for c in gil)
    kinds = {}
    for c in mine:
        kinds.setdefault(c["kind"], [0, 0])
        kinds[c["kind"]][0] += 1
        kinds[c["kind"]][1] += in_bursts(c)
    summary = ", ".join("%s: %d calls, %.1f ms in bursts" % (k, n, t / MS)
                        for k, (n, t) in sorted(kinds.items()))
    check(gil_in >= 0.5 * total,
          "gil calls on the loop thread cover %.1f ms of the bursts' %.1f ms (< 50%%); %s",
          gil_in / MS, total / MS, summary or "no blocking calls on the loop thread")
    for c in mine:
        if c["kind"] != "gil":
            check(in_bursts(c) <= 5 * MS,
                  "a %s call (%s, %.1f ms) overlaps the bursts by %.1f ms: the GIL wait is"
                  " reported as another kind; %s", c["kind"], c["syscall"],
                  c["duration_ns"] / MS, in_bursts(c) / MS, summary)
    gw = loop.get("gil_wait_ns")
    check(isinstance(gw, int) and not isinstance(gw, bool),
          "loops[0].gil_wait_ns is %r, expected an integer", gw)
    check(gw >= 0.5 * total, "loops[0].gil_wait_ns %.1f ms < 50%% of the bursts' %.1f ms",
          gw / MS, total / MS)
    check(gw >= gil_total, "loops[0].gil_wait_ns %.1f ms < the total %.1f ms of the %d"
          " blocking calls of kind gil on the loop thread", gw / MS, gil_total / MS, len(gil))
    vlog("bursts %.1f ms; gil calls %d, %.1f ms (%.1f in bursts); gil_wait_ns %.1f ms; %s",
         total / MS, len(gil), gil_total / MS, gil_in / MS, gw / MS, summary)


def gil_test(name, py_fn):
    def fn(ctx):
        py = need_exe(py_fn(), name)
        report, truth, _ = run_target_traced(ctx, [py, os.path.join(TARGETS, "gil.py")],
                                             duration=6)
        check_gil(report, truth)
    TESTS.append((name, fn))


for _minor in (8, 9, 10, 11, 12, 13):
    gil_test("gil-pyenv-3.%d" % _minor, (lambda m: lambda: pyenv(m))(_minor))
gil_test("gil-debian-3.11", lambda: DEBIAN_PY)


# --- main -------------------------------------------------------------------------

def run_one(name, fn, keep):
    ctx = Ctx(name)
    status, reason = "ok", ""
    try:
        fn(ctx)
    except Fail as e:
        status, reason = "FAIL", str(e)
    except Skip as e:
        status, reason = "skip", str(e)
    except Exception:
        status, reason = "FAIL", "exception: " + traceback.format_exc().strip().replace("\n", " | ")
    finally:
        ctx.cleanup()
    if status == "FAIL":
        rel = os.path.relpath(ctx.dir)
        reason += " [artifacts: %s]" % (ctx.dir if rel.startswith("..") else rel)
    elif not keep:
        shutil.rmtree(ctx.dir, ignore_errors=True)
    print("%s %s%s" % (status, name, ": " + reason if reason else ""), flush=True)
    return status


def main_for(tests, description):
    """A suite's command line: run the (name, fn) tests selected, print
    "ok/FAIL/skip NAME" lines and the closing count; the exit status."""
    global VERBOSE
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--list", action="store_true", help="list the tests")
    ap.add_argument("--filter", action="append", default=[],
                    help="run tests whose name contains this (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep artifacts of passed tests too")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose
    sel = [(n, f) for n, f in tests if not args.filter or any(s in n for s in args.filter)]
    if args.list:
        for n, _ in sel:
            print(n)
        return 0
    os.makedirs(OUT, exist_ok=True)
    counts = {"ok": 0, "FAIL": 0, "skip": 0}
    for n, f in sel:
        counts[run_one(n, f, args.keep)] += 1
    print("%d passed, %d failed, %d skipped" % (counts["ok"], counts["FAIL"], counts["skip"]))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "asyncprof-bpf integration tests"))
