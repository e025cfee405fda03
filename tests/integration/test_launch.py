#!/usr/bin/env python3
"""The newcomer's path: launch mode (asyncprof-bpf -- COMMAND), --list, the
progress line, --help/--version, and make install/uninstall into a DESTDIR
with the man page and the bash completion checked.

    python3 tests/integration/test_launch.py [--filter SUBSTR]... [--keep] [-v]

Runs as root (like harness.py, whose helpers it uses). Prints "ok NAME",
"FAIL NAME: reason" or "skip NAME: reason" per test and closes with
"N passed, N failed, N skipped". Artifacts stay in tests/integration/.out/<test>/.
"""
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Skip, check, MS  # noqa: E402

FIRST = os.path.join(harness.TARGETS, "first_loop.py")
NOBODY = 65534


def launch(ctx, cmd, extra=(), name="tool", env=None):
    """The tool in launch mode writing <dir>/report.json, as a harness.Proc."""
    harness.need_tool()
    report = ctx.path("report.json")
    argv = [harness.TOOL, "-q", "-o", "json:" + report] + list(extra) + ["--"] + list(cmd)
    tool = harness.Proc(ctx, name, argv, env=env)
    tool.report = report
    return tool


def blocking_of(proc, func):
    return [b for b in proc["blocking_calls"] if b["stack"] and b["stack"][0].startswith(func + " (")]


def check_first_callbacks(ctx, cmd):
    """The first task step's blocking call and slow callback are in the report."""
    tool = launch(ctx, cmd)
    rc = tool.wait(60)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    check(any(re.search(r"\(pid \d+\) exited with status 0$", l) for l in tool.stderr_lines()),
          "no exit-status line; stderr: %s", tool.tail("stderr", 5))
    r = harness.load_report(tool.report)
    check(len(r["processes"]) == 1, "%d processes in the report", len(r["processes"]))
    p = r["processes"][0]
    check(p["backend"] == "uprobe", "backend %s", p["backend"])
    first = blocking_of(p, "first_block")
    check(len(first) == 1, "first_block's sleep: %d blocking calls (all: %s)", len(first),
          [(b["syscall"], b["stack"][:1]) for b in p["blocking_calls"]])
    check(180 * MS <= first[0]["duration_ns"] < 400 * MS, "first_block: %d ns",
          first[0]["duration_ns"])
    check(first[0]["task"] is not None and first[0]["callback"] == "main",
          "first_block not in Task-1's step: task %s callback %s", first[0]["task"],
          first[0]["callback"])
    slow = [s for s in p["slow_callbacks"] if s["callback"] == "main"]
    check(slow and slow[0]["duration_ns"] >= 180 * MS,
          "no slow callback for main's first blocking step: %s",
          [(s["callback"], s["duration_ns"]) for s in p["slow_callbacks"]])
    # the slow step is the one that made the call (its stack may be a CPU sample)
    b, s = first[0], slow[0]
    check(s["start_ns"] <= b["start_ns"] and
          b["start_ns"] + b["duration_ns"] <= s["start_ns"] + s["duration_ns"],
          "first_block's sleep is not inside the slow step")
    # the worst lag is first_block's 200 ms, not the start-up before the loop
    worst = max(l["lag"]["max_ns"] for l in p["loops"])
    check(180 * MS <= worst < 350 * MS, "lag max %.1f ms: start-up counted as a stall?",
          worst / MS)


# --- tests --------------------------------------------------------------------------

TESTS = []


def test(name):
    def reg(fn):
        TESTS.append((name, fn))
        return fn
    return reg


@test("launch-first-callbacks-debian")
def t_first_debian(ctx):
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    check_first_callbacks(ctx, [py, FIRST])


@test("launch-first-callbacks-pyenv312")
def t_first_pyenv(ctx):
    py = harness.need_exe(harness.pyenv(12), "pyenv CPython 3.12 (shared libpython)")
    check_first_callbacks(ctx, [py, FIRST])


@test("launch-first-callbacks-debian-sid-3.14")
def t_first_sid314(ctx):
    """Debian sid's 3.14 through unshare and chroot (exec all the way): probed from
    its first callback, as the interpreter the last exec runs."""
    check_first_callbacks(ctx, [harness.sid_python(14), FIRST])


@test("launch-first-callbacks-debian-sid-3.15")
def t_first_sid315(ctx):
    check_first_callbacks(ctx, [harness.sid_python(15), FIRST])


