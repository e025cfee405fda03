#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The fields of ap_py_offsets that CPython 3.14+'s own tables (_Py_DebugOffsets,
.AsyncioDebug) lack, for user/pyrt_offsets.c's pyXY_newpy initializers:

- "cc": what the public headers declare, measured with offsetof() against
  the headers of a root (Debian sid's, made by tests/roots/mkroot.py, with
  libpython3.X-dev added);
- "dwarf": full mode's Task, step wrapper, partial and coroutine fields,
  measured with gdb on the DWARF Debian ships for its release builds (in
  python3.X-dbg, under /usr/lib/debug/.build-id), found by the build id of
  the root's interpreter and _asyncio;
- "anchor": fields the live tables also give; pyrt_offsets__from_debug uses
  the dwarf fields only for a build whose tables agree with these.

Run by hand:

    chroot ROOT apt-get install libpython3.14-dev libpython3.15-dev
    chroot ROOT sh -c 'cd /tmp && apt-get download python3.14-dbg python3.15-dbg'
    dpkg -x ROOT/tmp/python3.14-dbg_*.deb DBG; dpkg -x ROOT/tmp/python3.15-dbg_*.deb DBG
    tools/gen_newpy_offsets.py ROOT DBG 14 15
"""
import glob
import os
import subprocess
import sys
import tempfile

# (field, source, expression, comment); "aio": a struct of _asyncio
FIELDS = [
    ("tp_methods", "cc", "offsetof(PyTypeObject, tp_methods)", "PyTypeObject.tp_methods"),
    ("func_code", "cc", "offsetof(PyFunctionObject, func_code)", "PyFunctionObject.func_code"),
    ("func_name", "cc", "offsetof(PyFunctionObject, func_name)", "PyFunctionObject.func_name"),
    ("func_qualname", "cc", "offsetof(PyFunctionObject, func_qualname)",
     "PyFunctionObject.func_qualname"),
    ("meth_func", "cc", "offsetof(PyMethodObject, im_func)", "PyMethodObject.im_func"),
    ("meth_self", "cc", "offsetof(PyMethodObject, im_self)", "PyMethodObject.im_self"),
    ("cfunc_ml", "cc", "offsetof(PyCFunctionObject, m_ml)", "PyCFunctionObject.m_ml"),
    ("cfunc_self", "cc", "offsetof(PyCFunctionObject, m_self)", "PyCFunctionObject.m_self"),
    ("str_compact_data", "cc", "sizeof(PyCompactUnicodeObject)",
     "sizeof(PyCompactUnicodeObject)"),
    ("code_flags", "cc", "offsetof(PyCodeObject, co_flags)", "PyCodeObject.co_flags (light mode)"),
    ("stepwrap_task", "aio", "TaskStepMethWrapper.sw_task", "TaskStepMethWrapper.sw_task"),
    ("task_state", "aio", "TaskObj.task_state", "FutureObj.fut_state (as TaskObj.task_state)"),
    ("task_result", "aio", "TaskObj.task_result", "FutureObj.fut_result"),
    ("task_exception", "aio", "TaskObj.task_exception", "FutureObj.fut_exception"),
    ("task_fut_waiter", "aio", "TaskObj.task_fut_waiter", "TaskObj.task_fut_waiter"),
    ("task_context", "aio", "TaskObj.task_context", "TaskObj.task_context"),
    ("partial_fn", "dwarf", "partialobject.fn", "functools.partial: partialobject.fn"),
    ("coro_qualname", "dwarf", "PyCoroObject.cr_qualname", "PyCoroObject.cr_qualname"),
    ("a_task_name", "aio", "TaskObj.task_name", "anchor: .AsyncioDebug's task name"),
    ("a_task_coro", "aio", "TaskObj.task_coro", "anchor: .AsyncioDebug's task coroutine"),
    ("a_coro_iframe", "dwarf", "PyCoroObject.cr_iframe", "anchor: gen_object.gi_iframe"),
    ("a_frame_code", "dwarf", "_PyInterpreterFrame.f_executable",
     "anchor: interpreter_frame.executable"),
    ("a_frame_lasti", "dwarf", "_PyInterpreterFrame.instr_ptr",
     "anchor: interpreter_frame.instr_ptr"),
    ("a_code_adaptive", "cc", "offsetof(PyCodeObject, co_code_adaptive)",
     "anchor: code_object.co_code_adaptive"),
]


def run_cc(root, minor, exprs):
    ver = "python3.%d" % minor
    with tempfile.TemporaryDirectory() as tmp:
        # the headers' pyconfig.h includes <x86_64-linux-gnu/python3.X/pyconfig.h>:
        # reach only that from the root, not its libc headers
        arch = os.path.join(tmp, "x86_64-linux-gnu")
        os.mkdir(arch)
        os.symlink(os.path.join(root, "usr/include/x86_64-linux-gnu", ver),
                   os.path.join(arch, ver))
        src = os.path.join(tmp, "m.c")
        with open(src, "w") as f:
            f.write("#include <Python.h>\n#include <stddef.h>\n#include <stdio.h>\n"
                    "int main(void) {\n")
            for e in exprs:
                f.write('  printf("%%zu\\n", (size_t)(%s));\n' % e)
            f.write("  return 0;\n}\n")
        exe = os.path.join(tmp, "m")
        subprocess.check_call(["cc", "-I", os.path.join(root, "usr/include", ver), "-I", tmp,
                               src, "-o", exe])
        return [int(l) for l in subprocess.check_output([exe], text=True).split()]


def debug_file(dbg, elf):
    """The DWARF of elf under dbg's .build-id tree."""
    out = subprocess.check_output(["readelf", "-n", elf], text=True)
    bid = [l.split()[-1] for l in out.splitlines() if "Build ID" in l][0]
    path = os.path.join(dbg, "usr/lib/debug/.build-id", bid[:2], bid[2:] + ".debug")
    if not os.path.exists(path):
        sys.exit("gen_newpy_offsets: no DWARF for %s (build id %s) under %s" % (elf, bid, dbg))
    return path


