// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Light mode: backend choice per process, and tasks and callbacks from CPU samples. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "light.h"
#include "names.h"

#define LIGHT_MAX_ENTS 65536 /* tasks (and callbacks) kept; later ones are not counted */

/* What the samples say about one task, or one callback identity. */
struct light_ent {
	uint32_t pid;
	uint32_t tid;
	uint64_t task; /* 0 in the callbacks table */
	uint64_t cb;
	uint64_t samples;
	uint64_t blocked_ns;
	uint64_t first_ns;
	uint64_t last_ns;
	uint64_t steps;	       /* distinct busy intervals seen in */
	uint64_t last_busy_ns; /* the busy interval of the last sample */
	uint64_t cur_samples;  /* samples in that interval */
	uint64_t max_samples;  /* most samples in one interval */
};

/* Tasks of one process left out of the full table. */
struct light_omitted {
	uint32_t pid;
	uint64_t count;
	uint64_t last_task; /* dedupes consecutive samples once the set is full */
};

/*
 * Entries in arrival order, found through an open-addressing index of
 * their positions plus one (0 is empty): every sample looks its task and
 * its callback up, and a table of tens of thousands of tasks was a linear
 * scan per sample.
 */
struct light_table {
	AP_VEC(struct light_ent) e;
	uint32_t *idx;
	size_t idx_cap; /* slots, a power of two, at most half used */
};

struct light {
	size_t max_ents; /* LIGHT_MAX_ENTS; smaller in the unit tests */
	struct light_table tasks;
	struct light_table cbs;
	uint64_t cbs_dropped; /* samples and blocked calls of callbacks the full table lost */
	AP_VEC(struct light_omitted) omitted;
	/*
	 * Tasks first seen once the table is full go to processes[].tasks_omitted,
	 * each once: a set of (pid, task) hashes, open addressing, 0 is empty. It
	 * stops growing at 4 x max_ents (a 4 MB table for the default cap); past that a
	 * task counts again each time it follows another omitted task of its
	 * process: an upper estimate, in bounded memory.
	 */
	uint64_t *seen;
	size_t seen_cap; /* slots, a power of two, at most half used */
	size_t seen_n;
	size_t seen_max;
};

struct light *light__new_cap(size_t max_ents)
{
	struct light *l = calloc(1, sizeof(*l));

	if (l) {
		l->max_ents = max_ents;
		l->seen_max = 4 * max_ents;
	}
	return l;
}

struct light *light__new(void)
{
	return light__new_cap(LIGHT_MAX_ENTS);
}

void light__free(struct light *l)
{
	if (!l)
		return;
	free(l->tasks.e.v);
	free(l->tasks.idx);
	free(l->cbs.e.v);
	free(l->cbs.idx);
	free(l->omitted.v);
	free(l->seen);
	free(l);
}

/* A non-zero 64-bit mix of (pid, task) (splitmix64's finaliser). */
static uint64_t omit_hash(uint32_t pid, uint64_t task)
{
	uint64_t x = task ^ ((uint64_t)pid << 47 | (uint64_t)pid >> 17);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x ? x : 1;
}

static int seen_grow(struct light *l)
{
	size_t cap = l->seen_cap ? 2 * l->seen_cap : 1024;
	uint64_t *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < l->seen_cap; i++) {
		size_t j = l->seen[i] & (cap - 1);

		if (!l->seen[i])
			continue;
		while (v[j])
			j = (j + 1) & (cap - 1);
		v[j] = l->seen[i];
	}
	free(l->seen);
	l->seen = v;
	l->seen_cap = cap;
	return 0;
}

