/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lints: what a demanding asyncio user wants flagged in a report, each
 * with the task or callback, its coroutine and a stack: tasks stuck or
 * deadlocked (awaits.h), steps that never yield, tasks that poll busily,
 * and blocking calls made from the loop, with the asyncio-native call to
 * use instead.
 */
#ifndef AP_LINTS_H
#define AP_LINTS_H

#include "model.h"

/*
 * Fill p->lints from p's tasks (their awaits read), slow callbacks and
 * blocking calls, as of end_ns; r gives the thresholds. 0 or -ENOMEM.
 */
int lints__find(const struct ap_report *r, struct ap_process *p, uint64_t end_ns);

/* The asyncio-native alternative to a blocking call of kind ("sleep", ...) and detail. */
const char *lints__fix(const char *kind, const char *detail);

#endif /* AP_LINTS_H */
