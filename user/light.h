/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Light mode (--mode light): no per-callback uprobe. Loop boundaries and
 * blocking calls come from the syscall tracepoints as in full mode; the
 * busy time of tasks and callbacks is estimated from CPU samples of the
 * loop thread, each attributed in BPF to the task or callback its stack
 * belongs to (bpf/pystack.bpf.h, light_ident). This file turns the
 * samples into the report's tasks and callbacks (target.c picks the
 * backend of a process in light mode).
 */
#ifndef AP_LIGHT_H
#define AP_LIGHT_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct light;
struct names;

/* The estimates, with at most LIGHT_MAX_ENTS tasks and as many callbacks. */
struct light *light__new(void);
/* The same with a cap of max_ents each (the unit tests fill a small table). */
struct light *light__new_cap(size_t max_ents);
void light__free(struct light *l);

/* One CPU sample of a busy loop thread; task 0: not a task; cb 0: not attributed. */
struct light_sample {
	uint32_t pid;
	uint32_t tid;
	uint64_t ts_ns;
	uint64_t busy_start_ns; /* which busy interval (loop iteration) it fell in */
	uint64_t task;
	uint64_t cb; /* callback identity: the task's coroutine qualname, or a callable's */
};
int light__add_sample(struct light *l, const struct light_sample *s);

/* A blocking call attributed to a task or callback: its time counts as theirs. */
int light__add_blocked(struct light *l, const struct light_sample *s, uint64_t dur_ns);

/* Samples and blocked calls of callbacks the full callbacks table did not take. */
uint64_t light__cbs_dropped(const struct light *l);

/*
 * The tasks and callbacks of process p estimated so far, appended to p, and
 * the tasks left out of the full table added to p->tasks_omitted:
 * busy time is samples times period_ns plus blocked time; steps (and
 * callback counts) are the loop iterations in which the task was seen, a
 * lower bound. Names come from the session's cache.
 */
int light__fill(const struct light *l, const struct names *names, uint64_t period_ns,
		struct ap_process *p);

#endif /* AP_LIGHT_H */
