#!/usr/bin/env python3
"""`make demo`: run the demo HTTP service under asyncprof-bpf, load it, name its faults.

    sudo make demo                      # or: sudo python3 examples/run_demo.py

Starts examples/demo_service.py through the tool's launch mode
(asyncprof-bpf -o ... -- python3 demo_service.py --seconds S), sends it
HTTP requests for S seconds from a small built-in load generator, and when
the service exits prints the tool's summary, then each of the service's
four faults as the report shows it, and where the three files are:
report.json, trace.json and report.html in $DEMO_OUT (default
./demo-output). $DEMO_SECONDS (default 6) and $DEMO_PYTHON (default
/usr/bin/python3) change the run.
"""
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.environ.get("AP_TOOL", os.path.join(ROOT, "asyncprof-bpf"))
SERVICE = os.path.join(ROOT, "examples", "demo_service.py")
PYTHON = os.environ.get("DEMO_PYTHON", "/usr/bin/python3")
SECONDS = float(os.environ.get("DEMO_SECONDS", "6"))
OUT = os.environ.get("DEMO_OUT", os.path.join(ROOT, "demo-output"))
# the request mix: mostly fast requests, a few that hit each fault
MIX = ["/"] * 12 + ["/legacy"] * 2 + ["/quote"] * 3 + ["/report"] * 1
CLIENTS = 6
MS = 1e6


# --- load --------------------------------------------------------------------------

async def one_request(port, path):
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n" % path.encode())
    await writer.drain()
    await reader.read()
    writer.close()
    return time.monotonic() - t0


async def client(port, deadline, lat, rnd):
    while time.monotonic() < deadline:
        try:
            lat.append(await one_request(port, rnd.choice(MIX)))
        except OSError:
            return  # the service stopped


async def load(port, seconds):
    lat, rnd = [], random.Random(1)
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(client(port, deadline, lat, rnd) for _ in range(CLIENTS)))
    return sorted(lat)


def wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the faults, as the report shows them -------------------------------------------

def frame_of(stack, func):
    """The first frame of func in a stack, with the path made relative to the repo."""
    for f in stack or []:
        if f.startswith(func + " ("):
            return f.replace(ROOT + "/", "")
    return None


def calls_in(proc, kind, func):
    hits = []
    for b in proc.get("blocking_calls", []):
        fr = frame_of(b.get("stack"), func)
        if b.get("kind") == kind and fr:
            hits.append((b, fr))
    return hits


def sync_sleep(proc):
    hits = calls_in(proc, "sleep", "legacy_auth")
    if not hits:
        return None
    mx = max(b["duration_ns"] for b, _ in hits)
    return "%s: time.sleep (%s), %d calls, max %.0f ms" % (
        hits[0][1], hits[0][0]["syscall"], len(hits), mx / MS)


def sync_http(proc):
    hits = calls_in(proc, "net", "fetch_quote")
    if not hits:
        return None
    mx = max(b["duration_ns"] for b, _ in hits)
    peers = sorted({b["detail"] for b, _ in hits if b.get("detail")})
    syscalls = sorted({b["syscall"] for b, _ in hits if b.get("syscall")})
    return "%s: waits in %s%s for the upstream's answer, %d calls, max %.0f ms" % (
        hits[0][1], "/".join(syscalls), " on " + ", ".join(peers) if peers else "", len(hits),
        mx / MS)


def cpu_json(proc):
    hits = [(s, frame_of(s.get("stack"), "render_report")) for s in proc.get("slow_callbacks", [])]
    hits = [(s, fr) for s, fr in hits if fr]
    if not hits:
        return None
    mx = max(s["duration_ns"] for s, _ in hits)
    cpu = sum(s["duration_ns"] - (s.get("blocked_ns") or 0) for s, _ in hits)
    total = sum(s["duration_ns"] for s, _ in hits)
    return "%s: %d slow callbacks, max %.0f ms, %.0f%% of it on CPU (json.dumps)" % (
        hits[0][1], len(hits), mx / MS, 100.0 * cpu / total if total else 0)


