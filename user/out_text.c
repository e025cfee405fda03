// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Human summary of a report, for the terminal. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "output.h"
#include "strutil.h"

#define TEXT_DEFAULT_TOP  10
#define TEXT_STACK_FRAMES 3
#define ESC_MAX		  512 /* escaped string buffer */

/* A duration; several may be used in one printf, hence the ring of buffers. */
static const char *dur(uint64_t ns)
{
	static char bufs[8][32];
	static unsigned next;
	char *b = bufs[next++ % 8];

	strutil__format_ns(ns, b, sizeof(bufs[0]));
	return b;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * part / whole : 0.0;
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

static void text_header(FILE *f, const struct ap_report *r)
{
	uint64_t len = r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0;

	fprintf(f,
		"asyncprof-bpf %s: %s window, lag grid %s, blocking >= %s, slow callback >= %s\n",
		r->tool_version ? r->tool_version : "", dur(len), dur(r->lag_interval_ns),
		dur(r->blocking_ns), dur(r->slow_callback_ns));
	if (r->mode && !strcmp(r->mode, "light"))
		fprintf(f, "mode light: no uprobes; task and callback times are estimated from CPU "
			   "samples and steps are not exact\n");
	if (r->drops_events || r->drops_stacks)
		fprintf(f,
			"WARNING: data lost to full buffers: %" PRIu64 " events, %" PRIu64
			" stacks; figures are incomplete\n",
			r->drops_events, r->drops_stacks);
}

/*
 * Why the loop was late: its slow iterations' time by cause, most first,
 * each with the callback most of it went to ("62% sleep in legacy_sleep").
 */
static void text_late(FILE *f, const struct ap_loop *l)
{
	uint64_t total = 0;
	int order[AP_NCAUSES], n = ap_causes__order(l->slow_causes, order);
	char esc[ESC_MAX];

	for (int i = 0; i < n; i++)
		total += l->slow_causes[order[i]];
	fprintf(f, "    late: lag p99 %.2f ms; %" PRIu64 " slow iterations, %s:", ms(l->lag.p99_ns),
		l->slow_iterations, dur(total));
	for (int i = 0; i < n; i++) {
		int c = order[i];
		double share = pct(l->slow_causes[c], total);

		if (share < 1.0 && i)
			break;
		fprintf(f, "%s %.0f%% %s", i ? "," : "", share, ap_cause_labels[c]);
		if (l->slow_culprits[c].callback)
			fprintf(f, " in %s",
				strutil__term(l->slow_culprits[c].callback, esc, sizeof(esc)));
		if (l->slow_culprits[c].holder)
			fprintf(f, " held by thread %u", l->slow_culprits[c].holder);
		if (l->slow_culprits[c].holder_comm)
			fprintf(f, " (%s)",
				strutil__term(l->slow_culprits[c].holder_comm, esc, sizeof(esc)));
	}
	fputc('\n', f);
}

static void text_loop(FILE *f, const struct ap_loop *l)
{
	uint64_t obs = l->busy_ns + l->idle_ns;
	const struct ap_lag *g = &l->lag;

	if (l->stuck_before) {
		fprintf(f,
			"  loop tid %u (%s): no loop iteration seen: its loop is stuck since "
			"before tracing began (below, in progress)\n",
			l->tid, l->kind ? l->kind : "?");
		fprintf(f, "    lag ms: max >= %.2f (%" PRIu64 " samples)\n", ms(g->max_ns),
			g->samples);
		return;
	}
	fprintf(f, "  loop tid %u (%s): %" PRIu64 " iterations, busy %.1f%%, blocked %.1f%%",
		l->tid, l->kind ? l->kind : "?", l->iterations, pct(l->busy_ns, obs),
		pct(l->blocked_ns, obs));
	if (l->callbacks != AP_NULL_U64)
		fprintf(f, ", %" PRIu64 " callbacks", l->callbacks);
	if (l->gil_wait_ns != AP_NULL_U64 && l->gil_wait_ns)
		fprintf(f, ", GIL wait %.1f%%", pct(l->gil_wait_ns, obs));
	if (l->preempted_ns)
		fprintf(f, ", CPU taken %.1f%%", pct(l->preempted_ns, obs));
	fputc('\n', f);
	fprintf(f,
		"    lag ms: max %.2f  mean %.2f  p50 %.2f  p90 %.2f  p99 %.2f  (%" PRIu64
		" samples)\n",
		ms(g->max_ns), ms(g->mean_ns), ms(g->p50_ns), ms(g->p90_ns), ms(g->p99_ns),
		g->samples);
	if (l->slow_iterations)
		text_late(f, l);
}

static void text_stack(FILE *f, const struct ap_stack *st)
{
	char esc[ESC_MAX];

	for (size_t i = 0; i < st->n && i < TEXT_STACK_FRAMES; i++)
		fprintf(f, "        at %s\n", strutil__term(st->frames[i], esc, sizeof(esc)));
	if (st->n > TEXT_STACK_FRAMES)
		fprintf(f, "        ... %zu more frames\n", st->n - TEXT_STACK_FRAMES);
}

/* " task NAME (0x...)" and " in CALLBACK" when known. */
static void text_context(FILE *f, const struct ap_process *p, uint64_t task, const char *cb)
{
	const struct ap_task *t = ap_process__find_task(p, task);
	char esc[ESC_MAX];

	if (task)
		fprintf(f, " task %s (0x%" PRIx64 ")",
			strutil__term(t ? t->name : NULL, esc, sizeof(esc)), task);
	if (cb)
		fprintf(f, " in %s", strutil__term(cb, esc, sizeof(esc)));
}

struct bgroup {
	const char *kind;
	const char *syscall;
	uint64_t count, total, max;
};

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int cmp_group_total(const void *a, const void *b)
{
	const struct bgroup *x = a, *y = b;

	return x->total > y->total ? -1 : x->total < y->total;
}

static void text_blocking_groups(FILE *f, const struct ap_process *p, size_t top)
{
	struct bgroup *g = calloc(p->blocking_calls.n, sizeof(*g));
	size_t ng = 0, i, j;

	if (!g)
		return;
	for (i = 0; i < p->blocking_calls.n; i++) {
		const struct ap_blocking *b = &p->blocking_calls.v[i];

		for (j = 0; j < ng; j++)
			if (str_eq(g[j].kind, b->kind) && str_eq(g[j].syscall, b->syscall))
				break;
		if (j == ng) {
			g[ng].kind = b->kind;
			g[ng++].syscall = b->syscall;
		}
		g[j].count++;
		g[j].total += b->duration_ns;
		if (b->duration_ns > g[j].max)
			g[j].max = b->duration_ns;
	}
	qsort(g, ng, sizeof(*g), cmp_group_total);
	fprintf(f, "  blocking calls: %zu\n", p->blocking_calls.n);
	fprintf(f, "    %-8s %-20s %8s %12s %12s\n", "kind", "syscall", "count", "total", "max");
	for (i = 0; i < ng && i < top; i++)
		fprintf(f, "    %-8s %-20s %8" PRIu64 " %12s %12s\n", g[i].kind ? g[i].kind : "?",
			g[i].syscall ? g[i].syscall : "?", g[i].count, dur(g[i].total),
			dur(g[i].max));
	free(g);
}

typedef uint64_t (*sort_key_fn)(const void *base, size_t i);

struct sort_ctx {
	sort_key_fn key;
	const void *base;
};

static int cmp_idx_desc(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;
	uint64_t x = c->key(c->base, *(const size_t *)a), y = c->key(c->base, *(const size_t *)b);

	return x > y ? -1 : x < y;
}

/* Indices 0..n-1 sorted by key descending, malloc'd; NULL on ENOMEM. */
static size_t *sorted_idx(size_t n, sort_key_fn key, const void *base)
{
	struct sort_ctx c = {.key = key, .base = base};
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));

	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_idx_desc, &c);
	return idx;
}

