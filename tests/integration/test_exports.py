#!/usr/bin/env python3
"""Integration tests of the exporters: a real target traced by the real tool
with every output format at once (-o chrome: -o html: -o folded: plus the
JSON report), each output checked for its structure and for what the target
did; the HTML page is loaded in headless Chromium and its DOM checked.

    python3 tests/integration/test_exports.py [--filter SUBSTR]... [-v]

Runs as root (like harness.py, whose helpers it uses). Prints "ok NAME",
"FAIL NAME: reason" or "skip NAME: reason" per test and closes with
"N passed, N failed" (skipped tests are in neither count). Artifacts, the
Chromium screenshots included, stay in tests/integration/.out/<test>/.

The Chromium part is skipped (not failed) only when Chromium is missing and
`apt-get install -y chromium` cannot install it.
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Fail, Skip, check, MS  # noqa: E402

HOSTILE = "<script>alert(1)</script>"
CHROMIUM = "/usr/bin/chromium"
FOLDED_LINE = re.compile(r"^[^;\n]+(;[^;\n]+)* [1-9][0-9]*$")


def target_python():
    for py in (harness.DEBIAN_PY, harness.pyenv(11), sys.executable):
        if py and os.access(py, os.X_OK):
            return py
    raise Skip("no python3")


def outputs_extra(ctx):
    """The -o arguments for chrome, html and folded, and their paths."""
    paths = {"chrome": ctx.path("out.trace.json"), "html": ctx.path("out.html"),
             "folded": ctx.path("out.folded")}
    extra = ["--group-by", "task"]  # folded stacks rooted at the task name
    for fmt, path in paths.items():
        extra += ["-o", "%s:%s" % (fmt, path)]
    return extra, paths


# --- chrome ----------------------------------------------------------------------

def load_chrome(path):
    check(os.path.exists(path), "no chrome trace %s", path)
    try:
        with open(path) as f:
            t = json.load(f)
    except ValueError as e:
        raise Fail("chrome trace is not JSON: %s" % e)
    check(isinstance(t.get("traceEvents"), list), "no traceEvents array")
    check(t.get("displayTimeUnit") == "ms", "displayTimeUnit %r", t.get("displayTimeUnit"))
    md = t.get("metadata", {})
    check(isinstance(md.get("drops", {}).get("events"), int), "metadata.drops.events missing")
    for e in t["traceEvents"]:
        check(e.get("ph") in ("M", "X", "b", "e", "C") or
              (e.get("ph") == "i" and e.get("cat") == "lint" and e.get("s") == "t"),
              "unexpected event %s", e)
        check(isinstance(e.get("pid"), int) and isinstance(e.get("tid"), int), "pid/tid %s", e)
        if e["ph"] != "M":
            check(isinstance(e.get("ts"), (int, float)), "ts of %s", e)
        if e["ph"] == "X":
            check(isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0, "dur of %s", e)
    return t


def check_nesting(xs):
    """Slices on one thread nest (Perfetto rejects partial overlaps)."""
    by_tid = {}
    for e in xs:
        by_tid.setdefault(e["tid"], []).append(e)
    for tid, evs in by_tid.items():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in evs:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                stack.pop()
            if stack:
                top = stack[-1]
                check(e["ts"] + e["dur"] <= top["ts"] + top["dur"] + 0.001,
                      "slices overlap on tid %d: %s [%s +%s] and %s [%s +%s]", tid,
                      top["name"], top["ts"], top["dur"], e["name"], e["ts"], e["dur"])
            stack.append(e)


def check_chrome_common(t, report, p):
    """Metadata events, async task tracks, the lag counter; returns the X events."""
    ev = t["traceEvents"]
    pid = p["pid"]
    meta = {(e["name"], e["tid"]): e["args"]["name"] for e in ev if e["ph"] == "M"}
    check(meta.get(("process_name", 0)) == "%s (%d)" % (p["comm"], pid),
          "process_name %r", meta.get(("process_name", 0)))
    for l in p["loops"]:
        check(meta.get(("thread_name", l["tid"])) == "loop %d" % l["tid"],
              "thread_name of %d: %r", l["tid"], meta.get(("thread_name", l["tid"])))
    check(t["metadata"]["drops"]["events"] == report["drops"]["events"], "drops differ")
    # one b/e pair per task, id = the task id
    be = [e for e in ev if e["ph"] in "be"]
    check(all(e["cat"] == "task" for e in be), "async event outside cat task")
    for task in p["tasks"]:
        mine = [e for e in be if e["id"] == task["id"] and
                e["name"] == "task %s" % (task["name"] if task["name"] is not None else task["id"])]
        check(len([e for e in mine if e["ph"] == "b"]) >= 1 and
              len([e for e in mine if e["ph"] == "e"]) >= 1,
              "no b/e pair for task %r %s", task["name"], task["id"])
    check(len([e for e in be if e["ph"] == "b"]) == len(p["tasks"]), "%d b events, %d tasks",
          len([e for e in be if e["ph"] == "b"]), len(p["tasks"]))
    # the lag counter of each loop: drops back to 0, peaks at the worst lag
    for l in p["loops"]:
        cs = [e for e in ev if e["ph"] == "C" and e["name"] == "loop lag %d" % l["tid"]]
        check(cs, "no lag counter for loop %d", l["tid"])
        vals = [e["args"]["lag_ms"] for e in cs]
        check(0 in vals, "lag counter never 0")
        check(max(vals) * MS <= l["lag"]["max_ns"] + MS, "lag counter max %.1f ms > "
              "max_ns %.1f ms", max(vals), l["lag"]["max_ns"] / MS)
        ts = [e["ts"] for e in cs]
        check(ts == sorted(ts), "lag counter not in time order")
    xs = [e for e in ev if e["ph"] == "X"]
    check_nesting(xs)
    return xs


def find_sleep(xs, tid, ms, tol=0.2):
    """The blocking clock_nanosleep slices on tid lasting ms (+-tol)."""
    return [e for e in xs if e.get("cat") == "blocking" and e["tid"] == tid and
            e["name"] == "[syscall] clock_nanosleep" and abs(e["dur"] / 1000 - ms) <= tol * ms]


def enclosing(xs, b):
    return [e for e in xs if e is not b and e.get("cat") != "blocking" and e["tid"] == b["tid"]
            and e["ts"] <= b["ts"] and e["ts"] + e["dur"] >= b["ts"] + b["dur"]]


# --- folded ----------------------------------------------------------------------

def load_folded(path):
    check(os.path.exists(path), "no folded file %s", path)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    check(lines[-1] == "", "folded file does not end with a newline")
    lines = lines[:-1]
    for l in lines:
        check(FOLDED_LINE.match(l), "bad folded line %r", l[:200])
    stacks = [l.rsplit(" ", 1)[0] for l in lines]
    check(len(stacks) == len(set(stacks)), "folded stacks not merged")
    return [(l.rsplit(" ", 1)[0].split(";"), int(l.rsplit(" ", 1)[1])) for l in lines]


# --- html and chromium -------------------------------------------------------------

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def all_text(self):
        return "".join(c if isinstance(c, str) else c.all_text() for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()


VOID = {"meta", "link", "br", "img", "input", "hr", "path", "line", "rect"}


class Tree(html.parser.HTMLParser):
    """A DOM-ish tree of an HTML string (Chromium's --dump-dom output)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)

    def find(self, pred):
        return [n for n in self.root.walk() if pred(n)]


def need_chromium():
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "install", "-y", "-qq", "chromium"],
                ["sh", "-c", "apt-get update -qq && apt-get install -y -qq chromium"]):
        try:
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=900)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if os.access(CHROMIUM, os.X_OK):
            return CHROMIUM
    raise Skip("chromium not installed and apt-get install chromium failed")


