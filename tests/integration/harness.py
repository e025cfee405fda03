#!/usr/bin/env python3
"""The integration suites' harness: real interpreters traced by the real
asyncprof-bpf. Each suite (test_*.py) keeps a list of (name, fn) tests and
ends with sys.exit(harness.main_for(TESTS, ...)); tests/integration/run.py
runs every suite.

A test starts a target from targets/, waits for its "ready <pid>" line,
starts the tool against it, waits for the tool's "Tracing" line on stderr,
touches the target's START_FILE, waits for both (everything has a timeout;
leftovers are killed), then checks the JSON report against the target's
ground truth (the schema check of every report is validate_report).

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


SID_WRAPPER = """#!/bin/sh
# Debian sid's python3.%(minor)d in %(root)s, chrooted, in a mount namespace of
# its own where %(repo)s is bind-mounted at its own path: the tests' targets and
# ground-truth files are where the tests put them. Same pid: exec all the way.
exec unshare --mount sh -c 'mkdir -p "$1$2" && mount --bind "$2" "$1$2" && shift 2 &&
    exec chroot "%(root)s" /usr/bin/python3.%(minor)d "$@"' sh "%(root)s" "%(repo)s" "$@"
"""


def sid_root():
    """The Debian sid root of tests/roots/mkroot.py (built by make roots, else now)."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "roots", "mkroot.py"),
                          "--path", "sid"], stdout=subprocess.PIPE, text=True)
    check(out.returncode == 0, "no sid root (tests/roots/mkroot.py sid failed)")
    return out.stdout.strip().splitlines()[-1]


def sid_python(minor):
    """Debian sid's CPython 3.<minor> as a command (a wrapper, see SID_WRAPPER) that
    runs the suites' targets unchanged, in its own mount namespace."""
    path = os.path.join(ROOT, ".output", "sid", "python3.%d" % minor)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(SID_WRAPPER % {"minor": minor, "root": sid_root(), "repo": ROOT})
    os.chmod(path + ".tmp", 0o755)
    os.replace(path + ".tmp", path)
    return path


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
CAUSE_NAMES = ("running", "run_queue", "gil", "short_syscalls", "other", "sleep", "file", "net",
               "process", "lock")
CAUSES = {n + "_ns": Opt(INT) if n == "run_queue" else INT for n in CAUSE_NAMES}
LOOP = {"tid": INT, "kind": Enum("asyncio", "uvloop", "libuv", "epoll"), "iterations": INT,
        "busy_ns": INT, "idle_ns": INT, "callbacks": Opt(INT), "lag": LAG,
        "busy_causes": CAUSES, "slow_iterations": INT, "slow_iteration_causes": CAUSES}
ITERATION = {"tid": INT, "start_ns": INT, "duration_ns": INT, "causes": CAUSES, "culprits": {},
             "in_progress": BOOL}
TASK = {"id": ADDR, "name": Opt(STR), "coro": Opt(STR), "loop_tid": INT, "parent": Opt(ADDR),
        "created_ns": Opt(INT), "first_run_ns": INT, "last_run_ns": INT,
        "finished_ns": Opt(INT),
        "state": Opt(Enum("pending", "done", "cancelled", "failed")), "error": Opt(STR),
        "steps": INT, "busy_ns": INT, "max_step_ns": INT, "blocked_ns": INT,
        "awaits": Opt({"future": Opt(ADDR), "type": Opt(STR), "task": Opt(ADDR), "at": Opt(STR)}),
        "awaited_by": [ADDR], "since_last_step_ns": Opt(INT)}
LINT = {"kind": Enum("stuck", "deadlock", "never_yields", "busy_poll", "blocking"), "tid": INT,
        "task": Opt(ADDR), "name": Opt(STR), "coro": Opt(STR), "message": STR, "fix": Opt(STR),
        "ns": INT, "count": INT, "stack": [STR]}
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
           "callbacks": [CALLBACK], "slow_callbacks": [SLOW], "blocking_calls": [BLOCKING],
           "slow_iterations": [ITERATION], "lints": [LINT]}
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


def causes_sum(c):
    return sum(v for v in c.values() if v is not None)


def causes_errors(p, pi):
    """Each slow iteration's causes sum to its duration within 5 %; a loop's
    sums are no more than its busy time, and its slow iterations' are theirs."""
    errs = []
    for i, it in enumerate(p["slow_iterations"]):
        s, d = causes_sum(it["causes"]), it["duration_ns"]
        if abs(s - d) > d * 0.05:
            errs.append("$.processes[%d].slow_iterations[%d]: causes sum to %d, duration %d"
                        % (pi, i, s, d))
    for li, loop in enumerate(p["loops"]):
        where = "$.processes[%d].loops[%d]" % (pi, li)
        s = causes_sum(loop["busy_causes"])
        if s > loop["busy_ns"] * 1.05:
            errs.append("%s: busy causes sum to %d > busy_ns %d" % (where, s, loop["busy_ns"]))
        mine = [it for it in p["slow_iterations"] if it["tid"] == loop["tid"]]
        if len(mine) == loop["slow_iterations"]:
            for k, v in loop["slow_iteration_causes"].items():
                want = None if v is None else sum(it["causes"][k] for it in mine)
                if v != want:
                    errs.append("%s.slow_iteration_causes.%s %s != the sum over its slow "
                                "iterations %s" % (where, k, v, want))
    return errs


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
            errs += causes_errors(p, pi)
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


# --- checks several suites share ---------------------------------------------

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
        c = matching_call(p, ev)
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


def show_stack(stack, n=8):
    return "[%s%s]" % (", ".join(repr(f) for f in stack[:n]),
                       ", ... (%d frames)" % len(stack) if len(stack) > n else "")


def one_error_line(tool, what):
    lines = [l for l in tool.stderr_lines() if l.strip()]
    # argp usage errors add a "Try `asyncprof-bpf --help'" hint line: allow it.
    real = [l for l in lines if not l.startswith("Try ")]
    check(len(real) == 1, "%s: expected one error line on stderr, got %d: %s",
          what, len(real), lines)
    return real[0]


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


FRAME_RX = re.compile(r"^(.*) \((.*):(-?\d+)\)$")


def parse_frame(s):
    """("qualname", "file", line) of a Python frame string, None for others."""
    m = FRAME_RX.match(s)
    return (m.group(1), m.group(2), int(m.group(3))) if m else None


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


def registrar(tests):
    """A decorator @test(name) that adds the function to tests as (name, fn)."""
    def test(name):
        def reg(fn):
            tests.append((name, fn))
            return fn
        return reg
    return test


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
