#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The fields of ap_py_offsets that CPython 3.14+'s own tables (_Py_DebugOffsets,
.AsyncioDebug) lack but its public headers declare, measured with offsetof()
against the headers of a root (Debian sid's, made by tests/roots/mkroot.py,
with libpython3.X-dev added: chroot ROOT apt-get install libpython3.14-dev
libpython3.15-dev). Prints the C initializer user/pyrt_offsets.c keeps
for each version (pyXY_public). Run by hand:

    tools/gen_public_offsets.py /var/cache/asyncprof-roots/sid 14 15
"""
import os
import subprocess
import sys
import tempfile

FIELDS = [
    ("tp_methods", "offsetof(PyTypeObject, tp_methods)", "PyTypeObject.tp_methods"),
    ("func_code", "offsetof(PyFunctionObject, func_code)", "PyFunctionObject.func_code"),
    ("func_name", "offsetof(PyFunctionObject, func_name)", "PyFunctionObject.func_name"),
    ("func_qualname", "offsetof(PyFunctionObject, func_qualname)",
     "PyFunctionObject.func_qualname"),
    ("meth_func", "offsetof(PyMethodObject, im_func)", "PyMethodObject.im_func"),
    ("meth_self", "offsetof(PyMethodObject, im_self)", "PyMethodObject.im_self"),
    ("cfunc_ml", "offsetof(PyCFunctionObject, m_ml)", "PyCFunctionObject.m_ml"),
    ("cfunc_self", "offsetof(PyCFunctionObject, m_self)", "PyCFunctionObject.m_self"),
    ("str_compact_data", "sizeof(PyCompactUnicodeObject)", "sizeof(PyCompactUnicodeObject)"),
    ("code_flags", "offsetof(PyCodeObject, co_flags)", "PyCodeObject.co_flags (light mode)"),
]


def measure(root, minor):
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
            for name, expr, _ in FIELDS:
                f.write('  printf("%s %%zu\\n", (size_t)(%s));\n' % (name, expr))
            f.write("  return 0;\n}\n")
        exe = os.path.join(tmp, "m")
        subprocess.check_call(["cc", "-I", os.path.join(root, "usr/include", ver), "-I", tmp,
                               src, "-o", exe])
        out = subprocess.check_output([exe], text=True)
    return dict((l.split()[0], int(l.split()[1])) for l in out.splitlines())


def main():
    root = sys.argv[1]
    for minor in map(int, sys.argv[2:]):
        vals = measure(root, minor)
        print("/* CPython 3.%d: public headers (tools/gen_public_offsets.py) */" % minor)
        print("static const struct pyrt_public py3%d_public = {" % minor)
        for name, _, why in FIELDS:
            print("\t.%s = %d, /* %s */" % (name, vals[name], why))
        print("};\n")


if __name__ == "__main__":
    main()
