#!/usr/bin/env python3
"""Hardening: bad input, faults and hostile targets, against the real tool.

    python3 tests/integration/test_hardening.py [--list] [--filter SUBSTR]... [--keep] [-v]

Each test ends in one of the two outcomes the tool promises: a clear
one-line error and a non-zero exit, or a complete report (checked against
the target's ground truth where there is one). Stop signals and a closed
stdout must leave a whole report and no probe attached (checked through
bpftool's lists of the tool's programs, links and perf events); SIGKILL must
leave no probe. Targets: tests/integration/targets/hard_*.

Runs as root with harness.py's harness; prints "ok NAME" / "FAIL NAME: why" /
"skip NAME: why" and closes with "N passed, N failed, N skipped".
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Fail, Skip, check, MS, TARGETS, TOOL  # noqa: E402

TESTS = []
CHURN = os.path.join(TARGETS, "hard_churn.py")


def test(fn):
    TESTS.append((fn.__name__[2:].replace("_", "-"), fn))
    return fn


def python311():
    return harness.need_exe(harness.pyenv(11) or harness.DEBIAN_PY, "python3.11")


def tool_run(ctx, args, timeout=30, name="tool"):
    """Run the tool to its end; (rc, Proc)."""
    harness.need_tool()
    t = harness.Proc(ctx, name, [TOOL] + list(args))
    return t.wait(timeout), t


def expect_error(ctx, args, pattern, name="tool", usage=False):
    """A non-zero exit with one error line matching pattern, and no tracing."""
    rc, t = tool_run(ctx, args, name=name)
    check(rc != 0, "%s: exit 0", " ".join(args))
    check(rc > 0, "%s: killed by signal %d", " ".join(args), -rc)
    line = harness.one_error_line(t, " ".join(args))
    check(re.search(pattern, line), "%s: error line %r does not match /%s/", " ".join(args),
          line, pattern)
    check("\x1b" not in line, "raw ESC in the error line %r", line)
    lines = t.stderr_lines()
    check(not any(l.startswith("Tracing") for l in lines), "it traced before failing: %s", lines)
    if usage:
        check(rc == 64, "%s: exit %d, argp usage errors exit 64", " ".join(args), rc)
        check(any(l.startswith("Try ") for l in lines), "no usage hint: %s", lines)
    return line


def start_target(ctx, argv, name="target"):
    """Start a target of the blocking.py protocol; (Proc, truth path, start path)."""
    gt, start = ctx.path("truth.json"), ctx.path("start")
    t = harness.Proc(ctx, name, list(argv) + [gt, start], cwd=ctx.dir)
    pid = int(t.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    t.ready_pid = pid
    return t, gt, start


def wait_truth(path, target, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        check(target.p.poll() is None or os.path.exists(path),
              "target exited (rc %s) without ground truth: %s", target.p.poll(),
              target.tail("stderr"))
        check(time.monotonic() < deadline, "no ground truth after %ds", timeout)
        time.sleep(0.05)
    with open(path) as f:
        return json.load(f)


def check_sleep(p, truth, what="the sleeper's time.sleep(0.2)"):
    """The target's recorded sleep is a blocking call of kind sleep, right length."""
    ev = truth["sleep"]
    want = ev["end_ns"] - ev["start_ns"]
    calls = [c for c in p["blocking_calls"] if c["kind"] == "sleep"
             and harness.overlap(c["start_ns"], c["start_ns"] + c["duration_ns"],
                             ev["start_ns"], ev["end_ns"]) > 0]
    check(calls, "%s (%.1f ms) is not in blocking_calls (%d calls)", what, want / MS,
          len(p["blocking_calls"]))
    c = max(calls, key=lambda c: c["duration_ns"])
    check(abs(c["duration_ns"] - want) <= 0.2 * want, "%s reported %.1f ms, truth %.1f ms",
          what, c["duration_ns"] / MS, want / MS)
    return c


# --- probes attached by a tool process --------------------------------------------


