// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTML report's tables: slow callbacks, blocking calls with their stacks, callbacks, tasks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "html_escape.h"
#include "out_html.h"
#include "strutil.h"

static void html_stack(FILE *f, const struct ap_stack *st)
{
	if (!st->n) {
		fputs("<td class=\"muted\">-</td>", f);
		return;
	}
	fprintf(f, "<td><details><summary>%zu frames</summary><pre>", st->n);
	for (size_t i = 0; i < st->n; i++) {
		html__escape(f, st->frames[i], NULL);
		fputc('\n', f);
	}
	fputs("</pre></details></td>", f);
}

static void html_td_dur(FILE *f, uint64_t ns)
{
	fputs("<td class=\"n\">", f);
	out_html__dur(f, ns);
	fputs("</td>", f);
}

static void html_td_text(FILE *f, const char *s)
{
	fputs("<td>", f);
	html__escape(f, s, "-");
	fputs("</td>", f);
}

static void html_td_task(const struct html *h, uint64_t task, uint64_t t_ns)
{
	fputs("<td>", h->f);
	out_html__task_name(h, task, t_ns);
	fputs("</td>", h->f);
}

static void html_td_at(const struct html *h, uint64_t t_ns)
{
	fputs("<td class=\"n\">", h->f);
	out_html__at(h, t_ns);
	fputs("</td>", h->f);
}

struct html_by_dur {
	const char *base;
	size_t elem, off;
};

static uint64_t html_dur_at(const struct html_by_dur *o, size_t i)
{
	uint64_t v;

	memcpy(&v, o->base + i * o->elem + o->off, sizeof(v));
	return v;
}

static int cmp_index_dur(const void *a, const void *b, void *arg)
{
	uint64_t x = html_dur_at(arg, *(const size_t *)a), y = html_dur_at(arg, *(const size_t *)b);

	return x > y ? -1 : x < y;
}

/* Indices of the n elements of base sorted by decreasing u64 at dur_off; NULL on ENOMEM. */
static size_t *html_order(const void *base, size_t n, size_t elem, size_t dur_off)
{
	struct html_by_dur o = {base, elem, dur_off};
	size_t *ix = calloc(n ? n : 1, sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), cmp_index_dur, &o);
	return ix;
}

#define HTML_ORDER(vec, field) \
	html_order((vec).v, (vec).n, sizeof(*(vec).v), offsetof(__typeof__(*(vec).v), field))

static void html_more(FILE *f, size_t n)
{
	if (n > HTML_MAX_TABLE)
		fprintf(f, "<p class=\"muted\">%zu more not shown (the longest %d are)</p>\n",
			n - HTML_MAX_TABLE, HTML_MAX_TABLE);
}

