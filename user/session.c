// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Records and maps → report: per-loop lag, blocking calls, processes. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "asyncprof.h"
#include "lag.h"
#include "light.h"
#include "log.h"
#include "names.h"
#include "natsym.h"
#include "pystack.h"
#include "session.h"
#include "strutil.h"
#include "syscalls.h"

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
	uint64_t stack_id;
	uint64_t task; /* light mode: what the slow iteration ran */
	uint64_t callback;
};

struct session {
	struct session_opts opts;
	struct ap_report *rep;
	AP_VEC(struct sess_loop) loops;
	AP_VEC(const char *) loop_kinds; /* per process, same index as rep->processes */
	struct names *names;
	AP_VEC(struct pystack *) stackers; /* per process, NULL when not CPython */
	AP_VEC(struct natsym *) natsyms;   /* per process: native frames */
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

#define SESSION_MAX_CODES 4096
#define SNAPSHOT_EVENTS	  64 /* latest blocking calls and slow callbacks in a snapshot */

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
	free(s->samples.v);
	free(s->early_blocking.v);
	light__free(s->light);
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
	/* a vector of pointers: sizeof(*v) is a pointer's size on purpose */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	struct pystack **ps = AP_VEC_PUSH(s->stackers);

	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	struct natsym **ns = AP_VEC_PUSH(s->natsyms);
	char maps[64];

	if (!proc || !kind || !ps || !ns)
		return -ENOMEM;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", p->pid);
	*ns = natsym__new(maps);
	if (!*ns)
		return -ENOMEM;
	if (p->py_off) {
		*ps = pystack__new(p->pid, p->py_major, p->py_minor, p->py_off, SESSION_MAX_CODES);
		if (!*ps)
			return -ENOMEM;
	}
	proc->pid = p->pid;
	proc->comm = dup_or_null(p->comm);
	proc->exe = dup_or_null(p->exe);
	proc->runtime = p->runtime;
	proc->runtime_version = dup_or_null(p->runtime_version);
	proc->backend = p->backend;
	proc->steps_exact = !s->opts.light;
	*kind = p->loop_kind;
	return 0;
}

/* A copy of a cached name, NULL when unknown. */
static char *name_dup(struct session *s, uint32_t pid, uint32_t kind, uint64_t key)
{
	const char *n = key ? names__get(s->names, pid, kind, key) : NULL;

	return n ? strdup(n) : NULL;
}

static struct ap_process *find_in(struct ap_report *rep, uint32_t pid, size_t *idx)
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

static struct ap_process *find_process(struct session *s, uint32_t pid, size_t *idx)
{
	return find_in(s->rep, pid, idx);
}

static struct sess_loop *loop_find(const struct session *s, uint32_t pid, uint32_t tid)
{
	for (size_t i = 0; i < s->loops.n; i++)
		if (s->loops.v[i].tid == tid && s->loops.v[i].pid == pid)
			return &s->loops.v[i];
	return NULL;
}

