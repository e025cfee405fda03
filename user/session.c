// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A tracing session: its processes, loops, names and stacks (session_int.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "session_int.h"
#include "lag.h"

#define SESSION_MAX_CODES 4096
#define SESSION_MAX_NAMES 65536

int session__new(const struct session_opts *opts, struct session **out)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->rep = calloc(1, sizeof(*s->rep));
	if (!s->rep) {
		free(s);
		return -ENOMEM;
	}
	s->names = names__new(SESSION_MAX_NAMES);
	if (!s->names) {
		free(s->rep);
		free(s);
		return -ENOMEM;
	}
	s->opts = *opts;
	s->stacks_fd = -1;
	s->light = opts->light ? light__new() : NULL;
	if (opts->light && !s->light) {
		names__free(s->names);
		free(s->rep);
		free(s);
		return -ENOMEM;
	}
	s->rep->tool_version = opts->tool_version;
	s->rep->start_ns = opts->start_ns;
	s->rep->blocking_ns = opts->blocking_ns;
	s->rep->slow_callback_ns = opts->slow_cb_ns;
	s->rep->stuck_ns = opts->stuck_ns;
	s->rep->lag_interval_ns = opts->lag_interval_ns;
	s->rep->traced = opts->traced;
	s->rep->host = opts->host;
	s->rep->sample_period_ns = opts->sample_period_ns;
	s->rep->mode = opts->light ? "light" : "full";
	*out = s;
	return 0;
}

void session__free(struct session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->loops.n; i++)
		lag__free(s->loops.v[i].lag);
	free(s->loops.v);
	free(s->loop_kinds.v);
	for (size_t i = 0; i < s->stackers.n; i++)
		pystack__free(s->stackers.v[i]);
	free(s->stackers.v);
	for (size_t i = 0; i < s->natsyms.n; i++)
		natsym__free(s->natsyms.v[i]);
	free(s->natsyms.v);
	free(s->pys.v);
	free(s->samples.v);
	free(s->early_blocking.v);
	light__free(s->light);
	names__free(s->names);
	ap_report__free(s->rep);
	free(s);
}

char *sess_strdup(const char *str)
{
	return str ? strdup(str) : NULL;
}

int session__add_process(struct session *s, const struct session_proc *p)
{
	struct ap_process *proc = AP_VEC_PUSH(s->rep->processes);
	const char **kind = AP_VEC_PUSH(s->loop_kinds);
	/* a vector of pointers: sizeof(*v) is a pointer's size on purpose */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	struct pystack **ps = AP_VEC_PUSH(s->stackers);

	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	struct natsym **ns = AP_VEC_PUSH(s->natsyms);
	struct sess_py *py = AP_VEC_PUSH(s->pys);
	char procdir[32];

	if (!proc || !kind || !ps || !ns || !py)
		return -ENOMEM;
	*py = (struct sess_py){0};
	if (p->py_off && p->py_runtime) {
		py->gil_lo = p->py_runtime;
		py->gil_hi = p->py_runtime + p->py_runtime_size;
	}
	if (p->py_off && p->py_runtime && p->py_threads) {
		py->runtime = p->py_runtime;
		py->threads = *p->py_threads;
	}
	snprintf(procdir, sizeof(procdir), "/proc/%d", p->pid);
	*ns = natsym__new(procdir);
	if (!*ns)
		return -ENOMEM;
	if (p->py_off) {
		*ps = pystack__new(p->pid, p->py_major, p->py_minor, p->py_off, SESSION_MAX_CODES);
		if (!*ps)
			return -ENOMEM;
	}
	proc->pid = p->pid;
	proc->ns_pid = p->ns_pid ? (uint32_t)p->ns_pid : (uint32_t)p->pid;
	proc->comm = sess_strdup(p->comm);
	proc->exe = sess_strdup(p->exe);
	proc->runtime = p->runtime;
	proc->runtime_version = sess_strdup(p->runtime_version);
	proc->backend = p->backend;
	proc->steps_exact = !s->opts.light;
	*kind = p->loop_kind;
	return 0;
}

