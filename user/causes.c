// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Who made the loop late: the callback behind each cause of slow iterations. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "causes.h"

/* Distinct (cause, callback) pairs tallied per loop: names past it are not culprits. */
#define TALLY_MAX 1024

struct tally_row {
	int cause;
	const char *callback; /* borrowed from the process's calls and callbacks */
	uint32_t holder;      /* GIL waits: the thread a wake said held it, else 0 */
	const char *holder_comm;
	uint64_t task; /* 0 once two tasks ran the same callback */
	uint64_t ns;
};

struct tally {
	AP_VEC(struct tally_row) rows;
};

int causes__of_kind(const char *kind)
{
	for (int i = 0; kind && i < AP_NCAUSES; i++)
		if (!strcmp(kind, ap_cause_names[i]))
			return i;
	return -1;
}

static int tally_add(struct tally *t, int cause, const char *cb, uint32_t holder,
		     const char *holder_comm, uint64_t task, uint64_t ns)
{
	struct tally_row *r;

	if (cause < 0 || !cb || !ns)
		return 0;
	for (size_t i = 0; i < t->rows.n; i++) {
		r = &t->rows.v[i];
		if (r->cause == cause && !strcmp(r->callback, cb)) {
			r->ns += ns;
			if (r->task != task)
				r->task = 0;
			/* a wait that timed out knows no holder: the one a wake told holds */
			if (!r->holder && holder) {
				r->holder = holder;
				r->holder_comm = holder_comm;
			}
			return 0;
		}
	}
	if (t->rows.n >= TALLY_MAX)
		return 0;
	r = AP_VEC_PUSH(t->rows);
	if (!r)
		return -ENOMEM;
	*r = (struct tally_row){cause, cb, holder, holder_comm, task, ns};
	return 0;
}

/* Each cause's row with the most time, into out (names copied). */
static int tally_best(const struct tally *t, struct ap_culprit out[AP_NCAUSES])
{
	const struct tally_row *best[AP_NCAUSES] = {0};

	for (size_t i = 0; i < t->rows.n; i++) {
		const struct tally_row *r = &t->rows.v[i];

		if (!best[r->cause] || r->ns > best[r->cause]->ns)
			best[r->cause] = r;
	}
	for (int c = 0; c < AP_NCAUSES; c++) {
		if (!best[c])
			continue;
		out[c].callback = strdup(best[c]->callback);
		if (!out[c].callback)
			return -ENOMEM;
		out[c].task = best[c]->task;
		out[c].ns = best[c]->ns;
		out[c].holder = best[c]->holder;
		if (best[c]->holder_comm) {
			out[c].holder_comm = strdup(best[c]->holder_comm);
			if (!out[c].holder_comm)
				return -ENOMEM;
		}
	}
	return 0;
}

static uint64_t overlap(uint64_t s0, uint64_t e0, uint64_t s1, uint64_t e1)
{
	uint64_t s = s0 > s1 ? s0 : s1, e = e0 < e1 ? e0 : e1;

	return e > s ? e - s : 0;
}

/* First index of a vector sorted by start_ns whose start_ns is >= t. */
#define LOWER_BOUND(vec, t)                                    \
	({                                                     \
		size_t __lo = 0, __hi = (vec).n;               \
		while (__lo < __hi) {                          \
			size_t __m = __lo + (__hi - __lo) / 2; \
			if ((vec).v[__m].start_ns < (t))       \
				__lo = __m + 1;                \
			else                                   \
				__hi = __m;                    \
		}                                              \
		__lo;                                          \
	})

/*
 * A call's or callback's wall time holds its waits for the CPU, which BPF
 * counted as run queue: no culprit gets more of a cause than the iteration
 * had of it (when BPF split it: an iteration whose causes are all 0 was not).
 */
