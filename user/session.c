// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Records and maps → report: per-loop lag, blocking calls, processes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "asyncprof.h"
#include "lag.h"
#include "log.h"
#include "names.h"
#include "session.h"
#include "strutil.h"
#include "syscalls.h"

struct sess_loop {
	uint32_t pid;
	uint32_t tid;
	struct lag *lag;
};

struct session {
	struct session_opts opts;
	struct ap_report *rep;
	AP_VEC(struct sess_loop) loops;
	AP_VEC(const char *) loop_kinds; /* per process, same index as rep->processes */
	struct names *names;
	int threads_fd;
	uint64_t bad_records;
};

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
	s->rep->tool_version = opts->tool_version;
	s->rep->start_ns = opts->start_ns;
	s->rep->blocking_ns = opts->blocking_ns;
	s->rep->slow_callback_ns = opts->slow_cb_ns;
	s->rep->lag_interval_ns = opts->lag_interval_ns;
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
	names__free(s->names);
	ap_report__free(s->rep);
	free(s);
}

static char *dup_or_null(const char *str)
{
	return str ? strdup(str) : NULL;
}

int session__add_process(struct session *s, const struct session_proc *p)
{
	struct ap_process *proc = AP_VEC_PUSH(s->rep->processes);
	const char **kind = AP_VEC_PUSH(s->loop_kinds);

	if (!proc || !kind)
		return -ENOMEM;
	proc->pid = p->pid;
	proc->comm = dup_or_null(p->comm);
	proc->exe = dup_or_null(p->exe);
	proc->runtime = p->runtime;
	proc->runtime_version = dup_or_null(p->runtime_version);
	proc->backend = p->backend;
	*kind = p->loop_kind;
	return 0;
}

/* A copy of a cached name, NULL when unknown. */
static char *name_dup(struct session *s, uint32_t pid, uint32_t kind, uint64_t key)
{
	const char *n = key ? names__get(s->names, pid, kind, key) : NULL;

	return n ? strdup(n) : NULL;
}

static struct ap_process *find_process(struct session *s, uint32_t pid, size_t *idx)
{
	for (size_t i = 0; i < s->rep->processes.n; i++) {
		if (s->rep->processes.v[i].pid == pid) {
			if (idx)
				*idx = i;
			return &s->rep->processes.v[i];
		}
	}
	return NULL;
}

static struct sess_loop *loop_get(struct session *s, uint32_t pid, uint32_t tid)
{
	struct sess_loop *l;