def chromium(ctx, page, *args):
    """Run headless Chromium on file://page; returns its stdout."""
    exe = need_chromium()
    prof = tempfile.mkdtemp(prefix="ap-chromium-")
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + prof] + list(args) + ["file://" + page]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
    except subprocess.TimeoutExpired:
        raise Fail("chromium did not finish in 120 s")
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    with open(ctx.path("chromium.stderr"), "ab") as f:
        f.write(r.stderr)
    check(r.returncode == 0, "chromium exit %d", r.returncode)
    return r.stdout.decode("utf-8", errors="replace")


def check_html_static(path):
    """Self-contained: no script, no element or style that fetches anything."""
    with open(path, encoding="utf-8") as f:
        t = Tree(f.read())
    tags = {n.tag for n in t.root.walk()}
    check(not tags & {"script", "link", "img", "iframe", "object", "embed"},
          "the page has %s", sorted(tags & {"script", "link", "img", "iframe", "object", "embed"}))
    refs = [n.attrs for n in t.root.walk() if {"src", "href"} & set(n.attrs)]
    check(not refs, "the page references resources: %s", refs[:3])
    css = "".join(n.all_text() for n in t.root.walk() if n.tag == "style")
    check(not re.search(r"url\(|@import", css), "the style sheet fetches something")
    return t


