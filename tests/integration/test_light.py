#!/usr/bin/env python3
"""Light mode (--mode light) against real targets: no uprobe attached
(the kernel's own view, bpftool, with full mode as the control), busy time
of tasks and callbacks found by coroutine name from CPU samples, blocking
calls with their Python stacks and task, slow iterations with the stack of
their samples, and a report that says mode light and that steps are not
exact. Target: targets/light.py, which logs its own ground truth.

    python3 tests/integration/test_light.py [--filter SUBSTR]... [--keep] [-v]

Runs as root (like harness.py, whose helpers it uses). Prints "ok NAME",
"FAIL NAME: reason" or "skip NAME: reason" per test and closes with
"N passed, N failed, N skipped".
"""
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Skip, check, MS  # noqa: E402

TARGET = os.path.join(harness.TARGETS, "light.py")
TESTS = []


def test(name):
    def reg(fn):
        TESTS.append((name, fn))
        return fn
    return reg


def light_argv(py, uvloop):
    argv = [py, TARGET]
    if uvloop:
        harness.need_uvloop(py)
        argv.append("--uvloop")
    return argv


def check_header(ctx, report, p, truth):
    check(report["config"].get("mode") == "light", "config.mode %r, expected 'light'",
          report["config"].get("mode"))
    period = report["config"].get("sample_period_ns")
    check(period == 10**9 // 99, "config.sample_period_ns %r: light mode samples at 99 Hz by "
          "default", period)
    check(p.get("steps_exact") is False, "steps_exact %r, expected false", p.get("steps_exact"))
    check(p["backend"] == "syscall", "backend %r: no uprobe means 'syscall'", p["backend"])
    check(p["runtime_version"] == truth["python"], "runtime_version %r != %r",
          p["runtime_version"], truth["python"])
    check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"], "no loop on tid %d",
          truth["loop_tid"])
    check(p["loops"][0]["callbacks"] is None, "loops[0].callbacks %r: not counted in light mode",
          p["loops"][0]["callbacks"])
    with open(ctx.path("report.txt")) as f:
        text = f.read()
    check("mode light" in text and "steps are not exact" in text,
          "the text report does not say mode light and that steps are not exact")


def near(got, want, lo, hi, what):
    check(lo * want <= got <= hi * want, "%s %.1f ms, ground truth %.1f ms (allowed %.1f..%.1fx)",
          what, got / MS, want / MS, lo, hi)


def check_cruncher(p, truth):
    """The CPU-bound task's busy time, from samples, by coroutine name."""
    gt = truth["cruncher"]
    cbs = [c for c in p["callbacks"] if c["name"] and c["name"].split(".")[-1] == gt["coro"]]
    check(cbs, "no callbacks entry for coroutine %r (names: %s)", gt["coro"],
          sorted(str(c["name"]) for c in p["callbacks"]))
    near(cbs[0]["total_ns"], gt["cpu_ns"], 0.6, 1.4, "callbacks[%s].total_ns" % gt["coro"])
    if truth["uvloop"]:
        return  # uvloop runs handles from C: the Task itself is not found, its coroutine is
    tasks = [t for t in p["tasks"] if t["name"] == gt["name"]]
    check(len(tasks) == 1, "task %r found %d times (names: %s)", gt["name"], len(tasks),
          sorted(str(t["name"]) for t in p["tasks"]))
    t = tasks[0]
    check(t["id"] == gt["id"], "task %s id %s != %s", gt["name"], t["id"], gt["id"])
    check(t["coro"] and t["coro"].split(".")[-1] == gt["coro"], "task coro %r", t["coro"])
    check(t["loop_tid"] == truth["loop_tid"], "task loop_tid %d", t["loop_tid"])
    near(t["busy_ns"], gt["cpu_ns"], 0.6, 1.4, "task %s busy_ns" % gt["name"])
    # 8 steps of 40 ms at 199 Hz: each step is sampled; the count is a lower bound
    check(4 <= t["steps"] <= 10, "task %s steps %d, ran 8", gt["name"], t["steps"])
    check(t["state"] is None, "task state %r: not seen in light mode", t["state"])


