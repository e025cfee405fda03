/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CPython's own table of its struct offsets, _Py_DebugOffsets, which 3.13+
 * keeps at the start of _PyRuntime (the ELF section .PyRuntime): the table
 * CPython's remote debugging and `python -m asyncio ps` read. Its layout
 * grew with each version (3.13, 3.14, 3.15 are known here); it is checked
 * (cookie, version, sizes, every offset inside its struct) and read into
 * one version-independent set of fields. A field a version's table lacks
 * is absent, never guessed.
 */
#ifndef AP_PYDEBUG_H
#define AP_PYDEBUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pydebug_field {
	PD_INTERPRETERS_HEAD, /* _PyRuntimeState.interpreters.head */
	PD_THREADS_HEAD,      /* PyInterpreterState.threads.head */
	PD_THREADS_MAIN,      /* PyInterpreterState.threads.main (3.14+) */
	PD_GIL_LOCKED,	      /* PyInterpreterState._gil.locked */
	PD_GIL_HOLDER,	      /* PyInterpreterState._gil.last_holder */
	PD_TSTATE_NEXT,
	PD_TSTATE_CURRENT_FRAME,
	PD_TSTATE_THREAD_ID,
	PD_TSTATE_NATIVE_THREAD_ID,
	PD_FRAME_PREVIOUS,
	PD_FRAME_EXECUTABLE, /* a tagged _PyStackRef from 3.14 */
	PD_FRAME_INSTR_PTR,
	PD_FRAME_LOCALSPLUS,
	PD_FRAME_OWNER,
	PD_FRAME_STACKPOINTER, /* 3.14+ */
	PD_CODE_FILENAME,
	PD_CODE_NAME,
	PD_CODE_QUALNAME,
	PD_CODE_LINETABLE,
	PD_CODE_FIRSTLINENO,
	PD_CODE_ADAPTIVE, /* co_code_adaptive */
	PD_OB_TYPE,
	PD_TP_NAME,
	PD_TP_FLAGS,
	PD_LONG_LV_TAG,
	PD_LONG_DIGIT,
	PD_STR_STATE,
	PD_STR_LENGTH,
	PD_STR_ASCII_SIZE,  /* sizeof(PyASCIIObject): where an ASCII string's bytes start */
	PD_GEN_NAME,	    /* PyGenObject.gi_name (3.14+) */
	PD_GEN_IFRAME,	    /* PyGenObject.gi_iframe (3.14+) */
	PD_GEN_FRAME_STATE, /* 3.14+ */
	PD__N,
};

struct pydebug {
	uint64_t version_hex; /* PY_VERSION_HEX: 0x030e0af0 is 3.14.10 final */
	unsigned major, minor, micro;
	bool free_threaded; /* a build without the GIL (3.13t, 3.14t) */
	uint64_t present;   /* bit f: the table has field f */
	uint64_t off[PD__N];
};

/* Bytes of the largest known table: read this many (or what there is). */
#define PYDEBUG_MAX_BYTES 888

/*
 * Check and read the table at buf (len bytes from the start of _PyRuntime).
 * 0; -ENOENT when there is no cookie (not 3.13+, or not _PyRuntime);
 * -ENOTSUP for a version whose layout is not known here; -EINVAL when the
 * table is cut short or its values cannot be right.
 */
int pydebug__parse(const void *buf, size_t len, struct pydebug *out);

static inline bool pydebug__has(const struct pydebug *d, enum pydebug_field f)
{
	return d->present >> f & 1;
}

/* The field's name, as in CPython's table ("code_object.qualname"). */
const char *pydebug__name(enum pydebug_field f);

/*
 * 3.14+: the _asyncio module's own table (its ELF section .AsyncioDebug, in
 * _asyncio's .so or, built in, the interpreter): where a Task keeps its
 * name and coroutine, and where a thread state keeps its running loop and
 * task. Same layout in 3.14 and 3.15.
 */
struct pydebug_asyncio {
	uint64_t task_size;
	uint64_t task_name;
	uint64_t task_awaited_by;
	uint64_t task_is_task;
	uint64_t task_coro;
	uint64_t task_node; /* the Task's place in its thread's list of tasks */
	uint64_t interp_tasks_head;
	uint64_t tstate_running_loop;
	uint64_t tstate_running_task;
	uint64_t tstate_tasks_head;
};

#define PYDEBUG_ASYNCIO_BYTES 104

/* Check and read the _asyncio table: 0, or -EINVAL when cut short or an offset is past its struct.
 */
int pydebug__parse_asyncio(const void *buf, size_t len, struct pydebug_asyncio *out);

#endif /* AP_PYDEBUG_H */