/* 1 when h was added to the set, 0 when it was there, -ENOSPC when the set is full. */
static int seen_add(struct light *l, uint64_t h)
{
	size_t j;

	if (2 * (l->seen_n + 1) > l->seen_cap) {
		if (l->seen_n >= l->seen_max)
			goto probe_only;
		if (seen_grow(l))
			return -ENOMEM;
	}
	for (j = h & (l->seen_cap - 1); l->seen[j]; j = (j + 1) & (l->seen_cap - 1))
		if (l->seen[j] == h)
			return 0;
	l->seen[j] = h;
	l->seen_n++;
	return 1;
probe_only:
	for (j = h & (l->seen_cap - 1); l->seen[j]; j = (j + 1) & (l->seen_cap - 1))
		if (l->seen[j] == h)
			return 0;
	return -ENOSPC;
}

/* Task of s seen while the table was full: counted once for its process. */
static int omit_task(struct light *l, const struct light_sample *s)
{
	struct light_omitted *o = NULL;
	int added;

	for (size_t i = 0; i < l->omitted.n && !o; i++)
		if (l->omitted.v[i].pid == s->pid)
			o = &l->omitted.v[i];
	if (!o) {
		o = AP_VEC_PUSH(l->omitted);
		if (!o)
			return -ENOMEM;
		o->pid = s->pid;
	}
	added = seen_add(l, omit_hash(s->pid, s->task));
	if (added == -ENOMEM)
		return added;
	if (added == 1 || (added == -ENOSPC && s->task != o->last_task))
		o->count++;
	o->last_task = s->task;
	return 0;
}

static uint64_t ent_hash(uint32_t pid, uint64_t task, uint64_t cb)
{
	return omit_hash(pid, task ^ (cb * 0x9e3779b97f4a7c15ull));
}

static int table_grow(struct light_table *t)
{
	size_t cap = t->idx_cap ? 2 * t->idx_cap : 1024;
	uint32_t *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->e.n; i++) {
		const struct light_ent *e = &t->e.v[i];
		size_t j = ent_hash(e->pid, e->task, e->cb) & (cap - 1);

		while (v[j])
			j = (j + 1) & (cap - 1);
		v[j] = (uint32_t)(i + 1);
	}
	free(t->idx);
	t->idx = v;
	t->idx_cap = cap;
	return 0;
}

/*
 * The entry (pid, task, cb) of t, made when missing; *err is -ENOSPC when
 * t already holds max entries, -ENOMEM when out of memory.
 */
static struct light_ent *ent_get(struct light_table *t, size_t max, const struct light_sample *s,
				 uint64_t task, uint64_t cb, int *err)
{
	uint64_t h = ent_hash(s->pid, task, cb);
	struct light_ent *e;
	size_t j;

	*err = 0;
	for (j = h & (t->idx_cap - 1); t->idx_cap && t->idx[j]; j = (j + 1) & (t->idx_cap - 1)) {
		e = &t->e.v[t->idx[j] - 1];
		if (e->pid == s->pid && e->task == task && e->cb == cb)
			return e;
	}
	if (t->e.n >= max) {
		*err = -ENOSPC;
		return NULL;
	}
	if (2 * (t->e.n + 1) > t->idx_cap) {
		if ((*err = table_grow(t)))
			return NULL;
		for (j = h & (t->idx_cap - 1); t->idx[j]; j = (j + 1) & (t->idx_cap - 1))
			;
	}
	e = AP_VEC_PUSH(t->e);
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	t->idx[j] = (uint32_t)t->e.n;
	e->pid = s->pid;
	e->tid = s->tid;
	e->task = task;
	e->cb = cb;
	e->first_ns = s->ts_ns;
	return e;
}

static void ent_sampled(struct light_ent *e, const struct light_sample *s, uint64_t dur)
{
	(void)dur;
	e->samples++;
	if (!e->steps || s->busy_start_ns != e->last_busy_ns) {
		e->steps++;
		e->last_busy_ns = s->busy_start_ns;
		e->cur_samples = 0;
	}
	if (++e->cur_samples > e->max_samples)
		e->max_samples = e->cur_samples;
	if (s->ts_ns > e->last_ns)
		e->last_ns = s->ts_ns;
}

typedef void (*ent_fn)(struct light_ent *e, const struct light_sample *s, uint64_t dur);