/* A copy of a cached name, NULL when unknown. */
char *sess_name_dup(struct session *s, uint32_t pid, uint32_t kind, uint64_t key)
{
	const char *n = key ? names__get(s->names, pid, kind, key) : NULL;

	return n ? strdup(n) : NULL;
}

struct ap_process *sess_find_in(struct ap_report *rep, uint32_t pid, size_t *idx)
{
	for (size_t i = 0; i < rep->processes.n; i++) {
		if (rep->processes.v[i].pid == pid) {
			if (idx)
				*idx = i;
			return &rep->processes.v[i];
		}
	}
	return NULL;
}

struct ap_process *sess_find_process(struct session *s, uint32_t pid, size_t *idx)
{
	return sess_find_in(s->rep, pid, idx);
}

struct sess_loop *sess_loop_find(const struct session *s, uint32_t pid, uint32_t tid)
{
	for (size_t i = 0; i < s->loops.n; i++)
		if (s->loops.v[i].tid == tid && s->loops.v[i].pid == pid)
			return &s->loops.v[i];
	return NULL;
}

struct sess_loop *sess_loop_get(struct session *s, uint32_t pid, uint32_t tid)
{
	struct sess_loop *l = sess_loop_find(s, pid, tid);

	if (l)
		return l;
	l = AP_VEC_PUSH(s->loops);
	if (!l)
		return NULL;
	l->pid = pid;
	l->tid = tid;
	l->lag = lag__new(s->opts.start_ns, s->opts.lag_interval_ns);
	if (!l->lag) {
		s->loops.n--;
		return NULL;
	}
	return l;
}

void session__set_discover(struct session *s, session_discover_fn fn, void *ctx)
{
	s->discover = fn;
	s->discover_ctx = ctx;
}

uint64_t session__events(const struct session *s)
{
	return s->events;
}

void session__set_stacks_fd(struct session *s, int fd)
{
	s->stacks_fd = fd;
}

/* Resolve the stack with this id in the stacks map into out (empty if none). */
int sess_stack_get(struct session *s, size_t proc_idx, uint64_t id, struct ap_stack *out)
{
	struct pystack *ps = s->stackers.v[proc_idx];
	struct ap_pystack st;

	if (!id || !ps || s->stacks_fd < 0 || bpf_map_lookup_elem(s->stacks_fd, &id, &st))
		return 0;
	return pystack__resolve(ps, &st, out);
}

static const char *const task_states[] = {
	[AP_TASK_PENDING] = "pending",
	[AP_TASK_CANCELLED] = "cancelled",
	[AP_TASK_DONE] = "done",
	[AP_TASK_FAILED] = "failed",
};

/* A report entry for task addr from its BPF figures; names from the cache. */
int sess_task_fill(struct session *s, uint32_t pid, uint64_t addr, const struct ap_task_stats *st,
		   bool finished, struct ap_task *t)
{
	t->id = addr;
	t->name = sess_name_dup(s, pid, AP_NAME_TASK, addr);
	/* full mode names the coroutine once per qualname (coro_id); light mode per task */
	t->coro = sess_name_dup(s, pid, AP_NAME_TASK_CORO, addr);
	if (!t->coro)
		t->coro = sess_name_dup(s, pid, AP_NAME_CALLBACK, st->coro_id);
	t->loop_tid = st->loop_tid;
	t->created_ns = AP_NULL_U64;
	t->first_run_ns = st->first_run_ns;
	t->last_run_ns = st->last_run_ns;
	t->finished_ns = finished ? st->finished_ns : AP_NULL_U64;
	t->state = st->state < 4 ? task_states[st->state] : NULL;
	if (st->state == AP_TASK_FAILED)
		t->error = sess_name_dup(s, pid, AP_NAME_TASK_ERROR, addr);
	t->steps = st->steps;
	t->busy_ns = st->busy_ns;
	t->max_step_ns = st->max_step_ns;
	t->blocked_ns = st->blocked_ns;
	return 0;
}