	for (size_t i = 0; i < s->loops.n; i++)
		if (s->loops.v[i].tid == tid && s->loops.v[i].pid == pid)
			return &s->loops.v[i];
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

/* Human-readable detail of a blocking call, or NULL. */
static char *blocking_detail(const struct ap_rec_blocking *r)
{
	char buf[AP_DETAIL_MAX + 64];
	uint32_t len = r->detail_len > AP_DETAIL_USE ? AP_DETAIL_USE : r->detail_len;

	switch (r->detail_kind) {
	case AP_DETAIL_PATH:
		if (strutil__join_path(r->detail, len, buf, sizeof(buf)) < 0)
			return NULL;
		break;
	case AP_DETAIL_STRING:
		if (!len)
			return NULL;
		snprintf(buf, sizeof(buf), "%.*s", (int)strnlen((const char *)r->detail, len),
			 (const char *)r->detail);
		break;
	case AP_DETAIL_INET:
		if (strutil__format_inet((const struct ap_inet_addr *)r->detail, buf, sizeof(buf)) <
		    0)
			return NULL;
		break;
	case AP_DETAIL_UNIX:
		snprintf(buf, sizeof(buf), "unix socket");
		break;
	case AP_DETAIL_PIPE:
		snprintf(buf, sizeof(buf), "pipe");
		break;
	default:
		return NULL;
	}
	return strdup(buf);
}

static int on_blocking(struct session *s, const struct ap_rec_blocking *r)
{
	struct ap_process *p = find_process(s, r->hdr.pid, NULL);
	unsigned long long args[3] = {r->args[0], r->args[1], r->args[2]};
	struct ap_blocking *b;

	if (!p)
		return 0;
	b = AP_VEC_PUSH(p->blocking_calls);
	if (!b)
		return -ENOMEM;
	b->tid = r->hdr.tid;
	b->start_ns = r->start_ns;
	b->duration_ns = r->duration_ns;
	b->syscall = syscalls__name(r->syscall_nr);
	if (!b->syscall)
		b->syscall = "unknown";
	b->kind = syscalls__kind(r->syscall_nr, r->fd_type, args);
	b->detail = blocking_detail(r);
	b->task = r->task;
	b->callback = name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
	return 0;
}

static int on_name(struct session *s, const struct ap_rec_name *r)
{
	char buf[AP_NAME_MAX * 4 + 32];

	if (strutil__decode_name(r, buf, sizeof(buf)) < 0)
		return names__set(s->names, r->hdr.pid, r->kind, r->key, NULL);
	return names__set(s->names, r->hdr.pid, r->kind, r->key, buf);
}

static const char *const task_states[] = {
	[AP_TASK_PENDING] = "pending",
	[AP_TASK_CANCELLED] = "cancelled",
	[AP_TASK_DONE] = "done",
	[AP_TASK_FAILED] = "failed",
};

/* A report entry for task addr from its BPF figures; names from the cache. */
static int task_fill(struct session *s, uint32_t pid, uint64_t addr, const struct ap_task_stats *st,
		     bool finished, struct ap_task *t)
{
	t->id = addr;
	t->name = name_dup(s, pid, AP_NAME_TASK, addr);
	t->coro = name_dup(s, pid, AP_NAME_TASK_CORO, addr);
	t->loop_tid = st->loop_tid;
	t->created_ns = AP_NULL_U64;
	t->first_run_ns = st->first_run_ns;
	t->last_run_ns = st->last_run_ns;
	t->finished_ns = finished ? st->finished_ns : AP_NULL_U64;
	t->state = st->state < 4 ? task_states[st->state] : NULL;
	if (st->state == AP_TASK_FAILED)
		t->error = name_dup(s, pid, AP_NAME_TASK_ERROR, addr);
	t->steps = st->steps;
	t->busy_ns = st->busy_ns;
	t->max_step_ns = st->max_step_ns;
	t->blocked_ns = st->blocked_ns;
	return 0;
}

static int on_task_end(struct session *s, const struct ap_rec_task_end *r)
{
	struct ap_process *p = find_process(s, r->hdr.pid, NULL);
	struct ap_task *t;

	if (!p)
		return 0;
	t = AP_VEC_PUSH(p->tasks);
	if (!t)
		return -ENOMEM;
	return task_fill(s, r->hdr.pid, r->task, &r->st, true, t);
}

static int on_slow_cb(struct session *s, const struct ap_rec_slow_cb *r)
{
	struct ap_process *p = find_process(s, r->hdr.pid, NULL);
	struct ap_slow_cb *c;

	if (!p)
		return 0;
	c = AP_VEC_PUSH(p->slow_callbacks);
	if (!c)
		return -ENOMEM;
	c->tid = r->hdr.tid;
	c->start_ns = r->start_ns;
	c->duration_ns = r->duration_ns;
	c->task = r->task;
	c->callback = name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
	c->blocked_ns = r->blocked_ns;
	return 0;
}

int session__handle_event(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;
	const struct ap_rec_hdr *h = data;
	struct sess_loop *l;

	if (size < sizeof(*h) || h->size > size) {
		s->bad_records++;
		return 0;
	}
	switch (h->type) {
	case AP_REC_LOOP:
		return loop_get(s, h->pid, h->tid) ? 0 : -ENOMEM;
	case AP_REC_BUSY: {
		const struct ap_rec_busy *r = data;

		l = loop_get(s, h->pid, h->tid);
		if (!l)
			return -ENOMEM;
		return lag__add_busy(l->lag, r->start_ns, r->end_ns);
	}
	case AP_REC_BLOCKING:
		if (size < sizeof(struct ap_rec_blocking))
			break;
		return on_blocking(s, data);
	case AP_REC_NAME:
		if (size < sizeof(struct ap_rec_name))
			break;
		return on_name(s, data);
	case AP_REC_TASK_END:
		if (size < sizeof(struct ap_rec_task_end))
			break;
		return on_task_end(s, data);
	case AP_REC_SLOW_CB:
		if (size < sizeof(struct ap_rec_slow_cb))
			break;
		return on_slow_cb(s, data);
	default:
		s->bad_records++;
	}
	return 0;
}

/* Close the loop's open interval at end_ns and fill its report entry. */
static int loop_finish(struct session *s, uint32_t tid, const struct ap_thread *t, uint64_t end_ns,
		       struct ap_loop *out)
{
	struct sess_loop *l = loop_get(s, t->tgid, tid);
	uint64_t b, busy = t->busy_ns, idle = t->idle_ns, maxb = t->max_busy_ns;

