#!/usr/bin/env python3
"""Live view tests: the ncurses screen under tmux, and --batch text.

    python3 tests/integration/test_tui.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root. The target is examples/demo.py: tasks "poller" and
"worker-1".."worker-3", and a legacy_sleep() that blocks the loop 150 ms
every few jobs. The screen test runs the tool in a 160x50 tmux pane, reads
the screen with capture-pane, presses keys (Tab, Enter, Esc, ?, p, q),
shrinks the window below 80x20 and checks the shell gets back a sane
terminal (stty: icanon echo). The batch test checks --batch blocks.

Prints "ok NAME" or "FAIL NAME: reason" per test and a closing
"N passed, N failed, N skipped" (harness.main_for); exits 1 if any test
failed. Uses harness.py's helpers (Ctx, Proc, Fail); AP_TOOL overrides the
binary as there.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as R  # noqa: E402

DEMO = os.path.join(R.ROOT, "examples", "demo.py")
PY = sys.executable or "/usr/bin/python3"
UNITS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1000.0}


def start_demo(ctx, duration=60):
    demo = R.Proc(ctx, "demo", [PY, DEMO, "--duration", str(duration)])
    m = demo.wait_line("stdout", r"demo pid (\d+)", 20)
    return int(m.group(1))


def to_ms(value, unit):
    return float(value) * UNITS[unit]


# --- tmux ------------------------------------------------------------------------

class Tmux:
    """A detached tmux session running an interactive shell."""

    def __init__(self, ctx, cols=160, rows=50):
        self.ctx = ctx
        self.name = "aptui%d" % os.getpid()
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(cols), "-y", str(rows),
                  "env PS1='apshell$ ' bash --norc --noprofile -i")
        self.tmux("set-option", "-t", self.name, "window-size", "manual")
        self.wait_for(r"apshell\$", 10, "shell prompt")

    def tmux(self, *args):
        r = subprocess.run(["tmux"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        R.check(r.returncode == 0, "tmux %s: %s", " ".join(args[:2]), r.stderr.strip())
        return r.stdout

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.name, *keys)

    def text(self, cmd):
        self.tmux("send-keys", "-t", self.name, "-l", cmd)
        self.keys("Enter")

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, pattern, timeout, what):
        """The first match of pattern on the screen; Fail with the screen on timeout."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            m = rx.search(s)
            if m:
                return m
            if time.monotonic() > deadline:
                self.dump("timeout.txt", s)
                raise R.Fail("no %s (/%s/) within %gs; screen saved to %s"
                             % (what, pattern, timeout, self.ctx.path("timeout.txt")))
            time.sleep(0.2)

    def wait_gone(self, pattern, timeout, what):
        deadline = time.monotonic() + timeout
        while re.search(pattern, self.screen(), re.M):
            if time.monotonic() > deadline:
                self.dump("timeout.txt")
                raise R.Fail("%s still shown after %gs" % (what, timeout))
            time.sleep(0.2)

    def dump(self, name, s=None):
        with open(self.ctx.path(name), "w") as f:
            f.write(self.screen() if s is None else s)

    def close(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


HEADER = r"asyncprof-bpf\s+host \S+\s+up .*worst lag now ([\d.]+) (ns|us|ms|s)\b"


def wait_lag(tm, min_ms, timeout):
    """Wait for the header's worst lag now to reach min_ms; returns the values seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(HEADER, tm.screen())
        if m:
            v = to_ms(m.group(1), m.group(2))
            if not seen or seen[-1] != v:
                seen.append(v)
            if v >= min_ms:
                return seen
        time.sleep(0.25)
    tm.dump("lag.txt")
    raise R.Fail("worst lag never reached %g ms; seen %s" % (min_ms, seen))


def t_screen(ctx, tm):
    pid = start_demo(ctx)
    tm.text("%s --pid %d; echo TOOL_EXIT=$?" % (R.TOOL, pid))
    tm.wait_for(HEADER, 30, "header")
    tm.wait_for(r"^\s*\d+\s+%d\s+python" % pid, 10, "the demo's loop row")
    tm.wait_for(r"CAUSES\s+MOST BUSY IN", 5, "the CAUSES column at 160 columns")
    tm.wait_for(r"^\s*\d+\s+%d\s+python.*\s[rqg.osfnpl]+\s* \d+%% \S" % pid, 10,
                "a CAUSES bar on the demo's loop row")
    tm.wait_for(r"worker-\d", 15, "a worker task name")
    tm.wait_for(r"\bpoller\b", 5, "the poller task name")
    seen = wait_lag(tm, 100, 20)
    R.vlog("worst lag values seen: %s", seen)
    tm.wait_for(r"Loops \(\d+\).*\[focused\]", 5, "the loops pane focused")
    tm.dump("screen.txt")

    tm.keys("Tab")
    tm.wait_for(r"Tasks \(\d+\).*\[focused\]", 5, "the tasks pane focused after Tab")
    tm.keys("s")
    tm.wait_for(r"Tasks \(\d+\)\s+sort: steps", 5, "the tasks sorted by steps after s")
    tm.keys("Enter")
    tm.wait_for(r"its await chain \(Esc/q: back\)", 5, "a task's await chain after Enter")
    tm.wait_for(r"(awaits (task|nothing|_\S+)|not known)", 5, "what the task awaits")
    tm.dump("await_chain.txt")
    tm.keys("Escape")
    tm.wait_for(r"Tasks \(\d+\).*\[focused\]", 5, "the tasks pane back after Esc")
    tm.keys("Tab")
    tm.wait_for(r"Events \(\d+\).*\[focused\]", 5, "the events pane focused after Tab")
    tm.wait_for(r"\sblocking\s+worker-\d+\s+\d+ blocking sleep", 20,
                "the blocking lint among the events")
    tm.wait_for(r"legacy_sleep \(", 20, "legacy_sleep as an event's top frame")
    tm.keys("Enter")
    tm.wait_for(r"\(Esc/q: back\)", 5, "the stack detail after Enter")
    tm.wait_for(r"^#0\s+\S", 5, "frame #0 in the detail")
    tm.dump("detail.txt")
    tm.keys("Escape")
    tm.wait_for(r"Events \(\d+\).*\[focused\]", 5, "the events pane back after Esc")

    tm.keys("?")
    tm.wait_for(r"Any key closes this help", 5, "the help")
    tm.keys("x")
    tm.wait_gone(r"Any key closes this help", 5, "the help")
    tm.keys("p")
    tm.wait_for(r"PAUSED", 5, "PAUSED after p")
    tm.keys("p")
    tm.keys("/")
    tm.wait_for(r"filter: _", 5, "the filter prompt")
    tm.text("poll")
    # the header's "filter: poll", not the prompt's "filter: poll_" before Enter is read
    tm.wait_for(r"filter: poll\b", 5, "the filter in the header")
    R.check("worker-" not in "\n".join(l for l in tm.screen().splitlines()
                                          if "Tasks" not in l and "TASK" not in l
                                          and "sleep" not in l),
            "worker tasks still listed under filter 'poll'")
    tm.keys("/")
    tm.keys("Enter")

    tm.tmux("resize-window", "-t", tm.name, "-x", "60", "-y", "15")
    tm.wait_for(r"terminal too small \(need 80x20\)", 5, "the too-small message")
    tm.tmux("resize-window", "-t", tm.name, "-x", "160", "-y", "50")
    tm.wait_for(HEADER, 5, "the header after growing back")

    tm.keys("q")
    tm.wait_for(r"TOOL_EXIT=0", 30, "the tool exiting 0 after q")
    tm.dump("after_quit.txt")
    tm.text("stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo STTY_\"\"DONE")
    m = tm.wait_for(r"^(.*)STTY_DONE$", 5, "stty output")
    flags = m.group(1).split()
    R.check("icanon" in flags and "echo" in flags, "terminal not sane after quit: %s", flags)


def t_batch(ctx):
    need_root_and_tool()
    pid = start_demo(ctx)
    argv = [R.TOOL, "--pid", str(pid), "--batch", "--interval", "500", "--duration", "3"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = r.stdout.decode(errors="replace")
    with open(ctx.path("batch.txt"), "w") as f:
        f.write(out)
    R.check(r.returncode == 0, "tool exit %s: %s", r.returncode,
            r.stderr.decode(errors="replace")[-300:])
    R.check(b"\x1b" not in r.stdout, "an ESC byte in the batch output")
    blocks = re.split(r"(?m)^(?=asyncprof-bpf - up )", out)
    blocks = [b for b in blocks if b.startswith("asyncprof-bpf - up ")]
    R.check(len(blocks) >= 4, "%d batch blocks, want >= 4", len(blocks))
    for i, b in enumerate(blocks):
        R.check(re.search(r"(?m)^LOOPS\n\s+PID\s+TID\s+COMM", b), "block %d: no loops table", i)
        R.check(re.search(r"(?m)^\s*%d\s+\d+\s+python" % pid, b), "block %d: no demo loop row", i)
        R.check(re.search(r"(?m)^TASKS ", b) and re.search(r"(?m)^EVENTS ", b),
                "block %d: no tasks or events section", i)
    R.check(any(re.search(r"worker-\d", b) for b in blocks), "no worker task in any block")
    # the demo's time.sleep(0.15) calls: some refresh's loop time is mostly sleep,
    # its bar (a letter per tenth) mostly s
    rows = [m.group(1) for b in blocks for m in
            re.finditer(r"(?m)^\s*%d\s+%d\s+python.*\s([rqg.osfnpl ]{10}) \d+%% \S" % (pid, pid),
                        b)]
    R.check(rows, "no CAUSES bar on the demo's loop row")
    R.check(any(r.startswith("sssss") for r in rows), "no refresh with the loop mostly asleep: "
            "bars %s", rows)


def need_root_and_tool():
    """What both tests need before anything starts (the old runner checked it too)."""
    if os.geteuid() != 0:
        raise R.Fail("needs root")
    R.need_tool()


def t_screen_in_tmux(ctx):
    need_root_and_tool()
    tm = Tmux(ctx)
    try:
        t_screen(ctx, tm)
    finally:
        tm.close()


TESTS = [("screen", t_screen_in_tmux), ("batch", t_batch)]


if __name__ == "__main__":
    sys.exit(R.main_for(TESTS, "the live view"))