def run_gdb(path, exprs):
    args = ["gdb", "-nx", "-batch"]
    for e in exprs:
        struct, field = e.split(".", 1)
        args += ["-ex", "print (size_t)&((%s *)0)->%s" % (struct, field)]
    out = subprocess.run(args + [path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True).stdout
    vals = [int(l.split("=")[1]) for l in out.splitlines() if l.startswith("$")]
    if len(vals) != len(exprs):
        sys.exit("gen_newpy_offsets: gdb failed on %s for %s:\n%s" % (path, exprs, out))
    return vals


def measure(root, dbg, minor):
    exe = os.path.join(root, "usr/bin/python3.%d" % minor)
    aio = glob.glob(os.path.join(root, "usr/lib/python3.%d/lib-dynload/_asyncio.*.so" % minor))
    # 3.15 builds _asyncio into the interpreter
    files = {"dwarf": debug_file(dbg, exe), "aio": debug_file(dbg, aio[0] if aio else exe)}
    vals = {}
    cc = [f for f in FIELDS if f[1] == "cc"]
    vals.update(zip([f[0] for f in cc], run_cc(root, minor, [f[2] for f in cc])))
    for src in ("dwarf", "aio"):
        fs = [f for f in FIELDS if f[1] == src]
        vals.update(zip([f[0] for f in fs], run_gdb(files[src], [f[2] for f in fs])))
    return vals


def main():
    root, dbg = sys.argv[1], sys.argv[2]
    for minor in map(int, sys.argv[3:]):
        vals = measure(root, dbg, minor)
        ver = subprocess.check_output(["chroot", root, "python3.%d" % minor, "-c",
                                       "import platform; print(platform.python_version())"],
                                      text=True).strip()
        print("/* CPython 3.%d: Debian's %s, public headers and DWARF"
              " (tools/gen_newpy_offsets.py) */" % (minor, ver))
        print("static const struct pyrt_newpy py3%d_newpy = {" % minor)
        print("\t.minor = %d," % minor)
        for name, _, _, why in FIELDS:
            print("\t.%s = %d, /* %s */" % (name, vals[name], why))
        print("};\n")


if __name__ == "__main__":
    main()
