// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The in-memory report: growable vectors, copying and freeing, and the queries on it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

const uint64_t ap_lag_bucket_le[AP_LAG_BUCKETS] = {
	100000ull,     250000ull,     500000ull,     1000000ull,     2500000ull,   5000000ull,
	10000000ull,   25000000ull,   50000000ull,   100000000ull,   250000000ull, 500000000ull,
	1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
};

/* enum ap_cause order; JSON appends "_ns" */
const char *const ap_cause_names[AP_NCAUSES] = {
	"running", "run_queue", "gil", "short_syscalls", "other",
	"sleep",   "file",	"net", "process",	 "lock",
};

static uint64_t cause_ns(const uint64_t ns[AP_NCAUSES], int i)
{
	return ns[i] == AP_NULL_U64 ? 0 : ns[i];
}

int ap_causes__order(const uint64_t ns[AP_NCAUSES], int order[AP_NCAUSES])
{
	int n = 0;

	for (int i = 0; i < AP_NCAUSES; i++) {
		int j = i;

		/* insertion sort: ten entries, stable, so ties keep the enum's order */
		while (j > 0 && cause_ns(ns, order[j - 1]) < cause_ns(ns, i)) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
		n += cause_ns(ns, i) != 0;
	}
	return n;
}

void ap_culprits__free(struct ap_culprit c[AP_NCAUSES])
{
	for (int i = 0; i < AP_NCAUSES; i++) {
		free(c[i].callback);
		free(c[i].holder_comm);
		c[i] = (struct ap_culprit){0};
	}
}

const char *const ap_cause_labels[AP_NCAUSES] = {
	"running", "run queue", "GIL", "short syscalls", "other calls",
	"sleep",   "file I/O",	"net", "process",	 "lock",
};

/* Same layout as every AP_VEC(T). */
struct ap_vec_any {
	void *v;
	size_t n, cap;
};

void *ap_vec__push(void *vec_base, size_t elem_size)
{
	struct ap_vec_any *vec = vec_base;
	size_t cap;
	char *v;

	if (vec->n == vec->cap) {
		cap = vec->cap ? vec->cap * 2 : 8;
		if (cap > SIZE_MAX / elem_size) {
			errno = ENOMEM;
			return NULL;
		}
		v = realloc(vec->v, cap * elem_size);
		if (!v)
			return NULL;
		vec->v = v;
		vec->cap = cap;
	}
	v = (char *)vec->v + vec->n * elem_size;
	memset(v, 0, elem_size);
	vec->n++;
	return v;
}

void ap_stack__free(struct ap_stack *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		free(st->frames[i]);
	free(st->frames);
	st->frames = NULL;
	st->n = 0;
}

static void process__free(struct ap_process *p)
{
	size_t i;

	free(p->comm);
	free(p->exe);
	free(p->runtime_version);
	for (i = 0; i < p->loops.n; i++) {
		free(p->loops.v[i].lag_series.v);
		ap_culprits__free(p->loops.v[i].slow_culprits);
	}
	free(p->loops.v);
	for (i = 0; i < p->tasks.n; i++)
		ap_task__free(&p->tasks.v[i]);
	free(p->tasks.v);
	for (i = 0; i < p->callbacks.n; i++)
		free(p->callbacks.v[i].name);
	free(p->callbacks.v);
	for (i = 0; i < p->slow_callbacks.n; i++) {
		free(p->slow_callbacks.v[i].callback);
		ap_stack__free(&p->slow_callbacks.v[i].stack);
	}
	free(p->slow_callbacks.v);
	for (i = 0; i < p->blocking_calls.n; i++) {
		free(p->blocking_calls.v[i].detail);
		free(p->blocking_calls.v[i].callback);
		free(p->blocking_calls.v[i].gil_holder_comm);
		ap_stack__free(&p->blocking_calls.v[i].stack);
		ap_stack__free(&p->blocking_calls.v[i].native_stack);
	}
	free(p->blocking_calls.v);
	for (i = 0; i < p->slices.n; i++)
		free(p->slices.v[i].callback);
	free(p->slices.v);
	for (i = 0; i < p->samples.n; i++) {
		free(p->samples.v[i].callback);
		ap_stack__free(&p->samples.v[i].stack);
	}
	free(p->samples.v);
	free(p->blocking_sums.v);
	for (i = 0; i < p->lints.n; i++) {
		free(p->lints.v[i].name);
		free(p->lints.v[i].coro);
		free(p->lints.v[i].message);
		ap_stack__free(&p->lints.v[i].stack);
	}
	free(p->lints.v);
	for (i = 0; i < p->iterations.n; i++) {
		ap_culprits__free(p->iterations.v[i].culprits);
		free(p->iterations.v[i].gil_holder_comm);
	}
	free(p->iterations.v);
}