static uint64_t key_blocking(const void *base, size_t i)
{
	return ((const struct ap_blocking *)base)[i].duration_ns;
}

static uint64_t key_slow_cb(const void *base, size_t i)
{
	return ((const struct ap_slow_cb *)base)[i].duration_ns;
}

static uint64_t key_task(const void *base, size_t i)
{
	return ((const struct ap_task *)base)[i].busy_ns;
}

static uint64_t since(const struct ap_report *r, uint64_t t)
{
	return t > r->start_ns ? t - r->start_ns : 0;
}

static void text_blocking_longest(FILE *f, const struct ap_report *r, const struct ap_process *p,
				  size_t top)
{
	size_t *idx = sorted_idx(p->blocking_calls.n, key_blocking, p->blocking_calls.v);
	char esc[ESC_MAX];

	if (!idx)
		return;
	fprintf(f, "  longest blocking calls:\n");
	for (size_t i = 0; i < p->blocking_calls.n && i < top; i++) {
		const struct ap_blocking *b = &p->blocking_calls.v[idx[i]];

		fprintf(f, "    +%-10s tid %-7u %10s  %s (%s)", dur(since(r, b->start_ns)), b->tid,
			dur(b->duration_ns), b->syscall ? b->syscall : "?",
			b->kind ? b->kind : "?");
		if (b->detail)
			fprintf(f, " %s", strutil__term(b->detail, esc, sizeof(esc)));
		if (b->began_before)
			fprintf(f, " [in flight when tracing began: at least this long]");
		if (b->in_progress)
			fprintf(f, " [still in progress when tracing ended]");
		text_context(f, p, b->task, b->callback);
		fputc('\n', f);
		text_stack(f, &b->stack);
		if (b->native_stack.n) {
			char esc[ESC_MAX];

			fprintf(f, "        native: %s\n",
				strutil__term(b->native_stack.frames[0], esc, sizeof(esc)));
		}
	}
	free(idx);
}

