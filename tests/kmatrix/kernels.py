#!/usr/bin/env python3
"""Fetch Debian's own kernels for the kernel-matrix runner.

    kernels.py fetch NAME...     download + unpack (cached; instant the 2nd time)
    kernels.py fetch --refresh NAME...   re-resolve the newest version online
    kernels.py list              known names and what is cached
    kernels.py path NAME         print the dir holding vmlinuz + modules/
                                 (fetching it first if needed)

NAME is one of 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie),
6.18 (trixie-backports), sid / 7.x (sid's newest linux-image-*-amd64).

Everything lives under the cache dir ($AP_KMATRIX_CACHE, default
/var/cache/asyncprof-kmatrix).  apt runs with a private configuration
(own sources.list, state and cache dirs under the cache dir), so the host's
apt state is never touched.  Standard library only.
"""

import argparse
import contextlib
import fcntl
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_CACHE = "/var/cache/asyncprof-kmatrix"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = os.environ.get("AP_KMATRIX_MIRROR", "http://deb.debian.org/debian")
SECURITY = os.environ.get("AP_KMATRIX_SECURITY_MIRROR",
                          "http://deb.debian.org/debian-security")

# canonical name -> (description, [(mirror, suite)], ABI prefix or None)
KERNELS = {
    "5.10": ("bullseye", [(MIRROR, "bullseye"),
                          (SECURITY, "bullseye-security")], "5.10"),
    "6.1": ("bookworm", [(MIRROR, "bookworm"),
                         (SECURITY, "bookworm-security")], "6.1"),
    "6.12": ("trixie", [(MIRROR, "trixie"),
                        (SECURITY, "trixie-security")], "6.12"),
    "6.18": ("trixie-backports", [(MIRROR, "trixie-backports")], "6.18"),
    "sid": ("sid (newest)", [(MIRROR, "sid")], None),
}
ALIASES = {"7.x": "sid", "7": "sid", "unstable": "sid",
           "bullseye": "5.10", "bookworm": "6.1", "trixie": "6.12",
           "trixie-backports": "6.18"}

# Host packages the runner needs (checked with dpkg -s, installed if missing).
HOST_PACKAGES = ["qemu-system-x86", "busybox-static", "zstd", "kmod",
                 "debian-archive-keyring"]

# linux-image-<abi>-amd64 or linux-image-<abi>-amd64-unsigned, plain flavour
# only (-cloud-amd64 has no 9p, -rt-amd64 is not what we test).
IMAGE_RE = re.compile(
    r"^linux-image-(\d+\.\d+[0-9A-Za-z.+~]*(?:-\d+)?)-amd64(-unsigned)?$")


def log(msg):
    print("kmatrix: " + msg, file=sys.stderr, flush=True)


class KmatrixError(Exception):
    pass


def cache_dir():
    return os.environ.get("AP_KMATRIX_CACHE") or DEFAULT_CACHE


def canonical(name):
    n = ALIASES.get(name, name)
    if n not in KERNELS:
        raise KmatrixError("unknown kernel %r (known: %s)" % (
            name, ", ".join(list(KERNELS) + sorted(ALIASES))))
    return n


@contextlib.contextmanager
def cache_lock():
    """Serialise fetches/builds between concurrent runners."""
    d = cache_dir()
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---------------------------------------------------------------- host deps

def _dpkg_installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return r.returncode == 0 and r.stdout.strip() == "install ok installed"


