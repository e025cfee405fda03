/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A CPython thread's Python stack read from outside, in userspace, for a
 * thread BPF cannot walk: one off CPU in a call that began before tracing
 * and is still in progress when it ends. The thread's PyThreadState is
 * found in the interpreter's list of threads by its tid (native_thread_id
 * from 3.11, else through its pthread, whose tid glibc keeps), then its
 * frames are walked as bpf/pystack.bpf.h does, into the same packed form.
 */
#ifndef AP_PYTHREAD_H
#define AP_PYTHREAD_H

#include <stdint.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "pydebug.h"
#include "pystack.h"

struct pythread_offsets {
	uint32_t interp_head;	   /* _PyRuntimeState.interpreters.head */
	uint32_t threads_head;	   /* PyInterpreterState's first PyThreadState */
	uint32_t tstate_next;	   /* PyThreadState.next */
	uint32_t tstate_thread_id; /* PyThreadState.thread_id: the pthread_t */
	uint32_t tstate_native_id; /* PyThreadState.native_thread_id (3.11+), 0: none */
};

/*
 * The offsets for CPython 3.minor: measured from the pyenv builds' DWARF up
 * to 3.12, from the interpreter's own table (dbg) from 3.13. -ENOTSUP when
 * neither knows them.
 */
int pythread__offsets(int minor, const struct pydebug *dbg, struct pythread_offsets *out);

/*
 * Walk thread tid's frames (at most depth) into st, in the form BPF
 * records: each frame is its code object's address | position << 48, so
 * pystack__resolve names them. runtime: _PyRuntime's address; o: the
 * version's offsets. 0 (st->depth 0 when the thread has no Python frame),
 * -ESRCH when no thread state is tid's, -EIO when memory cannot be read.
 */
int pythread__stack(pystack_read_fn read, void *ctx, uint64_t runtime,
		    const struct ap_py_offsets *o, const struct pythread_offsets *to, uint32_t tid,
		    uint32_t depth, struct ap_pystack *st);

#endif /* AP_PYTHREAD_H */
