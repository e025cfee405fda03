// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The BPF maps into the report: loops, live tasks, callbacks; sorting; the finish. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "session_int.h"
#include "awaits.h"
#include "causes.h"
#include "lints.h"
#include "lag.h"
#include "log.h"

_Static_assert(AP_NCAUSES == AP_CAUSE_N, "model.h's causes are enum ap_cause");

/* Close the loop's open interval at end_ns and fill its report entry. */
static int loop_finish(struct session *s, uint32_t tid, const struct ap_thread *t, uint64_t end_ns,
		       bool runq_unknown, struct ap_loop *out)
{
	struct sess_loop *l = sess_loop_get(s, t->tgid, tid);
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
	memcpy(out->busy_causes, t->busy_cause, sizeof(out->busy_causes));
	out->slow_iterations = t->slow_iters;
	memcpy(out->slow_causes, t->slow_cause, sizeof(out->slow_causes));
	if (runq_unknown)
		out->busy_causes[AP_CAUSE_RUNQ] = out->slow_causes[AP_CAUSE_RUNQ] = AP_NULL_U64;
	err = lag__finish(l->lag, t->first_ns, end_ns, &out->lag);
	if (!err)
		err = lag__series(l->lag, t->first_ns, end_ns, &out->lag_series.v,
				  &out->lag_series.n);
	out->lag_series.cap = out->lag_series.n;
	return err;
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
		p = sess_find_in(rep, t.tgid, &idx);
		if (!p)
			continue;
		lp = AP_VEC_PUSH(p->loops);
		if (!lp)
			return -ENOMEM;
		lp->kind = s->loop_kinds.v[idx];
		err = loop_finish(s, key, &t, end_ns, rep->runq_unknown, lp);
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
		p = sess_find_in(rep, th.tgid, NULL);
		if (!p)
			continue;
		t = AP_VEC_PUSH(p->tasks);
		if (!t)
			return -ENOMEM;
		err = sess_task_fill(s, th.tgid, key, &st, false, t);
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
		p = sess_find_in(rep, key.tgid, NULL);
		if (!p)
			continue;
		c = AP_VEC_PUSH(p->callbacks);
		if (!c)
			return -ENOMEM;
		c->name = sess_name_dup(s, key.tgid, AP_NAME_CALLBACK, key.id);
		c->count = cs.count;
		c->total_ns = cs.total_ns;
		c->max_ns = cs.max_ns;
	}
	return 0;
}

/* A qsort comparator of T by field: dir 1 ascending, -1 descending. */
#define CMP_BY(name, T, field, dir)                                             \
	static int name(const void *a, const void *b)                           \
	{                                                                       \
		const T *x = a, *y = b;                                         \
		return (dir) * ((x->field > y->field) - (x->field < y->field)); \
	}

CMP_BY(cmp_loop_tid, struct ap_loop, tid, 1)
CMP_BY(cmp_blocking_start, struct ap_blocking, start_ns, 1)
CMP_BY(cmp_task_first_run, struct ap_task, first_run_ns, 1)
CMP_BY(cmp_cb_total_desc, struct ap_callback, total_ns, -1)
CMP_BY(cmp_slow_start, struct ap_slow_cb, start_ns, 1)
CMP_BY(cmp_iter_start, struct ap_iteration, start_ns, 1)
CMP_BY(cmp_slice_start, struct ap_slice, start_ns, 1)

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
	vec_sort(p->callbacks.v, p->callbacks.n, sizeof(*p->callbacks.v), cmp_cb_total_desc);
	vec_sort(p->slow_callbacks.v, p->slow_callbacks.n, sizeof(*p->slow_callbacks.v),
		 cmp_slow_start);
	vec_sort(p->iterations.v, p->iterations.n, sizeof(*p->iterations.v), cmp_iter_start);
}

int sess_read_maps(struct session *s, const struct session_maps *maps, uint64_t end_ns,
		   struct ap_report *rep)
{
	size_t idx;
	int err;

	s->threads_fd = maps->threads_fd;
	rep->runq_unknown = maps->runq_unknown;
	for (size_t i = 0; rep->runq_unknown && i < rep->processes.n; i++)
		for (size_t j = 0; j < rep->processes.v[i].iterations.n; j++)
			rep->processes.v[i].iterations.v[j].cause_ns[AP_CAUSE_RUNQ] = AP_NULL_U64;
	err = read_loops(s, maps->threads_fd, end_ns, rep);
	if (!err && maps->tasks_fd >= 0)
		err = read_tasks(s, maps->tasks_fd, rep);
	if (!err && maps->callbacks_fd >= 0)
		err = read_callbacks(s, maps->callbacks_fd, rep);
	rep->drops_callbacks = light__cbs_dropped(s->light);
	for (size_t i = 0; s->light && !err && i < rep->processes.n; i++)
		err = light__fill(s->light, s->names, s->opts.sample_period_ns,
				  &rep->processes.v[i]);
	if (!err)
		err = sess_read_inflight(s, maps->threads_fd, end_ns, rep);
	if (err)
		return err;
	for (size_t i = 0; i < rep->processes.n && !err; i++) {
		struct ap_process *p = &rep->processes.v[i];

		sort_process(p);
		err = causes__attribute(p);
		/* the await graph is read from the target, alive or not any more */
		if (!err && sess_find_process(s, p->pid, &idx) && s->stackers.v[idx])
			err = awaits__read(s->stackers.v[idx], p);
		if (!err)
			err = lints__find(rep, p, end_ns);
	}
	return err;
}

int session__finish(struct session *s, const struct session_maps *maps, uint64_t end_ns,
		    const struct session_drops *drops, struct ap_report **out)
{
	static const struct session_drops none;
	const struct session_drops *d = drops ? drops : &none;
	int err;

	s->rep->end_ns = end_ns;
	s->rep->drops_events = d->events;
	s->rep->drops_stacks = d->stacks;
	s->rep->drops_tasks = d->tasks;
	s->rep->drops_threads = d->threads;
	s->rep->callback_ends = d->callback_ends;
	err = sess_read_maps(s, maps, end_ns, s->rep);
	if (err)
		return err;
	/* read_maps counted light mode's own table (light.c); BPF's map adds its losses */
	s->rep->drops_callbacks += d->callbacks;
	if (s->bad_records)
		wlog("%llu malformed records ignored\n", (unsigned long long)s->bad_records);
	*out = s->rep;
	s->rep = NULL;
	return 0;
}
