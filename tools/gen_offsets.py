#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Regenerate user/pyrt_offsets.c from the installed pyenv CPythons.

Public structs are measured with offsetof() compiled against each version's
headers; structs that no public header declares (TaskObj, partialobject,
_PyRuntimeState, _PyInterpreterFrame, ...) come from the DWARF of the pyenv
builds through gdb. Run by hand:

    tools/gen_offsets.py > user/pyrt_offsets.c
    tools/gen_offsets.py --flat      # "3.11 field value" lines, for the unit test
"""
import glob
import os
import subprocess
import sys
import tempfile

PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv") + "/versions"
MINORS = (8, 9, 10, 11, 12, 13)


def spec(minor, name):
    """(source, expression, comment) for one field of ap_py_offsets.

    source: "cc" (offsetof/sizeof against the headers), "lib" (gdb on
    libpython), "aio" (gdb on _asyncio*.so) or "const" (expression is the
    value). Fields a version lacks are ("const", 0, why).
    """
    old, m311, m312 = minor <= 10, minor == 11, minor >= 12
    T = {
        "ob_type": ("cc", "offsetof(PyObject, ob_type)", "PyObject.ob_type"),
        "tp_name": ("cc", "offsetof(PyTypeObject, tp_name)", "PyTypeObject.tp_name"),
        "tp_methods": ("cc", "offsetof(PyTypeObject, tp_methods)", "PyTypeObject.tp_methods"),
        "func_code": ("cc", "offsetof(PyFunctionObject, func_code)", "PyFunctionObject.func_code"),
        "func_name": ("cc", "offsetof(PyFunctionObject, func_name)", "PyFunctionObject.func_name"),
        "func_qualname": ("cc", "offsetof(PyFunctionObject, func_qualname)",
                          "PyFunctionObject.func_qualname"),
        "meth_func": ("cc", "offsetof(PyMethodObject, im_func)", "PyMethodObject.im_func"),
        "meth_self": ("cc", "offsetof(PyMethodObject, im_self)", "PyMethodObject.im_self"),
        "cfunc_ml": ("cc", "offsetof(PyCFunctionObject, m_ml)", "PyCFunctionObject.m_ml"),
        "cfunc_self": ("cc", "offsetof(PyCFunctionObject, m_self)", "PyCFunctionObject.m_self"),
        "partial_fn": ("lib", "partialobject.fn", "functools.partial: partialobject.fn"),
        "stepwrap_task": ("aio", "TaskStepMethWrapper.sw_task", "TaskStepMethWrapper.sw_task"),
        "wakewrap_task": ("aio", "TaskWakeupMethWrapper.ww_task", "TaskWakeupMethWrapper.ww_task")
        if minor <= 9 else ("const", 0, "no TaskWakeupMethWrapper: task_wakeup is a method"),
        "task_state": ("aio", "TaskObj.task_state", "FutureObj.fut_state (as TaskObj.task_state)"),
        "task_result": ("aio", "TaskObj.task_result", "FutureObj.fut_result"),
        "task_exception": ("aio", "TaskObj.task_exception", "FutureObj.fut_exception"),
        "task_fut_waiter": ("aio", "TaskObj.task_fut_waiter", "TaskObj.task_fut_waiter"),
        "task_coro": ("aio", "TaskObj.task_coro", "TaskObj.task_coro"),
        "task_name": ("aio", "TaskObj.task_name", "TaskObj.task_name (str, or int on 3.12+)"),
        "task_context": ("aio", "TaskObj.task_context", "TaskObj.task_context"),
        "coro_name": ("lib", "PyCoroObject.cr_name", "PyCoroObject.cr_name"),
        "coro_qualname": ("lib", "PyCoroObject.cr_qualname", "PyCoroObject.cr_qualname"),
        "coro_code": ("lib", "PyCoroObject.cr_code", "PyCoroObject.cr_code")
        if minor <= 11 else ("const", 0, "no cr_code: code is the iframe's f_code"),
        "coro_iframe": ("lib", "PyCoroObject.cr_iframe", "PyCoroObject.cr_iframe (embedded)")
        if not old else ("const", 0, "no embedded frame before 3.11"),
        "coro_frame": ("lib", "PyCoroObject.cr_frame", "PyCoroObject.cr_frame (PyFrameObject *)")
        if old else ("const", 0, "no cr_frame pointer since 3.11"),
        "code_filename": ("cc", "offsetof(PyCodeObject, co_filename)", "PyCodeObject.co_filename"),
        "code_name": ("cc", "offsetof(PyCodeObject, co_name)", "PyCodeObject.co_name"),
        "code_qualname": ("cc", "offsetof(PyCodeObject, co_qualname)", "PyCodeObject.co_qualname")
        if not old else ("const", 0, "no co_qualname before 3.11"),
        "code_firstlineno": ("cc", "offsetof(PyCodeObject, co_firstlineno)",
                             "PyCodeObject.co_firstlineno (int)"),
        "code_linetable": ("cc", "offsetof(PyCodeObject, co_lnotab)", "PyCodeObject.co_lnotab")
        if minor <= 9 else ("cc", "offsetof(PyCodeObject, co_linetable)",
                            "PyCodeObject.co_linetable"),
        "code_adaptive": ("cc", "offsetof(PyCodeObject, co_code_adaptive)",
                          "PyCodeObject.co_code_adaptive (inline bytecode)")
        if not old else ("const", 0, "no inline bytecode before 3.11"),
        "str_length": ("cc", "offsetof(PyASCIIObject, length)", "PyASCIIObject.length"),
        "str_state": ("cc", "offsetof(PyASCIIObject, state)", "PyASCIIObject.state (bit field)"),
        "str_ascii_data": ("cc", "sizeof(PyASCIIObject)", "sizeof(PyASCIIObject)"),
        "str_compact_data": ("cc", "sizeof(PyCompactUnicodeObject)",
                             "sizeof(PyCompactUnicodeObject)"),
        "long_size": ("cc", "offsetof(PyLongObject, long_value.lv_tag)",
                      "PyLongObject.long_value.lv_tag") if m312
        else ("cc", "offsetof(PyVarObject, ob_size)", "PyVarObject.ob_size (signed ndigits)"),
        "long_digits": ("cc", "offsetof(PyLongObject, long_value.ob_digit)",
                        "PyLongObject.long_value.ob_digit") if m312
        else ("cc", "offsetof(PyLongObject, ob_digit)", "PyLongObject.ob_digit"),
        "long_lv_tag": ("const", 1 if m312 else 0, "long_size is lv_tag (3.12+)"),
        "rt_autotss_key": ("lib", "_PyRuntimeState.autoTSSkey", "_PyRuntimeState.autoTSSkey")
        if m312 else ("lib", "_PyRuntimeState.gilstate.autoTSSkey",
                      "_PyRuntimeState.gilstate.autoTSSkey"),
        "rt_tstate_current": ("lib", "_PyRuntimeState.gilstate.tstate_current",
                              "_PyRuntimeState.gilstate.tstate_current")
        if not m312 else ("const", 0, "no tstate_current since 3.12"),
        "tstate_frame": ("cc", "offsetof(PyThreadState, frame)", "PyThreadState.frame")
        if old else ("cc", "offsetof(PyThreadState, cframe)", "PyThreadState.cframe")
        if minor <= 12 else ("cc", "offsetof(PyThreadState, current_frame)",
                             "PyThreadState.current_frame"),
        "cframe_current": ("lib", "_PyCFrame.current_frame", "_PyCFrame.current_frame")
        if minor in (11, 12) else ("const", 0, "no _PyCFrame indirection"),
        "frame_code": ("lib", "PyFrameObject.f_code", "PyFrameObject.f_code") if old
        else ("lib", "_PyInterpreterFrame.f_code", "_PyInterpreterFrame.f_code")
        if minor <= 12 else ("lib", "_PyInterpreterFrame.f_executable",
                             "_PyInterpreterFrame.f_executable"),
        "frame_back": ("lib", "PyFrameObject.f_back", "PyFrameObject.f_back") if old
        else ("lib", "_PyInterpreterFrame.previous", "_PyInterpreterFrame.previous"),
        "frame_lasti": ("lib", "PyFrameObject.f_lasti", "PyFrameObject.f_lasti (int)") if old
        else ("lib", "_PyInterpreterFrame.prev_instr", "_PyInterpreterFrame.prev_instr")
        if minor <= 12 else ("lib", "_PyInterpreterFrame.instr_ptr",
                             "_PyInterpreterFrame.instr_ptr"),
        "frame_owner": ("lib", "_PyInterpreterFrame.is_entry", "_PyInterpreterFrame.is_entry")
        if m311 else ("lib", "_PyInterpreterFrame.owner", "_PyInterpreterFrame.owner")
        if m312 else ("const", 0, "no owner before 3.11"),
        "gil_locked": ("const", 0, "GIL detector: not filled yet"),
    }
    return T[name]


FIELDS = """ob_type tp_name tp_methods func_code func_name func_qualname meth_func
meth_self cfunc_ml cfunc_self partial_fn stepwrap_task wakewrap_task task_state
task_result task_exception task_fut_waiter task_coro task_name task_context
coro_name coro_qualname coro_code coro_iframe coro_frame code_filename code_name
code_qualname code_firstlineno code_linetable code_adaptive str_length str_state
str_ascii_data str_compact_data long_size long_digits long_lv_tag rt_autotss_key
rt_tstate_current tstate_frame cframe_current frame_code frame_back frame_lasti
frame_owner gil_locked""".split()


def install_of(minor):
    """Newest pyenv install of 3.minor, or None."""
    dirs = sorted(glob.glob("%s/3.%d.*" % (PYENV, minor)))
    dirs = [d for d in dirs if os.path.isfile("%s/lib/libpython3.%d.so.1.0" % (d, minor))]
    return dirs[-1] if dirs else None


def run_cc(root, minor, exprs):
    inc = "%s/include/python3.%d" % (root, minor)
    src = "#include <Python.h>\n#include <frameobject.h>\n#include <stdio.h>\n"
    src += "#include <stddef.h>\nint main(void)\n{\n"
    for e in exprs:
        src += '\tprintf("%%zu\\n", (size_t)(%s));\n' % e
    src += "\treturn 0;\n}\n"
    with tempfile.TemporaryDirectory() as tmp:
        with open(tmp + "/off.c", "w") as f:
            f.write(src)
        subprocess.run(["cc", "-w", "-I", inc, tmp + "/off.c", "-o", tmp + "/off"], check=True)
        out = subprocess.run([tmp + "/off"], check=True, capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def run_gdb(path, exprs):
    args = ["gdb", "-nx", "-batch"]
    for e in exprs:
        typ, field = e.split(".", 1)
        args += ["-ex", "p/d (long)&((%s *)0)->%s" % (typ, field)]
    out = subprocess.run(args + [path], check=True, capture_output=True, text=True).stdout
    vals = [int(line.split("=")[1]) for line in out.splitlines() if line.startswith("$")]
    if len(vals) != len(exprs):
        sys.exit("gen_offsets: gdb failed on %s for %s" % (path, exprs))
    return vals


def measure(minor):
    """{field: (value, comment)} for 3.minor, or None when not installed."""
    root = install_of(minor)
    if not root:
        return None, None
    lib = "%s/lib/libpython3.%d.so.1.0" % (root, minor)
    aio = glob.glob("%s/lib/python3.%d/lib-dynload/_asyncio*.so" % (root, minor))[0]
    specs = {f: spec(minor, f) for f in FIELDS}
    res = {}
    for src, runner in (("cc", lambda e: run_cc(root, minor, e)),
                        ("lib", lambda e: run_gdb(lib, e)), ("aio", lambda e: run_gdb(aio, e))):
        names = [f for f in FIELDS if specs[f][0] == src]
        for f, v in zip(names, runner([specs[f][1] for f in names])):
            res[f] = v
    out = {}
    for f in FIELDS:
        src, expr, comment = specs[f]
        out[f] = (expr if src == "const" else res[f], comment)
    return out, os.path.basename(root)


HEAD = """// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CPython struct offsets per minor version, generated by tools/gen_offsets.py
 * from the headers (offsetof) and DWARF (gdb) of the pyenv builds named
 * below; do not edit by hand. 0 marks a field the version lacks, except
 * where 0 is the real offset (cframe_current on 3.12, frame_code 3.12+).
 */
