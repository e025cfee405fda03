#!/usr/bin/env python3
"""The probes the tool attaches, as the kernel lists them (bpftool), and
that they are gone when it exits.

    python3 tests/integration/test_probes.py [--list] [--filter SUBSTR]... [--keep] [-v]

Runs as root, with harness.py.
"""
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    attached,
    bpftool_json,
    registrar,
    main_for,
    DEBIAN_PY,
    Proc,
    Skip,
    TARGETS,
    check,
    finish_tool,
    need_exe,
    pyenv,
    start_tool,
    vlog,
)

TESTS = []
test = registrar(TESTS)

@test("probes-left-behind")
def t_probes(ctx):
    if not shutil.which("bpftool"):
        raise Skip("bpftool not installed")
    py = need_exe(pyenv(11) or DEBIAN_PY, "python3.11")
    gt_path, start = ctx.path("truth.json"), ctx.path("start")
    target = Proc(ctx, "target", [py, os.path.join(TARGETS, "blocking.py"), "-c", "sleep",
                                  "--stay", gt_path, start])
    pid = int(target.wait_line("stdout", r"^ready (\d+)", 20).group(1))
    tool = start_tool(ctx, pid)
    prog_ids, link_ids = attached(tool.pid)
    mine = [p for p in bpftool_json("prog", "show") if p["id"] in prog_ids]
    links = [l for l in bpftool_json("link", "show") if l["id"] in link_ids]
    perf = [e for e in bpftool_json("perf") if e.get("pid") == tool.pid]
    with open(ctx.path("attached.json"), "w") as f:
        json.dump({"progs": mine, "links": links, "perf": perf}, f, indent=1)
    check(mine, "no BPF program appeared while tracing")
    ids = {p["id"] for p in mine}
    names = sorted({p.get("name", "?") for p in mine})
    vlog("tool programs: %s; links %d; perf events %d", names, len(links), len(perf))
    tool.signal(signal.SIGINT)
    finish_tool(tool, 15)
    # The kernel frees tracing programs after an RCU grace period, not at
    # close(): allow it a few seconds.
    t0 = time.monotonic()
    while True:
        left = [p for p in bpftool_json("prog", "show") if p["id"] in ids]
        if not left or time.monotonic() - t0 > 5:
            break
        time.sleep(0.1)
    vlog("programs gone %.2fs after the tool exited", time.monotonic() - t0)
    check(not left, "programs still loaded after exit: %s",
          [(p["id"], p.get("name")) for p in left])
    left_links = [l for l in bpftool_json("link", "show")
                  if l["id"] in link_ids or l.get("prog_id") in ids]
    check(not left_links, "links still present after exit: %s",
          [(l["id"], l.get("type"), l.get("prog_id")) for l in left_links])
    left_perf = [e for e in bpftool_json("perf")
                 if e.get("prog_id") in ids or e.get("pid") == tool.pid]
    check(not left_perf, "perf events still attached after exit: %s", left_perf)


if __name__ == "__main__":
    sys.exit(main_for(TESTS, "probes"))
