#!/usr/bin/env python3
"""Build the seeds of fuzz_pystack and fuzz_methods that are not plain files.

    python3 fuzz/mkseeds.py

fuzz_pystack: a recorded code object (tests/unit/fixtures/pystack_*.txt)
laid out after a 16-byte header, its pointers moved to where the regions
land in the fuzzer's address space (FUZZ_BASE in fuzz_mem.h).
fuzz_methods: a type object whose tp_methods lists "other" then "run".
fuzz_pydebug: the _Py_DebugOffsets tables of tests/unit/fixtures/pydebug_*.txt.
fuzz_records: a stream of ring-buffer records (bpf/asyncprof.h), each after
its 2-byte length: a loop, names, a blocking call with a path, a slow
callback, a callback run, a sample, a task's end.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "unit", "fixtures")
BASE = 0x10000


def pystack_seed(fixture, out):
    minor, code, regions = None, None, []
    for line in open(os.path.join(FIX, fixture)):
        f = line.split()
        if not f:
            continue
        if f[0] == "version":
            minor = int(f[2])
        elif f[0] == "code" and code is None:
            code = int(f[2], 16)
        elif f[0] == "mem":
            regions.append((int(f[1], 16), bytes.fromhex(f[2])))
    pos, where = 16, {}
    for addr, b in regions:
        where[addr] = pos
        pos += (len(b) + 15) & ~15

    def move(v):
        for addr, b in regions:
            if addr <= v < addr + len(b):
                return BASE + where[addr] + (v - addr)
        return v

    mem = bytearray(pos)
    for addr, b in regions:
        b = bytearray(b)
        for i in range(0, len(b) - 7, 8):
            v = struct.unpack_from("<Q", b, i)[0]
            struct.pack_into("<Q", b, i, move(v))
        mem[where[addr]:where[addr] + len(b)] = b
    off = where[code]
    hdr = bytes([minor - 8 + 6 * 7, 20, 6, 0, 0, off & 0xff, off >> 8, 0, 0, 0, 6, 0, 0, 0, 0, 0])
    mem[:16] = hdr
    with open(out, "wb") as f:
        f.write(bytes(mem))


def methods_seed(out):
    mem = bytearray(256)
    mem[0:3] = bytes([16, 0, 0])  # tp_methods at +16 of the type at BASE
    struct.pack_into("<Q", mem, 16, BASE + 64)
    struct.pack_into("<QQQQ", mem, 64, BASE + 200, 0x1111, 0, 0)
    struct.pack_into("<QQQQ", mem, 96, BASE + 210, 0x2222, 0, 0)
    mem[200:206] = b"other\0"
    mem[210:214] = b"run\0"
    with open(out, "wb") as f:
        f.write(bytes(mem))


PID, TID, T0, MS = 4242, 4243, 1000000000, 1000000


def rec(rtype, body, pid=PID):
    r = struct.pack("<IIII", rtype, pid, TID if pid == PID else pid + 1, 16 + len(body)) + body
    return struct.pack("<H", len(r)) + r


def records_seed(out):
    task, code = 0x7f0000001000, 0x7f0000002000
    name = lambda kind, key, s: rec(4, struct.pack("<QIIIIQ", key, kind, 1, len(s), 0, 0) +
                                    s.ljust(128, b"\0"))
    blocking = struct.pack("<QQQQQQQQIIIIQ", T0 + 10 * MS, 200 * MS, 0, 3, 0, 0, task, code,
                           257, 1, 1, 12, 0)  # openat, a regular file, a path of 12 bytes
    blocking += bytes(64) + struct.pack("<IIII", 0, 0, 0, 0) + b"f.txt\0tmp\0\0\0".ljust(512, b"\0")
    stream = (rec(5, struct.pack("<QiI", T0, 3, 0)) +
              name(3, code, b"worker") + name(1, task, b"Task-7") +
              rec(1, struct.pack("<QQ", T0 + 5 * MS, T0 + 215 * MS)) +
              rec(2, blocking) +
              rec(3, struct.pack("<QQQQQ", T0 + 9 * MS, 202 * MS, task, code, 200 * MS)) +
              rec(7, struct.pack("<QQQQ", T0 + 9 * MS, 202 * MS, task, code)) +
              rec(8, struct.pack("<QQQQQ", T0 + 100 * MS, T0 + 9 * MS, task, code, 0)) +
              rec(6, struct.pack("<QQQQQQQQQII", task, code, T0 + 9 * MS, T0 + 9 * MS,
                                 T0 + 211 * MS, 1, 202 * MS, 202 * MS, 200 * MS, TID, 2)))
    with open(out, "wb") as f:
        f.write(stream)


def pydebug_seed(fixture, out):
    data = "".join(l.strip() for l in open(os.path.join(FIX, fixture)) if not l.startswith("#"))
    with open(out, "wb") as f:
        f.write(bytes.fromhex(data))


if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "corpus", "pydebug"), exist_ok=True)
    for v in ("3.13", "3.14", "3.15"):
        pydebug_seed("pydebug_%s.txt" % v, os.path.join(HERE, "corpus", "pydebug", "table_%s.bin" % v))
    os.makedirs(os.path.join(HERE, "corpus", "records"), exist_ok=True)
    records_seed(os.path.join(HERE, "corpus", "records", "stream.bin"))
    for fx in ("pystack_3.11.txt", "pystack_3.8.txt"):
        pystack_seed(fx, os.path.join(HERE, "corpus", "pystack", fx.replace(".txt", ".bin")))
    methods_seed(os.path.join(HERE, "corpus", "methods", "type_run.bin"))
    with open(os.path.join(HERE, "corpus", "methods", "push_rbp.bin"), "wb") as f:
        f.write(b"\x10\x00\x00\x00\xf3\x0f\x1e\xfa\x48\x89\xfe\x48\x83\xec\x08\x55\x90")
