// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Collapsed ("folded") stacks, as flamegraph.pl, inferno and speedscope
 * read them: one "frame;frame;...;frame COUNT" line per distinct stack,
 * outermost frame first, COUNT in microseconds of loop time held.
 *
 * Each blocking call is a stack ending in the leaf "[syscall] NAME"; each
 * slow callback a stack weighted with its duration minus the blocking calls
 * reported inside it (those have their own lines), so a callback's subtree
 * adds up to its duration. A stack is rooted at "task NAME" when the run
 * was a task step. Without a Python stack, the callback's qualname is the
 * only frame. Lines are sorted; identical stacks are merged.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "output.h"
#include "strutil.h"

struct folded_line {
	char *stack; /* frames joined with ';', sanitised */
	uint64_t count;
};

struct folded {
	const struct ap_process *p;
	AP_VEC(struct folded_line) lines;
	char *buf; /* the stack being built */
	size_t len, cap;
	uint64_t period_ns;	    /* weight of one CPU sample, 0: no samples */
	bool by_task;		    /* root each stack at its task's name */
	struct ap_task_index tasks; /* p's */
};

/* Append bytes to f->buf. 0 or -ENOMEM. */
static int folded_put(struct folded *f, const char *s, size_t n)
{
	char *nb;
	size_t cap;

	if (f->len + n + 1 > f->cap) {
		cap = f->cap ? f->cap : 256;
		while (cap < f->len + n + 1)
			cap *= 2;
		nb = realloc(f->buf, cap);
		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
	return 0;
}

/*
 * Append one frame, made safe for the format: ';' becomes ':', control
 * characters (newlines included) and invalid UTF-8 bytes become '?'.
 * An empty frame is "[unknown]". prefix (not sanitised) comes first.
 */
static int folded_frame(struct folded *f, const char *prefix, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), i = 0, n;
	int err = 0;

	if (f->len)
		err = folded_put(f, ";", 1);
	if (!err && prefix)
		err = folded_put(f, prefix, strlen(prefix));
	if (!err && !len && !prefix)
		err = folded_put(f, "[unknown]", 9);
	while (!err && i < len) {
		n = utf8__seq_len(p + i, len - i);
		if (n > 1)
			err = folded_put(f, (const char *)p + i, n);
		else if (n == 0 || p[i] < 0x20 || p[i] == 0x7f)
			err = folded_put(f, "?", 1);
		else
			err = folded_put(f, p[i] == ';' ? ":" : (const char *)p + i, 1);
		i += n ? n : 1;
	}
	return err;
}

/* Start a stack: the task root (if any), then the frames outermost first. */
static int folded_begin(struct folded *f, uint64_t task, uint64_t t_ns, const char *callback,
			const struct ap_stack *st)
{
	const struct ap_task *t = ap_task_index__at(&f->tasks, task, t_ns);
	int err = 0;

	f->len = 0;
	if (f->by_task && t && t->name)
		err = folded_frame(f, "task ", t->name);
	if (!err && !st->n)
		err = folded_frame(f, NULL, callback ? callback : "[callback]");
	for (size_t i = st->n; !err && i > 0; i--)
		err = folded_frame(f, NULL, st->frames[i - 1]);
	return err;
}

/* Record the stack in f->buf with count_ns (rounded to us; nothing if 0). */
static int folded_emit(struct folded *f, uint64_t count_ns)
{
	struct folded_line *l;
	uint64_t us = (count_ns + 500) / 1000;

	if (!us)
		return 0;
	l = AP_VEC_PUSH(f->lines);
	if (!l)
		return -ENOMEM;
	l->stack = strdup(f->buf ? f->buf : "");
	l->count = us;
	return l->stack ? 0 : -ENOMEM;
}

static int folded_blocking(struct folded *f, const struct ap_blocking *b)
{
	int err = folded_begin(f, b->task, b->start_ns, b->callback, &b->stack);

	if (!err)
		err = folded_frame(f, "[syscall] ", b->syscall ? b->syscall : "?");
	return err ? err : folded_emit(f, b->duration_ns);
}

