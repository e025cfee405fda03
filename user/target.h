/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The traced process: does it exist, what runs it, and which backend
 * can trace it.
 */
#ifndef AP_TARGET_H
#define AP_TARGET_H

#include "ctxend.h"
#include "session.h"

struct pyrt_info;
struct tracer;

/* auto: the uprobe backend where the runtime allows it, else syscall */
enum ap_backend { AP_BACKEND_AUTO, AP_BACKEND_UPROBE, AP_BACKEND_SYSCALL };
/* full: per-callback uprobes; light: tracepoints and CPU samples only */
enum ap_mode { AP_MODE_FULL, AP_MODE_LIGHT };

/* How every process is traced: the command line's choices. */
struct target_opts {
	enum ap_backend backend;
	enum ap_mode mode;
	uint32_t stack_depth; /* Python frames per stack */
	const char *comm;     /* processes found system-wide: only those named so; NULL: any */
};

struct target {
	struct session_proc proc; /* strings below are owned by the target */
	struct target_opts opts;
	char *comm;
	char *exe;
	char *version;
	struct pyrt_info *py;	 /* what pyrt found; NULL when not probed */
	bool uprobe;		 /* the CPython uprobe backend is used */
	bool light_py;		 /* light mode on CPython: stacks and samples, no uprobe */
	bool discovered;	 /* found system-wide: any runtime, errors only at -v */
	const char *why_syscall; /* CPython on the syscall backend: why not uprobe */
	bool early; /* launch mode: opened before the program ran, its modules load later */
	/* asyncio: how callbacks end (enum ap_end_mode) and the links that end them */
	int end_mode;
	int ret_link;
	uint64_t ret_detach_ns; /* when to detach ret_link (end points kept), else 0 */
	int end_links[CTXEND_MAX];
	int n_end_links;
	/* uvloop: the task probes' links, attached until the register search is checked */
	int task_links[2];
	int n_task_links;
	bool uv_checking;
};

/*
 * Inspect pid; prints one line and returns -errno when it cannot be traced.
 * Set tg->discovered first for a process found system-wide.
 */
int target__open(int pid, const struct target_opts *o, struct target *tg);
/* The uprobe programs target__attach will attach: bits 1 << enum tracer_uprobe. */
unsigned int target__uprobes(const struct target *tg);
/* Configure and attach the backend's per-process probes (none for syscall). */
int target__attach(struct target *tg, struct tracer *tr);
/* Between polls: settle how callbacks end once the end points are checked. */
void target__tick(struct target *tg, struct tracer *tr);
void target__close(struct target *tg);

#endif /* AP_TARGET_H */