def gil_hog(proc):
    hits = [b for b in proc.get("blocking_calls", []) if b.get("kind") == "gil"]
    if not hits:
        return None
    wait = sum(l.get("gil_wait_ns") or 0 for l in proc.get("loops", []))
    return "the loop waited for the GIL %d times, %.0f ms in all, max %.0f ms" % (
        len(hits), wait / MS, max(b["duration_ns"] for b in hits) / MS)


FAULTS = [
    ("sync sleep in a handler", sync_sleep),
    ("sync HTTP call to a slow upstream", sync_http),
    ("CPU-heavy JSON encode", cpu_json),
    ("a thread hogging the GIL (compact_metrics)", gil_hog),
]


def service_process(report):
    procs = [p for p in report.get("processes", []) if p.get("loops")]
    return procs[0] if procs else None


def print_faults(report):
    """One line per fault; returns how many were found."""
    proc = service_process(report)
    print("\nThe demo's faults, as the report shows them:")
    found = 0
    for name, fn in FAULTS:
        what = fn(proc) if proc else None
        found += bool(what)
        print("  %-4s %s\n       %s" % ("ok" if what else "MISS", name,
                                        what or "not in this report (try a longer DEMO_SECONDS)"))
    return found


def print_files(files):
    rel = {k: os.path.relpath(v) for k, v in files.items()}
    print("\nFiles:")
    print("  %-28s the report (docs/output-json.md); e.g. jq '.processes[0].blocking_calls[0]' %s"
          % (rel["json"], rel["json"]))
    print("  %-28s a timeline: open https://ui.perfetto.dev and drop the file on it "
          "(docs/output-chrome.md)" % rel["chrome"])
    print("  %-28s a self-contained page: open it in a browser, e.g. xdg-open %s "
          "(docs/output-html.md)" % (rel["html"], rel["html"]))


# --- the run ---------------------------------------------------------------------------

def give_back(paths):
    """Files written as root under sudo belong to the invoking user."""
    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if not (uid and gid):
        return
    for p in paths:
        try:
            os.chown(p, int(uid), int(gid))
        except OSError:
            pass


def main():
    if os.geteuid() != 0:
        sys.exit("make demo: run as root (sudo make demo): tracing needs CAP_BPF and CAP_PERFMON")
    os.makedirs(OUT, exist_ok=True)
    files = {"json": os.path.join(OUT, "report.json"), "chrome": os.path.join(OUT, "trace.json"),
             "html": os.path.join(OUT, "report.html")}
    for f in files.values():
        if os.path.exists(f):
            os.unlink(f)
    port = free_port()
    argv = [TOOL, "--top", "5", "-o", "json:" + files["json"], "-o", "chrome:" + files["chrome"],
            "-o", "html:" + files["html"], "--", PYTHON, SERVICE, "--port", str(port),
            "--seconds", "%g" % (SECONDS + 1), "--quiet"]
    print("$ %s" % " ".join(os.path.relpath(a) if a.startswith(ROOT) else a for a in argv),
          flush=True)
    tool = subprocess.Popen(argv)
    if not wait_port(port, tool):
        tool.terminate()
        tool.wait()
        sys.exit("make demo: the demo service did not start")
    lat = asyncio.run(load(port, SECONDS))
    rc = tool.wait()
    if lat:  # after the tool's summary: its progress line owns the terminal until then
        print("\nload: %d requests in %.0f s from %d clients; latency p50 %.0f ms, p99 %.0f ms, "
              "max %.0f ms" % (len(lat), SECONDS, CLIENTS, lat[len(lat) // 2] * 1e3,
                               lat[int(len(lat) * 0.99)] * 1e3, lat[-1] * 1e3), flush=True)
    if rc != 0 or not os.path.exists(files["json"]):
        sys.exit("make demo: asyncprof-bpf failed (exit %d)" % rc)
    give_back([OUT] + list(files.values()))
    with open(files["json"]) as f:
        found = print_faults(json.load(f))
    print_files(files)
    return 0 if found == len(FAULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
