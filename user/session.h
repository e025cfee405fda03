/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One tracing session: turns ring-buffer records and the BPF maps into
 * the in-memory report (model.h). Knows nothing of the skeleton.
 */
#ifndef AP_SESSION_H
#define AP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "model.h"
#include "pythread.h"

struct session;

/* What the loader learnt of a process before tracing it. */
struct session_proc {
	int pid;
	int ns_pid; /* its pid in its own PID namespace (NSpid), pid in ours */
	const char *comm;
	const char *exe;
	const char *runtime;	     /* "cpython", "node", "unknown" */
	const char *runtime_version; /* NULL when unknown */
	const char *backend;	     /* "uprobe" or "syscall" */
	const char *loop_kind;	     /* "asyncio", "uvloop", "libuv", "epoll" */
	/* CPython: what the stack resolver needs; py_off NULL for other runtimes */
	const struct ap_py_offsets *py_off;
	unsigned py_major, py_minor;
	/* CPython: what a userspace walk of a thread needs (calls in progress at the end) */
	uint64_t py_runtime;			   /* _PyRuntime's address, 0 when unknown */
	uint64_t py_runtime_size;		   /* its size: the GIL's futexes are inside */
	const struct pythread_offsets *py_threads; /* NULL: its threads cannot be walked */
};

struct session_opts {
	uint64_t start_ns;
	uint64_t blocking_ns;
	uint64_t slow_cb_ns;
	uint64_t stuck_ns; /* lints: a pending task with no step this long is stuck */
	uint64_t lag_interval_ns;
	const char *tool_version;
	bool traced;		   /* AP_REC_CB records will come: a trace was requested */
	const char *host;	   /* host name, kept by the caller; NULL when unknown */
	uint64_t sample_period_ns; /* 1e9 / --frequency, 0: no sampling */
	bool light;		   /* light mode: tasks and callbacks from CPU samples (light.h) */
};

int session__new(const struct session_opts *opts, struct session **out);
void session__free(struct session *s);
int session__add_process(struct session *s, const struct session_proc *p);

/* The stacks map, to resolve stacks as their records arrive (-1: none). */
void session__set_stacks_fd(struct session *s, int fd);

/* Called with the pid of a loop found in a process the session does not know yet. */
typedef int (*session_discover_fn)(void *ctx, int pid);
void session__set_discover(struct session *s, session_discover_fn fn, void *ctx);

/* Records received so far. */
uint64_t session__events(const struct session *s);

/* ring_buffer__new() callback: one record. */
int session__handle_event(void *ctx, void *data, size_t size);

/* The BPF maps the finished report is read from; -1 for a map not used. */
struct session_maps {
	int threads_fd;
	int tasks_fd;
	int callbacks_fd;
	bool runq_unknown; /* BPF found no run queue delay in this kernel */
};

/* What BPF counted as lost (the stats map), for the report's drops. */
struct session_drops {
	uint64_t events;	/* ring buffer full */
	uint64_t stacks;	/* stacks map full */
	uint64_t tasks;		/* tasks past --max-tasks */
	uint64_t threads;	/* threads map full */
	uint64_t callbacks;	/* callbacks map full (light mode adds its own table's) */
	uint64_t callback_ends; /* callbacks whose end was not seen */
};

/*
 * Read the per-thread, per-task and per-callback figures from the maps,
 * close the window at end_ns and hand over the finished report, which the
 * caller frees with ap_report__free(). drops: NULL for none.
 */
int session__finish(struct session *s, const struct session_maps *maps, uint64_t end_ns,
		    const struct session_drops *drops, struct ap_report **out);

/* Is this process still there? (The live view drops those that exited.) */
typedef bool (*session_alive_fn)(int pid);

/*
 * A report of the session as it is now, for the live view: the maps read
 * at now_ns, every task, the latest blocking calls and slow callbacks, of
 * the processes alive() says are (NULL: all). The session goes on; the
 * caller frees the snapshot with ap_report__free().
 */
int session__snapshot(struct session *s, const struct session_maps *maps, uint64_t now_ns,
		      uint64_t drops_events, session_alive_fn alive, struct ap_report **out);

#endif /* AP_SESSION_H */