@test("launch-through-env")
def t_through_env(ctx):
    """env(1) execs the interpreter: the second exec is the one probed."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    check_first_callbacks(ctx, ["/usr/bin/env", os.path.basename(py), FIRST])


@test("launch-uvloop")
def t_uvloop(ctx):
    """uvloop is imported after the loader: the probes go in at its loop's start."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    harness.need_uvloop(py)
    tool = launch(ctx, [py, FIRST, "0.5", "uvloop"])
    rc = tool.wait(60)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    p = harness.load_report(tool.report)["processes"][0]
    loop = p["loops"][0] if p["loops"] else {}
    check(loop.get("kind") == "uvloop" and (loop.get("callbacks") or 0) > 5,
          "loop: %s", loop)
    slow = [s for s in p["slow_callbacks"] if s["callback"] == "main"]
    check(slow and slow[0]["duration_ns"] >= 180 * MS, "first_block's step not slow: %s",
          [(s["callback"], s["duration_ns"]) for s in p["slow_callbacks"]])
    check(any(t["coro"] == "main" for t in p["tasks"]), "Task-1 (main) not tracked")
    check(len(blocking_of(p, "later_block")) >= 3, "later_block calls: %d",
          len(blocking_of(p, "later_block")))


@test("launch-loop-in-thread")
def t_thread(ctx):
    """A loop in a second thread: the probes go in as the thread is created."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    check_first_callbacks(ctx, [py, FIRST, "0", "thread"])


@test("launch-descendants")
def t_descendants(ctx):
    """A shell that forks the Python: the child is found and its loop traced."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    tool = launch(ctx, ["/bin/sh", "-c", "%s %s 2; true" % (py, FIRST)])
    rc = tool.wait(60)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    procs = harness.load_report(tool.report)["processes"]
    py_procs = [p for p in procs if p["comm"].startswith("python")]
    check(len(py_procs) == 1, "processes: %s", [(p["pid"], p["comm"]) for p in procs])
    p = py_procs[0]
    check(p["pid"] != tool.p.pid and p["backend"] == "uprobe", "pid %d backend %s", p["pid"],
          p["backend"])
    check(len(blocking_of(p, "later_block")) >= 10, "the child's later_block calls: %d",
          len(blocking_of(p, "later_block")))


@test("launch-sudo-user")
def t_sudo_user(ctx):
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    env = dict(os.environ, SUDO_UID=str(NOBODY), SUDO_GID=str(NOBODY), HOME="/root", USER="root")
    tool = launch(ctx, [py, FIRST], env=env)
    m = tool.wait_line("stdout", r"^ids (\S+) (\S+) (\S*) (\S+) (\S+)$", 30)
    rc = tool.wait(60)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    uid, gid, groups, home, user = m.groups()
    check(uid == str(NOBODY) and gid == str(NOBODY), "ran as %s:%s", uid, gid)
    check("0" not in groups.split(","), "root's group kept: %s", groups)
    check(home != "/root" and user == "nobody", "HOME %s USER %s", home, user)
    p = harness.load_report(tool.report)["processes"]
    check(p and blocking_of(p[0], "first_block"), "the command as nobody was not traced")


@test("launch-cannot-exec")
def t_cannot_exec(ctx):
    harness.need_tool()
    notexec = ctx.path("not-executable")
    with open(notexec, "w") as f:
        f.write("#!/bin/sh\n")
    for cmd, want in (("/nonexistent/asyncprof-cmd", 127), ("no-such-command-xyz", 127),
                      (notexec, 126)):
        out = ctx.path("r.json")
        r = subprocess.run([harness.TOOL, "-o", out, "--", cmd, "arg"], capture_output=True,
                           text=True, timeout=60)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode == want, "%s: exit %d, want %d; stderr %r", cmd, r.returncode, want,
              r.stderr)
        check(len(lines) == 1 and lines[0].startswith("asyncprof-bpf: cannot run " + cmd),
              "%s: stderr %r", cmd, r.stderr)
        check(not os.path.exists(out), "%s: a report was written", cmd)


