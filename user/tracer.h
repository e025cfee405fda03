/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side's lifecycle: open, configure, load, attach, detach. Wraps
 * the generated skeleton so the rest of the loader never touches it.
 */
#ifndef AP_TRACER_H
#define AP_TRACER_H

#include <stdbool.h>
#include <stdint.h>

struct tracer;
struct ring_buffer;
struct ap_py_proc;

struct tracer_opts {
	const int *pids; /* processes to trace; none: system-wide */
	int npids;
	bool pid_map;  /* the pids go in the targets map, even one: more are added later */
	bool launched; /* the targets are a command we started (no loop before its first poll) */
	uint64_t blocking_ns;
	uint64_t slow_cb_ns;
	uint64_t lag_interval_ns;
	uint32_t max_tasks;
	bool trace_callbacks; /* send every callback run through the ring buffer */
	bool light;	      /* light mode: the uprobe programs are not even loaded */
	unsigned int uprobes; /* full mode: uprobe programs to load, bits 1 << tracer_uprobe */
	bool bpf_loop;	      /* the kernel has bpf_loop (5.17+): else the bounded stack walk */
	bool raw_tp;	      /* raw_tp even where tp_btf works (its test, and --check) */
	bool refused;	      /* also a program every verifier refuses: the tests' load failure */
	bool verbose;
};

/* The uprobe programs the CPython backend attaches. */
enum tracer_uprobe {
	TRACER_UP_CONTEXT_RUN,	    /* asyncio: context_run entry */
	TRACER_UP_CONTEXT_RUN_RET,  /* asyncio: context_run return */
	TRACER_UP_CTX_ENTER,	    /* uvloop: PyContext_Enter */
	TRACER_UP_CTX_EXIT,	    /* uvloop: PyContext_Exit */
	TRACER_UP_TASK_STEP,	    /* _asyncio: TaskStepMethWrapper_call */
	TRACER_UP_TASK_WAKEUP,	    /* _asyncio: task_wakeup (3.10+) */
	TRACER_UP_TASK_WAKEUP_WRAP, /* _asyncio: TaskWakeupMethWrapper_call (3.8, 3.9) */
	TRACER_UP_CONTEXT_RUN_END,  /* asyncio: an end point inside context_run (ctxend.h) */
	TRACER_UP_MAX,
};

#define TRACER_UP_ALL ((1u << TRACER_UP_MAX) - 1) /* processes may be found later */

/* Open, configure and load the BPF object. Returns 0 or -errno. */
int tracer__new(const struct tracer_opts *opts, struct tracer **out);
/* Set the lag grid's origin and attach the tracepoints. */
int tracer__attach(struct tracer *t, uint64_t window_start_ns);
/* Process pid is traced from now on (a --pid beyond the first). */
int tracer__add_target(struct tracer *t, int pid);
/* Give BPF the CPython layout and addresses of process pid. */
int tracer__set_py_proc(struct tracer *t, int pid, const struct ap_py_proc *pp);
/* Read it back, with the counters BPF keeps in it. */
int tracer__get_py_proc(const struct tracer *t, int pid, struct ap_py_proc *pp);
/* Sample every CPU at freq Hz; samples in long callbacks of traced loops are kept. */
int tracer__attach_sampler(struct tracer *t, unsigned int freq);
/*
 * Attach one uprobe program at file offset off of path, for process pid
 * only. Returns the link's id (for tracer__detach_link) or -errno.
 */
int tracer__attach_uprobe(struct tracer *t, enum tracer_uprobe which, int pid, const char *path,
			  uint64_t off);
/* Detach one probe while tracing goes on. */
void tracer__detach_link(struct tracer *t, int id);
/* Detach every probe; maps stay readable. */
void tracer__detach(struct tracer *t);
void tracer__free(struct tracer *t);

int tracer__events_fd(const struct tracer *t);
int tracer__threads_fd(const struct tracer *t);
int tracer__tasks_fd(const struct tracer *t);
int tracer__callbacks_fd(const struct tracer *t);
int tracer__stacks_fd(const struct tracer *t);
/* Sum of a per-CPU counter of enum ap_stat. */
uint64_t tracer__stat(const struct tracer *t, unsigned int which);
/* Was the BTF-enabled tracepoint flavour used (else raw_tp)? */
bool tracer__uses_tp_btf(const struct tracer *t);
/* The kernel keeps no run queue delay (BPF found no sched_info): busy causes lack it. */
bool tracer__runq_missing(const struct tracer *t);
/* Do the stack walks use bpf_loop (else a bounded loop)? */
bool tracer__uses_bpf_loop(const struct tracer *t);

#endif /* AP_TRACER_H */
