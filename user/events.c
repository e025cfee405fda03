// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ring buffer's records, one handler a type. The records come from BPF
 * programs reading a live process: each handler checks what it uses, and
 * files the record into the report being built.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "session_int.h"
#include "lag.h"
#include "strutil.h"
#include "pystack.h"
#include "syscalls.h"

/* Where and when a record's interval was: its thread, start and length. */
#define REC_SPAN(dst, rec)                               \
	do {                                             \
		(dst)->tid = (rec)->hdr.tid;             \
		(dst)->start_ns = (rec)->start_ns;       \
		(dst)->duration_ns = (rec)->duration_ns; \
	} while (0)

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
	struct ap_process *p = sess_find_process(s, r->hdr.pid, &idx);
	unsigned long long args[3] = {r->args[0], r->args[1], r->args[2]};
	struct ap_blocking *b;
	int err;

	if (!p)
		return 0;
	/* a call in flight when tracing began: on a loop thread only (on_loop) */
	if (r->start_ns <= s->opts.start_ns && !sess_loop_find(s, r->hdr.pid, r->hdr.tid))
		return early_blocking_keep(s, r);
	b = r->gil ? gil_wait_growing(p, r) : NULL;
	if (b) {
		/* the same run of GIL waits, longer now */
		b->duration_ns = r->duration_ns;
		if (r->gil_holder && r->gil_holder != b->gil_holder) {
			b->gil_holder = r->gil_holder;
			free(b->gil_holder_comm);
			b->gil_holder_comm = strutil__thread_comm(r->hdr.pid, r->gil_holder);
		}
		return 0;
	}
	b = AP_VEC_PUSH(p->blocking_calls);
	if (!b)
		return -ENOMEM;
	REC_SPAN(b, r);
	b->began_before = r->began_before;
	b->gil_holder = r->gil ? r->gil_holder : 0;
	/* the holder's name now: by the report's end it may be gone */
	if (b->gil_holder)
		b->gil_holder_comm = strutil__thread_comm(r->hdr.pid, b->gil_holder);
	b->syscall = syscalls__name(r->syscall_nr);
	if (!b->syscall)
		b->syscall = "unknown";
	b->kind = r->gil ? "gil" : syscalls__kind(r->syscall_nr, r->fd_type, args);
	b->detail = blocking_detail(r);
	b->task = r->task;
	b->callback = sess_name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
	err = light_blocked(s, r);
	if (!err)
		err = natsym__resolve(s->natsyms.v[idx], (const uint64_t *)r->ustack,
				      r->nustack < AP_NATIVE_DEPTH ? r->nustack : AP_NATIVE_DEPTH,
				      &b->native_stack);
	if (!err)
		err = sess_stack_get(s, idx, r->stack_id, &b->stack);
	if (!err && s->light && !b->callback && !b->task)
		b->callback = pystack__handle_callback(&b->stack);
	return err;
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
	raw->ts_ns = r->ts_ns;
	raw->stack_id = r->stack_id;
	raw->task = r->task;
	raw->callback = r->callback;
	p = sess_find_process(s, r->hdr.pid, &idx);
	if (!p || !r->stack_id || (s->light && p->samples.n >= LIGHT_MAX_SAMPLES))
		return 0;
	smp = AP_VEC_PUSH(p->samples);
	if (!smp)
		return -ENOMEM;
	smp->tid = r->hdr.tid;
	smp->ts_ns = r->ts_ns;
	smp->task = r->task;
	smp->callback = sess_name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
	return sess_stack_get(s, idx, r->stack_id, &smp->stack);
}

/* The most frequent sampled stack of one callback run, 0 when none. */
/*
 * Is sample a of the callback run [start, start + dur) on tid? Taken in it
 * (the loop thread runs one callback at a time; under uvloop the sampler
 * may know it by an outer context's start), or marked with its start.
 */
static bool sample_in(const struct raw_sample *a, uint32_t pid, uint32_t tid, uint64_t start,
		      uint64_t dur)
{
	return a->pid == pid && a->tid == tid && a->stack_id &&
	       (a->cb_start_ns == start || (a->ts_ns > start && a->ts_ns - start <= dur));
}

