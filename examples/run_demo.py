#!/usr/bin/env python3
"""`make demo`: start the demo service, trace it for a few seconds, show the summary.

Runs examples/demo.py under Debian's python3 (or $DEMO_PYTHON), attaches
./asyncprof-bpf to it for $DEMO_SECONDS (default 5), prints the text
summary and keeps the JSON report in demo-report.json.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.environ.get("DEMO_PYTHON", "/usr/bin/python3")
SECONDS = os.environ.get("DEMO_SECONDS", "5")
REPORT = os.path.join(ROOT, "demo-report.json")


def main():
    if os.geteuid() != 0:
        sys.exit("make demo: run as root (sudo make demo): tracing needs CAP_BPF and CAP_PERFMON")
    demo = subprocess.Popen([PYTHON, os.path.join(ROOT, "examples", "demo.py")],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = demo.stdout.readline().split()
        if len(line) < 3 or line[:2] != ["demo", "pid"]:
            sys.exit("make demo: the demo service did not start")
        pid = line[2]
        print("demo service running as pid %s (%s examples/demo.py)" % (pid, PYTHON))
        print("$ ./asyncprof-bpf --pid %s --duration %s -o json:demo-report.json" % (pid, SECONDS),
              flush=True)
        rc = subprocess.call([os.path.join(ROOT, "asyncprof-bpf"), "--pid", pid,
                              "--duration", SECONDS, "-o", "json:" + REPORT])
        if rc == 0:
            print("\nJSON report: %s" % REPORT)
        return rc
    finally:
        demo.terminate()
        demo.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