static struct sess_loop *loop_get(struct session *s, uint32_t pid, uint32_t tid)
{
	struct sess_loop *l = loop_find(s, pid, tid);

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
static int stack_get(struct session *s, size_t proc_idx, uint64_t id, struct ap_stack *out)
{
	struct pystack *ps = s->stackers.v[proc_idx];
	struct ap_pystack st;

	if (!id || !ps || s->stacks_fd < 0 || bpf_map_lookup_elem(s->stacks_fd, &id, &st))
		return 0;
	return pystack__resolve(ps, &st, out);
}

/* The GIL wait r continues, if already recorded (same thread, same start). */
static struct ap_blocking *gil_wait_growing(struct ap_process *p, const struct ap_rec_blocking *r)
{
	for (size_t i = p->blocking_calls.n; i-- > 0;) {
		struct ap_blocking *b = &p->blocking_calls.v[i];

		if (b->tid != r->hdr.tid)
			continue;
		if (b->start_ns == r->start_ns && b->kind && !strcmp(b->kind, "gil"))
			return b;
		return NULL; /* another call on that thread came in between */
	}
	return NULL;
}

/* Light mode: a blocking call's time belongs to the task or callback it was made in. */
static int light_blocked(struct session *s, const struct ap_rec_blocking *r)
{
	struct light_sample ls = {r->hdr.pid, r->hdr.tid, r->start_ns, 0, r->task, r->callback};

	if (!s->light || (!r->task && !r->callback))
		return 0;
	return light__add_blocked(s->light, &ls, r->duration_ns);
}

#define SESSION_MAX_EARLY 64

static int early_blocking_keep(struct session *s, const struct ap_rec_blocking *r)
{
	struct ap_rec_blocking *e;

	if (s->early_blocking.n >= SESSION_MAX_EARLY)
		return 0; /* threads that are not loops, most likely: idle workers */
	e = AP_VEC_PUSH(s->early_blocking);
	if (!e)
		return -ENOMEM;
	*e = *r;
	return 0;
}

static int on_blocking(struct session *s, const void *rec)
{
	const struct ap_rec_blocking *r = rec;
	size_t idx;
	struct ap_process *p = find_process(s, r->hdr.pid, &idx);
	unsigned long long args[3] = {r->args[0], r->args[1], r->args[2]};
	struct ap_blocking *b;
	int err;

	if (!p)
		return 0;
	/* a call in flight when tracing began: on a loop thread only (on_loop) */
	if (r->start_ns <= s->opts.start_ns && !loop_find(s, r->hdr.pid, r->hdr.tid))
		return early_blocking_keep(s, r);
	b = r->gil ? gil_wait_growing(p, r) : NULL;
	if (b) {
		/* the same run of GIL waits, longer now */
		b->duration_ns = r->duration_ns;
		return 0;
	}
	b = AP_VEC_PUSH(p->blocking_calls);
	if (!b)
		return -ENOMEM;
	b->tid = r->hdr.tid;
	b->start_ns = r->start_ns;
	b->duration_ns = r->duration_ns;
	b->began_before = r->began_before;
	b->syscall = syscalls__name(r->syscall_nr);
	if (!b->syscall)
		b->syscall = "unknown";
	b->kind = r->gil ? "gil" : syscalls__kind(r->syscall_nr, r->fd_type, args);
	b->detail = blocking_detail(r);
	b->task = r->task;
	b->callback = name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
	err = light_blocked(s, r);
	if (!err)
		err = natsym__resolve(s->natsyms.v[idx], (const uint64_t *)r->ustack,
				      r->nustack < AP_NATIVE_DEPTH ? r->nustack : AP_NATIVE_DEPTH,
				      &b->native_stack);
	return err ? err : stack_get(s, idx, r->stack_id, &b->stack);
}

/*
 * Light mode samples every busy moment, not only long callbacks: the
 * samples kept for slow iterations are the recent ones (an iteration's
 * samples come just before its record), and the report keeps at most
 * LIGHT_MAX_SAMPLES stacks for the flame graph.
 */
#define LIGHT_RAW_KEEP	  4096
#define LIGHT_MAX_SAMPLES 50000

static int light_sample(struct session *s, const struct ap_rec_sample *r)
{
	struct light_sample ls = {r->hdr.pid,	  r->hdr.tid, r->ts_ns,
				  r->cb_start_ns, r->task,    r->callback};

	if (s->samples.n >= 2 * LIGHT_RAW_KEEP) {
		memmove(s->samples.v, s->samples.v + LIGHT_RAW_KEEP,
			(s->samples.n - LIGHT_RAW_KEEP) * sizeof(*s->samples.v));
		s->samples.n -= LIGHT_RAW_KEEP;
	}
	return light__add_sample(s->light, &ls);
}

static int on_sample(struct session *s, const void *rec)
{
	const struct ap_rec_sample *r = rec;
	struct raw_sample *raw;
	struct ap_process *p;
	struct ap_sample *smp;
	size_t idx;
	int err = s->light ? light_sample(s, r) : 0;

	if (err)
		return err;
	raw = AP_VEC_PUSH(s->samples);
	if (!raw)
		return -ENOMEM;
	raw->pid = r->hdr.pid;
	raw->tid = r->hdr.tid;
	raw->cb_start_ns = r->cb_start_ns;
	raw->stack_id = r->stack_id;
	raw->task = r->task;
	raw->callback = r->callback;
	p = find_process(s, r->hdr.pid, &idx);
	if (!p || !r->stack_id || (s->light && p->samples.n >= LIGHT_MAX_SAMPLES))
		return 0;
	smp = AP_VEC_PUSH(p->samples);
	if (!smp)
		return -ENOMEM;
	smp->tid = r->hdr.tid;
	smp->ts_ns = r->ts_ns;
	smp->task = r->task;
	smp->callback = name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
	return stack_get(s, idx, r->stack_id, &smp->stack);
}

/* The most frequent sampled stack of one callback run, 0 when none. */
static uint64_t slow_cb_stack(const struct session *s, uint32_t pid, uint32_t tid, uint64_t start)
{
	uint64_t best = 0;
	size_t best_n = 0;

	for (size_t i = 0; i < s->samples.n; i++) {
		const struct raw_sample *a = &s->samples.v[i];
		size_t n = 0;

		if (a->pid != pid || a->tid != tid || a->cb_start_ns != start || !a->stack_id)
			continue;
		for (size_t j = i; j < s->samples.n; j++) {
			const struct raw_sample *b = &s->samples.v[j];

			n += b->pid == pid && b->tid == tid && b->cb_start_ns == start &&
			     b->stack_id == a->stack_id;
		}
		if (n > best_n) {
			best_n = n;
			best = a->stack_id;
		}
	}
	return best;
}

/* Light mode: the task and callback sampled most in a slow iteration. */
static void slow_iteration_owner(const struct session *s, const struct ap_rec_slow_cb *r,
				 uint64_t *task, uint64_t *cb)
{
	size_t best_n = 0;

	for (size_t i = 0; i < s->samples.n; i++) {
		const struct raw_sample *a = &s->samples.v[i];
		size_t n = 0;

		if (a->pid != r->hdr.pid || a->tid != r->hdr.tid || a->cb_start_ns != r->start_ns ||
		    (!a->task && !a->callback))
			continue;
		for (size_t j = i; j < s->samples.n; j++) {
			const struct raw_sample *b = &s->samples.v[j];

			n += b->pid == a->pid && b->tid == a->tid &&
			     b->cb_start_ns == a->cb_start_ns && b->task == a->task &&
			     b->callback == a->callback;
		}
		if (n > best_n) {
			best_n = n;
			*task = a->task;
			*cb = a->callback;
		}
	}
}

static int on_name(struct session *s, const void *rec)
{
	const struct ap_rec_name *r = rec;
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
	/* full mode names the coroutine once per qualname (coro_id); light mode per task */
	t->coro = name_dup(s, pid, AP_NAME_TASK_CORO, addr);
	if (!t->coro)
		t->coro = name_dup(s, pid, AP_NAME_CALLBACK, st->coro_id);
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

/*
 * Finished tasks kept per process. A service may finish thousands a second
 * for days: past this many, only the busiest are kept (a min-heap on
 * busy_ns while tracing, sorted at the end) and the rest are counted.
 */
#define AP_FINISHED_TASKS_MAX 20000

static bool task_less(const struct ap_task *a, const struct ap_task *b)
{
	return a->busy_ns < b->busy_ns;
}

static void task_swap(struct ap_task *a, struct ap_task *b)
{
	struct ap_task t = *a;

	*a = *b;
	*b = t;
}

static void tasks_sift_up(struct ap_task *v, size_t i)
{
	while (i && task_less(&v[i], &v[(i - 1) / 2])) {
		task_swap(&v[i], &v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static void tasks_sift_down(struct ap_task *v, size_t n, size_t i)
{
	for (;;) {
		size_t m = i, l = 2 * i + 1, r = l + 1;

		if (l < n && task_less(&v[l], &v[m]))
			m = l;
		if (r < n && task_less(&v[r], &v[m]))
			m = r;
		if (m == i)
			return;
		task_swap(&v[i], &v[m]);
		i = m;
	}
}

/* Keep a finished task in p's bounded list, or count it as omitted. */
static int task_end_keep(struct session *s, struct ap_process *p, const struct ap_rec_task_end *r)
{
	struct ap_task *t;

	if (p->tasks.n >= AP_FINISHED_TASKS_MAX) {
		p->tasks_omitted++;
		if (r->st.busy_ns <= p->tasks.v[0].busy_ns)
			return 0;
		/* the least busy kept task makes room */
		t = &p->tasks.v[0];
		ap_task__free(t);
		if (task_fill(s, r->hdr.pid, r->task, &r->st, true, t))
			return -ENOMEM;
		tasks_sift_down(p->tasks.v, p->tasks.n, 0);
		return 0;
	}
	t = AP_VEC_PUSH(p->tasks);
	if (!t)
		return -ENOMEM;
	if (task_fill(s, r->hdr.pid, r->task, &r->st, true, t))
		return -ENOMEM;
	tasks_sift_up(p->tasks.v, p->tasks.n - 1);
	return 0;
}

/* A finished task's names are copied into its report entry (or not kept): drop them. */
static void task_names_forget(struct session *s, uint32_t pid, uint64_t addr)
{
	names__del(s->names, pid, AP_NAME_TASK, addr);
	names__del(s->names, pid, AP_NAME_TASK_CORO, addr);
	names__del(s->names, pid, AP_NAME_TASK_ERROR, addr);
}

static int on_task_end(struct session *s, const void *rec)
{
	const struct ap_rec_task_end *r = rec;
	struct ap_process *p = find_process(s, r->hdr.pid, NULL);
	int err;

	if (!p)
		return 0;
	err = task_end_keep(s, p, r);
	task_names_forget(s, r->hdr.pid, r->task);
	return err;
}

/*
 * Callback runs kept per process for the trace exports (about 70 bytes
 * each): a long trace of a busy loop would otherwise grow without bound.
 * Past it, only slow callbacks are kept; the others are counted.
 */
#define SESSION_MAX_SLICES 1000000

static int on_cb(struct session *s, const void *rec)
{
	const struct ap_rec_cb *r = rec;
	struct ap_process *p = find_process(s, r->hdr.pid, NULL);
	struct ap_slice *c;

	if (!p)
		return 0;
	if (p->slices.n >= SESSION_MAX_SLICES && r->duration_ns < s->rep->slow_callback_ns) {
		p->slices_omitted++;
		return 0;
	}
	c = AP_VEC_PUSH(p->slices);
	if (!c)
		return -ENOMEM;
	c->tid = r->hdr.tid;
	c->start_ns = r->start_ns;
	c->duration_ns = r->duration_ns;
	c->task = r->task;
	c->callback = name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
	return 0;
}

/*
 * The stack of the longest blocking call a callback made, if any: its stack
 * when it spent most of its time blocked (its few CPU samples then show
 * where it ran, not what held the loop) or has no CPU sample at all.
 */
static int stack_of_longest_block(const struct ap_process *p, struct ap_slow_cb *c)
{
	const struct ap_blocking *best = NULL;

	for (size_t i = 0; i < p->blocking_calls.n; i++) {
		const struct ap_blocking *b = &p->blocking_calls.v[i];

		if (b->tid != c->tid || b->start_ns < c->start_ns ||
		    b->start_ns >= c->start_ns + c->duration_ns || !b->stack.n)
			continue;
		if (!best || b->duration_ns > best->duration_ns)
			best = b;
	}
	return best ? ap_stack__copy(&c->stack, &best->stack) : 0;
}

static int on_slow_cb(struct session *s, const void *rec)
{
	const struct ap_rec_slow_cb *r = rec;
	uint64_t cb;
	size_t idx;
	bool blocked;
	int err;
	struct ap_process *p = find_process(s, r->hdr.pid, &idx);
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
	cb = r->callback;
	if (s->light && !r->task && !r->callback)
		slow_iteration_owner(s, r, &c->task, &cb);
	c->callback = name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, cb);
	c->blocked_ns = r->blocked_ns;
	/* mostly blocked: the longest blocking call first, else the samples first */
	blocked = 2 * c->blocked_ns >= c->duration_ns;
	err = blocked ? stack_of_longest_block(p, c) : 0;
	if (!err && !c->stack.n)
		err = stack_get(s, idx, slow_cb_stack(s, r->hdr.pid, r->hdr.tid, r->start_ns),
				&c->stack);
	if (!err && !c->stack.n && !blocked)
		err = stack_of_longest_block(p, c);
	return err;
}

static int on_loop(struct session *s, const void *data)
{
	const struct ap_rec_hdr *h = data;
	int err = 0;

	if (!find_process(s, h->pid, NULL) && s->discover)
		s->discover(s->discover_ctx, (int)h->pid);
	if (!loop_get(s, h->pid, h->tid))
		return -ENOMEM;
	/* the thread's call in flight when tracing began, now known to be a loop's */
	for (size_t i = 0; i < s->early_blocking.n && !err; i++) {
		const struct ap_rec_blocking *r = &s->early_blocking.v[i];

		if (r->hdr.pid == h->pid && r->hdr.tid == h->tid)
			err = on_blocking(s, r);
	}
	return err;
}

static int on_busy(struct session *s, const void *data)
{
	const struct ap_rec_busy *r = data;
	struct sess_loop *l = loop_get(s, r->hdr.pid, r->hdr.tid);

	return l ? lag__add_busy(l->lag, r->start_ns, r->end_ns) : -ENOMEM;
}

/* Every record type: its least size and its handler. */
static const struct {
	size_t size;
	int (*fn)(struct session *s, const void *rec);
} handlers[] = {
	[AP_REC_BUSY] = {sizeof(struct ap_rec_busy), on_busy},
	[AP_REC_BLOCKING] = {sizeof(struct ap_rec_blocking), on_blocking},
	[AP_REC_SLOW_CB] = {sizeof(struct ap_rec_slow_cb), on_slow_cb},
	[AP_REC_NAME] = {sizeof(struct ap_rec_name), on_name},
	[AP_REC_LOOP] = {sizeof(struct ap_rec_loop), on_loop},
	[AP_REC_TASK_END] = {sizeof(struct ap_rec_task_end), on_task_end},
	[AP_REC_CB] = {sizeof(struct ap_rec_cb), on_cb},
	[AP_REC_SAMPLE] = {sizeof(struct ap_rec_sample), on_sample},
};

int session__handle_event(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;
	const struct ap_rec_hdr *h = data;

	s->events++;
	if (size < sizeof(*h) || h->size > size ||
	    h->type >= sizeof(handlers) / sizeof(*handlers) || !handlers[h->type].fn ||
	    size < handlers[h->type].size) {
		s->bad_records++;
		return 0;
	}
	return handlers[h->type].fn(s, data);
}

/* Close the loop's open interval at end_ns and fill its report entry. */
static int loop_finish(struct session *s, uint32_t tid, const struct ap_thread *t, uint64_t end_ns,
		       struct ap_loop *out)
{
	struct sess_loop *l = loop_get(s, t->tgid, tid);
	uint64_t b, busy = t->busy_ns, idle = t->idle_ns, maxb = t->max_busy_ns;
	int err;

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
	out->gil_wait_ns = t->gil_wait_ns;
	out->preempted_ns = t->preempted_ns;
	out->first_ns = t->first_ns;
	err = lag__finish(l->lag, t->first_ns, end_ns, &out->lag);
	if (!err)
		err = lag__series(l->lag, t->first_ns, end_ns, &out->lag_series.v,
				  &out->lag_series.n);
	out->lag_series.cap = out->lag_series.n;
	return err;
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

/* Loops from the threads map into rep (the session's report or a snapshot). */
static int read_loops(struct session *s, int threads_fd, uint64_t end_ns, struct ap_report *rep)
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
		p = find_in(rep, t.tgid, &idx);
		if (!p)
			continue;
		lp = AP_VEC_PUSH(p->loops);
		if (!lp)
			return -ENOMEM;
		lp->kind = s->loop_kinds.v[idx];
		err = loop_finish(s, key, &t, end_ns, lp);
		if (err)
			return err;
		if (!s->stackers.v[idx])
			lp->gil_wait_ns = AP_NULL_U64; /* not a CPython process */
		if (s->light)
			lp->callbacks = AP_NULL_U64; /* not counted without the uprobes */
	}
	return 0;
}

/* Tasks still alive at the end: their figures are in the tasks map. */
static int read_tasks(struct session *s, int tasks_fd, struct ap_report *rep)
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
		p = find_in(rep, th.tgid, NULL);
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

static int read_callbacks(struct session *s, int cbs_fd, struct ap_report *rep)
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
		p = find_in(rep, key.tgid, NULL);
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

static int cmp_slice_start(const void *a, const void *b)
{
	const struct ap_slice *x = a, *y = b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* qsort of a vector that may be empty (v NULL): qsort's base must not be NULL. */
static void vec_sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

static void sort_process(struct ap_process *p)
{
	vec_sort(p->slices.v, p->slices.n, sizeof(*p->slices.v), cmp_slice_start);
	vec_sort(p->loops.v, p->loops.n, sizeof(*p->loops.v), cmp_loop_tid);
	vec_sort(p->blocking_calls.v, p->blocking_calls.n, sizeof(*p->blocking_calls.v),
		 cmp_blocking_start);
	vec_sort(p->tasks.v, p->tasks.n, sizeof(*p->tasks.v), cmp_task_first_run);
	vec_sort(p->callbacks.v, p->callbacks.n, sizeof(*p->callbacks.v), cmp_cb_total);
	vec_sort(p->slow_callbacks.v, p->slow_callbacks.n, sizeof(*p->slow_callbacks.v),
		 cmp_slow_start);
}

/* Everything the maps hold, into rep. */
static int read_maps(struct session *s, const struct session_maps *maps, uint64_t end_ns,
		     struct ap_report *rep)
{
	int err;

	s->threads_fd = maps->threads_fd;
	err = read_loops(s, maps->threads_fd, end_ns, rep);
	if (!err && maps->tasks_fd >= 0)
		err = read_tasks(s, maps->tasks_fd, rep);
	if (!err && maps->callbacks_fd >= 0)
		err = read_callbacks(s, maps->callbacks_fd, rep);
	rep->drops_callbacks = light__cbs_dropped(s->light);
	for (size_t i = 0; s->light && !err && i < rep->processes.n; i++)
		err = light__fill(s->light, s->names, s->opts.sample_period_ns,
				  &rep->processes.v[i]);
	if (err)
		return err;
	for (size_t i = 0; i < rep->processes.n; i++)
		sort_process(&rep->processes.v[i]);
	return 0;
}

int session__finish(struct session *s, const struct session_maps *maps, uint64_t end_ns,
		    uint64_t drops_events, uint64_t drops_stacks, struct ap_report **out)
{
	int err;

	s->rep->end_ns = end_ns;
	s->rep->drops_events = drops_events;
	s->rep->drops_stacks = drops_stacks;
	err = read_maps(s, maps, end_ns, s->rep);
	if (err)
		return err;
	if (s->bad_records)
		wlog("%llu malformed records ignored\n", (unsigned long long)s->bad_records);
	*out = s->rep;
	s->rep = NULL;
	return 0;
}

/* Copy the last n entries of a vector with copy_fn; 0 or -ENOMEM. */
#define COPY_TAIL(dst, src, max, copy_fn)                                    \
	({                                                                   \
		size_t __from = (src).n > (max) ? (src).n - (max) : 0;       \
		int __err = 0;                                               \
		for (size_t __i = __from; __i < (src).n && !__err; __i++) {  \
			__typeof__((dst).v) __d = AP_VEC_PUSH(dst);          \
			__err = __d ? copy_fn(__d, &(src).v[__i]) : -ENOMEM; \
		}                                                            \
		__err;                                                       \
	})

/* A process of the session, without its loops and live figures. */
static int process_copy(struct ap_process *d, const struct ap_process *p)
{
	int err = 0;

	d->pid = p->pid;
	d->comm = dup_or_null(p->comm);
	d->exe = dup_or_null(p->exe);
	d->runtime = p->runtime;
	d->runtime_version = dup_or_null(p->runtime_version);
	d->backend = p->backend;
	d->steps_exact = p->steps_exact;
	for (size_t i = 0; i < p->tasks.n && !err; i++) {
		struct ap_task *t = AP_VEC_PUSH(d->tasks);

		err = t ? ap_task__copy(t, &p->tasks.v[i]) : -ENOMEM;
	}
	if (!err)
		err = COPY_TAIL(d->blocking_calls, p->blocking_calls, SNAPSHOT_EVENTS,
				ap_blocking__copy);
	if (!err)
		err = COPY_TAIL(d->slow_callbacks, p->slow_callbacks, SNAPSHOT_EVENTS,
				ap_slow_cb__copy);
	return err;
}

static int add_blocking_sum(struct ap_process *d, const struct ap_blocking *b)
{
	struct ap_blocking_sum *sum = NULL;

	for (size_t i = 0; i < d->blocking_sums.n && !sum; i++) {
		struct ap_blocking_sum *x = &d->blocking_sums.v[i];

		if (x->tid == b->tid && x->kind == b->kind && x->syscall == b->syscall)
			sum = x;
	}
	if (!sum) {
		sum = AP_VEC_PUSH(d->blocking_sums);
		if (!sum)
			return -ENOMEM;
		*sum = (struct ap_blocking_sum){b->tid, b->kind, b->syscall, 0, 0};
	}
	sum->count++;
	sum->total_ns += b->duration_ns;
	return 0;
}

/* Totals over everything the session saw of p, into its snapshot d. */
static int sum_process(const struct ap_process *p, struct ap_process *d)
{
	int err = 0;

	for (size_t i = 0; i < p->blocking_calls.n && !err; i++)
		err = add_blocking_sum(d, &p->blocking_calls.v[i]);
	for (size_t i = 0; i < p->slow_callbacks.n; i++)
		for (size_t j = 0; j < d->loops.n; j++)
			d->loops.v[j].slow_callbacks +=
				d->loops.v[j].tid == p->slow_callbacks.v[i].tid;
	return err;
}

int session__snapshot(struct session *s, const struct session_maps *maps, uint64_t now_ns,
		      uint64_t drops_events, struct ap_report **out)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	int err = 0;

	if (!r)
		return -ENOMEM;
	*r = (struct ap_report){
		.tool_version = s->rep->tool_version,
		.start_ns = s->rep->start_ns,
		.end_ns = now_ns,
		.slow_callback_ns = s->rep->slow_callback_ns,
		.blocking_ns = s->rep->blocking_ns,
		.lag_interval_ns = s->rep->lag_interval_ns,
		.drops_events = drops_events,
		.host = s->rep->host,
		.sample_period_ns = s->rep->sample_period_ns,
		.mode = s->rep->mode,
	};
	for (size_t i = 0; i < s->rep->processes.n && !err; i++) {
		const struct ap_process *p = &s->rep->processes.v[i];
		struct ap_process *d;

		/* processes that exited leave the view (the final report keeps them) */
		if (kill((pid_t)p->pid, 0) && errno == ESRCH)
			continue;
		d = AP_VEC_PUSH(r->processes);
		err = d ? process_copy(d, p) : -ENOMEM;
	}
	if (!err)
		err = read_maps(s, maps, now_ns, r);
	for (size_t i = 0; i < r->processes.n && !err; i++)
		err = sum_process(find_in(s->rep, r->processes.v[i].pid, NULL), &r->processes.v[i]);
	if (err) {
		ap_report__free(r);
		return err;
	}
	*out = r;
	return 0;
}
