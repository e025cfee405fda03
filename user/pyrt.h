/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which runtime a process runs and, for CPython, where the tracer's probes
 * go: the interpreter's ELF file and load bias, the struct offsets of its
 * version, and file offsets (what uprobes take) of context_run,
 * PyContext_Enter/Exit and the C Task hooks of _asyncio. Target memory is
 * only ever read.
 */
#ifndef AP_PYRT_H
#define AP_PYRT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "pydebug.h"
#include "ctxend.h"
#include "pythread.h"

enum pyrt_runtime {
	PYRT_UNKNOWN = 0,
	PYRT_CPYTHON = 1,
	PYRT_NODE = 2,
};

/* Register that holds the PyContext at a PyContext_Enter/Exit probe point. */
enum pyrt_reg {
	PYRT_REG_RDI = 0, /* first argument, at the function entry */
	PYRT_REG_RSI = 1, /* e.g. Debian's jmp at +10: rdi was replaced by tstate */
};

/* Where the BPF stack walker finds a thread's PyThreadState (user/pyrt_tss.c). */
enum pyrt_tss_kind {
	PYRT_TSS_NONE,
	PYRT_TSS_KEY, /* a pthread key: the Py_tss_t at _PyRuntime + key_off */
	PYRT_TSS_TLS, /* a static thread-local at the thread pointer + tls_off */
};

struct pyrt_tss {
	enum pyrt_tss_kind kind;
	uint64_t key_off;
	int64_t tls_off;
};

struct pyrt_info {
	enum pyrt_runtime runtime;
	char exe[PATH_MAX];	  /* target of /proc/PID/exe */
	char root[64];		  /* "/proc/PID/root" when it has another mount namespace */
	char node_path[PATH_MAX]; /* Node.js: the node executable or libnode */

	/* CPython: version and interpreter image */
	int major, minor, micro;
	char version[32];		 /* "3.11.2" */
	char py_path[PATH_MAX];		 /* ELF holding the interpreter: the exe or libpython */
	bool py_is_exe;			 /* libpython is linked into the executable */
	char py_open[PATH_MAX + 64];	 /* py_path as we can open it (see pyrt__probe_dir) */
	uint64_t py_bias;		 /* load bias of py_path in the process */
	const struct ap_py_offsets *off; /* struct offsets; NULL when unsupported */
	uint64_t runtime_addr;		 /* address of _PyRuntime in the process, 0 if unknown */
	uint64_t runtime_size;		 /* its size (st_size), 0 if unknown */
	struct pydebug dbg;		 /* 3.13+: its _Py_DebugOffsets, when have_dbg */
	bool have_dbg;
	struct pydebug_asyncio aio_dbg; /* 3.14+: _asyncio's table, when have_aio_dbg */
	bool have_aio_dbg;
	/*
	 * 3.14+: off points at own_off, made from the tables above; enough for
	 * light mode (stacks, names, the task search), not for full mode.
	 */
	struct ap_py_offsets own_off;
	bool light_only;
	struct pyrt_tss tss;		 /* where the stack walker finds a thread's state */
	struct pythread_offsets threads; /* its thread list, when have_threads (pythread.h) */
	bool have_threads;
	uint32_t code_flags;   /* PyCodeObject.co_flags, 0 when unknown (light mode) */
	uint32_t frame_locals; /* a frame's first local, 0 when unknown (light mode) */

	/* CPython: probe points, file offsets in py_path; 0 when not found */
	uint64_t context_run_off;     /* context_run, the C Context.run (one hit per callback) */
	bool context_run_from_symtab; /* else found through PyContext_Type.tp_methods */
	/* where a callback ends inside context_run (ctxend.h); n_ends 0: use a uretprobe */
	uint64_t context_run_end_off[CTXEND_MAX];
	int context_run_n_ends;
	uint32_t context_run_end_sp; /* entry sp minus sp at those points */
	uint64_t ctx_enter_off;	     /* cheap instruction in PyContext_Enter (uvloop) */
	uint64_t ctx_exit_off;	     /* same for PyContext_Exit */
	enum pyrt_reg enter_ctx_reg; /* where the context is at ctx_enter_off */
	enum pyrt_reg exit_ctx_reg;

	/* asyncio C Task hooks in the _asyncio extension, if it is mapped */
	char asyncio_path[PATH_MAX];
	char asyncio_open[PATH_MAX + 64]; /* asyncio_path as we can open it */
	uint64_t task_step_off;		  /* TaskStepMethWrapper_call */
	uint64_t task_wakeup_off;	  /* task_wakeup (3.10+) or TaskWakeupMethWrapper_call */
	char asyncio_note[128];		  /* why the offsets above are 0, "" otherwise */
	bool asyncio_builtin;		  /* _asyncio is built into the interpreter (3.15) */

	char uvloop_path[PATH_MAX]; /* uvloop/loop.cpython-*.so if mapped, "" otherwise */