def check_dom(ctx, page, report, p, names):
    """Load page in Chromium; check cards, Gantt bars, escaped names; screenshot it."""
    dom = chromium(ctx, page, "--dump-dom")
    with open(ctx.path("dom.html"), "w") as f:
        f.write(dom)
    t = Tree(dom)
    cards = {n.attrs.get("id"): n for n in t.find(lambda n: "card" in n.classes())}
    states = [x["state"] for x in p["tasks"]]
    want = {"card-tasks": len(p["tasks"]), "card-done": states.count("done"),
            "card-cancelled": states.count("cancelled"), "card-failed": states.count("failed"),
            "card-blocking": len(p["blocking_calls"]), "card-slow": len(p["slow_callbacks"])}
    for cid, v in want.items():
        check(cid in cards, "no card %s", cid)
        got = [n for n in cards[cid].walk() if "v" in n.classes()][0].all_text()
        check(got == str(v), "card %s shows %r, report has %d", cid, got, v)
    check("card-lag" in cards and "ms" in cards["card-lag"].all_text(), "no worst-lag card")
    check(t.find(lambda n: n.tag == "svg" and "lag" in n.classes() and
                 any(c.tag == "path" for c in n.walk())), "no lag chart")
    rows = t.find(lambda n: "row" in n.classes() and "task" in n.classes())
    check(len(rows) == min(len(p["tasks"]), 300), "%d Gantt rows, %d tasks", len(rows),
          len(p["tasks"]))
    bars = {c: len(t.find(lambda n, c=c: "bar" in n.classes() and c in n.classes()))
            for c in ("run", "wait", "blk")}
    check(all(bars.values()), "Gantt bars missing: %s", bars)
    labels = [n.all_text() for n in t.find(lambda n: "lbl" in n.classes())]
    for name in names:
        check(name in labels, "task %r not in the Gantt labels", name)
    check(not t.find(lambda n: n.tag in ("script", "img", "iframe", "object")),
          "an element was injected: %s",
          [n.tag for n in t.find(lambda n: n.tag in ("script", "img", "iframe", "object"))])
    check(not t.find(lambda n: any(a.startswith("on") for a in n.attrs)),
          "an event handler attribute was injected")
    shot = ctx.path("report.png")
    chromium(ctx, page, "--screenshot=" + shot, "--window-size=1400,1800",
             "--hide-scrollbars")
    check(os.path.getsize(shot) > 10000, "screenshot %s too small", shot)
    return t


SKIPPED = []  # (test, reason) of the Chromium parts skipped


def chromium_part(ctx, fn, *args):
    """Run fn; a Skip (no Chromium) is noted, not propagated."""
    try:
        fn(*args)
    except Skip as e:
        SKIPPED.append((ctx.name, str(e)))


# --- the tests -------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append((fn.__name__[2:].replace("_", "-"), fn))
    return fn