/* Time of the reported blocking calls inside slow callback c. */
static uint64_t folded_blocked_in(const struct folded *f, const struct ap_slow_cb *c)
{
	uint64_t end = c->start_ns + c->duration_ns, sum = 0;

	for (size_t i = 0; i < f->p->blocking_calls.n; i++) {
		const struct ap_blocking *b = &f->p->blocking_calls.v[i];

		if (b->tid == c->tid && b->start_ns >= c->start_ns &&
		    b->start_ns + b->duration_ns <= end)
			sum += b->duration_ns;
	}
	return sum;
}

/* Did CPU samples land in slow callback c? Then they stand for its CPU time. */
static bool folded_sampled(const struct folded *f, const struct ap_slow_cb *c)
{
	for (size_t i = 0; i < f->p->samples.n; i++) {
		const struct ap_sample *s = &f->p->samples.v[i];

		if (s->tid == c->tid && s->ts_ns >= c->start_ns &&
		    s->ts_ns <= c->start_ns + c->duration_ns)
			return true;
	}
	return false;
}

/* A CPU sample weighs one sampling period. */
static int folded_sample(struct folded *f, const struct ap_sample *s)
{
	int err = folded_begin(f, s->task, s->ts_ns, s->callback, &s->stack);

	return err ? err : folded_emit(f, f->period_ns);
}

static int folded_slow_cb(struct folded *f, const struct ap_slow_cb *c)
{
	uint64_t blocked = folded_blocked_in(f, c);
	int err;

	if (blocked >= c->duration_ns || (f->period_ns && folded_sampled(f, c)))
		return 0;
	err = folded_begin(f, c->task, c->start_ns, c->callback, &c->stack);
	return err ? err : folded_emit(f, c->duration_ns - blocked);
}

static int folded_process(struct folded *f)
{
	const struct ap_process *p = f->p;
	size_t i;
	int err;

	ap_task_index__free(&f->tasks);
	err = ap_task_index__build(&f->tasks, p);
	for (i = 0; i < p->blocking_calls.n && !err; i++)
		err = folded_blocking(f, &p->blocking_calls.v[i]);
	for (i = 0; i < p->slow_callbacks.n && !err; i++)
		err = folded_slow_cb(f, &p->slow_callbacks.v[i]);
	for (i = 0; f->period_ns && i < p->samples.n && !err; i++)
		err = folded_sample(f, &p->samples.v[i]);
	return err;
}

static int cmp_line(const void *a, const void *b)
{
	const struct folded_line *x = a, *y = b;

	return strcmp(x->stack, y->stack);
}

/* Sort the lines and print them, merging equal stacks. */
static void folded_print(FILE *out, struct folded *f)
{
	struct folded_line *v = f->lines.v;
	size_t n = f->lines.n, i, j;
	uint64_t sum;

	if (n)
		qsort(v, n, sizeof(*v), cmp_line);
	for (i = 0; i < n; i = j) {
		sum = 0;
		for (j = i; j < n && !strcmp(v[j].stack, v[i].stack); j++)
			sum += v[j].count;
		fprintf(out, "%s %llu\n", v[i].stack, (unsigned long long)sum);
	}
}

static void folded_free(struct folded *f)
{
	for (size_t i = 0; i < f->lines.n; i++)
		free(f->lines.v[i].stack);
	free(f->lines.v);
	free(f->buf);
	ap_task_index__free(&f->tasks);
}

int out_folded__write(FILE *out, const struct ap_report *r, const struct out_opts *o)
{
	struct folded f = {.period_ns = r->sample_period_ns, .by_task = r->group_by_task};
	int err = 0;

	(void)o; /* no options */
	for (size_t i = 0; i < r->processes.n && !err; i++) {
		f.p = &r->processes.v[i];
		err = folded_process(&f);
	}
	if (!err)
		folded_print(out, &f);
	folded_free(&f);
	return err;
}