def launch_refused(ctx, wrap, env, want):
    """The tool fails before tracing: exit 1 within seconds, one line matching want,
    no report, and neither the command nor a tracer left running."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    harness.need_tool()
    marker = "asyncprof-refused-%d-%d" % (os.getpid(), time.monotonic_ns())
    ran = ctx.path("command-ran")
    out = ctx.path("r.json")
    cmd = [py, "-c", "open(%r, 'w'); import time; time.sleep(30)  # %s" % (ran, marker)]
    argv = wrap([harness.TOOL, "-q", "-o", "json:" + out, "--"] + cmd)
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, **env))
    except subprocess.TimeoutExpired:
        subprocess.run(["pkill", "-KILL", "-f", marker])
        check(False, "the tool still ran after 20 s (launch mode hangs)")
    took = time.monotonic() - t0
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 1, "exit %d, want 1; stderr %r", r.returncode, r.stderr)
    check(len(lines) == 1 and re.search(want, lines[0]), "stderr is not one line /%s/: %r",
          want, r.stderr)
    check(took < 5, "took %.1f s to fail", took)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    check(not left, "left running: %s", left)
    check(not os.path.exists(ran), "the command ran its own code")
    check(not os.path.exists(out), "a report was written")


@test("launch-no-bpf-privilege")
def t_no_privilege(ctx):
    """Root without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN: refused before the fork."""
    harness.need_exe("/usr/sbin/capsh", "capsh (libcap2-bin)")
    launch_refused(ctx, lambda argv: ["/usr/sbin/capsh", "--drop=cap_bpf,cap_sys_admin,cap_perfmon",
                                      "--", "-c", " ".join(shlex.quote(a) for a in argv)], {},
                   r"^asyncprof-bpf: permission denied: run as root, or with CAP_BPF")


@test("launch-program-refused")
def t_program_refused(ctx):
    """The verifier refuses a program after the command was forked, waiting for its exec:
    the command is killed, never run, and the reason is one line."""
    launch_refused(ctx, lambda argv: argv, {"ASYNCPROF_SELFTEST": "refused"},
                   r"^asyncprof-bpf: this kernel \(.*\) refused full mode's BPF programs: "
                   r"program ap_selftest_refused: this kernel's verifier refused one of its "
                   r"memory reads \(\"R0 invalid mem access .*\"\); --mode light .* -v prints")


@test("launch-sigterm-forwarded")
def t_sigterm(ctx):
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    tool = launch(ctx, [py, FIRST, "30"])
    tool.wait_line("stderr", r"^Tracing pid (\d+) ", 30)
    time.sleep(1.5)
    tool.signal(signal.SIGTERM)
    rc = tool.wait(30)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    check(any("was killed by signal 15" in l for l in tool.stderr_lines()),
          "the command did not get the SIGTERM; stderr: %s", tool.tail("stderr", 5))
    p = harness.load_report(tool.report)["processes"][0]
    check(blocking_of(p, "first_block") and len(blocking_of(p, "later_block")) >= 5,
          "report misses the calls before the SIGTERM: %d later_block",
          len(blocking_of(p, "later_block")))


@test("launch-duration-then-wait")
def t_duration(ctx):
    """-d ends tracing; the report is there while the command still runs."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    tool = launch(ctx, [py, FIRST, "3"], extra=["-d", "1"])
    tool.wait_line("stderr", r"^Waiting for .* to exit", 30)
    check(tool.p.poll() is None, "tool exited before its command")
    harness.load_report(tool.report)
    rc = tool.wait(30)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    check(any(re.search(r"exited with status 0$", l) for l in tool.stderr_lines()),
          "stderr: %s", tool.tail("stderr", 5))


@test("launch-command-status")
def t_status(ctx):
    """The tool's status is its own; the command's is one line on stderr."""
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    tool = launch(ctx, [py, "-c", "import sys; sys.exit(3)"])
    rc = tool.wait(30)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    check(tool.stderr_lines()[-1].endswith("exited with status 3"), "stderr: %s",
          tool.tail("stderr", 5))
    harness.load_report(tool.report)


@test("launch-node-discovered")
def t_node(ctx):
    """A runtime without early probes is picked up at its first loop (syscall backend)."""
    node = harness.need_exe(harness.NODE, "Node.js")
    js = ("setInterval(() => { const e = Date.now() + 30; while (Date.now() < e); }, 50);"
          "setTimeout(() => process.exit(0), 1500);")
    tool = launch(ctx, [node, "-e", js])
    rc = tool.wait(60)
    check(rc == 0, "tool exit %s; stderr: %s", rc, tool.tail("stderr", 5))
    p = harness.load_report(tool.report)["processes"]
    check(len(p) == 1 and p[0]["runtime"] == "node" and p[0]["backend"] == "syscall",
          "processes: %s", [(x["comm"], x["runtime"], x["backend"]) for x in p])
    check(p[0]["loops"] and p[0]["loops"][0]["lag"]["max_ns"] >= 25 * MS,
          "node's 30 ms busy callbacks not seen as lag: %s", p[0]["loops"])


