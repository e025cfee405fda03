/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the session's parts share, and only they: session.c (the registry of
 * processes and loops, names and stacks), events.c (the ring-buffer records),
 * report_build.c (the maps into the report) and snapshot.c (the live copy).
 */
#ifndef AP_SESSION_INT_H
#define AP_SESSION_INT_H

#include "session.h"
#include "light.h"
#include "names.h"
#include "natsym.h"
#include "pystack.h"

struct sess_loop {
	uint32_t pid;
	uint32_t tid;
	struct lag *lag;
};

/* A sample as it came, to find the most frequent stack of a slow callback. */
struct raw_sample {
	uint32_t pid;
	uint32_t tid;
	uint64_t cb_start_ns;
	uint64_t ts_ns;
	uint64_t stack_id;
	uint64_t task; /* light mode: what the slow iteration ran */
	uint64_t callback;
};

/* A CPython process's threads, for a walk from userspace (user/inflight.c). */
struct sess_py {
	uint64_t runtime; /* _PyRuntime's address; 0: no walk */
	struct pythread_offsets threads;
	uint64_t gil_lo, gil_hi; /* a futex in [gil_lo, gil_hi) is the GIL's (as BPF's py_procs) */
};

struct session {
	struct session_opts opts;
	struct ap_report *rep;
	AP_VEC(struct sess_loop) loops;
	AP_VEC(const char *) loop_kinds; /* per process, same index as rep->processes */
	struct names *names;
	AP_VEC(struct pystack *) stackers; /* per process, NULL when not CPython */
	AP_VEC(struct natsym *) natsyms;   /* per process: native frames */
	AP_VEC(struct sess_py) pys;	   /* per process: its threads walked from userspace */
	AP_VEC(struct raw_sample) samples;
	/* calls in flight when tracing began, kept until their thread is seen to be a loop */
	AP_VEC(struct ap_rec_blocking) early_blocking;
	struct light *light; /* light mode only */
	int threads_fd;
	int stacks_fd;
	uint64_t events;
	uint64_t bad_records;
	session_discover_fn discover;
	void *discover_ctx;
};

/* strdup that keeps NULL (and gives NULL when out of memory). */
char *sess_strdup(const char *str);
/* A copy of a cached name, NULL when unknown. */
char *sess_name_dup(struct session *s, uint32_t pid, uint32_t kind, uint64_t key);
/* The process with this pid in rep (its index in *idx when idx is not NULL), or NULL. */
struct ap_process *sess_find_in(struct ap_report *rep, uint32_t pid, size_t *idx);
struct ap_process *sess_find_process(struct session *s, uint32_t pid, size_t *idx);
struct sess_loop *sess_loop_find(const struct session *s, uint32_t pid, uint32_t tid);
/* The loop of this thread, made when first seen; NULL on ENOMEM. */
struct sess_loop *sess_loop_get(struct session *s, uint32_t pid, uint32_t tid);
/* Resolve the stack with this id in the stacks map into out (empty if none). */
int sess_stack_get(struct session *s, size_t proc_idx, uint64_t id, struct ap_stack *out);
/* A report entry for task addr from its BPF figures; names from the cache. */
int sess_task_fill(struct session *s, uint32_t pid, uint64_t addr, const struct ap_task_stats *st,
		   bool finished, struct ap_task *t);
/*
 * The loop threads' calls still in flight at end_ns into rep's blocking
 * calls, marked in_progress (user/inflight.c). Read after the tracer has
 * detached: the threads map's state is the end's.
 */
int sess_read_inflight(struct session *s, int threads_fd, uint64_t end_ns, struct ap_report *rep);
/* Everything the maps hold at end_ns into rep (the session's report or a snapshot), sorted. */
int sess_read_maps(struct session *s, const struct session_maps *maps, uint64_t end_ns,
		   struct ap_report *rep);

#endif /* AP_SESSION_INT_H */