static uint64_t slow_cb_stack(const struct session *s, uint32_t pid, uint32_t tid, uint64_t start,
			      uint64_t dur)
{
	uint64_t best = 0;
	size_t best_n = 0;

	for (size_t i = 0; i < s->samples.n; i++) {
		const struct raw_sample *a = &s->samples.v[i];
		size_t n = 0;

		if (!sample_in(a, pid, tid, start, dur))
			continue;
		for (size_t j = i; j < s->samples.n; j++) {
			const struct raw_sample *b = &s->samples.v[j];

			n += sample_in(b, pid, tid, start, dur) && b->stack_id == a->stack_id;
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
		if (sess_task_fill(s, r->hdr.pid, r->task, &r->st, true, t))
			return -ENOMEM;
		tasks_sift_down(p->tasks.v, p->tasks.n, 0);
		return 0;
	}
	t = AP_VEC_PUSH(p->tasks);
	if (!t)
		return -ENOMEM;
	if (sess_task_fill(s, r->hdr.pid, r->task, &r->st, true, t))
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
	struct ap_process *p = sess_find_process(s, r->hdr.pid, NULL);
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
	struct ap_process *p = sess_find_process(s, r->hdr.pid, NULL);
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
	REC_SPAN(c, r);
	c->task = r->task;
	c->callback = sess_name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, r->callback);
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
	struct ap_process *p = sess_find_process(s, r->hdr.pid, &idx);
	struct ap_slow_cb *c;

	if (!p)
		return 0;
	c = AP_VEC_PUSH(p->slow_callbacks);
	if (!c)
		return -ENOMEM;
	REC_SPAN(c, r);
	c->task = r->task;
	cb = r->callback;
	if (s->light && !r->task && !r->callback)
		slow_iteration_owner(s, r, &c->task, &cb);
	c->callback = sess_name_dup(s, r->hdr.pid, AP_NAME_CALLBACK, cb);
	c->blocked_ns = r->blocked_ns;
	/* mostly blocked: the longest blocking call first, else the samples first */
	blocked = 2 * c->blocked_ns >= c->duration_ns;
	err = blocked ? stack_of_longest_block(p, c) : 0;
	if (!err && !c->stack.n)
		err = sess_stack_get(
			s, idx,
			slow_cb_stack(s, r->hdr.pid, r->hdr.tid, r->start_ns, r->duration_ns),
			&c->stack);
	if (!err && !c->stack.n && !blocked)
		err = stack_of_longest_block(p, c);
	if (!err && s->light && !c->callback && !c->task)
		c->callback = pystack__handle_callback(&c->stack);
	return err;
}

static int on_loop(struct session *s, const void *data)
{
	const struct ap_rec_hdr *h = data;
	int err = 0;

	if (!sess_find_process(s, h->pid, NULL) && s->discover)
		s->discover(s->discover_ctx, (int)h->pid);
	if (!sess_loop_get(s, h->pid, h->tid))
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
	struct sess_loop *l = sess_loop_get(s, r->hdr.pid, r->hdr.tid);

	return l ? lag__add_busy(l->lag, r->start_ns, r->end_ns) : -ENOMEM;
}

static int on_iter(struct session *s, const void *data)
{
	const struct ap_rec_iter *r = data;
	struct ap_process *p = sess_find_process(s, r->hdr.pid, NULL);
	struct ap_iteration *it;

	if (!p)
		return 0;
	it = AP_VEC_PUSH(p->iterations);
	if (!it)
		return -ENOMEM;
	it->tid = r->hdr.tid;
	it->start_ns = r->start_ns;
	it->duration_ns = r->duration_ns;
	memcpy(it->cause_ns, r->cause_ns, sizeof(it->cause_ns));
	it->gil_holder = r->gil_holder;
	if (r->gil_holder)
		it->gil_holder_comm = strutil__thread_comm(r->hdr.pid, r->gil_holder);
	return 0;
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
	[AP_REC_ITER] = {sizeof(struct ap_rec_iter), on_iter},
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
