#!/usr/bin/env python3
"""--prometheus: /metrics fetched over loopback during a real run, checked
line by line against the text exposition format.

Runs the bundled demo service, starts asyncprof-bpf with --prometheus on a
free loopback port, scrapes twice, and checks names, HELP/TYPE lines, label
syntax, histogram buckets (monotonic, +Inf equal to _count) and that the
demo's blocking sleeps and callbacks are counted. Ends with
"N passed, N failed, N skipped" (harness.main_for: --list, --filter, --keep, -v).
"""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (main_for: --list, --filter, artifacts)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("AP_TOOL", os.path.join(ROOT, "asyncprof-bpf"))
DEMO = os.path.join(ROOT, "examples", "demo.py")
NAMES = {
    "asyncprof_loop_lag_seconds": "histogram",
    "asyncprof_loop_busy_ratio": "gauge",
    "asyncprof_callbacks_total": "counter",
    "asyncprof_slow_callbacks_total": "counter",
    "asyncprof_blocking_calls_total": "counter",
    "asyncprof_blocking_seconds_total": "counter",
    "asyncprof_gil_wait_seconds_total": "counter",
    "asyncprof_busy_seconds_total": "counter",
    "asyncprof_dropped_events_total": "counter",
}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? '
                    r'(-?[0-9.eE+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


class Fail(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise Fail(msg % args)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(text):
    """Samples as (name, labels dict, value), and the HELP/TYPE seen."""
    helps, types, samples = set(), {}, []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line.startswith("#") or not line:
            continue
        else:
            m = SAMPLE.match(line)
            check(m, "not a sample line: %r", line)
            labels = dict(LABEL.findall(m.group(3) or ""))
            samples.append((m.group(1), labels, float(m.group(4))))
    return helps, types, samples


def check_histograms(samples):
    series = {}
    for name, labels, value in samples:
        if name.endswith("_bucket"):
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            series.setdefault(key, []).append((labels["le"], value))
    counts = {tuple(sorted(l.items())): v for n, l, v in samples
              if n == "asyncprof_loop_lag_seconds_count"}
    check(series, "no histogram buckets")
    for key, buckets in series.items():
        values = [v for _, v in buckets]
        check(values == sorted(values), "buckets not monotonic: %s", buckets)
        check(buckets[-1][0] == "+Inf", "last bucket is not +Inf: %s", buckets[-1])
        check(buckets[-1][1] == counts.get(key), "+Inf %s != count %s", buckets[-1][1],
              counts.get(key))
        les = [float(le) for le, _ in buckets[:-1]]
        check(les == sorted(les), "le not increasing")


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        check(r.status == 200, "status %d", r.status)
        check(r.headers["Content-Type"].startswith("text/plain"), "content type %s",
              r.headers["Content-Type"])
        return r.read().decode()


def test_metrics():
    port = free_port()
    demo = subprocess.Popen([sys.executable, DEMO], stdout=subprocess.PIPE, text=True)
    tool = None
    try:
        pid = int(demo.stdout.readline().split()[2])
        tool = subprocess.Popen([TOOL, "--pid", str(pid), "--prometheus", "127.0.0.1:%d" % port,
                                 "--interval", "500", "--duration", "8", "-q",
                                 "-o", "json:/dev/null"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            line = tool.stderr.readline()
            check(line, "tool exited before serving")
            if line.startswith("Serving Prometheus metrics on http://127.0.0.1:%d/" % port):
                break
        time.sleep(3)
        first = parse(scrape("http://127.0.0.1:%d/metrics" % port))
        time.sleep(2)
        helps, types, samples = parse(scrape("http://127.0.0.1:%d/metrics" % port))
        for name, kind in NAMES.items():
            check(name in helps, "no HELP for %s", name)
            check(types.get(name) == kind, "TYPE of %s is %s, not %s", name, types.get(name), kind)
        for name, labels, _ in samples:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            check(base in NAMES, "unknown metric %s", name)
            if name != "asyncprof_dropped_events_total":
                check(labels.get("pid") == str(pid) and labels.get("tid") and "comm" in labels,
                      "labels of %s: %s", name, labels)
        check_histograms(samples)
        sleeps = [v for n, l, v in samples if n == "asyncprof_blocking_calls_total"
                  and l.get("kind") == "sleep"]
        check(sleeps and sum(sleeps) >= 1, "no blocking sleep counted: %s", sleeps)
        cbs = [v for n, _, v in samples if n == "asyncprof_callbacks_total"]
        cbs0 = [v for n, _, v in first[2] if n == "asyncprof_callbacks_total"]
        check(cbs and cbs0 and cbs[0] > cbs0[0] > 0, "callbacks_total not growing: %s %s",
              cbs0, cbs)
        busy = [v for n, _, v in samples if n == "asyncprof_loop_busy_ratio"]
        check(busy and 0 < busy[0] < 1, "busy ratio %s", busy)
        # the demo's time.sleep(0.15): busy time by cause, sleep among them
        slept = [v for n, l, v in samples if n == "asyncprof_busy_seconds_total"
                 and l.get("cause") == "sleep"]
        check(slept and slept[0] >= 0.1, "busy seconds by cause: sleep %s", slept)
        rc = tool.wait(timeout=30)
        check(rc == 0, "tool exit %d", rc)
    finally:
        if tool and tool.poll() is None:
            tool.kill()
        demo.terminate()
        demo.wait(timeout=10)


def test_bad_address():
    r = subprocess.run([TOOL, "--prometheus", "not-a-port", "--duration", "1"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0, "exit 0 for a bad address")
    # argp follows a usage error with its "Try `... --help'" hint
    lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("Try `")]
    check(len(lines) == 1 and "not-a-port" in lines[0], "stderr: %r", r.stderr)


TESTS = [("prometheus-metrics", lambda ctx: test_metrics()),
         ("prometheus-bad-address", lambda ctx: test_bad_address())]


if __name__ == "__main__":
    sys.exit(harness.main_for(TESTS, "Prometheus metrics"))
