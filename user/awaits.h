/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The await graph of a CPython process at the end of tracing: for each
 * pending task, the future it awaits (TaskObj.task_fut_waiter), read from
 * the live target; when that is another task, an edge of the graph. Who
 * awaits a task, and cycles (tasks that await each other: a deadlock),
 * are queries on it.
 */
#ifndef AP_AWAITS_H
#define AP_AWAITS_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct pystack;

/*
 * Fill the awaits fields of p's pending tasks, reading the target through
 * ps (0 or -ENOMEM; a task that cannot be read is left unknown).
 */
int awaits__read(struct pystack *ps, struct ap_process *p);

/* The pending tasks of p that await task id (at most max of them into out); how many. */
size_t awaits__by(const struct ap_process *p, uint64_t id, uint64_t *out, size_t max);

/*
 * A cycle of tasks awaiting each other that holds task index i (into
 * p->tasks): its task indices, from i, into cycle (at most max); its
 * length, 0 when i is in none.
 */
size_t awaits__cycle(const struct ap_process *p, size_t i, size_t *cycle, size_t max);

#endif /* AP_AWAITS_H */