static void text_slow_callbacks(FILE *f, const struct ap_report *r, const struct ap_process *p,
				size_t top)
{
	size_t *idx = sorted_idx(p->slow_callbacks.n, key_slow_cb, p->slow_callbacks.v);

	if (!idx)
		return;
	fprintf(f, "  slow callbacks: %zu\n", p->slow_callbacks.n);
	for (size_t i = 0; i < p->slow_callbacks.n && i < top; i++) {
		const struct ap_slow_cb *c = &p->slow_callbacks.v[idx[i]];

		fprintf(f, "    +%-10s tid %-7u %10s  blocked %s", dur(since(r, c->start_ns)),
			c->tid, dur(c->duration_ns), dur(c->blocked_ns));
		text_context(f, p, c->task, c->callback ? c->callback : "?");
		if (c->in_progress)
			fprintf(f, " [still running when tracing ended%s]",
				c->began_before ? ", and when it began" : "");
		fputc('\n', f);
		text_stack(f, &c->stack);
	}
	free(idx);
}

static void text_tasks(FILE *f, const struct ap_process *p, size_t top)
{
	size_t *idx = sorted_idx(p->tasks.n, key_task, p->tasks.v);
	char esc[ESC_MAX], esc2[ESC_MAX];

	if (!idx)
		return;
	fprintf(f, "  tasks by busy time: %zu", p->tasks.n);
	if (p->tasks_omitted && p->steps_exact)
		fprintf(f, " (and %" PRIu64 " less busy finished tasks not kept)",
			p->tasks_omitted);
	else if (p->tasks_omitted) /* light mode: seen after its table was full */
		fprintf(f, " (and %" PRIu64 " tasks seen once the table was full, not counted)",
			p->tasks_omitted);
	fputc('\n', f);
	for (size_t i = 0; i < p->tasks.n && i < top; i++) {
		const struct ap_task *t = &p->tasks.v[idx[i]];

		fprintf(f,
			"    %-24s %-24s busy %10s  %6" PRIu64
			" steps  max step %10s  blocked %s  %s\n",
			strutil__term(t->name, esc, sizeof(esc)),
			strutil__term(t->coro, esc2, sizeof(esc2)), dur(t->busy_ns), t->steps,
			dur(t->max_step_ns), dur(t->blocked_ns), t->state ? t->state : "-");
	}
	free(idx);
}

