#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Combined BPF stack depth of every program's call chains, from the object.

    tools/bpf_stack.py [--budget BYTES] [--llvm-objdump PATH] OBJ [-v]

Without private stacks (most kernels) the verifier requires the frames of
a whole call chain to fit in 512 bytes, each frame rounded up to 32 bytes
(kernel/bpf/verifier.c, check_max_stack_depth). A kernel that gives
programs private stacks only checks each frame, so a load that works there
proves nothing: this check reads the depth off the object instead, the
same on every build machine.

A function's frame is the deepest r10 offset its instructions use (a
memory operand on r10, or r10 copied to a register and offset, which is
how clang takes the address of a local). Edges are calls to subprograms
(`call` with a relocation to a function) and callbacks passed to bpf_loop
(a 64-bit load of a .text address), which the verifier also counts; a
function that calls bpf_loop gets the 24 bytes the verifier adds when it
inlines it. Prints each program's deepest chain; exits 1 when one is over
the budget.
"""
import argparse
import re
import subprocess
import sys

FRAME_ROUND = 32
LOOP_INLINE_EXTRA = 24  # three stack slots the verifier adds for an inlined bpf_loop
BPF_FUNC_LOOP = 181

SYM = re.compile(r"^([0-9a-f]+)\s+(\w)\s+F\s+(\S+)\s+([0-9a-f]+)\s+(\S+)$")
INSN = re.compile(r"^\s*(\d+):\s+(.*)$")
RELOC = re.compile(r"^\s+[0-9a-f]+:\s+(R_BPF_\w+)\s+(\S+)$")
MEM_R10 = re.compile(r"\(r10 - (\d+)\)|\(r10 \+ -(\d+)\)")
COPY_R10 = re.compile(r"^(r\d+) = r10$")
ADD_IMM = re.compile(r"^(r\d+) \+= (-?\d+)$")
LDIMM = re.compile(r"^r\d+ = (\d+) ll$")


def run(objdump, args, obj):
    return subprocess.run([objdump] + args + [obj], check=True, capture_output=True,
                          text=True).stdout.splitlines()


def functions(objdump, obj):
    """{(section, offset): name} and {name: section} of every function symbol."""
    by_off, sect = {}, {}
    for line in run(objdump, ["-t"], obj):
        m = SYM.match(line.strip())
        if m:
            off, _, sec, _, name = m.groups()
            by_off[(sec, int(off, 16))] = name
            sect[name] = sec
    return by_off, sect


def disassemble(objdump, obj):
    """{section: [(index, text, [(reloc type, symbol)])]}."""
    out, sec, insns = {}, None, None
    for line in run(objdump, ["-d", "-r", "--no-show-raw-insn"], obj):
        if line.startswith("Disassembly of section "):
            sec = line[len("Disassembly of section "):].rstrip(":")
            insns = out.setdefault(sec, [])
            continue
        if insns is None:
            continue
        m = RELOC.match(line)
        if m and insns:
            insns[-1][2].append(m.groups())
            continue
        m = INSN.match(line)
        if m:
            insns.append((int(m.group(1)), m.group(2).strip(), []))
    return out


def frame_of(body):
    """Deepest stack offset used by the instructions of one function."""
    deepest, r10_copies = 0, set()
    for _, text, _ in body:
        for m in MEM_R10.finditer(text):
            deepest = max(deepest, int(m.group(1) or m.group(2)))
        m = COPY_R10.match(text)
        if m:
            r10_copies.add(m.group(1))
            continue
        m = ADD_IMM.match(text)
        if m and m.group(1) in r10_copies:
            if int(m.group(2)) < 0:
                deepest = max(deepest, -int(m.group(2)))
            r10_copies.discard(m.group(1))
            continue
        dst = text.split(" ", 1)[0]
        if dst in r10_copies and " = " in text:
            r10_copies.discard(dst)
    return deepest


def analyse(objdump, obj):
    """{function: (frame bytes, [callees])}, {function: section}."""
    by_off, sect = functions(objdump, obj)
    code = disassemble(objdump, obj)
    starts = {}
    for (sec, off), name in by_off.items():
        starts.setdefault(sec, []).append((off // 8, name))
    funcs = {}
    for sec, lst in starts.items():
        lst.sort()
        insns = code.get(sec, [])
        for i, (first, name) in enumerate(lst):
            last = lst[i + 1][0] if i + 1 < len(lst) else 1 << 62
            body = [x for x in insns if first <= x[0] < last]
            callees, loops = [], False
            for _, text, relocs in body:
                if text == "call %d" % BPF_FUNC_LOOP:
                    loops = True
                for kind, sym in relocs:
                    if kind == "R_BPF_64_32" and sym in sect:
                        callees.append(sym)
                    m = LDIMM.match(text)
                    if kind == "R_BPF_64_64" and sym == ".text" and m:
                        cb = by_off.get((".text", int(m.group(1))))
                        if cb:
                            callees.append(cb)
            frame = frame_of(body) + (LOOP_INLINE_EXTRA if loops else 0)
            funcs[name] = (frame, sorted(set(callees)))
    return funcs, sect


def rounded(n):
    return (max(n, 1) + FRAME_ROUND - 1) // FRAME_ROUND * FRAME_ROUND


def deepest_chain(funcs, name, seen=()):
    """(combined bytes, [names]) of the deepest chain from name."""
    frame, callees = funcs[name]
    best, chain = 0, []
    for c in callees:
        if c in seen or c not in funcs:
            continue
        d, ch = deepest_chain(funcs, c, seen + (name,))
        if d > best:
            best, chain = d, ch
    return rounded(frame) + best, [name] + chain


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("obj")
    ap.add_argument("--budget", type=int, default=384)
    ap.add_argument("--llvm-objdump", default="llvm-objdump")
    ap.add_argument("-v", action="store_true", help="every program, not only the worst")
    a = ap.parse_args()
    funcs, sect = analyse(a.llvm_objdump, a.obj)
    progs = sorted(n for n, s in sect.items() if s != ".text")
    over, worst = [], (0, None, None)
    for p in progs:
        depth, chain = deepest_chain(funcs, p)
        desc = " -> ".join("%s(%d)" % (n, funcs[n][0]) for n in chain)
        if a.v:
            print("  %-28s %4d  %s" % (p, depth, desc))
        if depth > worst[0]:
            worst = (depth, p, desc)
        if depth > a.budget:
            over.append((p, depth, desc))
    for p, depth, desc in over:
        print("%s: %s: combined stack %d bytes over the budget of %d: %s"
              % (a.obj, p, depth, a.budget, desc), file=sys.stderr)
    if not a.v and worst[1]:
        print("  deepest stack: %s %d of %d bytes (%s)" % (worst[1], worst[0], a.budget, worst[2]))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
