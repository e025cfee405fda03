/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The set of traced processes: the --pid ones, opened before tracing
 * starts, and, system-wide, every process found running an event loop
 * while tracing (each announced by its first AP_REC_LOOP record).
 */
#ifndef AP_TARGETS_H
#define AP_TARGETS_H

#include <stdbool.h>
#include "launch.h"
#include "session.h"
#include "target.h"

struct targets;
struct tracer;

/* The set, each process to be opened with o. */
int targets__new(const struct target_opts *o, struct targets **out);
void targets__free(struct targets *ts);
/* Open each --pid; prints one line and returns -errno for a bad one. */
int targets__open_pids(struct targets *ts, const int *pids, int n);
/* Register the opened targets with the session and attach their probes. */
int targets__start(struct targets *ts, struct tracer *tr, struct session *sess);
/* Session discovery hook: a new loop in pid (system-wide). 0, or -errno. */
int targets__discover(void *ctx, int pid);
/*
 * Launch mode (a launch_ready_fn): the command, stopped. A CPython is
 * opened and attached as if given with --pid as its first event loop
 * starts (LAUNCH_LOOP: uvloop and _asyncio are loaded by then), a Node.js
 * right after its loader; anything else is left to discovery at its
 * first loop.
 */
int targets__launched(void *ctx, int pid, enum launch_stage stage);
/* Let discovery attach probes and add processes. */
void targets__bind(struct targets *ts, struct tracer *tr, struct session *sess);
/* Between polls: per-target upkeep (target__tick). */
void targets__tick(struct targets *ts);
/* With --pid: have all the traced processes exited? */
bool targets__all_exited(const struct targets *ts);
size_t targets__count(const struct targets *ts);
/* The uprobe programs the targets opened so far need (target__uprobes, or'ed). */
unsigned int targets__uprobes(const struct targets *ts);
const struct target *targets__get(const struct targets *ts, size_t i);

#endif /* AP_TARGETS_H */