static void iteration_clamp(const struct ap_iteration *it, struct tally *t)
{
	uint64_t sum = 0;

	for (int c = 0; c < AP_NCAUSES; c++)
		sum += it->cause_ns[c] == AP_NULL_U64 ? 0 : it->cause_ns[c];
	for (size_t i = 0; sum && i < t->rows.n; i++) {
		struct tally_row *r = &t->rows.v[i];

		if (r->ns > it->cause_ns[r->cause])
			r->ns = it->cause_ns[r->cause];
	}
}

/*
 * What ran in the iteration: its blocking calls (by kind, the GIL's too)
 * and the slow callbacks' time outside them (running). Both begin inside
 * the iteration, or at the window's start for one that began before it.
 */
static int iteration_tally(const struct ap_process *p, const struct ap_iteration *it,
			   struct tally *t)
{
	uint64_t s = it->start_ns, e = s + it->duration_ns, ns;
	int err = 0;

	for (size_t i = LOWER_BOUND(p->blocking_calls, s);
	     i < p->blocking_calls.n && p->blocking_calls.v[i].start_ns < e && !err; i++) {
		const struct ap_blocking *b = &p->blocking_calls.v[i];

		if (b->tid == it->tid)
			err = tally_add(t, causes__of_kind(b->kind), b->callback, b->gil_holder,
					b->gil_holder_comm, b->task,
					overlap(b->start_ns, b->start_ns + b->duration_ns, s, e));
	}
	for (size_t i = LOWER_BOUND(p->slow_callbacks, s);
	     i < p->slow_callbacks.n && p->slow_callbacks.v[i].start_ns < e && !err; i++) {
		const struct ap_slow_cb *c = &p->slow_callbacks.v[i];

		if (c->tid != it->tid)
			continue;
		ns = overlap(c->start_ns, c->start_ns + c->duration_ns, s, e);
		err = tally_add(t, AP_CAUSE_RUNNING, c->callback, 0, NULL, c->task,
				ns > c->blocked_ns ? ns - c->blocked_ns : 0);
	}
	iteration_clamp(it, t);
	return err;
}

/*
 * GIL waits that named no holder (slices that timed out) held by the one
 * BPF saw named in the iteration: a short last wait, unreported, may be
 * the one a wake ended.
 */
static void iteration_holder(const struct ap_iteration *it, struct tally *t)
{
	for (size_t i = 0; it->gil_holder && i < t->rows.n; i++) {
		struct tally_row *r = &t->rows.v[i];

		if (r->cause == AP_CAUSE_GIL && !r->holder) {
			r->holder = it->gil_holder;
			r->holder_comm = it->gil_holder_comm;
		}
	}
}

/* Add one iteration's rows to its loop's tally. */
static int tally_merge(struct tally *into, const struct tally *from)
{
	int err = 0;

	for (size_t i = 0; i < from->rows.n && !err; i++) {
		const struct tally_row *r = &from->rows.v[i];

		err = tally_add(into, r->cause, r->callback, r->holder, r->holder_comm, r->task,
				r->ns);
	}
	return err;
}

int causes__attribute(struct ap_process *p)
{
	struct tally *loops = calloc(p->loops.n + 1, sizeof(*loops));
	int err = 0;

	if (!loops)
		return -ENOMEM;
	for (size_t i = 0; i < p->iterations.n && !err; i++) {
		struct ap_iteration *it = &p->iterations.v[i];
		struct tally t = {0};
		size_t l = 0;

		while (l < p->loops.n && p->loops.v[l].tid != it->tid)
			l++;
		ap_culprits__free(it->culprits);
		err = iteration_tally(p, it, &t);
		if (!err)
			iteration_holder(it, &t);
		if (!err)
			err = tally_best(&t, it->culprits);
		if (!err && l < p->loops.n)
			err = tally_merge(&loops[l], &t);
		free(t.rows.v);
	}
	for (size_t l = 0; l < p->loops.n; l++) {
		ap_culprits__free(p->loops.v[l].slow_culprits);
		if (!err)
			err = tally_best(&loops[l], p->loops.v[l].slow_culprits);
		free(loops[l].rows.v);
	}
	free(loops);
	return err;
}