/*
 * s into its task's and its callback's entries. A task first seen once the
 * task table is full counts in tasks_omitted, a callback once the callbacks
 * table is full in cbs_dropped.
 */
static int light_add(struct light *l, const struct light_sample *s, ent_fn fn, uint64_t dur)
{
	struct light_ent *e;
	int err;

	if (s->task) {
		e = ent_get(&l->tasks, l->max_ents, s, s->task, s->cb, &err);
		if (e)
			fn(e, s, dur);
		else if (err != -ENOSPC || (err = omit_task(l, s)))
			return err;
	}
	if (!s->cb)
		return 0;
	e = ent_get(&l->cbs, l->max_ents, s, 0, s->cb, &err);
	if (e)
		fn(e, s, dur);
	else if (err == -ENOSPC)
		l->cbs_dropped++;
	else
		return err;
	return 0;
}

int light__add_sample(struct light *l, const struct light_sample *s)
{
	return light_add(l, s, ent_sampled, 0);
}

static void ent_blocked(struct light_ent *e, const struct light_sample *s, uint64_t dur)
{
	e->blocked_ns += dur;
	if (s->ts_ns > e->last_ns)
		e->last_ns = s->ts_ns;
	if (s->ts_ns < e->first_ns)
		e->first_ns = s->ts_ns;
}

int light__add_blocked(struct light *l, const struct light_sample *s, uint64_t dur_ns)
{
	return light_add(l, s, ent_blocked, dur_ns);
}

uint64_t light__cbs_dropped(const struct light *l)
{
	return l ? l->cbs_dropped : 0;
}

static char *name_dup(const struct names *names, uint32_t pid, uint32_t kind, uint64_t key)
{
	const char *n = key ? names__get(names, pid, kind, key) : NULL;

	return n ? strdup(n) : NULL;
}

static void fill_task(const struct light_ent *e, const struct names *names, uint64_t period,
		      struct ap_task *t)
{
	t->id = e->task;
	t->name = name_dup(names, e->pid, AP_NAME_TASK, e->task);
	t->coro = name_dup(names, e->pid, AP_NAME_TASK_CORO, e->task);
	t->loop_tid = e->tid;
	t->created_ns = AP_NULL_U64;
	t->first_run_ns = e->first_ns;
	t->last_run_ns = e->last_ns;
	t->finished_ns = AP_NULL_U64;
	t->state = NULL;		    /* not seen without the return probe */
	t->steps = e->steps ? e->steps : 1; /* seen only blocked: it ran at least once */
	t->busy_ns = e->samples * period + e->blocked_ns;
	t->max_step_ns = e->max_samples * period;
	t->blocked_ns = e->blocked_ns;
}

int light__fill(const struct light *l, const struct names *names, uint64_t period_ns,
		struct ap_process *p)
{
	struct ap_callback *c;
	struct ap_task *t;

	for (size_t i = 0; i < l->omitted.n; i++)
		if (l->omitted.v[i].pid == p->pid)
			p->tasks_omitted += l->omitted.v[i].count;
	for (size_t i = 0; i < l->tasks.e.n; i++) {
		const struct light_ent *e = &l->tasks.e.v[i];

		if (e->pid != p->pid)
			continue;
		t = AP_VEC_PUSH(p->tasks);
		if (!t)
			return -ENOMEM;
		fill_task(e, names, period_ns, t);
	}
	for (size_t i = 0; i < l->cbs.e.n; i++) {
		const struct light_ent *e = &l->cbs.e.v[i];

		if (e->pid != p->pid)
			continue;
		c = AP_VEC_PUSH(p->callbacks);
		if (!c)
			return -ENOMEM;
		c->name = name_dup(names, e->pid, AP_NAME_CALLBACK, e->cb);
		c->count = e->steps ? e->steps : 1;
		c->total_ns = e->samples * period_ns + e->blocked_ns;
		c->max_ns = e->max_samples * period_ns;
	}
	return 0;
}