def check_naps(p, truth):
    """Every injected blocking call, with its Python stack (and task on asyncio)."""
    gt, f, lines = truth["napper"], truth["file"], truth["lines"]
    for ev in gt["naps"]:
        ev = dict(ev, op="nap", kind="sleep", tid=truth["loop_tid"])
        c = harness.matching_call(p, ev)
        near(c["duration_ns"], ev["end_ns"] - ev["start_ns"], 0.8, 1.2, "nap duration")
        harness.check_frames("nap", c["stack"], 0, [["nap_blocking", f, lines["nap"]],
                                                ["napper", f, lines["napper"]]])
        check(c["callback"] and c["callback"].split(".")[-1] == gt["coro"],
              "nap callback %r, expected the coroutine %r", c["callback"], gt["coro"])
        if not truth["uvloop"]:
            check(c["task"] == gt["id"], "nap task %s, expected %s", c["task"], gt["id"])


def check_spin(p, truth):
    """The slow plain callback is a slow iteration named and stacked from its samples."""
    spin, f = truth["spin"], truth["file"]
    slow = [s for s in p["slow_callbacks"] if s["tid"] == truth["loop_tid"] and
            harness.overlap(s["start_ns"], s["start_ns"] + s["duration_ns"], spin["start_ns"],
                        spin["end_ns"]) > 0]
    check(slow, "no slow iteration overlaps spin_callback (%d slow callbacks)",
          len(p["slow_callbacks"]))
    s = slow[0]
    check(s["duration_ns"] >= spin["end_ns"] - spin["start_ns"],
          "slow iteration %.1f ms shorter than spin_callback's %.1f ms", s["duration_ns"] / MS,
          (spin["end_ns"] - spin["start_ns"]) / MS)
    check(s["callback"] == "spin_callback", "slow iteration callback %r", s["callback"])
    at = [fr for fr in s["stack"] if harness.parse_frame(fr) and
          harness.parse_frame(fr) == ("spin_callback", f, truth["lines"]["spin"])]
    check(at, "slow iteration stack lacks spin_callback (%s:%d): %s", f,
          truth["lines"]["spin"], harness.show_stack(s["stack"]))


def light_test(name, py_fn, uvloop=False):
    def fn(ctx):
        py = harness.need_exe(py_fn(), name)
        extra = ["--mode", "light", "-o", "text:" + ctx.path("report.txt")]
        report, truth, _ = harness.run_target_traced(ctx, light_argv(py, uvloop), duration=4,
                                                 tool_extra=extra)
        p = harness.the_process(report, truth["pid"])
        check_header(ctx, report, p, truth)
        check_cruncher(p, truth)
        check_naps(p, truth)
        check_spin(p, truth)
    TESTS.append((name, fn))


light_test("light-debian-3.11", lambda: harness.DEBIAN_PY)
light_test("light-debian-3.11-uvloop", lambda: harness.DEBIAN_PY, uvloop=True)
for _minor in (14, 15):
    light_test("light-debian-sid-3.%d" % _minor,
               (lambda m: lambda: harness.sid_python(m))(_minor))
light_test("light-debian-sid-3.14-uvloop", lambda: harness.sid_python(14), uvloop=True)
for _minor in (8, 10, 12, 13):
    light_test("light-pyenv-3.%d" % _minor, (lambda m: lambda: harness.pyenv(m))(_minor))


def probes_of(tool_pid):
    """(fd_type, program id) of every perf-based attachment the tool holds."""
    return [(e.get("fd_type"), e.get("prog_id")) for e in harness.bpftool_json("perf")
            if e.get("pid") == tool_pid]