@test("nested-pidns-refused")
def t_nested_pidns(ctx):
    """In a container's pid namespace BPF's pids would never match: one line, exit 1."""
    harness.need_tool()
    if not shutil.which("unshare"):
        raise Skip("unshare (util-linux) not installed")
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", harness.TOOL, "-o",
                        ctx.path("r.json"), "--", "true"], capture_output=True, text=True,
                       timeout=60)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 1 and len(lines) == 1 and "nested pid namespace" in lines[0],
          "exit %d, stderr %r", r.returncode, r.stderr)
    check(not os.path.exists(ctx.path("r.json")), "a report was written")


def list_rows(out):
    rows = {}
    for line in out.splitlines()[1:]:
        f = line.split(None, 6)
        if f and f[0].isdigit():
            rows[int(f[0])] = f
    return rows


@test("list")
def t_list(ctx):
    harness.need_tool()
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    loop = harness.Proc(ctx, "loop", [py, FIRST, "30"])
    idle = harness.Proc(ctx, "idle", [py, "-c", "import time; print('up', flush=True); "
                                  "time.sleep(30)"])
    loop.wait_line("stdout", "^ids", 30)
    idle.wait_line("stdout", "^up", 30)
    r = subprocess.run([harness.TOOL, "--list"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "exit %d: %s", r.returncode, r.stderr)
    check(r.stdout.startswith("PID ") and "BACKEND" in r.stdout.splitlines()[0],
          "no header: %r", r.stdout[:200])
    rows = list_rows(r.stdout)
    row = rows.get(loop.pid)
    check(row is not None, "loop pid %d not listed:\n%s", loop.pid, r.stdout)
    check(row[2:6] == ["cpython", "3.11.2", "asyncio", "uprobe"] or
          (row[2] == "cpython" and row[4:6] == ["asyncio", "uprobe"]), "row: %s", row)
    check(idle.pid not in rows, "a process without a loop is listed: %s", rows.get(idle.pid))
    check(re.search(r"^\d+ event-loop process", r.stdout, re.M), "no total: %r", r.stdout)
    r = subprocess.run([harness.TOOL, "--list", "--backend", "syscall"], capture_output=True,
                       text=True, timeout=60)
    row = list_rows(r.stdout).get(loop.pid)
    check(row and row[5] == "syscall" and "--backend syscall" in row[6],
          "forced syscall backend: %s", row)
    # without privilege: what is readable, and a note, no error
    r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                        "--clear-groups", harness.TOOL, "--list"], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0 and "not root" in r.stdout and loop.pid not in list_rows(r.stdout),
          "as nobody: exit %d, %r %r", r.returncode, r.stdout[-200:], r.stderr)


def read_pty(fd, proc, timeout):
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out.decode(errors="replace")


@test("progress-line")
def t_progress(ctx):
    """On a terminal stderr a progress line is drawn, then erased; not on a pipe."""
    harness.need_tool()
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    argv = [harness.TOOL, "-q", "-o", ctx.path("r.json"), "--", py, FIRST, "1.5"]
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=slave)
    os.close(slave)
    try:
        err = read_pty(master, p, 60)
    finally:
        os.close(master)
        p.wait(30)
    check(p.returncode == 0, "exit %s: %r", p.returncode, err[-300:])
    m = re.findall(r"\rrecording ([0-9.]+) s \(Ctrl-C to stop\)  (\d+) events  (\d+) dropped", err)
    check(m, "no progress line on a terminal: %r", err[-300:])
    check(float(m[-1][0]) >= 1.0 and int(m[-1][1]) > 0, "last progress: %s", m[-1])
    check("\r\x1b[K" in err, "the progress line is not erased: %r", err[-200:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "recording" not in r.stderr, "on a pipe: %r", r.stderr)


@test("help-version")
def t_help(ctx):
    harness.need_tool()
    r = subprocess.run([harness.TOOL, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "--help exit %d", r.returncode)
    for want in ("USAGE:", "EXAMPLES:", "-- COMMAND", "--list", "Exit status"):
        check(want in r.stdout, "--help lacks %r", want)
    v = subprocess.run([harness.TOOL, "--version"], capture_output=True, text=True, timeout=30)
    with open(os.path.join(harness.ROOT, "user", "env.h")) as f:
        ver = re.search(r'#define AP_VERSION "([^"]+)"', f.read()).group(1)
    check(v.stdout.strip() == "asyncprof-bpf " + ver, "--version: %r", v.stdout)
    r = subprocess.run([harness.TOOL, "--"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "no command after --" in r.stderr, "bare --: %d %r",
          r.returncode, r.stderr)


def help_options():
    r = subprocess.run([harness.TOOL, "--help"], capture_output=True, text=True, timeout=30)
    opts = set(re.findall(r"^\s+(?:-\S, )?(--[a-z-]+)", r.stdout, re.M))
    check(len(opts) > 20, "options parsed from --help: %s", opts)
    return opts - {"--usage"}


def complete(script, *words):
    """COMPREPLY of the completion function for the words (the last is completed)."""
    line = " ".join("'%s'" % w for w in words)
    sh = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); '
          '_asyncprof_bpf; printf "%%s\\n" "${COMPREPLY[@]}"' % (script, line))
    r = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "completion failed: %r", r.stderr)
    return set(r.stdout.split())