def check_detached(ids, what, timeout=5):
    """None of the programs ids is loaded any more, nor attached anywhere."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in harness.bpftool_json("prog", "show") if p["id"] in ids]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check(not left, "%s: programs still loaded: %s", what,
          [(p["id"], p.get("name")) for p in left])
    links = [l for l in harness.bpftool_json("link", "show") if l.get("prog_id") in ids]
    check(not links, "%s: links still present: %s", what, [l["id"] for l in links])
    perf = [e for e in harness.bpftool_json("perf") if e.get("prog_id") in ids]
    check(not perf, "%s: perf events still attached: %s", what, perf)


def need_bpftool():
    if not shutil.which("bpftool"):
        raise Skip("bpftool not installed")


# --- bad pids -----------------------------------------------------------------------

@test
def t_pid_kernel_thread(ctx):
    kthreads = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    flags = int(f.read().rsplit(")", 1)[1].split()[6])
            except (OSError, IndexError, ValueError):
                continue
            if flags & 0x00200000:
                kthreads.append(int(d))
    if not kthreads:
        raise Skip("no kernel thread visible in /proc")
    expect_error(ctx, ["--pid", str(min(kthreads)), "-d", "1"], r"kernel thread")


@test
def t_pid_zombie(ctx):
    # a child that exits at once, not reaped: a zombie while we look
    z = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while True:
        with open("/proc/%d/stat" % z.pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        check(time.monotonic() < deadline, "child %d never became a zombie", z.pid)
        time.sleep(0.01)
    try:
        expect_error(ctx, ["--pid", str(z.pid), "-d", "1"], r"exited|zombie")
    finally:
        z.wait()


@test
def t_pid_own(ctx):
    harness.need_tool()
    # the shell execs the tool: $$ is the tool's own pid
    t = harness.Proc(ctx, "tool", ["sh", "-c", 'exec "$0" --pid $$ -d 1', TOOL])
    rc = t.wait(20)
    check(rc > 0, "exit %s for --pid of itself", rc)
    line = harness.one_error_line(t, "own pid")
    check("itself" in line, "error line %r does not say it is the tool itself", line)


@test
def t_pid_1(ctx):
    """pid 1: an error line (not Python, or not readable) or, if it is a loop, a report."""
    out = ctx.path("r.json")
    rc, t = tool_run(ctx, ["--pid", "1", "-d", "1", "-o", out])
    check(rc >= 0, "killed by signal %d", -rc)
    if rc == 0:
        harness.the_process(harness.load_report(out), 1)
    else:
        harness.one_error_line(t, "--pid 1")
        check(not os.path.exists(out), "an output file after an error")


@test
def t_pid_exits_before_attach(ctx):
    """A target gone between the check and the attach: an error or a report, never a hang."""
    py = python311()
    for i in range(3):
        out = ctx.path("r%d.json" % i)
        target = harness.Proc(ctx, "target%d" % i, [py, "-c", "import time; time.sleep(0.05 * %d)" % i])
        rc, t = tool_run(ctx, ["--pid", str(target.pid), "-d", "2", "--backend", "syscall",
                               "-o", out], name="tool%d" % i)
        check(rc >= 0, "killed by signal %d", -rc)
        if rc == 0:
            harness.load_report(out)
        else:
            harness.one_error_line(t, "short-lived target")


# --- options and outputs ----------------------------------------------------------------

BAD_OPTIONS = [
    (["--blocking-threshold", "-1"], r"blocking-threshold"),
    (["--blocking-threshold", "0"], r"blocking-threshold"),
    (["--slow-callback", "-5"], r"slow-callback"),
    (["--stuck-after", "0"], r"stuck-after"),
    (["--stuck-after", "x"], r"stuck-after"),
    (["--lag-interval", "abc"], r"lag-interval"),
    (["--format", "xml"], r"format"),
    (["-o", "json:"], r"empty output file name"),
    (["--frequency", "0"], r"frequency"),
    (["--frequency", "-3"], r"frequency"),
    (["--duration", "-1"], r"duration"),
    (["--duration", "nan"], r"duration"),
    (["--top", "0"], r"top"),
    (["--stack-depth", "99"], r"stack-depth"),
    (["--max-tasks", "1"], r"max-tasks"),
    (["--interval", "5"], r"interval"),
    (["--backend", "kprobe"], r"backend"),
    (["--prometheus", "127.0.0.1:99999"], r"prometheus"),
]


@test
def t_options_invalid(ctx):
    for i, (args, pat) in enumerate(BAD_OPTIONS):
        usage = args[0] != "-o"
        expect_error(ctx, ["--pid", str(os.getpid())] + args, pat, name="tool%d" % i,
                     usage=usage)


def sleeper_pid(ctx):
    return harness.Proc(ctx, "sleeper", ["sleep", "30"]).pid


@test
def t_output_is_directory(ctx):
    os.makedirs(ctx.path("dir.json"))
    expect_error(ctx, ["--pid", str(sleeper_pid(ctx)), "-d", "1", "-o", ctx.path("dir.json")],
                 r"cannot write .*: Is a directory")


@test
def t_output_missing_directory(ctx):
    expect_error(ctx, ["--pid", str(sleeper_pid(ctx)), "-d", "1", "-o",
                       ctx.path("no/such/dir/r.json")], r"cannot write .*No such file")


def mount_tmpfs(ctx, name, opts):
    d = ctx.path(name)
    os.makedirs(d)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "none", d],
                       stderr=subprocess.PIPE)
    if r.returncode:
        raise Skip("cannot mount a tmpfs: %s" % r.stderr.decode().strip())
    ctx.mounts = getattr(ctx, "mounts", []) + [d]
    return d


def umount_all(ctx):
    for d in getattr(ctx, "mounts", []):
        subprocess.run(["umount", "-l", d], stderr=subprocess.DEVNULL)


@test
def t_output_read_only(ctx):
    try:
        d = mount_tmpfs(ctx, "ro", "ro,size=64k")
        expect_error(ctx, ["--pid", str(sleeper_pid(ctx)), "-d", "1", "-o",
                           os.path.join(d, "r.json")], r"cannot write .*Read-only")
    finally:
        umount_all(ctx)


@test
def t_output_full_filesystem(ctx):
    """ENOSPC while writing: an error line, no half file, the other outputs whole."""
    py = python311()
    try:
        d = mount_tmpfs(ctx, "full", "size=64k")
        with open(os.path.join(d, "filler"), "wb") as f:
            try:
                f.write(b"x" * (64 << 10))
            except OSError:
                pass
        # room for an empty file (the check before tracing) but not for a page of HTML
        target, gt, start = start_target(ctx, [py, CHURN, "--stay"])
        full, good = os.path.join(d, "r.html"), ctx.path("r.json")
        tool = harness.Proc(ctx, "tool", [TOOL, "--pid", str(target.ready_pid), "-d", "2",
                                      "-o", "html:" + full, "-o", good])
        tool.wait_line("stderr", r"^Tracing", 30)
        open(start, "w").close()
        rc = tool.wait(40)
        check(rc == 1, "exit %s, expected 1 for a failed output", rc)
        errs = [l for l in tool.stderr_lines() if "failed to write" in l]
        check(len(errs) == 1 and "No space left" in errs[0], "stderr: %s",
              tool.stderr_lines())
        check(sorted(os.listdir(d)) == ["filler"], "left in the full filesystem: %s",
              os.listdir(d))
        p = harness.the_process(harness.load_report(good), target.ready_pid)
        check(p["loops"], "the JSON report written next to it has no loop")
    finally:
        umount_all(ctx)


# --- runtimes the uprobe backend cannot use ------------------------------------------------

def fake_python(ctx, hexver):
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise Skip("no C compiler for hard_fakepy.c")
    exe = ctx.path("python3-fake")
    subprocess.run([cc, "-O1", "-s", "-rdynamic", "-DPY_HEX=%s" % hexver,
                    os.path.join(TARGETS, "hard_fakepy.c"), "-o", exe], check=True)
    return exe


def fallback_test(ctx, hexver, version, why):
    exe = fake_python(ctx, hexver)
    target = harness.Proc(ctx, "target", [exe])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 10).group(1))
    out = ctx.path("r.json")
    rc, t = tool_run(ctx, ["--pid", str(pid), "-d", "1.5", "-o", out, "-q"])
    check(rc == 0, "exit %s: %s", rc, t.tail("stderr"))
    warn = [l for l in t.stderr_lines() if "warning" in l]
    check(len(warn) == 1 and re.search(why, warn[0]) and "syscall backend" in warn[0],
          "no warning saying why it falls back (/%s/): %s", why, t.stderr_lines())
    p = harness.the_process(harness.load_report(out), pid)
    check(p["runtime"] == "cpython" and p["runtime_version"] == version,
          "runtime %r %r", p["runtime"], p["runtime_version"])
    check(p["backend"] == "syscall", "backend %r", p["backend"])
    check(p["loops"] and p["loops"][0]["tid"] == pid, "no loop on the main thread")
    naps = [c for c in p["blocking_calls"] if c["syscall"] == "clock_nanosleep"
            and abs(c["duration_ns"] - 150 * MS) < 30 * MS]
    check(naps, "none of its 150 ms nanosleeps reported: %s",
          [(c["syscall"], c["duration_ns"] // MS) for c in p["blocking_calls"]])
    expect_error(ctx, ["--pid", str(pid), "-d", "1", "--backend", "uprobe"],
                 r"uprobe is not available.*" + why, name="tool-uprobe")


@test
def t_runtime_unsupported_version(ctx):
    fallback_test(ctx, "0x030e00f0", "3.14.0", r"unsupported CPython version 3\.14\.0")


@test
def t_runtime_stripped_no_symbol(ctx):
    fallback_test(ctx, "0x030b02f0", "3.11.2", r"no context_run nor PyContext_Type")


@test
def t_runtime_no_asyncio_module(ctx):
    """A Python without _asyncio (pure-Python Tasks): said so, the rest reported right."""
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--no-asyncio-c", "--stay"])
    tool = harness.start_tool(ctx, target.ready_pid, duration=2.5)
    open(start, "w").close()
    report = harness.finish_tool(tool, 30)
    truth = wait_truth(gt, target)
    check(truth["c_asyncio"] is False, "the target still runs C Tasks")
    warn = [l for l in tool.stderr_lines() if "_asyncio" in l]
    check(warn and "tasks are not tracked" in warn[0], "no warning about _asyncio: %s",
          tool.stderr_lines())
    p = harness.the_process(report, target.ready_pid)
    check(p["backend"] == "uprobe", "backend %r", p["backend"])
    c = check_sleep(p, truth)
    check(c["stack"] and c["stack"][0].startswith("sleeper ("), "stack of the sleep: %s",
          c["stack"][:3])
    check(p["loops"][0]["callbacks"], "no callbacks counted")


# --- the target changes under the tracer -------------------------------------------------

def churn_test(ctx, mode, duration=3.5, extra=()):
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--mode", mode, "--stay"])
    tool = harness.start_tool(ctx, target.ready_pid, duration=duration, extra=extra)
    open(start, "w").close()
    report = harness.finish_tool(tool, duration + 40)
    truth = wait_truth(gt, target)
    p = harness.the_process(report, target.ready_pid)
    check(p["loops"] and p["loops"][0]["tid"] == truth["loop_tid"], "no loop on %d",
          truth["loop_tid"])
    check_sleep(p, truth)
    return report, p, truth, target, tool


@test
def t_target_threads(ctx):
    _, p, truth, _, _ = churn_test(ctx, "threads")
    m0, m1 = truth["mode_ns"]
    # 20 threads slept 50 ms each: not the loop's blocking calls
    others = [c for c in p["blocking_calls"] if c["tid"] != truth["loop_tid"]]
    check(not others, "blocking calls of other threads reported: %s",
          [(c["tid"], c["syscall"]) for c in others][:5])
    joins = [c for c in p["blocking_calls"] if m0 <= c["start_ns"] <= m1]
    check(joins, "the loop thread's joins (futex waits) are not reported")


@test
def t_target_forks(ctx):
    _, p, truth, _, _ = churn_test(ctx, "fork")
    tids = {c["tid"] for c in p["blocking_calls"]} | {l["tid"] for l in p["loops"]}
    check(truth["child"] not in tids, "the forked child %d shows up in the parent's report",
          truth["child"])


@test
def t_target_execs(ctx):
    """The target execs `sleep` mid-trace: the report keeps what the Python did."""
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--mode", "exec"])
    tool = harness.start_tool(ctx, target.ready_pid, duration=4)
    open(start, "w").close()
    truth = wait_truth(gt, target)
    report = harness.finish_tool(tool, 40)
    p = harness.the_process(report, target.ready_pid)
    check_sleep(p, truth)
    check(target.wait(10) == 0, "sleep after exec failed")


@test
def t_target_sigstop(ctx):
    """SIGSTOP for 1 s mid-trace, then SIGCONT: no hang, a whole report."""
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--stay"])
    tool = harness.start_tool(ctx, target.ready_pid, duration=4)
    open(start, "w").close()
    truth = wait_truth(gt, target)
    os.kill(target.ready_pid, signal.SIGSTOP)
    time.sleep(1)
    os.kill(target.ready_pid, signal.SIGCONT)
    report = harness.finish_tool(tool, 30)
    check_sleep(harness.the_process(report, target.ready_pid), truth)


@test
def t_target_mount_namespace(ctx):
    """The interpreter exists only in the target's mount namespace (a private tmpfs)."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11 (self-contained executable)")
    if not shutil.which("unshare"):
        raise Skip("no unshare")
    opt = ctx.path("opt")
    os.makedirs(opt)
    gt, start = ctx.path("truth.json"), ctx.path("start")
    script = ('mount -t tmpfs none "$1" && cp "$2" "$1/python3.11" && '
              'exec "$1/python3.11" "$3" --stay "$4" "$5"')
    target = harness.Proc(ctx, "target", ["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      script, "sh", opt, py, CHURN, gt, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    exe = os.readlink("/proc/%d/exe" % pid)
    check(exe == os.path.join(opt, "python3.11"), "target exe %s", exe)
    check(not os.path.exists(exe), "%s is visible outside the target's namespace", exe)
    tool = harness.start_tool(ctx, pid, duration=2.5)
    open(start, "w").close()
    report = harness.finish_tool(tool, 30)
    truth = wait_truth(gt, target)
    p = harness.the_process(report, pid)
    check(p["backend"] == "uprobe", "backend %r (stderr: %s)", p["backend"],
          tool.stderr_lines())
    check(p["runtime_version"] == truth["python"], "runtime_version %r", p["runtime_version"])
    c = check_sleep(p, truth)
    check(c["stack"] and c["stack"][0].startswith("sleeper ("), "sleep stack %s",
          c["stack"][:3])
    check(p["loops"][0]["callbacks"], "no callback counted: the uprobes did not fire")


CHROOT_SH = r"""
set -e
r=$1 py=$2 dir=$3
mkdir -p "$r/usr" "$r/etc" "$r/opt" "$r/tmp" "$r$dir"
ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"; ln -s usr/bin "$r/bin"
mount --bind /usr "$r/usr"; mount --bind /etc "$r/etc"
mount -t tmpfs none "$r/opt"; cp "$py" "$r/opt/python3.11"
mount --bind "$dir" "$r$dir"
exec chroot "$r" /opt/python3.11 "$dir/hard_churn.py" --stay "$dir/truth.json" "$dir/start"
"""


@test
def t_target_chroot(ctx):
    """The target runs chrooted, its interpreter only inside the new root."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11 (self-contained executable)")
    if not shutil.which("unshare") or not shutil.which("chroot"):
        raise Skip("no unshare or chroot")
    shutil.copy(CHURN, ctx.path("hard_churn.py"))
    root = ctx.path("root")
    target = harness.Proc(ctx, "target", ["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      CHROOT_SH, "sh", root, py, ctx.dir])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    exe = os.readlink("/proc/%d/exe" % pid)
    check(exe.endswith("/opt/python3.11") and not os.path.exists(exe), "exe %s", exe)
    tool = harness.start_tool(ctx, pid, duration=2.5)
    open(ctx.path("start"), "w").close()
    report = harness.finish_tool(tool, 30)
    truth = wait_truth(ctx.path("truth.json"), target)
    p = harness.the_process(report, pid)
    check(p["backend"] == "uprobe", "backend %r (stderr: %s)", p["backend"],
          tool.stderr_lines())
    c = check_sleep(p, truth)
    check(c["stack"] and c["stack"][0].startswith("sleeper ("), "sleep stack %s",
          c["stack"][:3])
    check(p["loops"][0]["callbacks"], "no callback counted: the uprobes did not fire")


# --- signals to the tracer ----------------------------------------------------------------

def signal_test(ctx, sig, whole=True):
    need_bpftool()
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--stay"])
    tool = harness.start_tool(ctx, target.ready_pid)
    ids, links = harness.attached(tool.pid)
    check(ids and links, "no program and link held while tracing: %s %s", ids, links)
    open(start, "w").close()
    truth = wait_truth(gt, target)
    tool.signal(sig)
    rc = tool.wait(20)
    if whole:
        check(rc == 0, "exit %s after %s; stderr: %s", rc, sig.name, tool.tail("stderr"))
        check_sleep(harness.the_process(harness.load_report(tool.report), target.ready_pid), truth)
    else:
        check(rc == -sig, "exit %s after %s", rc, sig.name)
    check_detached(ids, "after " + sig.name)


@test
def t_signal_sigterm(ctx):
    signal_test(ctx, signal.SIGTERM)


@test
def t_signal_sigint(ctx):
    signal_test(ctx, signal.SIGINT)


@test
def t_signal_sigkill(ctx):
    signal_test(ctx, signal.SIGKILL, whole=False)


@test
def t_signal_sigpipe(ctx):
    """Live output piped to `head -n 3`: the tool stops, writes the report, detaches.
    (SIGPIPE is ignored: the closed pipe is seen as EPIPE, and ends the run as a stop
    signal does.)"""
    need_bpftool()
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--stay"])
    out = ctx.path("r.json")
    harness.need_tool()
    with open(ctx.path("tool.stderr"), "w") as err:
        tool = subprocess.Popen([TOOL, "--pid", str(target.ready_pid), "--batch", "--interval",
                                 "200", "-o", out], stdout=subprocess.PIPE, stderr=err)
        head = subprocess.Popen(["head", "-n", "3"], stdin=tool.stdout,
                                stdout=subprocess.DEVNULL)
        tool.stdout.close()  # head holds the only reader
        ids = set()
        deadline = time.monotonic() + 10
        while not ids and tool.poll() is None and time.monotonic() < deadline:
            ids, _ = harness.attached(tool.pid)
            time.sleep(0.05)
        open(start, "w").close()  # the target's loop polls for it: loop iterations
        try:
            rc = tool.wait(30)
        except subprocess.TimeoutExpired:
            tool.kill()
            raise Fail("the tool kept running after its reader went away")
        head.wait(5)
    with open(ctx.path("tool.stderr")) as f:
        lines = f.read().splitlines()
    check(rc == 0, "exit %s; stderr %s", rc, lines[-3:])
    check(ids, "never saw the tool's programs attached")
    check(not [l for l in lines if l.startswith("asyncprof-bpf:") and "warning" not in l],
          "errors: %s", lines)
    p = harness.the_process(harness.load_report(out), target.ready_pid)
    check(p["loops"] and p["loops"][0]["tid"] == target.ready_pid, "no loop in the report")
    check_detached(ids, "after its stdout closed")


# --- floods and full maps -------------------------------------------------------------------

def peak_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@test
def t_flood_ring_buffer(ctx):
    """A million short syscalls, each a record (100 ns threshold): drops counted, memory bounded."""
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--mode", "flood", "--stay"])
    tool = harness.start_tool(ctx, target.ready_pid, extra=["--blocking-threshold", "0.0001"])
    open(start, "w").close()
    rss = 0
    deadline = time.monotonic() + 60
    while not os.path.exists(gt):
        check(time.monotonic() < deadline, "flood did not finish in 60 s")
        check(target.p.poll() is None, "target died: rc %s", target.p.poll())
        rss = max(rss, peak_rss_kb(tool.pid))
        time.sleep(0.2)
    truth = wait_truth(gt, target)
    rss = max(rss, peak_rss_kb(tool.pid))
    tool.signal(signal.SIGINT)
    report = harness.finish_tool(tool, 30)
    drops = report["drops"]["events"]
    check(drops > 0, "no drop counted for a million records")
    warn = [l for l in tool.stderr_lines() if "events lost" in l]
    check(warn and str(drops) in warn[0], "drops not reported on stderr: %s",
          tool.stderr_lines())
    check(rss < 256 << 10, "tracer peak RSS %d MB", rss >> 10)
    p = harness.the_process(report, target.ready_pid)
    check(p["blocking_calls"], "no blocking call kept")
    check(target.p.poll() is None, "target did not survive")
    harness.vlog("drops %d, kept %d calls, tracer peak RSS %d MB, flood %.1f s", drops,
             len(p["blocking_calls"]), rss >> 10,
             (truth["mode_ns"][1] - truth["mode_ns"][0]) / 1e9)


@test
def t_maps_full(ctx):
    """2000 tasks alive at once with --max-tasks 16: evictions counted and said."""
    report, p, truth, _, tool = churn_test(ctx, "tasks", duration=3,
                                           extra=["--max-tasks", "16"])
    d = report["drops"]
    check(isinstance(d.get("tasks"), int) and d["tasks"] >= 1000,
          "drops.tasks %r for 2000 tasks over 16 slots", d.get("tasks"))
    warn = [l for l in tool.stderr_lines() if "full maps" in l]
    check(warn and str(d["tasks"]) in warn[0], "no warning with the count: %s",
          tool.stderr_lines())
    check(len(p["tasks"]) <= 2000 + 10, "%d tasks reported", len(p["tasks"]))


# --- untrusted strings ---------------------------------------------------------------------

@test
def t_hostile_names(ctx):
    """Escape sequences in comm and task names never reach the terminal raw."""
    py = python311()
    target, gt, start = start_target(ctx, [py, os.path.join(TARGETS, "hard_names.py"),
                                           "--stay"])
    pid = target.ready_pid
    out_json = ctx.path("r.json")
    text = ctx.path("summary.txt")
    harness.need_tool()
    port = free_port()
    with open(text, "wb") as f:
        tool = subprocess.Popen([TOOL, "--pid", str(pid), "-d", "3", "-o", out_json,
                                 "--prometheus", str(port)], stdout=f, stderr=subprocess.PIPE)
        time.sleep(1)
        open(start, "w").close()
        time.sleep(1)
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
        _, err = tool.communicate(timeout=30)
    check(tool.returncode == 0, "exit %s: %s", tool.returncode, err[-300:])
    truth = wait_truth(gt, target)
    with open(text, "rb") as f:
        summary = f.read()
    for what, data in (("stdout", summary), ("stderr", err)):
        check(b"\x1b" not in data, "raw ESC on %s", what)
        check(b"\xc2\x9b" not in data, "raw C1 CSI on %s", what)
        check(b"\xe2\x80\xae" not in data, "raw bidi override on %s", what)
        check(b"\x07" not in data, "raw BEL on %s", what)
    check(b"\\x1b[2J" in summary, "the escaped comm/name is not in the summary")
    # Prometheus: the format's escapes for \\ " and newline, U+FFFD for the rest
    comm_label = b'comm="\xef\xbf\xbd[2J\\"q\\nx\\\\"'
    check(comm_label in metrics, "comm label not escaped as %r in /metrics: %r", comm_label,
          [l for l in metrics.splitlines() if b"comm=" in l][:1])
    check(not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", metrics), "raw controls in /metrics")
    r = harness.load_report(out_json)
    p = harness.the_process(r, pid)
    check(p["comm"] == truth["comm"], "JSON comm %r != %r", p["comm"], truth["comm"])
    names = [t["name"] for t in p["tasks"]]
    # the lone surrogate is one UCS-2 unit: one U+FFFD
    want = truth["task"].encode("latin-1").decode("utf-8", "surrogatepass").replace(
        "\ud800", "\ufffd")
    check(want in names, "task %r not in the JSON report (names: %r)", want, names)
    with open(out_json, "rb") as f:
        raw = f.read()
    check(b"\x1b" not in raw and b"\x07" not in raw, "raw control bytes in the JSON file")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- listening sockets ------------------------------------------------------------------

def listening(pid):
    """(address, port) of the TCP sockets pid listens on."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A: LISTEN
                continue
            addr, port = f[1].split(":")
            if v6:
                out.append((addr, int(port, 16)))
            else:
                out.append((".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)),
                            int(port, 16)))
    return out


@test
def t_listen_loopback_only(ctx):
    py = python311()
    target, gt, start = start_target(ctx, [py, CHURN, "--stay"])
    port = free_port()
    for extra, want in (([], []), (["--prometheus", str(port)], [("127.0.0.1", port)])):
        tool = harness.start_tool(ctx, target.ready_pid, extra=extra, name="tool%d" % len(extra))
        time.sleep(0.5)
        got = listening(tool.pid)
        tool.signal(signal.SIGINT)
        harness.finish_tool(tool, 20)
        check(got == want, "with %s the tool listens on %s, expected %s", extra or "no option",
              got, want)


if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "asyncprof-bpf hardening tests"))
