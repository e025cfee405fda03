#!/usr/bin/env python3
"""Run every integration suite (test_*.py) and total their results.

    python3 tests/integration/run.py [--filter SUBSTR]... [--keep] [-v]

The options go to every suite (a suite with no test of that name prints
"0 passed"). harness.py is what the suites share.

Each suite prints a closing line "N passed, N failed[, N skipped]"; this
prints their output as it comes and one total line of the same form at the
end. Exit 1 when a suite failed or did not print its closing line.
"""
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")


def main():
    suites = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    passed = failed = skipped = 0
    ok = True
    for suite in suites:
        print("== %s" % os.path.relpath(suite), flush=True)
        proc = subprocess.Popen([sys.executable, suite] + sys.argv[1:], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        last = None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            m = LINE.match(line.strip())
            if m:
                last = m
        rc = proc.wait()
        if "--list" in sys.argv[1:]:
            ok = ok and rc == 0  # names only: no closing line to count
            continue
        if not last:
            print("FAIL %s: no closing line (exit %d)" % (os.path.basename(suite), rc))
            failed += 1
            ok = False
            continue
        passed += int(last.group(1))
        failed += int(last.group(2))
        skipped += int(last.group(3) or 0)
        ok = ok and rc == 0
    if "--list" not in sys.argv[1:]:
        print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
