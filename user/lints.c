// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Lints: stuck and deadlocked tasks, steps that never yield, busy polls, blocking calls. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "awaits.h"
#include "lints.h"
#include "strutil.h"

/* A task stepping this often, each time waking itself (no future awaited), polls busily. */
#define BUSY_POLL_PER_S	    200
#define BUSY_POLL_MIN_STEPS 100
#define CYCLE_MAX	    16 /* tasks listed in a deadlock */

const char *lints__fix(const char *kind, const char *detail)
{
	size_t n = detail ? strlen(detail) : 0;

	if (!kind)
		return NULL;
	if (!strcmp(kind, "sleep"))
		return "await asyncio.sleep()";
	if (!strcmp(kind, "file"))
		return "await asyncio.to_thread() (or loop.run_in_executor())";
	if (!strcmp(kind, "process"))
		return "asyncio.create_subprocess_exec()";
	if (!strcmp(kind, "net") && n > 3 && !strcmp(detail + n - 3, ":53"))
		return "await loop.getaddrinfo()";
	if (!strcmp(kind, "net"))
		return "an asyncio client (asyncio streams, aiohttp, httpx.AsyncClient) or "
		       "await asyncio.to_thread()";
	if (!strcmp(kind, "lock"))
		return "asyncio.Lock, or await asyncio.to_thread() for the blocking part";
	return NULL;
}

/* A new lint of p (its strings owned); NULL on ENOMEM. */
static struct ap_lint *lint_add(struct ap_process *p, const char *kind, uint32_t tid, uint64_t task,
				const char *name, const char *coro)
{
	struct ap_lint *l = AP_VEC_PUSH(p->lints);

	if (!l)
		return NULL;
	l->kind = kind;
	l->tid = tid;
	l->task = task;
	l->name = name ? strdup(name) : NULL;
	l->coro = coro ? strdup(coro) : NULL;
	if ((name && !l->name) || (coro && !l->coro))
		return NULL;
	return l;
}

