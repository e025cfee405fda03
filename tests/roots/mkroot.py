#!/usr/bin/env python3
"""Build (once) the Debian roots whose interpreters the tests trace in a chroot.

    mkroot.py sid          build or reuse /var/cache/asyncprof-roots/sid
    mkroot.py --path sid   print its path (building it first if needed)

sid: CPython 3.14 and 3.15 as Debian ships them (statically linked,
stripped), with uvloop, aiohttp, FastAPI, uvicorn and httptools. The root is made with debootstrap (minbase) and reused while
its stamp file lists the same packages; a half-made root is removed and
made again. $AP_ROOTS_CACHE moves the cache. Standard library only.
"""
import argparse
import fcntl
import os
import shutil
import subprocess
import sys

CACHE = os.environ.get("AP_ROOTS_CACHE", "/var/cache/asyncprof-roots")
MIRROR = os.environ.get("AP_ROOTS_MIRROR", "http://deb.debian.org/debian")
ROOTS = {
    # uvloop is built for 3.14 only; aiohttp and httptools for both
    "sid": ("sid", ["python3.14", "python3.15", "python3-uvloop", "python3-aiohttp",
                    "python3-fastapi", "python3-uvicorn", "python3-httptools"]),
}
STAMP = ".asyncprof-root"


def stamp_text(name):
    suite, pkgs = ROOTS[name]
    return "%s %s\n" % (suite, " ".join(sorted(pkgs)))


def ready(path, name):
    try:
        with open(os.path.join(path, STAMP)) as f:
            return f.read() == stamp_text(name)
    except OSError:
        return False


def build(name):
    suite, pkgs = ROOTS[name]
    path = os.path.join(CACHE, name)
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock-" + name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time
        if ready(path, name):
            return path
        shutil.rmtree(path, ignore_errors=True)
        tmp = path + ".new"
        shutil.rmtree(tmp, ignore_errors=True)
        print("  ROOT     %s: debootstrap %s with %s" % (path, suite, " ".join(pkgs)),
              flush=True)
        log = os.path.join(CACHE, name + ".log")
        with open(log, "w") as out:
            rc = subprocess.call(["debootstrap", "--variant=minbase",
                                  "--include=" + ",".join(pkgs), suite, tmp, MIRROR],
                                 stdout=out, stderr=subprocess.STDOUT, timeout=1200)
        if rc:
            sys.exit("mkroot: debootstrap %s failed (exit %d); see %s" % (suite, rc, log))
        with open(os.path.join(tmp, STAMP), "w") as f:
            f.write(stamp_text(name))
        os.rename(tmp, path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--path", action="store_true", help="print the root's path")
    ap.add_argument("names", nargs="+", choices=sorted(ROOTS))
    args = ap.parse_args()
    for name in args.names:
        path = build(name)
        if args.path:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