def prog_ids_of(pid):
    """Ids of the BPF programs process pid holds, from its fds' fdinfo."""
    ids = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def attached_while_tracing(ctx, pid, mode):
    tool = harness.start_tool(ctx, pid, extra=["--mode", mode], name="tool-" + mode)
    probes = probes_of(tool.pid)
    # this tool's programs only: other tracers may run on the host at the same time
    mine = prog_ids_of(tool.pid)
    progs = [p for p in harness.bpftool_json("prog", "show") if p["id"] in mine]
    with open(ctx.path("attached-%s.json" % mode), "w") as f:
        json.dump({"perf": probes, "progs": progs}, f, indent=1)
    tool.signal(signal.SIGINT)
    harness.finish_tool(tool, 15)
    return probes, progs


@test("light-no-uprobe")
def t_no_uprobe(ctx):
    if not shutil.which("bpftool"):
        raise Skip("bpftool not installed")
    py = harness.need_exe(harness.pyenv(11) or harness.DEBIAN_PY, "python3.11")
    target = harness.Proc(ctx, "target", light_argv(py, False) + ["--stay", ctx.path("truth.json"),
                                                               ctx.path("start")])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    full, full_progs = attached_while_tracing(ctx, pid, "full")
    # the control: the same query sees full mode's uprobes
    check(any(t in ("uprobe", "uretprobe") for t, _ in full),
          "control failed: no uprobe seen in full mode (%s)", full)
    full_kp = [p for p in full_progs if p.get("type") == "kprobe"]
    check(full_kp, "control failed: no uprobe program among full mode's %s",
          sorted(p.get("name") for p in full_progs))
    light, progs = attached_while_tracing(ctx, pid, "light")
    check(light, "nothing attached in light mode")
    ups = [x for x in light if x[0] in ("uprobe", "uretprobe")]
    check(not ups, "uprobes attached in light mode: %s", ups)
    names = {p.get("name") for p in progs}
    check("ap_sample" in names, "no CPU sampler program in light mode: %s", sorted(names))
    kp = [(p["id"], p.get("name")) for p in progs if p.get("type") == "kprobe"]
    check(not kp, "uprobe programs loaded in light mode: %s", kp)


@test("light-systemwide-default")
def t_systemwide(ctx):
    py = harness.need_exe(harness.DEBIAN_PY, "python3.11")
    start, gt_path = ctx.path("start"), ctx.path("truth.json")
    target = harness.Proc(ctx, "target", light_argv(py, False) + ["--stay", gt_path, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    harness.need_tool()
    comm = open("/proc/%d/comm" % pid).read().strip()
    out = ctx.path("report.json")
    tool = harness.Proc(ctx, "tool", [harness.TOOL, "--comm", comm, "--duration", "4", "-q",
                                  "--no-live", "-o", "json:" + out])
    tool.wait_line("stderr", r"^Tracing", 30)
    open(start, "w").close()
    check(tool.wait(40) == 0, "tool failed: %s", tool.tail("stderr"))
    report = harness.load_report(out)
    deadline = time.monotonic() + 10
    while not os.path.exists(gt_path):
        check(time.monotonic() < deadline, "no ground truth from the target")
        time.sleep(0.05)
    with open(gt_path) as f:
        truth = json.load(f)
    check(report["config"].get("mode") == "light",
          "system-wide without --mode: config.mode %r, expected 'light'",
          report["config"].get("mode"))
    mine = [p for p in report["processes"] if p["pid"] == pid]
    check(mine, "the target (pid %d) was not found system-wide", pid)
    check_naps(mine[0], truth)


@test("light-usage-error")
def t_usage(ctx):
    harness.need_tool()
    out = ctx.path("report.json")
    tool = harness.Proc(ctx, "tool", [harness.TOOL, "--pid", str(os.getpid()), "--mode", "light",
                                  "--backend", "uprobe", "--duration", "1", "-o",
                                  "json:" + out])
    rc = tool.wait(20)
    check(rc != 0, "exit 0 for --mode light --backend uprobe")
    line = harness.one_error_line(tool, "--mode light --backend uprobe")
    check("light" in line and "uprobe" in line, "error line does not say why: %r", line)
    check(not os.path.exists(out), "output file created")


if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "asyncprof-bpf light-mode integration tests"))