@test("install-destdir")
def t_install(ctx):
    harness.need_tool()
    dest = ctx.path("dest")
    mk = ["make", "-C", harness.ROOT, "--no-print-directory", "PREFIX=/usr/local", "DESTDIR=" + dest]
    r = subprocess.run(mk + ["install"], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "make install: %s", r.stderr[-500:])
    binp = dest + "/usr/local/bin/asyncprof-bpf"
    man = dest + "/usr/local/share/man/man8/asyncprof-bpf.8"
    comp = dest + "/usr/local/share/bash-completion/completions/asyncprof-bpf"
    for path, mode in ((binp, 0o755), (man, 0o644), (comp, 0o644)):
        check(os.path.isfile(path), "not installed: %s", path)
        check(os.stat(path).st_mode & 0o777 == mode, "%s: mode %o", path, os.stat(path).st_mode)
    v = subprocess.run([binp, "--version"], capture_output=True, text=True, timeout=30)
    check(v.returncode == 0 and v.stdout.startswith("asyncprof-bpf "), "installed --version: %r",
          v.stdout)
    opts = help_options()
    # the man page: no groff warning, and every option of --help documented
    if not shutil.which("groff"):
        raise Skip("groff not installed (make deps installs groff-base)")
    g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", man], capture_output=True,
                       text=True, timeout=30)
    check(g.returncode == 0 and not g.stderr.strip(), "groff warnings: %r", g.stderr)
    text = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", man], capture_output=True,
                          text=True, timeout=30).stdout
    text = re.sub(r"-\n\s*", "-", text)
    missing = sorted(o for o in opts if o not in text)
    check(not missing, "options missing from the man page: %s", missing)
    for sec in ("SYNOPSIS", "OPTIONS", "EXAMPLES", "EXIT STATUS", "FILES"):
        check(re.search(r"^%s$" % sec, text, re.M), "man page lacks %s", sec)
    if shutil.which("man"):
        m = subprocess.run(["man", "-l", man], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
        check(m.returncode == 0 and "asyncprof-bpf" in m.stdout, "man -l: %r", m.stderr)
    # the completion: every option, and the values of --format
    got = complete(comp, "asyncprof-bpf", "--")
    check(opts <= got, "options the completion lacks: %s", sorted(opts - got))
    check(complete(comp, "asyncprof-bpf", "-f", "") == {"text", "json", "chrome", "html",
                                                          "folded"}, "--format values")
    check(complete(comp, "asyncprof-bpf", "--mode", "=", "l") == {"light"}, "--mode=l")
    r = subprocess.run(mk + ["uninstall"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "make uninstall: %s", r.stderr)
    left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
    check(not left, "left after uninstall: %s", left)


@test("completion-pids")
def t_completion_pids(ctx):
    py = harness.need_exe(harness.DEBIAN_PY, "Debian python3.11")
    loop = harness.Proc(ctx, "loop", [py, FIRST, "30"])
    loop.wait_line("stdout", "^ids", 30)
    got = complete(os.path.join(harness.ROOT, "completions", "asyncprof-bpf.bash"), "asyncprof-bpf",
                   "--pid", "")
    check(str(loop.pid) in got, "pid %d of a loop not offered: %s", loop.pid, sorted(got)[:20])
    check(str(os.getpid()) not in got, "a process without a loop is offered")


if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "asyncprof-bpf launch/list/install tests"))
