// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTML report's task timeline: loop rows, task rows with their runs, ends and blocking calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "html_escape.h"
#include "out_html.h"
#include "strutil.h"

static int cmp_slice_task(const void *a, const void *b, void *arg)
{
	const struct ap_slice *v = arg;
	const struct ap_slice *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];

	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* Index p's task slices by (task, start). 0 or -ENOMEM. */
static int html_index_slices(struct html *h)
{
	const struct ap_process *p = h->p;
	size_t n = 0;

	free(h->by_task);
	h->by_task = NULL;
	h->n_by_task = 0;
	if (!p->slices.n)
		return 0;
	h->by_task = calloc(p->slices.n, sizeof(*h->by_task));
	if (!h->by_task)
		return -ENOMEM;
	for (size_t i = 0; i < p->slices.n; i++)
		if (p->slices.v[i].task)
			h->by_task[n++] = i;
	qsort_r(h->by_task, n, sizeof(*h->by_task), cmp_slice_task, p->slices.v);
	h->n_by_task = n;
	return 0;
}

/* The i-th task slice in (task, start) order. */
static const struct ap_slice *html_nth_slice(const struct html *h, size_t i)
{
	return &h->p->slices.v[h->by_task[i]];
}

/* Index of the first slice of task id in h->by_task. */
static size_t html_first_slice(const struct html *h, uint64_t id)
{
	size_t lo = 0, hi = h->n_by_task, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (html_nth_slice(h, mid)->task < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void html_bar(const struct html *h, const char *cls, uint64_t a, uint64_t b)
{
	double l = out_html__pct(h, a), r = out_html__pct(h, b);

	fprintf(h->f, "<div class=\"bar %s\" style=\"left:%.3f%%;width:%.3f%%\"></div>", cls, l,
		r - l);
}

/* Bars for runs [start, end), merging runs closer than one chart column. */
struct html_merge {
	uint64_t a, b;
	bool open;
};

static void html_merge_add(const struct html *h, struct html_merge *m, const char *cls, uint64_t a,
			   uint64_t b)
{
	uint64_t gap = h->span / HTML_COLS;

	if (m->open && a <= m->b + gap) {
		m->b = b > m->b ? b : m->b;
		return;
	}
	if (m->open)
		html_bar(h, cls, m->a, m->b);
	m->a = a;
	m->b = b;
	m->open = true;
}

static void html_merge_end(const struct html *h, struct html_merge *m, const char *cls)
{
	if (m->open)
		html_bar(h, cls, m->a, m->b);
	m->open = false;
}

/*
 * Blocking calls as marks: those of task instance t (when not NULL), else
 * those of loop thread tid.
 */
static void html_blocking_marks(const struct html *h, const struct ap_task *t, uint32_t tid)
{
	for (size_t i = 0; i < h->p->blocking_calls.n; i++) {
		const struct ap_blocking *b = &h->p->blocking_calls.v[i];
		double l = out_html__pct(h, b->start_ns),
		       r = out_html__pct(h, b->start_ns + b->duration_ns);

		if (t ? b->task != t->id || ap_task_index__at(&h->tasks, t->id, b->start_ns) != t
		      : b->tid != tid)
			continue;
		fprintf(h->f, "<div class=\"bar blk\" style=\"left:%.3f%%;width:%.3f%%\" title=\"",
			l, r - l);
		html__escape(h->f, b->syscall, "?");
		fputs(" ", h->f);
		out_html__dur(h->f, b->duration_ns);
		if (b->detail) {
			fputs(" ", h->f);
			html__escape(h->f, b->detail, NULL);
		}
		fputs("\"></div>", h->f);
	}
}

/* The row of a loop thread: all its callback runs, all its blocking calls. */
static void html_loop_row(const struct html *h, const struct ap_loop *l)
{
	struct html_merge m = {0};

	fprintf(h->f,
		"<div class=\"row loop\"><div class=\"lbl\"><b>loop %u</b></div>"
		"<div class=\"track\">",
		l->tid);
	for (size_t i = 0; i < h->p->slices.n; i++) {
		const struct ap_slice *s = &h->p->slices.v[i];

		if (s->tid == l->tid)
			html_merge_add(h, &m, "loopbar", s->start_ns, s->start_ns + s->duration_ns);
	}
	html_merge_end(h, &m, "loopbar");
	html_blocking_marks(h, NULL, l->tid);
	fputs("</div></div>\n", h->f);
}

static void html_row_label(const struct html *h, const struct ap_task *t)
{
	FILE *f = h->f;

	fputs("<div class=\"lbl\" title=\"", f);
	html__escape(f, t->name, "(unnamed)");
	fputs(" - ", f);
	html__escape(f, t->coro, "?");
	fprintf(f, " - %s, %llu steps, busy ", t->state ? t->state : "?",
		(unsigned long long)t->steps);
	out_html__dur(f, t->busy_ns);
	if (t->error) {
		fputs(", ", f);
		html__escape(f, t->error, NULL);
	}
	fputs("\">", f);
	if (t->name)
		html__escape(f, t->name, NULL);
	else
		fprintf(f, "0x%llx", (unsigned long long)t->id);
	fputs("</div>", f);
}

/* A task's row: waiting from start to end, its runs, its end state, its blocking calls. */
static void html_task_row(const struct html *h, const struct ap_task *t)
{
	uint64_t a = ap_task__start(t);
	uint64_t e = t->finished_ns != AP_NULL_U64 ? t->finished_ns : h->r->end_ns;
	const char *st = t->state ? t->state : "pending";
	struct html_merge m = {0};

	fprintf(h->f, "<div class=\"row task\" data-state=\"%s\">", st);
	html_row_label(h, t);
	fputs("<div class=\"track\">", h->f);
	html_bar(h, "wait", a, e > a ? e : a);
	for (size_t i = html_first_slice(h, t->id);
	     i < h->n_by_task && html_nth_slice(h, i)->task == t->id; i++) {
		const struct ap_slice *s = html_nth_slice(h, i);

		/* the same id may belong to an earlier or a later task */
		if (s->start_ns >= a && s->start_ns <= e)
			html_merge_add(h, &m, "run", s->start_ns, s->start_ns + s->duration_ns);
	}
	html_merge_end(h, &m, "run");
	if (t->finished_ns != AP_NULL_U64)
		fprintf(h->f, "<div class=\"bar end st-%s\" style=\"left:%.3f%%\"></div>", st,
			out_html__pct(h, t->finished_ns));
	html_blocking_marks(h, t, 0);
	fputs("</div></div>\n", h->f);
}

static int cmp_task_busy(const void *a, const void *b, void *arg)
{
	const struct ap_task *v = arg;
	const struct ap_task *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];

	return x->busy_ns > y->busy_ns ? -1 : x->busy_ns < y->busy_ns;
}

static int cmp_task_start(const void *a, const void *b, void *arg)
{
	const struct ap_task *v = arg;
	uint64_t x = ap_task__start(&v[*(const size_t *)a]);
	uint64_t y = ap_task__start(&v[*(const size_t *)b]);

	return x < y ? -1 : x > y;
}

static void html_legend(FILE *f)
{
	static const char *const items[][2] = {
		{"run", "running"},
		{"wait", "waiting"},
		{"st-done", "done"},
		{"st-cancelled", "cancelled"},
		{"st-failed", "failed"},
		{"blk", "blocking call"},
		{"loopbar", "loop busy (any callback)"},
	};

	fputs("<p class=\"legend\">", f);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		fprintf(f, "<span><i class=\"%s\"></i>%s</span>", items[i][0], items[i][1]);
	fputs("</p>\n", f);
}

/* The Gantt: a row per loop, then the busiest HTML_MAX_ROWS tasks by start time. */
int out_html__gantt(struct html *h)
{
	const struct ap_process *p = h->p;
	size_t n = p->tasks.n, shown = n < HTML_MAX_ROWS ? n : HTML_MAX_ROWS;
	size_t *ts = calloc(n ? n : 1, sizeof(*ts));
	int err = html_index_slices(h);

	if (!ts || err) {
		free(ts);
		return err ? err : -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		ts[i] = i;
	qsort_r(ts, n, sizeof(*ts), cmp_task_busy, p->tasks.v);
	qsort_r(ts, shown, sizeof(*ts), cmp_task_start, p->tasks.v);
	fputs("<h3>Timeline</h3>\n", h->f);
	html_legend(h->f);
	fputs("<div class=\"gantt\" id=\"gantt\">\n", h->f);
	for (size_t i = 0; i < p->loops.n; i++)
		html_loop_row(h, &p->loops.v[i]);
	for (size_t i = 0; i < shown; i++)
		html_task_row(h, &p->tasks.v[ts[i]]);
	fputs("</div>\n", h->f);
	if (shown < n)
		fprintf(h->f,
			"<p class=\"muted\">%zu more tasks not shown (the busiest %zu are)</p>\n",
			n - shown, shown);
	free(ts);
	return 0;
}