/* Frees everything r owns and r itself (allocated by the session). */
void ap_report__free(struct ap_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->processes.n; i++)
		process__free(&r->processes.v[i]);
	free(r->processes.v);
	free(r);
}

/* strdup that keeps NULL; sets *err on failure. */
static char *dup_keep_null(const char *s, int *err)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

int ap_stack__copy(struct ap_stack *dst, const struct ap_stack *src)
{
	int err = 0;

	dst->n = 0;
	dst->frames = NULL;
	if (!src->n)
		return 0;
	dst->frames = calloc(src->n, sizeof(*dst->frames));
	if (!dst->frames)
		return -ENOMEM;
	for (; dst->n < src->n && !err; dst->n++)
		dst->frames[dst->n] = dup_keep_null(src->frames[dst->n], &err);
	return err;
}

void ap_task__free(struct ap_task *t)
{
	free(t->name);
	free(t->coro);
	free(t->error);
	free(t->awaits_type);
	free(t->awaits_at);
	memset(t, 0, sizeof(*t));
}

int ap_task__copy(struct ap_task *dst, const struct ap_task *src)
{
	int err = 0;

	*dst = *src;
	dst->awaits_type = dup_keep_null(src->awaits_type, &err);
	dst->awaits_at = dup_keep_null(src->awaits_at, &err);
	dst->name = dup_keep_null(src->name, &err);
	dst->coro = dup_keep_null(src->coro, &err);
	dst->error = dup_keep_null(src->error, &err);
	return err;
}

int ap_blocking__copy(struct ap_blocking *dst, const struct ap_blocking *src)
{
	int err = 0;

	*dst = *src;
	dst->detail = dup_keep_null(src->detail, &err);
	dst->callback = dup_keep_null(src->callback, &err);
	dst->gil_holder_comm = dup_keep_null(src->gil_holder_comm, &err);
	dst->stack = (struct ap_stack){0};
	dst->native_stack = (struct ap_stack){0};
	if (!err)
		err = ap_stack__copy(&dst->stack, &src->stack);
	if (!err)
		err = ap_stack__copy(&dst->native_stack, &src->native_stack);
	return err;
}

int ap_slow_cb__copy(struct ap_slow_cb *dst, const struct ap_slow_cb *src)
{
	int err = 0;

	*dst = *src;
	dst->callback = dup_keep_null(src->callback, &err);
	if (!err)
		err = ap_stack__copy(&dst->stack, &src->stack);
	else
		dst->stack = (struct ap_stack){0};
	return err;
}

uint64_t ap_task__start(const struct ap_task *t)
{
	return t->created_ns != AP_NULL_U64 && t->created_ns < t->first_run_ns ? t->created_ns
									       : t->first_run_ns;
}

const struct ap_task *ap_process__find_task(const struct ap_process *p, uint64_t id)
{
	for (size_t i = 0; p && id && i < p->tasks.n; i++)
		if (p->tasks.v[i].id == id)
			return &p->tasks.v[i];
	return NULL;
}

static int cmp_task_id_start(const void *a, const void *b, void *arg)
{
	const struct ap_task *tasks = arg;
	const struct ap_task *x = &tasks[*(const size_t *)a], *y = &tasks[*(const size_t *)b];
	uint64_t sx = ap_task__start(x), sy = ap_task__start(y);

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return sx < sy ? -1 : sx > sy;
}

int ap_task_index__build(struct ap_task_index *ix, const struct ap_process *p)
{
	*ix = (struct ap_task_index){.p = p};
	if (!p->tasks.n)
		return 0;
	ix->by_id = calloc(p->tasks.n, sizeof(*ix->by_id));
	if (!ix->by_id)
		return -ENOMEM;
	for (size_t i = 0; i < p->tasks.n; i++)
		ix->by_id[i] = i;
	qsort_r(ix->by_id, p->tasks.n, sizeof(*ix->by_id), cmp_task_id_start, p->tasks.v);
	ix->n = p->tasks.n;
	return 0;
}

void ap_task_index__free(struct ap_task_index *ix)
{
	free(ix->by_id);
	*ix = (struct ap_task_index){0};
}

/* The i-th task in (id, start) order. */
static const struct ap_task *task_nth(const struct ap_task_index *ix, size_t i)
{
	return &ix->p->tasks.v[ix->by_id[i]];
}

const struct ap_task *ap_task_index__at(const struct ap_task_index *ix, uint64_t id, uint64_t t_ns)
{
	size_t lo = 0, hi = ix->n, mid;
	const struct ap_task *best;

	if (!id)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (task_nth(ix, mid)->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= ix->n || task_nth(ix, lo)->id != id)
		return NULL;
	best = task_nth(ix, lo);
	for (; lo < ix->n && task_nth(ix, lo)->id == id; lo++)
		if (ap_task__start(task_nth(ix, lo)) <= t_ns)
			best = task_nth(ix, lo);
	return best;
}