/* Is a call or callback of p still in progress at the end? */
static bool stuck_now(const struct ap_process *p)
{
	for (size_t i = 0; i < p->blocking_calls.n; i++)
		if (p->blocking_calls.v[i].in_progress)
			return true;
	for (size_t i = 0; i < p->slow_callbacks.n; i++)
		if (p->slow_callbacks.v[i].in_progress)
			return true;
	return false;
}

/* Lints, most serious kind first: what, where, and what to use instead. */
static void text_lints(FILE *f, const struct ap_process *p, size_t top)
{
	static const char *const order[] = {"deadlock", "stuck", "never_yields", "blocking",
					    "busy_poll"};
	char name[ESC_MAX], coro[ESC_MAX], msg[ESC_MAX * 2];
	size_t shown = 0;

	fprintf(f, "  lints: %zu\n", p->lints.n);
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (size_t i = 0; i < p->lints.n && shown < top; i++) {
			const struct ap_lint *l = &p->lints.v[i];

			if (strcmp(l->kind, order[k]))
				continue;
			shown++;
			fprintf(f, "    %-12s %s%s%s%s: %s\n", l->kind, l->task ? "task " : "",
				strutil__term(l->name, name, sizeof(name)), l->coro ? " in " : "",
				l->coro ? strutil__term(l->coro, coro, sizeof(coro)) : "",
				strutil__term(l->message, msg, sizeof(msg)));
			if (l->fix)
				fprintf(f, "        instead: %s\n", l->fix);
			text_stack(f, &l->stack);
		}
	}
}

static void text_process(FILE *f, const struct ap_report *r, const struct ap_process *p, size_t top)
{
	char comm[ESC_MAX], ver[ESC_MAX], ns[48] = "";

	if (p->ns_pid && p->ns_pid != p->pid)
		snprintf(ns, sizeof(ns), " (pid %u in its PID namespace)", p->ns_pid);
	fprintf(f, "\nprocess %u%s %s: %s %s, backend %s\n", p->pid, ns,
		strutil__term(p->comm, comm, sizeof(comm)), p->runtime ? p->runtime : "unknown",
		strutil__term(p->runtime_version, ver, sizeof(ver)), p->backend ? p->backend : "-");
	if (!p->loops.n && stuck_now(p))
		fprintf(f, "  no loop iteration seen: its loop is stuck since before tracing began"
			   " (below, in progress)\n");
	else if (!p->loops.n)
		fprintf(f, "  no event loop seen\n");
	for (size_t i = 0; i < p->loops.n; i++)
		text_loop(f, &p->loops.v[i]);
	if (p->blocking_calls.n) {
		text_blocking_groups(f, p, top);
		text_blocking_longest(f, r, p, top);
	} else {
		fprintf(f, "  no blocking calls >= %s\n", dur(r->blocking_ns));
	}
	if (p->slow_callbacks.n)
		text_slow_callbacks(f, r, p, top);
	if (p->tasks.n)
		text_tasks(f, p, top);
	if (p->lints.n)
		text_lints(f, p, top);
}

int out_text__write(FILE *f, const struct ap_report *r, const struct out_opts *o)
{
	size_t top = o->top_n > 0 ? (size_t)o->top_n : TEXT_DEFAULT_TOP;

	text_header(f, r);
	if (!r->processes.n)
		fprintf(f, "no process traced\n");
	for (size_t i = 0; i < r->processes.n; i++)
		text_process(f, r, &r->processes.v[i], top);
	return 0;
}