static int lint_say(struct ap_lint *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lint_say(struct ap_lint *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&l->message, fmt, ap);
	va_end(ap);
	if (n < 0) {
		l->message = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* What a pending task awaits, for people: "task worker-2", "_asyncio.Future", "nothing". */
static const char *awaited(const struct ap_process *p, const struct ap_task *t, char *buf,
			   size_t size)
{
	const struct ap_task *o = t->awaits ? ap_process__find_task(p, t->awaits) : NULL;

	if (o && o != t)
		snprintf(buf, size, "task %s", o->name ? o->name : "?");
	else
		snprintf(buf, size, "%s",
			 t->awaits ? (t->awaits_type ? t->awaits_type : "?")
				   : "nothing (scheduled to run)");
	return buf;
}

/* The task's await point as a one-frame stack. */
static int task_stack(const struct ap_task *t, struct ap_stack *st)
{
	if (!t->awaits_at)
		return 0;
	st->frames = calloc(1, sizeof(*st->frames));
	if (!st->frames)
		return -ENOMEM;
	st->frames[0] = strdup(t->awaits_at);
	if (!st->frames[0])
		return -ENOMEM;
	st->n = 1;
	return 0;
}

/* Pending with no step for r->stuck_ns, and tasks that await each other. */
static int lint_tasks(const struct ap_report *r, struct ap_process *p, uint64_t end_ns)
{
	size_t cycle[CYCLE_MAX];
	char what[256], chain[1024];
	int err = 0;

	for (size_t i = 0; i < p->tasks.n && !err; i++) {
		const struct ap_task *t = &p->tasks.v[i];
		size_t n = t->awaits_known ? awaits__cycle(p, i, cycle, CYCLE_MAX) : 0, k, at = 0;
		bool first = true;
		struct ap_lint *l;

		for (k = 1; k < n; k++)
			first = first &&
				cycle[k] > i; /* a cycle is told once, from its first task */
		if (n && first) {
			chain[0] = '\0';
			for (k = 0; k <= n && at < sizeof(chain); k++) {
				const struct ap_task *c = &p->tasks.v[cycle[k % n]];

				at += snprintf(chain + at, sizeof(chain) - at, "%s%s",
					       k ? " -> " : "", c->name ? c->name : "?");
			}
			l = lint_add(p, "deadlock", t->loop_tid, t->id, t->name, t->coro);
			err = l ? lint_say(l, "%zu tasks await each other: %s", n, chain) : -ENOMEM;
			if (!err) {
				l->count = n;
				l->ns = end_ns - t->last_run_ns;
				err = task_stack(t, &l->stack);
			}
		}
		if (err || !t->awaits_known || !t->last_run_ns || end_ns < t->last_run_ns ||
		    end_ns - t->last_run_ns < r->stuck_ns)
			continue;
		l = lint_add(p, "stuck", t->loop_tid, t->id, t->name, t->coro);
		err = l ? lint_say(l, "pending with no step for %.1f s, awaiting %s",
				   (end_ns - t->last_run_ns) / 1e9,
				   awaited(p, t, what, sizeof(what)))
			: -ENOMEM;
		if (!err) {
			l->ns = end_ns - t->last_run_ns;
			err = task_stack(t, &l->stack);
		}
	}
	return err;
}

/* A pending task that steps often, each time rescheduling itself. */
static int lint_busy_poll(struct ap_process *p)
{
	int err = 0;

	for (size_t i = 0; i < p->tasks.n && !err; i++) {
		const struct ap_task *t = &p->tasks.v[i];
		uint64_t span = t->last_run_ns - t->first_run_ns;
		double per_s = span ? t->steps * 1e9 / span : 0;
		struct ap_lint *l;

		if (!t->awaits_known || t->awaits || t->steps < BUSY_POLL_MIN_STEPS ||
		    per_s < BUSY_POLL_PER_S)
			continue;
		l = lint_add(p, "busy_poll", t->loop_tid, t->id, t->name, t->coro);
		err = l ? lint_say(l,
				   "%llu steps in %.2f s (%.0f/s), each waking itself: "
				   "asyncio.sleep(0) in a loop, or a retry with no backoff",
				   (unsigned long long)t->steps, span / 1e9, per_s)
			: -ENOMEM;
		if (!err) {
			l->fix = "await an asyncio.Event, a queue or the future it polls for, or "
				 "back "
				 "off with asyncio.sleep(delay)";
			l->count = t->steps;
			l->ns = t->busy_ns;
			err = task_stack(t, &l->stack);
		}
	}
	return err;
}

static int str_cmp(const char *a, const char *b)
{
	return a == b ? 0 : !a ? -1 : !b ? 1 : strcmp(a, b);
}

static int u64_cmp(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Slow callbacks by (task, callback for a plain one), the longest first. */
static int cmp_slow(const void *x, const void *y, void *arg)
{
	const struct ap_slow_cb *v = arg, *a = &v[*(const size_t *)x], *b = &v[*(const size_t *)y];
	int c = u64_cmp(a->task, b->task);

	if (!c && !a->task)
		c = str_cmp(a->callback, b->callback);
	if (!c)
		c = -u64_cmp(a->duration_ns, b->duration_ns);
	return c ? c : u64_cmp(*(const size_t *)x, *(const size_t *)y);
}

/* Blocking calls by (thread, kind, callback), the longest first. */
static int cmp_blocking(const void *x, const void *y, void *arg)
{
	const struct ap_blocking *v = arg, *a = &v[*(const size_t *)x], *b = &v[*(const size_t *)y];
	int c = u64_cmp(a->tid, b->tid);

	if (!c)
		c = str_cmp(a->kind, b->kind);
	if (!c)
		c = str_cmp(a->callback, b->callback);
	if (!c)
		c = -u64_cmp(a->duration_ns, b->duration_ns);
	return c ? c : u64_cmp(*(const size_t *)x, *(const size_t *)y);
}

/* Indices 0..n-1 sorted by cmp over base; NULL on ENOMEM. */
static size_t *sorted(size_t n, int (*cmp)(const void *, const void *, void *), void *base)
{
	size_t *ix = malloc((n ? n : 1) * sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), cmp, base);
	return ix;
}

/* The longest step of each task (or run of each plain callback) past the slow threshold. */
static int lint_never_yields(struct ap_process *p)
{
	const struct ap_slow_cb *v = p->slow_callbacks.v;
	size_t *ix;
	int err = 0;

	if (!p->slow_callbacks.n || !v)
		return 0;
	ix = sorted(p->slow_callbacks.n, cmp_slow, (void *)v);
	if (!ix)
		return -ENOMEM;
	for (size_t k = 0; k < p->slow_callbacks.n && !err; k++) {
		const struct ap_slow_cb *c = &v[ix[k]], *prev = k ? &v[ix[k - 1]] : NULL;
		const struct ap_task *t = ap_process__find_task(p, c->task);
		struct ap_lint *l;

		/* the first of its group is its longest */
		if ((!c->task && !c->callback) ||
		    (prev && prev->task == c->task &&
		     (c->task || !str_cmp(prev->callback, c->callback))))
			continue;
		l = lint_add(p, "never_yields", c->tid, c->task, t ? t->name : c->callback,
			     t ? t->coro : NULL);
		err = l ? lint_say(l, "%s ran %.1f ms without yielding to the loop%s",
				   c->task ? "one step" : "one run", c->duration_ns / 1e6,
				   c->in_progress ? " (still running)" : "")
			: -ENOMEM;
		if (!err) {
			l->fix = c->blocked_ns * 2 >= c->duration_ns
					 ? NULL
					 : "await asyncio.to_thread() for the CPU-bound part, or "
					   "await asyncio.sleep(0) between chunks";
			l->ns = c->duration_ns;
			err = ap_stack__copy(&l->stack, &c->stack);
		}
	}
	free(ix);
	return err;
}

/* One group of blocking calls, ix[from..to): the first is the longest. */
static int blocking_group(struct ap_process *p, const size_t *ix, size_t from, size_t to)
{
	const struct ap_blocking *top = &p->blocking_calls.v[ix[from]];
	const char *fix = lints__fix(top->kind, top->detail);
	const struct ap_task *t = ap_process__find_task(p, top->task);
	uint64_t total = 0;
	struct ap_lint *l;
	int err;

	/* locks: often the GIL's neighbours, no safe advice */
	if (!fix || !strcmp(top->kind, "lock"))
		return 0;
	for (size_t k = from; k < to; k++)
		total += p->blocking_calls.v[ix[k]].duration_ns;
	l = lint_add(p, "blocking", top->tid, top->task, top->callback, t ? t->coro : NULL);
	err = l ? lint_say(l,
			   "%zu blocking %s call%s (%s) in the loop thread, %.1f ms in all, the "
			   "longest %.1f ms",
			   to - from, top->kind, to - from > 1 ? "s" : "",
			   top->syscall ? top->syscall : "?", total / 1e6, top->duration_ns / 1e6)
		: -ENOMEM;
	if (err)
		return err;
	l->fix = fix;
	l->ns = total;
	l->count = to - from;
	return ap_stack__copy(&l->stack, &top->stack);
}

/* Blocking calls of a known kind, per (thread, kind, callback): count, total, the longest. */
static int lint_blocking(struct ap_process *p)
{
	const struct ap_blocking *v = p->blocking_calls.v;
	size_t n = p->blocking_calls.n, *ix, from = 0;
	int err = 0;

	if (!n || !v)
		return 0;
	ix = sorted(n, cmp_blocking, (void *)v);
	if (!ix)
		return -ENOMEM;
	for (size_t k = 1; k <= n && !err; k++) {
		const struct ap_blocking *a = &v[ix[from]], *b = k < n ? &v[ix[k]] : NULL;

		if (b && a->tid == b->tid && !str_cmp(a->kind, b->kind) &&
		    !str_cmp(a->callback, b->callback))
			continue;
		err = blocking_group(p, ix, from, k);
		from = k;
	}
	free(ix);
	return err;
}

int lints__find(const struct ap_report *r, struct ap_process *p, uint64_t end_ns)
{
	int err;

	for (size_t i = 0; i < p->lints.n; i++) {
		free(p->lints.v[i].name);
		free(p->lints.v[i].coro);
		free(p->lints.v[i].message);
		ap_stack__free(&p->lints.v[i].stack);
	}
	p->lints.n = 0;
	err = lint_tasks(r, p, end_ns);
	if (!err)
		err = lint_never_yields(p);
	if (!err)
		err = lint_blocking(p);
	if (!err)
		err = lint_busy_poll(p);
	return err;
}