@test
def t_exports_hostile(ctx):
    """hostile.py: hostile names in every format, a 150 ms sleep in a task."""
    harness.need_tool()
    py = target_python()
    extra, paths = outputs_extra(ctx)
    report, truth, _ = harness.run_target_traced(
        ctx, [py, os.path.join(harness.TARGETS, "hostile.py")], duration=4, tool_extra=extra)
    p = harness.the_process(report, truth["pid"])
    tid = truth["loop_tid"]
    names = {t["name"] for t in p["tasks"]}
    for n in truth["names"]:
        check(n in names, "task %r missing from the JSON report (%s)", n, sorted(map(str, names)))
    script_task = [t for t in p["tasks"] if t["name"] == HOSTILE][0]

    t = load_chrome(paths["chrome"])
    xs = check_chrome_common(t, report, p)
    sleeps = find_sleep(xs, tid, 150)
    check(len(sleeps) == 1, "%d clock_nanosleep slices of ~150 ms on the loop thread",
          len(sleeps))
    s = sleeps[0]
    start_ns = report["window"]["start_ns"] + s["ts"] * 1000
    check(abs(start_ns - truth["sleep"]["start_ns"]) <= 20 * MS, "sleep slice %+.1f ms off",
          (start_ns - truth["sleep"]["start_ns"]) / MS)
    check(s["args"]["task"] == script_task["id"] and s["args"]["kind"] == "sleep",
          "sleep args %s", s["args"])
    check("stack" in s["args"] and isinstance(s["args"]["stack"], list), "no stack arg")
    enc = [e["name"] for e in enclosing(xs, s)]
    check("task " + HOSTILE in enc, "sleep not inside the task's slice (enclosed by %s)", enc)
    cb = find_sleep(xs, tid, 60)
    check(cb and cb[0]["args"]["task"] is None and cb[0]["args"]["callback"] == truth["callback"],
          "the 60 ms callback sleep: %s", cb)

    folded = load_folded(paths["folded"])
    hit = [(f, n) for f, n in folded if f[0] == "task " + HOSTILE and
           f[-1] == "[syscall] clock_nanosleep"]
    check(len(hit) == 1 and abs(hit[0][1] - 150000) <= 30000, "folded sleep line: %s", hit)
    check(any(f[0] == 'task semi:colon?new"line' for f, _ in folded),
          "sanitised task root missing: %s", [f[0] for f, _ in folded])

    lag = [e["args"]["lag_ms"] for e in t["traceEvents"]
           if e["ph"] == "C" and e["name"] == "loop lag %d" % tid]
    check(max(lag) >= 100, "lag counter peaks at %.1f ms, the loop slept 150 ms", max(lag))

    check_html_static(paths["html"])
    chromium_part(ctx, check_dom, ctx, paths["html"], report, p, truth["names"])


@test
def t_exports_demo(ctx):
    """examples/demo.py: named workers, blocking sleeps, fsync, CPU bursts."""
    harness.need_tool()
    py = target_python()
    demo = harness.Proc(ctx, "demo", [py, os.path.join(harness.ROOT, "examples", "demo.py"),
                                  "--duration", "30"])
    pid = int(demo.wait_line("stdout", r"^demo pid (\d+)", 20).group(1))
    extra, paths = outputs_extra(ctx)
    tool = harness.start_tool(ctx, pid, duration=4, extra=extra)
    report = harness.finish_tool(tool, 40)
    p = harness.the_process(report, pid)
    names = {t["name"] for t in p["tasks"]}
    want = ["poller", "worker-1", "worker-2", "worker-3"]
    check(all(n in names for n in want), "demo tasks missing: %s", sorted(map(str, names)))
    tid = p["loops"][0]["tid"]

    t = load_chrome(paths["chrome"])
    xs = check_chrome_common(t, report, p)
    sleeps = find_sleep(xs, tid, 150)
    check(sleeps, "no ~150 ms clock_nanosleep slice on the loop thread")
    # a callback already running when the uprobes went in has no slice (its
    # start was not seen): its sleep may stand alone, before the first run
    runs = [e["ts"] for e in xs if e.get("cat") != "blocking" and e["tid"] == tid]
    check(runs, "no callback run on the loop thread")
    sleeps = [s for s in sleeps if s["args"].get("task") or s["ts"] > min(runs)]
    check(sleeps, "no ~150 ms clock_nanosleep slice after the first callback run")
    for s in sleeps:
        enc = [e["name"] for e in enclosing(xs, s)]
        check(any(n.startswith("task worker-") for n in enc),
              "legacy sleep not inside a worker step: %s", enc)
    runs = [e for e in xs if e.get("cat") == "task"]
    check(len(runs) > 50, "only %d task step slices in 4 s", len(runs))

    folded = load_folded(paths["folded"])
    check(any(f[-1] == "[syscall] clock_nanosleep" and f[0].startswith("task worker-")
              for f, _ in folded), "no worker sleep stack in the folded file")

    check_html_static(paths["html"])
    chromium_part(ctx, check_dom, ctx, paths["html"], report, p, want)


if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "asyncprof-bpf exporter integration tests"))
