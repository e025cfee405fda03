#!/usr/bin/env python3
"""Accuracy of the report against the target's own ground truth.

    sudo python3 bench/accuracy.py [--json FILE] [--seconds S] [--runs N]

For each interpreter and mode, runs bench/accuracy_target.py (injected
blocking calls of 2-180 ms, an in-process 10 ms lag ticker, busy background
tasks) traced by asyncprof-bpf, then checks:
- lag max: loops[0].lag.max_ns against the longest stall the target
  measured around its own injected calls, within 5 %;
- every injected blocking call of at least the threshold (1 ms) is found:
  a blocking call on the loop thread overlapping it, and how close its
  duration is;
- no false positive: no reported blocking call of 50 ms or more that
  overlaps none of the injected ones.
Also compares the ticker's p99 and max lateness with the report's lag p99
and max (the ticker samples at its own phase, so it is a cross-check, not
the criterion). Prints a Markdown table; exit 1 if a check failed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOL = os.environ.get("AP_TOOL", os.path.join(ROOT, "asyncprof-bpf"))
MS = 1e6
PYTHONS = [("debian-3.11", "/usr/bin/python3.11", False),
           ("debian-3.11-uvloop", "/usr/bin/python3.11", True)]
for _v in ("3.12", "3.9"):
    _d = "/root/.pyenv/versions"
    _hit = sorted(x for x in os.listdir(_d) if x.startswith(_v + ".")) if os.path.isdir(_d) \
        else []
    if _hit:
        PYTHONS.append(("pyenv-" + _v, os.path.join(_d, _hit[-1], "bin/python3"), False))


def overlap(a0, a1, b0, b1):
    return min(a1, b1) - max(a0, b0)


def run_one(py, uvloop, mode, seconds, seed, tmp):
    truth_path, start = os.path.join(tmp, "truth.json"), os.path.join(tmp, "start")
    report_path = os.path.join(tmp, "report.json")
    for p in (truth_path, start, report_path):
        if os.path.exists(p):
            os.unlink(p)
    argv = [py, os.path.join(HERE, "accuracy_target.py"), "--seconds", str(seconds),
            "--seed", str(seed), truth_path, start] + (["--uvloop"] if uvloop else [])
    target = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    pid = int(target.stdout.readline().split()[1])
    tool = subprocess.Popen([TOOL, "--pid", str(pid), "--mode", mode, "-q", "--no-live",
                             "-o", "json:" + report_path], stderr=subprocess.PIPE, text=True)
    line = tool.stderr.readline()
    if not line.startswith("Tracing"):
        raise RuntimeError("tool: %s" % line)
    open(start, "w").close()
    target.wait(seconds + 60)
    rc = tool.wait(30)  # the tool ends when the target exits
    if rc != 0:
        raise RuntimeError("tool exit %d: %s" % (rc, tool.stderr.read()))
    with open(truth_path) as f:
        truth = json.load(f)
    with open(report_path) as f:
        report = json.load(f)
    return truth, report


def judge(truth, report):
    p = [x for x in report["processes"] if x["pid"] == truth["pid"]][0]
    loop = [l for l in p["loops"] if l["tid"] == truth["loop_tid"]][0]
    calls = [c for c in p["blocking_calls"] if c["tid"] == truth["loop_tid"]]
    thr = report["config"]["blocking_ns"]
    inj = truth["blocking"]
    found, missed, ratios = 0, [], []
    for ev in inj:
        if ev["end_ns"] - ev["start_ns"] < thr:
            continue
        hits = [c for c in calls if overlap(c["start_ns"], c["start_ns"] + c["duration_ns"],
                                            ev["start_ns"], ev["end_ns"]) > 0]
        if not hits:
            missed.append(ev)
            continue
        found += 1
        got = max(c["duration_ns"] for c in hits)
        ratios.append(got / (ev["end_ns"] - ev["start_ns"]))
    false_pos = [c for c in calls if c["duration_ns"] >= 50 * MS and not any(
        overlap(c["start_ns"], c["start_ns"] + c["duration_ns"], ev["start_ns"],
                ev["end_ns"]) > 0 for ev in inj)]
    longest = max(ev["end_ns"] - ev["start_ns"] for ev in inj)
    lag_err = (loop["lag"]["max_ns"] - longest) / longest
    ticks = sorted(l for _, l in truth["ticks"])
    tick_p99 = ticks[min(len(ticks) - 1, int(0.99 * len(ticks)))] if ticks else 0
    due = sum(1 for ev in inj if ev["end_ns"] - ev["start_ns"] >= thr)
    return {
        "injected": due, "found": found, "missed": [(m["kind"], m["want_ms"]) for m in missed],
        "duration_ratio_median": statistics.median(ratios) if ratios else None,
        "duration_ratio_min": min(ratios) if ratios else None,
        "duration_ratio_max": max(ratios) if ratios else None,
        "false_positives_50ms": [(c["kind"], c["syscall"], c["duration_ns"] / MS)
                                 for c in false_pos],
        "lag_max_ms": loop["lag"]["max_ns"] / MS, "longest_stall_ms": longest / MS,
        "lag_max_err": lag_err, "lag_p99_ms": loop["lag"]["p99_ns"] / MS,
        "ticker_p99_ms": tick_p99 / MS, "ticker_max_ms": ticks[-1] / MS if ticks else 0,
        "ok": found == due and not false_pos and abs(lag_err) <= 0.05,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runs", type=int, default=1, help="seeds per interpreter and mode")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, py, uv in PYTHONS:
            for mode in ("full", "light"):
                for seed in range(7, 7 + a.runs):
                    try:
                        truth, report = run_one(py, uv, mode, a.seconds, seed, tmp)
                        r = judge(truth, report)
                    except (RuntimeError, OSError, ValueError, IndexError, KeyError,
                            subprocess.SubprocessError) as e:
                        r = {"error": str(e), "ok": False}
                    r.update(python=name, mode=mode, seed=seed)
                    rows.append(r)
                    sys.stderr.write("%s %s seed %d: %s\n" % (name, mode, seed,
                                                              "ok" if r["ok"] else "FAIL"))
    print("| target | mode | injected calls found | false positives >= 50 ms | duration "
          "reported/true (median, min-max) | lag max ms (report / longest stall, error) | "
          "lag p99 ms (report / ticker) | ticker max ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print("| %s | %s | error: %s | | | | | |" % (r["python"], r["mode"], r["error"]))
            continue
        print("| %s | %s | %d / %d%s | %d | %.3f (%.3f-%.3f) | %.1f / %.1f (%+.1f %%) | "
              "%.1f / %.1f | %.1f |"
              % (r["python"], r["mode"], r["found"], r["injected"],
                 " missed %s" % r["missed"] if r["missed"] else "",
                 len(r["false_positives_50ms"]), r["duration_ratio_median"] or 0,
                 r["duration_ratio_min"] or 0, r["duration_ratio_max"] or 0, r["lag_max_ms"],
                 r["longest_stall_ms"], 100 * r["lag_max_err"], r["lag_p99_ms"],
                 r["ticker_p99_ms"], r["ticker_max_ms"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
