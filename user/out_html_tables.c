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

/* What a pending task awaits: another task by name, else the future's type; where. */
static void html_td_awaits(const struct html *h, const struct ap_task *t)
{
	const struct ap_task *o = t->awaits ? ap_process__find_task(h->p, t->awaits) : NULL;
	FILE *f = h->f;

	if (!t->awaits_known) {
		fputs("<td class=\"muted\">-</td>", f);
		return;
	}
	fputs("<td>", f);
	if (o) {
		fputs("task ", f);
		html__escape(f, o->name, "?");
	} else if (t->awaits) {
		html__escape(f, t->awaits_type, "?");
	} else {
		fputs("nothing (scheduled)", f);
	}
	if (t->awaits_at) {
		fputs("<br><span class=\"muted\">at ", f);
		html__escape(f, t->awaits_at, NULL);
		fputs("</span>", f);
	}
	fputs("</td>", f);
}

static void html_task_tr(const struct html *h, const struct ap_task *t)
{
	FILE *f = h->f;

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
	html_td_awaits(h, t);
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
		"<th>error</th><th>awaits</th></tr>\n",
		p->tasks.n);
	for (size_t k = 0; k < p->tasks.n && k < HTML_MAX_TABLE; k++)
		html_task_tr(h, &p->tasks.v[ix[k]]);
	fputs("</table>\n", f);
	html_more(f, p->tasks.n);
	free(ix);
	return 0;
}

/* One cause's colour (index: enum ap_cause); the stylesheet names them .cN. */
static void html_cause_bar(FILE *f, const uint64_t ns[AP_NCAUSES],
			   const struct ap_culprit culprits[AP_NCAUSES], const char *cls)
{
	int order[AP_NCAUSES], n = ap_causes__order(ns, order);
	uint64_t total = 0;

	for (int i = 0; i < n; i++)
		total += ns[order[i]];
	fprintf(f, "<div class=\"%s\">", cls);
	for (int i = 0; i < n && total; i++) {
		int c = order[i];

		fprintf(f, "<i class=\"c%d\" style=\"width:%.2f%%\" title=\"%s %.1f%%", c,
			100.0 * ns[c] / total, ap_cause_labels[c], 100.0 * ns[c] / total);
		if (culprits[c].callback) {
			fputs(" in ", f);
			html__escape(f, culprits[c].callback, NULL);
		}
		fputs("\"></i>", f);
	}
	fputs("</div>", f);
}

/* The causes as a legend: "running 48% (445 ms) in case_spin". */
static void html_cause_legend(FILE *f, const uint64_t ns[AP_NCAUSES],
			      const struct ap_culprit culprits[AP_NCAUSES])
{
	int order[AP_NCAUSES], n = ap_causes__order(ns, order);
	uint64_t total = 0;

	for (int i = 0; i < n; i++)
		total += ns[order[i]];
	fputs("<p class=\"legend\">", f);
	for (int i = 0; i < n; i++) {
		int c = order[i];

		fprintf(f, "<span><i class=\"c%d\"></i>%s %.1f%% (", c, ap_cause_labels[c],
			100.0 * ns[c] / total);
		out_html__dur(f, ns[c]);
		fputs(")", f);
		if (culprits[c].callback) {
			fputs(" in ", f);
			html__escape(f, culprits[c].callback, NULL);
		}
		if (culprits[c].holder)
			fprintf(f, ", held by thread %u", culprits[c].holder);
		if (culprits[c].holder_comm) {
			fputs(" (", f);
			html__escape(f, culprits[c].holder_comm, NULL);
			fputs(")", f);
		}
		fputs("</span>", f);
	}
	if (ns[AP_CAUSE_RUNQ] == AP_NULL_U64)
		fputs("<span class=\"muted\">run queue unknown (no CONFIG_SCHED_INFO)</span>", f);
	fputs("</p>\n", f);
}

int out_html__late(const struct html *h, const struct ap_loop *l)
{
	const struct ap_process *p = h->p;
	size_t *ix, shown = 0;
	FILE *f = h->f;

	if (!l->slow_iterations)
		return 0;
	ix = HTML_ORDER(p->iterations, duration_ns);
	if (!ix)
		return -ENOMEM;
	fprintf(f, "<h3>Why thread %u was late: %llu slow iterations</h3>\n", l->tid,
		(unsigned long long)l->slow_iterations);
	html_cause_bar(f, l->slow_causes, l->slow_culprits, "causes");
	html_cause_legend(f, l->slow_causes, l->slow_culprits);
	fprintf(f,
		"<details><summary>slow iterations</summary><table id=\"iterations-%u\"><tr>"
		"<th>start</th><th>duration</th><th>where the time went</th></tr>\n",
		l->tid);
	for (size_t k = 0; k < p->iterations.n && shown < HTML_MAX_TABLE; k++) {
		const struct ap_iteration *it = &p->iterations.v[ix[k]];

		if (it->tid != l->tid)
			continue;
		shown++;
		fputs("<tr>", f);
		html_td_at(h, it->start_ns);
		html_td_dur(f, it->duration_ns);
		fputs("<td>", f);
		html_cause_bar(f, it->cause_ns, it->culprits, "causes small");
		fputs("</td></tr>\n", f);
	}
	fputs("</table></details>\n", f);
	free(ix);
	return 0;
}

int out_html__lint_table(const struct html *h)
{
	const struct ap_process *p = h->p;
	FILE *f = h->f;

	if (!p->lints.n)
		return 0;
	fprintf(f,
		"<h3>Lints (%zu)</h3>\n<table id=\"lints\"><tr><th>lint</th><th>task or "
		"callback</th><th>coro</th><th>what</th><th>instead</th><th>stack</th></tr>\n",
		p->lints.n);
	for (size_t k = 0; k < p->lints.n && k < HTML_MAX_TABLE; k++) {
		const struct ap_lint *l = &p->lints.v[k];

		fprintf(f, "<tr class=\"lint-%s\">", l->kind);
		html_td_text(f, l->kind);
		html_td_text(f, l->name);
		html_td_text(f, l->coro);
		html_td_text(f, l->message);
		html_td_text(f, l->fix);
		html_stack(f, &l->stack);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	html_more(f, p->lints.n);
	return 0;
}