	if (!l)
		return -ENOMEM;
	dlog("loop %u: in_poll %u in_sys %u exited %u busy_start %llu poll_start %llu first %llu\n",
	     tid, t->in_poll, t->in_sys, t->exited, (unsigned long long)t->busy_start_ns,
	     (unsigned long long)t->poll_start_ns, (unsigned long long)t->first_ns);
	if (t->exited) {
		/* its last interval was closed when it exited */
	} else if (t->in_poll) {
		if (end_ns > t->poll_start_ns)
			idle += end_ns - t->poll_start_ns;
	} else {
		/* busy at the end: the interval so far is a lower bound of its length */
		b = t->busy_start_ns ? t->busy_start_ns : t->first_ns;
		if (end_ns > b) {
			busy += end_ns - b;
			if (end_ns - b > maxb)
				maxb = end_ns - b;
			lag__add_busy(l->lag, b, end_ns);
		}
	}
	lag__note_busy_len(l->lag, maxb);
	out->tid = tid;
	out->iterations = t->iterations;
	out->busy_ns = busy;
	out->idle_ns = idle;
	out->callbacks = t->callbacks;
	out->blocked_ns = t->blocked_ns;
	out->preempted_ns = t->preempted_ns;
	out->first_ns = t->first_ns;
	return lag__finish(l->lag, t->first_ns, end_ns, &out->lag);
}

static int cmp_loop_tid(const void *a, const void *b)
{
	const struct ap_loop *x = a, *y = b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int cmp_blocking_start(const void *a, const void *b)
{
	const struct ap_blocking *x = a, *y = b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static int read_loops(struct session *s, int threads_fd, uint64_t end_ns)
{
	uint32_t key, next, *prev = NULL;
	struct ap_thread t;
	struct ap_process *p;
	struct ap_loop *lp;
	size_t idx;
	int err;

	while (!bpf_map_get_next_key(threads_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(threads_fd, &key, &t) || !t.is_loop)
			continue;
		p = find_process(s, t.tgid, &idx);
		if (!p)
			continue;
		lp = AP_VEC_PUSH(p->loops);
		if (!lp)
			return -ENOMEM;
		lp->kind = s->loop_kinds.v[idx];
		err = loop_finish(s, key, &t, end_ns, lp);
		if (err)
			return err;
	}
	return 0;
}

/* Tasks still alive at the end: their figures are in the tasks map. */
static int read_tasks(struct session *s, int tasks_fd)
{
	uint64_t key, next, *prev = NULL;
	struct ap_task_stats st;
	struct ap_thread th;
	struct ap_process *p;
	struct ap_task *t;
	int err;

	while (!bpf_map_get_next_key(tasks_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(tasks_fd, &key, &st))
			continue;
		/* the tasks map is keyed by address only: its loop thread gives the pid */
		if (bpf_map_lookup_elem(s->threads_fd, &st.loop_tid, &th))
			continue;
		p = find_process(s, th.tgid, NULL);
		if (!p)
			continue;
		t = AP_VEC_PUSH(p->tasks);
		if (!t)
			return -ENOMEM;
		err = task_fill(s, th.tgid, key, &st, false, t);
		if (err)
			return err;
	}
	return 0;
}

static int read_callbacks(struct session *s, int cbs_fd)
{
	struct ap_cb_key key, next, *prev = NULL;
	struct ap_cb_stats cs;
	struct ap_callback *c;
	struct ap_process *p;

	while (!bpf_map_get_next_key(cbs_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(cbs_fd, &key, &cs))
			continue;
		p = find_process(s, key.tgid, NULL);
		if (!p)
			continue;
		c = AP_VEC_PUSH(p->callbacks);
		if (!c)
			return -ENOMEM;
		c->name = name_dup(s, key.tgid, AP_NAME_CALLBACK, key.id);
		c->count = cs.count;
		c->total_ns = cs.total_ns;
		c->max_ns = cs.max_ns;
	}
	return 0;
}

static int cmp_task_first_run(const void *a, const void *b)
{
	const struct ap_task *x = a, *y = b;

	return x->first_run_ns < y->first_run_ns ? -1 : x->first_run_ns > y->first_run_ns;
}

static int cmp_cb_total(const void *a, const void *b)
{
	const struct ap_callback *x = a, *y = b;

	return x->total_ns > y->total_ns ? -1 : x->total_ns < y->total_ns;
}

static int cmp_slow_start(const void *a, const void *b)
{
	const struct ap_slow_cb *x = a, *y = b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static void sort_process(struct ap_process *p)
{
	qsort(p->loops.v, p->loops.n, sizeof(*p->loops.v), cmp_loop_tid);
	qsort(p->blocking_calls.v, p->blocking_calls.n, sizeof(*p->blocking_calls.v),
	      cmp_blocking_start);
	qsort(p->tasks.v, p->tasks.n, sizeof(*p->tasks.v), cmp_task_first_run);
	qsort(p->callbacks.v, p->callbacks.n, sizeof(*p->callbacks.v), cmp_cb_total);
	qsort(p->slow_callbacks.v, p->slow_callbacks.n, sizeof(*p->slow_callbacks.v),
	      cmp_slow_start);
}

int session__finish(struct session *s, const struct session_maps *maps, uint64_t end_ns,
		    uint64_t drops_events, uint64_t drops_stacks, struct ap_report **out)
{
	int err;

	s->rep->end_ns = end_ns;
	s->rep->drops_events = drops_events;
	s->rep->drops_stacks = drops_stacks;
	s->threads_fd = maps->threads_fd;
	err = read_loops(s, maps->threads_fd, end_ns);
	if (!err && maps->tasks_fd >= 0)
		err = read_tasks(s, maps->tasks_fd);
	if (!err && maps->callbacks_fd >= 0)
		err = read_callbacks(s, maps->callbacks_fd);
	if (err)
		return err;
	for (size_t i = 0; i < s->rep->processes.n; i++)
		sort_process(&s->rep->processes.v[i]);
	if (s->bad_records)
		wlog("%llu malformed records ignored\n", (unsigned long long)s->bad_records);
	*out = s->rep;
	s->rep = NULL;
	return 0;
}