#include <stddef.h>
#include <linux/types.h>
#include "pyrt.h"
"""

TAIL = """
static const struct ap_py_offsets *const py_tables[] = {
%s};

const struct ap_py_offsets *pyrt_offsets__find(int major, int minor)
{
	size_t i;

	if (major != 3)
		return NULL;
	for (i = 0; i < sizeof(py_tables) / sizeof(py_tables[0]); i++) {
		if (py_tables[i]->version_hex == (__u32)(0x03000000 | minor << 16))
			return py_tables[i];
	}
	return NULL;
}
"""


def emit_c(tables):
    """Print the C file, through clang-format when there is one (make lint)."""
    import io
    import contextlib
    import shutil
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        emit_c_raw(tables)
    text = buf.getvalue()
    if shutil.which("clang-format"):
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        text = subprocess.run(["clang-format", "--assume-filename=user/pyrt_offsets.c"],
                              input=text, cwd=repo, check=True, capture_output=True,
                              text=True).stdout
    sys.stdout.write(text)


def emit_c_raw(tables):
    print(HEAD)
    names = []
    for minor, (vals, src) in tables:
        name = "py3%d" % minor
        names.append(name)
        print("/* CPython 3.%d, measured on pyenv %s */" % (minor, src))
        print("static const struct ap_py_offsets %s = {" % name)
        print("\t.version_hex = 0x030%x0000, /* PY_VERSION_HEX of 3.%d.0 */" % (minor, minor))
        for f in FIELDS:
            v, comment = vals[f]
            print("\t.%s = %d, /* %s */" % (f, v, comment))
        print("};\n")
    print(TAIL % "".join("\t&%s,\n" % n for n in names), end="")


def main():
    flat = "--flat" in sys.argv[1:]
    tables = []
    for minor in MINORS:
        vals, src = measure(minor)
        if vals is None:
            print("gen_offsets: 3.%d not installed, skipped" % minor, file=sys.stderr)
            continue
        tables.append((minor, (vals, src)))
    if flat:
        for minor, (vals, _) in tables:
            for f in FIELDS:
                print("3.%d %s %d" % (minor, f, vals[f][0]))
        return
    emit_c(tables)


if __name__ == "__main__":
    main()