int out_html__slow_table(const struct html *h)
{
	const struct ap_process *p = h->p;
	size_t *ix = HTML_ORDER(p->slow_callbacks, duration_ns);
	FILE *f = h->f;

	if (!ix)
		return -ENOMEM;
	fprintf(f,
		"<h3>Slow callbacks (%zu)</h3>\n<table id=\"slow\"><tr><th>start</th>"
		"<th>duration</th><th>blocked</th><th>task</th><th>callback</th>"
		"<th>stack</th></tr>\n",
		p->slow_callbacks.n);
	for (size_t k = 0; k < p->slow_callbacks.n && k < HTML_MAX_TABLE; k++) {
		const struct ap_slow_cb *c = &p->slow_callbacks.v[ix[k]];

		fputs("<tr>", f);
		html_td_at(h, c->start_ns);
		html_td_dur(f, c->duration_ns);
		html_td_dur(f, c->blocked_ns);
		html_td_task(h, c->task, c->start_ns);
		html_td_text(f, c->callback);
		html_stack(f, &c->stack);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	html_more(f, p->slow_callbacks.n);
	free(ix);
	return 0;
}

static void html_blocking_tr(const struct html *h, const struct ap_blocking *b)
{
	FILE *f = h->f;

	fputs("<tr>", f);
	html_td_at(h, b->start_ns);
	if (b->in_progress) {
		/* still in flight at the end: the duration is so far */
		fputs("<td class=\"n\">", f);
		out_html__dur(f, b->duration_ns);
		fputs(" (in progress)</td>", f);
	} else {
		html_td_dur(f, b->duration_ns);
	}
	html_td_text(f, b->syscall);
	html_td_text(f, b->kind);
	html_td_text(f, b->detail);
	html_td_task(h, b->task, b->start_ns);
	html_td_text(f, b->callback);
	html_stack(f, &b->stack);
	fputs("</tr>\n", f);
}

int out_html__blocking_table(const struct html *h)
{
	const struct ap_process *p = h->p;
	size_t *ix = HTML_ORDER(p->blocking_calls, duration_ns);

	if (!ix)
		return -ENOMEM;
	fprintf(h->f,
		"<h3>Blocking calls (%zu)</h3>\n<table id=\"blocking\"><tr><th>start</th>"
		"<th>duration</th><th>syscall</th><th>kind</th><th>detail</th><th>task</th>"
		"<th>callback</th><th>stack</th></tr>\n",
		p->blocking_calls.n);
	for (size_t k = 0; k < p->blocking_calls.n && k < HTML_MAX_TABLE; k++)
		html_blocking_tr(h, &p->blocking_calls.v[ix[k]]);
	fputs("</table>\n", h->f);
	html_more(h->f, p->blocking_calls.n);
	free(ix);
	return 0;
}

int out_html__callback_table(const struct html *h)
{
	const struct ap_process *p = h->p;
	size_t *ix = HTML_ORDER(p->callbacks, total_ns);
	FILE *f = h->f;

	if (!ix)
		return -ENOMEM;
	fprintf(f,
		"<h3>Callbacks (%zu)</h3>\n<table id=\"callbacks\"><tr><th>callback</th>"
		"<th>runs</th><th>total</th><th>max</th></tr>\n",
		p->callbacks.n);
	for (size_t k = 0; k < p->callbacks.n && k < HTML_MAX_TABLE; k++) {
		const struct ap_callback *c = &p->callbacks.v[ix[k]];

		fputs("<tr>", f);
		html_td_text(f, c->name);
		fprintf(f, "<td class=\"n\">%llu</td>", (unsigned long long)c->count);
		html_td_dur(f, c->total_ns);
		html_td_dur(f, c->max_ns);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	html_more(f, p->callbacks.n);
	free(ix);
	return 0;
}

static void html_task_tr(FILE *f, const struct ap_task *t)
{
	fputs("<tr>", f);
	if (t->name)
		html_td_text(f, t->name);
	else
		fprintf(f, "<td>0x%llx</td>", (unsigned long long)t->id);
	html_td_text(f, t->coro);
	html_td_text(f, t->state);
	fprintf(f, "<td class=\"n\">%llu</td>", (unsigned long long)t->steps);
	html_td_dur(f, t->busy_ns);
	html_td_dur(f, t->max_step_ns);
	html_td_dur(f, t->blocked_ns);
	html_td_text(f, t->error);
	fputs("</tr>\n", f);
}

int out_html__task_table(const struct html *h)
{
	const struct ap_process *p = h->p;
	size_t *ix = HTML_ORDER(p->tasks, busy_ns);
	FILE *f = h->f;

	if (!ix)
		return -ENOMEM;
	fprintf(f,
		"<h3>Tasks (%zu)</h3>\n<table id=\"tasks\"><tr><th>name</th><th>coro</th>"
		"<th>state</th><th>steps</th><th>busy</th><th>max step</th><th>blocked</th>"
		"<th>error</th></tr>\n",
		p->tasks.n);
	for (size_t k = 0; k < p->tasks.n && k < HTML_MAX_TABLE; k++)
		html_task_tr(f, &p->tasks.v[ix[k]]);
	fputs("</table>\n", f);
	html_more(f, p->tasks.n);
	free(ix);
	return 0;
}