def ensure_host_packages(pkgs=HOST_PACKAGES):
    missing = [p for p in pkgs if not _dpkg_installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise KmatrixError("missing host packages %s (run as root to "
                           "install them)" % " ".join(missing))
    log("installing host packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=False)
        if subprocess.run(cmd, env=env).returncode != 0:
            raise KmatrixError("apt-get install %s failed" % " ".join(missing))


# ---------------------------------------------------------------- private apt

class PrivateApt:
    """apt-get/apt-cache with sources, state and cache under one dir."""

    def __init__(self, name):
        self.name = name
        self.root = os.path.join(cache_dir(), "apt", name)
        self.sources = os.path.join(self.root, "sources.list")
        self.trusted = False

    def _opts(self):
        r = self.root
        return [
            "-o", "Dir::Etc::sourcelist=" + self.sources,
            "-o", "Dir::Etc::sourceparts=" + os.path.join(r, "sources.list.d"),
            "-o", "Dir::Etc::preferences=" + os.path.join(r, "preferences"),
            "-o", "Dir::Etc::preferencesparts=" + os.path.join(r, "preferences.d"),
            "-o", "Dir::State=" + os.path.join(r, "state"),
            "-o", "Dir::State::status=" + os.path.join(r, "state", "status"),
            "-o", "Dir::Cache=" + os.path.join(r, "cache"),
            "-o", "APT::Get::List-Cleanup=0",
            "-o", "APT::Architecture=amd64",
            "-o", "APT::Architectures=amd64",
            "-o", "APT::Sandbox::User=root",
            "-o", "Acquire::Languages=none",
            "-o", "Acquire::Check-Valid-Until=false",
            "-o", "Debug::NoLocking=1",
        ]

    def write_config(self, repos):
        for d in ("sources.list.d", "preferences.d", "state/lists/partial",
                  "cache/archives/partial"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        status = os.path.join(self.root, "state", "status")
        if not os.path.exists(status):
            open(status, "w").close()
        if not self.trusted and os.path.exists(KEYRING):
            opt = "[arch=amd64 signed-by=%s]" % KEYRING
        else:
            opt = "[arch=amd64 trusted=yes]"
        with open(self.sources, "w") as f:
            for mirror, suite in repos:
                f.write("deb %s %s %s main\n" % (opt, mirror, suite))

    def run(self, tool, *args, capture=False, cwd=None):
        cmd = [tool] + self._opts() + list(args)
        r = subprocess.run(cmd, cwd=cwd, text=True,
                           stdout=subprocess.PIPE if capture else sys.stderr,
                           stderr=subprocess.PIPE if capture else None)
        return r

    def update(self, repos):
        self.write_config(repos)
        r = self.run("apt-get", "-q", "update", capture=True)
        out = (r.stdout or "") + (r.stderr or "")
        if r.returncode != 0 or "NO_PUBKEY" in out or "not signed" in out:
            if not self.trusted and ("NO_PUBKEY" in out or "signed" in out
                                     or "EXPKEYSIG" in out):
                log("WARNING: %s: archive signature not verifiable with %s; "
                    "retrying with trusted=yes" % (self.name, KEYRING))
                self.trusted = True
                return self.update(repos)
            sys.stderr.write(out)
            raise KmatrixError("apt-get update failed for %s" % self.name)


def _dpkg_vercmp(a, b):
    if a == b:
        return 0
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode
    return -1 if lt == 0 else 1


def _parse_stanzas(text):
    out, cur = [], {}
    for line in text.splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
            cur = {}
        elif not line[0].isspace() and ":" in line:
            k, v = line.split(":", 1)
            cur[k] = v.strip()
    if cur:
        out.append(cur)
    return out


def resolve(name, apt):
    """Newest plain amd64 linux-image package for a kernel name."""
    _, repos, prefix = KERNELS[name]
    r = apt.run("apt-cache", "pkgnames", "linux-image-", capture=True)
    cands = []
    for pkg in r.stdout.split():
        m = IMAGE_RE.match(pkg)
        if not m:
            continue
        abi = m.group(1)
        if prefix and not (abi == prefix or abi.startswith(prefix + ".")
                           or abi.startswith(prefix + "-")):
            continue
        cands.append(pkg)
    if not cands:
        raise KmatrixError("no linux-image-*-amd64 package found for %s" % name)
    r = apt.run("apt-cache", "show", "--no-all-versions", *cands, capture=True)
    stanzas = [s for s in _parse_stanzas(r.stdout)
               if s.get("Package") in cands and s.get("Version")]
    if not stanzas:
        raise KmatrixError("apt-cache show gave nothing for %s" % cands)

    def key(a, b):
        c = _dpkg_vercmp(a["Version"], b["Version"])
        if c:
            return c
        # Same version: prefer the plain (signed) package over -unsigned.
        return (a["Package"].endswith("-unsigned") -
                b["Package"].endswith("-unsigned")) * -1
    stanzas.sort(key=functools.cmp_to_key(key))
    return stanzas[-1]


# ---------------------------------------------------------------- cache db

def _db_path():
    return os.path.join(cache_dir(), "versions.json")


def load_db():
    try:
        with open(_db_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_db(db):
    p = _db_path()
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        json.dump(db, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, p)


def cached_entry(name):
    e = load_db().get(name)
    if e and os.path.exists(os.path.join(e["dir"], "vmlinuz")) and \
            os.path.isdir(os.path.join(e["dir"], "modules")):
        return e
    return None


# ---------------------------------------------------------------- fetch

def _find_kernel(tmp):
    """(kver, vmlinuz path, modules dir) inside an unpacked package tree."""
    for base in ("lib/modules", "usr/lib/modules"):
        d = os.path.join(tmp, base)
        if not os.path.isdir(d):
            continue
        for kver in sorted(os.listdir(d)):
            moddir = os.path.join(d, kver)
            for vml in (os.path.join(tmp, "boot", "vmlinuz-" + kver),
                        os.path.join(moddir, "vmlinuz")):
                if os.path.exists(vml):
                    return kver, vml, moddir
    raise KmatrixError("no vmlinuz + modules dir in the unpacked packages")


def _extract(debs, dest):
    """dpkg-deb -x all debs, keep vmlinuz, config, lib/modules/<kver>/.

    Layout of dest: vmlinuz, config, lib/modules/<kver>/ (with a fresh
    modules.dep from depmod) and modules -> lib/modules/<kver>.
    """
    parent = os.path.dirname(dest)
    tmp = tempfile.mkdtemp(prefix=".x-", dir=parent)
    out = tempfile.mkdtemp(prefix=".o-", dir=parent)
    try:
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        kver, vml, moddir = _find_kernel(tmp)
        os.rename(vml, os.path.join(out, "vmlinuz"))
        for cfg in (os.path.join(tmp, "boot", "config-" + kver),
                    os.path.join(moddir, "config")):
            if os.path.exists(cfg):
                os.rename(cfg, os.path.join(out, "config"))
                break
        os.makedirs(os.path.join(out, "lib", "modules"))
        os.rename(moddir, os.path.join(out, "lib", "modules", kver))
        os.symlink(os.path.join("lib", "modules", kver),
                   os.path.join(out, "modules"))
        # Debian runs depmod in postinst; the packages ship no modules.dep.
        r = subprocess.run(["depmod", "-a", "-b", out, kver],
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0 or not os.path.exists(
                os.path.join(out, "modules", "modules.dep")):
            raise KmatrixError("depmod failed for %s: %s" % (kver, r.stderr))
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.rename(out, dest)
        return kver
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


def _package_set(st, apt):
    """The image package plus the split-out parts it depends on.

    Newer suites (sid) split linux-image-<abi>-amd64 into linux-binary-,
    linux-modules- and linux-base-<abi>-amd64; older ones ship it all in one.
    """
    abi = IMAGE_RE.match(st["Package"]).group(1)
    pkgs = [(st["Package"], st["Version"])]
    for alt in st.get("Depends", "").split(","):
        for dep in alt.split("|"):
            m = re.match(r"\s*([a-z0-9.+-]+)\s*(?:\(=\s*([^)\s]+)\))?", dep)
            if m and re.match(r"^linux-(binary|modules|base)-" +
                              re.escape(abi) + r"-amd64$", m.group(1)):
                pkgs.append((m.group(1), m.group(2) or st["Version"]))
    # Keep only real packages (linux-base-<abi> can be a virtual one that
    # the image itself provides, as in trixie-backports).
    real = [pkgs[0]]
    for pkg, ver in pkgs[1:]:
        r = apt.run("apt-cache", "show", "%s=%s" % (pkg, ver), capture=True)
        if r.returncode == 0 and any(s.get("Package") == pkg for s in
                                     _parse_stanzas(r.stdout)):
            real.append((pkg, ver))
    return real


def fetch(name, refresh=False):
    """Return the cache entry for a kernel, downloading it when needed."""
    name = canonical(name)
    if not refresh:
        e = cached_entry(name)
        if e:
            return e
    with cache_lock():
        if not refresh:
            e = cached_entry(name)
            if e:
                return e
        t0 = time.time()
        desc, repos, _ = KERNELS[name]
        apt = PrivateApt(name)
        log("%s: apt-get update (%s)" % (name, desc))
        apt.update(repos)
        st = resolve(name, apt)
        pkg, ver = st["Package"], st["Version"]
        dest = os.path.join(cache_dir(), "kernels", "%s_%s" % (
            pkg, re.sub(r"[^0-9A-Za-z.+~-]", "_", ver)))
        db = load_db()
        old = db.get(name)
        if old and old.get("version") == ver and old.get("package") == pkg \
                and cached_entry(name):
            old["checked"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            db[name] = old
            save_db(db)
            return old
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        dl = tempfile.mkdtemp(prefix=".dl-", dir=os.path.dirname(dest))
        try:
            log("%s: downloading %s=%s" % (name, pkg, ver))
            pkgs = _package_set(st, apt)
            spec = ["%s=%s" % pv for pv in pkgs]
            r = apt.run("apt-get", "-q", "download", *spec, cwd=dl)
            if r.returncode != 0:
                raise KmatrixError("apt-get download %s failed" % " ".join(spec))
            debs = sorted(os.path.join(dl, f) for f in os.listdir(dl)
                          if f.endswith(".deb"))
            if len(debs) != len(pkgs):
                raise KmatrixError("download produced %s" % debs)
            kver = _extract(debs, dest)
        finally:
            shutil.rmtree(dl, ignore_errors=True)
        entry = {
            "name": name, "suite": desc, "package": pkg, "version": ver,
            "kernel_release": kver, "dir": dest,
            "packages": ["%s=%s" % pv for pv in pkgs],
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "fetch_seconds": round(time.time() - t0, 1),
        }
        db = load_db()
        prev = db.get(name)
        db[name] = entry
        save_db(db)
        if prev and prev.get("dir") != dest and os.path.isdir(prev["dir"]):
            shutil.rmtree(prev["dir"], ignore_errors=True)
        log("%s: %s %s -> %s (%.1fs)" % (name, pkg, ver, dest,
                                         time.time() - t0))
        return entry


# ---------------------------------------------------------------- CLI

def main(argv=None):
    ap = argparse.ArgumentParser(prog="kernels.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download + unpack kernels (cached)")
    f.add_argument("--refresh", action="store_true",
                   help="re-resolve the newest version even if cached")
    f.add_argument("names", nargs="+", metavar="NAME")
    sub.add_parser("list", help="known kernels and the cache state")
    p = sub.add_parser("path", help="print the dir with vmlinuz + modules/")
    p.add_argument("name", metavar="NAME")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "fetch":
            names = list(KERNELS) if a.names == ["all"] else a.names
            for n in names:
                if not cached_entry(canonical(n)) or a.refresh:
                    ensure_host_packages()
                e = fetch(n, refresh=a.refresh)
                print("%s\t%s\t%s\t%s" % (e["name"], e["package"],
                                          e["version"], e["dir"]))
        elif a.cmd == "list":
            db = load_db()
            print("cache: %s" % cache_dir())
            for n, (desc, _, _) in KERNELS.items():
                e = db.get(n)
                al = [k for k, v in ALIASES.items() if v == n and
                      k[0].isdigit()]
                label = n + ("/" + "/".join(al) if al else "")
                if e and cached_entry(n):
                    print("%-8s %-17s %s %s (%s)" % (label, desc, e["package"],
                                                     e["version"],
                                                     e["kernel_release"]))
                else:
                    print("%-8s %-17s (not fetched)" % (label, desc))
        elif a.cmd == "path":
            e = cached_entry(canonical(a.name))
            if not e:
                ensure_host_packages()
                e = fetch(a.name)
            print(e["dir"])
    except KmatrixError as e:
        log("error: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