	char error[256]; /* why pyrt__probe failed, lowercase, no trailing period */
};

/*
 * Inspect live process pid (/proc/PID). Returns 0 with out->runtime set
 * (PYRT_UNKNOWN for neither Python nor Node.js), -ESRCH when there is no
 * such process, -ENOTSUP for an unsupported CPython (out->runtime,
 * out->version and out->error are still set), or another -errno.
 */
int pyrt__probe(int pid, struct pyrt_info *out);

/*
 * pyrt__probe on a procfs-like directory holding "exe" (a symlink) and
 * "maps". The paths in maps are the process's view; each ELF file is
 * opened (*_open) through /proc/PID/map_files/START-END, which reaches the
 * mapped file whatever the process's mount namespace or root, else through
 * /proc/PID/root in another mount namespace, else as is. Memory of pid is read when pid > 0;
 * otherwise (or when that fails) statically initialised data is read from the ELF files.
 */
int pyrt__probe_dir(const char *procdir, int pid, struct pyrt_info *out);

/* Read len bytes at addr of some address space; 0 or -errno. */
typedef int (*pyrt_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/*
 * Walk the PyMethodDef array of the type object at type_addr (tp_methods at
 * off_tp_methods) and return the ml_meth of the entry called name.
 * -ENOENT when there is no such entry.
 */
int pyrt__find_method(pyrt_read_fn read, void *ctx, uint64_t type_addr, __u32 off_tp_methods,
		      const char *name, uint64_t *meth);

/*
 * Pick a cheap probe point in the code at the start of a function whose
 * first argument (rdi) is a context: the first instruction the kernel
 * emulates (push, jmp, call, nop), skipping a few movs and a sub of rsp,
 * and tell where the context is there. Falls back to offset 0 and rdi.
 */
void pyrt__pick_probe(const uint8_t *code, size_t len, uint64_t *off, enum pyrt_reg *reg);

/*
 * Decode PyGILState_GetThisThreadState (code, len bytes at link-time address
 * vaddr; _PyRuntime at rt_vaddr, rt_size bytes) for where it reads the
 * thread state. 0, or -ENOENT when the code does neither.
 */
int pyrt__decode_tss(const uint8_t *code, size_t len, uint64_t vaddr, uint64_t rt_vaddr,
		     uint64_t rt_size, struct pyrt_tss *out);

/* Offsets for CPython major.minor, NULL when unsupported (user/pyrt_offsets.c). */
const struct ap_py_offsets *pyrt_offsets__find(int major, int minor);
/*
 * 3.14+: the offsets from the interpreter's own tables (d, and _asyncio's aio
 * or NULL) and the layouts they lack (public headers; full mode's from the
 * DWARF of Debian's build), into o; co_flags (light mode's task search) into
 * code_flags. *full: the build agrees with that DWARF (every anchor field
 * the tables also give is the same), so full mode's Task fields are set;
 * else they stay 0: light mode only. -ENOTSUP for a version not known
 * here, -ENODATA when the table lacks a field the walk needs.
 * rt_autotss_key is left to the caller (pyrt__decode_tss).
 */
int pyrt_offsets__from_debug(const struct pydebug *d, const struct pydebug_asyncio *aio,
			     struct ap_py_offsets *o, uint32_t *code_flags, bool *full);
/*
 * Light mode's task search (bpf/pystack.bpf.h): PyCodeObject.co_flags and the
 * first local of a frame for CPython 3.minor; 0 when unknown (no search then).
 */
void pyrt_offsets__light(int minor, uint32_t *code_flags, uint32_t *frame_locals);

/* Every field of struct ap_py_offsets but version_hex, for dumps and tests. */
/* clang-format off */
#define PYRT_OFFSET_FIELDS(X) \
	X(ob_type) X(tp_name) X(tp_methods) X(func_code) X(func_name) X(func_qualname) \
	X(meth_func) X(meth_self) X(cfunc_ml) X(cfunc_self) X(partial_fn) \
	X(stepwrap_task) X(wakewrap_task) X(task_state) X(task_result) \
	X(task_exception) X(task_fut_waiter) X(task_coro) X(task_name) X(task_context) \
	X(coro_name) X(coro_qualname) X(coro_code) X(coro_iframe) X(coro_frame) \
	X(code_filename) X(code_name) X(code_qualname) X(code_firstlineno) \
	X(code_linetable) X(code_adaptive) X(str_length) X(str_state) X(str_ascii_data) \
	X(str_compact_data) X(long_size) X(long_digits) X(long_lv_tag) \
	X(rt_autotss_key) X(rt_tstate_current) X(tstate_frame) X(cframe_current) \
	X(frame_code) X(frame_back) X(frame_lasti) X(frame_owner) X(gil_locked)
/* clang-format on */

#endif /* AP_PYRT_H */
