// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTML report: one self-contained page (inline CSS and SVG, no script,
 * nothing fetched): summary cards, then per process a lag-over-time chart
 * per loop, a Gantt timeline of the tasks, and tables of slow callbacks,
 * blocking calls (with their stacks), callbacks and tasks. Every string
 * from the target goes through html__escape.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "output.h"
#include "html_escape.h"
#include "strutil.h"

#define HTML_COLS      1000 /* lag chart columns; also the Gantt's merge resolution */
#define HTML_CHART_H   160
#define HTML_MAX_ROWS  300 /* Gantt rows (tasks) */
#define HTML_MAX_TABLE 500 /* rows of each table */

struct html {
	FILE *f;
	const struct ap_report *r;
	const struct ap_process *p;
	uint64_t t0, span; /* the window: start and length (> 0) */
	size_t *by_task;   /* indices of p's task slices sorted by (task, start) */
	size_t n_by_task;
	struct ap_task_index tasks; /* p's */
};

static const char html_style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}"
	"h3{font-size:15px;margin:18px 0 6px}.muted{color:#667}"
	".warn{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px;border-radius:4px}"
	".cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}"
	".card{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 16px;"
	"min-width:110px}.card .v{font-size:24px;font-weight:600}.card .k{color:#667}"
	".card.bad .v{color:#c62828}"
	"svg.lag{background:#fff;border:1px solid #dde;border-radius:6px}"
	".gantt{background:#fff;border:1px solid #dde;border-radius:6px;padding:6px 0}"
	".row{display:flex;align-items:center;height:18px}"
	".row:hover{background:#eef2f8}"
	".lbl{width:240px;flex:none;padding:0 8px;overflow:hidden;white-space:nowrap;"
	"text-overflow:ellipsis;font-size:12px}"
	".track{position:relative;flex:1;height:12px;margin-right:10px}"
	".bar{position:absolute;top:0;height:12px;min-width:1px}"
	".wait{background:#c9d6e6}.run{background:#2e9d4f}.loopbar{background:#6b7a90}"
	".blk{background:#b71c1c;top:3px;height:6px;min-width:2px;z-index:2}"
	".end{width:3px;z-index:1}.st-done{background:#1f5fbf}"
	".st-cancelled{background:#e69b00}.st-failed{background:#d32f2f}"
	".st-pending{background:#8e99ab}"
	".legend span{display:inline-block;margin-right:14px;font-size:12px}"
	".legend i{display:inline-block;width:12px;height:10px;margin-right:4px}"
	"table{border-collapse:collapse;background:#fff;font-size:12px;width:100%}"
	"th,td{border:1px solid #dde;padding:3px 6px;text-align:left;vertical-align:top}"
	"th{background:#eef0f4}td.n{text-align:right;white-space:nowrap}"
	"pre{margin:2px 0;font-size:11px;white-space:pre-wrap}"
	"summary{cursor:pointer}";

static void html_dur(FILE *f, uint64_t ns)
{
	char buf[32];

	if (ns == AP_NULL_U64 || strutil__format_ns(ns, buf, sizeof(buf)) < 0)
		fputs("-", f);
	else
		fputs(buf, f);
}

/* An offset from the window start, in seconds: "+1.234 s". */
static void html_at(const struct html *h, uint64_t t_ns)
{
	fprintf(h->f, "+%.3f s", ((double)(int64_t)(t_ns - h->t0)) / 1e9);
}

/* A percentage of the window for t_ns, clamped to [0, 100]. */
static double html_pct(const struct html *h, uint64_t t_ns)
{
	double v;

	if (t_ns <= h->t0)
		return 0;
	v = (double)(t_ns - h->t0) * 100.0 / (double)h->span;
	return v > 100 ? 100 : v;
}

/* The name (escaped) of the task id running at t_ns, else its id, else "-". */
static void html_task_name(const struct html *h, uint64_t id, uint64_t t_ns)
{
	const struct ap_task *t = ap_task_index__at(&h->tasks, id, t_ns);

	if (t && t->name)
		html__escape(h->f, t->name, NULL);
	else if (id)
		fprintf(h->f, "0x%llx", (unsigned long long)id);
	else
		fputs("-", h->f);
}

static void html_head(FILE *f, const struct ap_report *r)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n"
	      "<title>asyncprof-bpf report</title>\n<style>",
	      f);
	fputs(html_style, f);
	fputs("</style></head>\n<body>\n<h1>asyncprof-bpf report</h1>\n<p class=\"muted\">", f);
	fputs("window ", f);
	html_dur(f, r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0);
	fputs(", slow callback &ge; ", f);
	html_dur(f, r->slow_callback_ns);
	fputs(", blocking call &ge; ", f);
	html_dur(f, r->blocking_ns);
	fputs(", lag grid ", f);
	html_dur(f, r->lag_interval_ns);
	fprintf(f, ", %s</p>\n", r->traced ? "every callback run recorded" : "no per-run trace");
	if (r->drops_events || r->drops_stacks)
		fprintf(f,
			"<p class=\"warn\" id=\"drops\">data lost to full buffers: %llu events, "
			"%llu stacks</p>\n",
			(unsigned long long)r->drops_events, (unsigned long long)r->drops_stacks);
}

struct html_totals {
	uint64_t tasks, done, cancelled, failed, blocking, slow, worst_lag;
};

static void html_count(const struct ap_report *r, struct html_totals *t)
{
	for (size_t i = 0; i < r->processes.n; i++) {
		const struct ap_process *p = &r->processes.v[i];

		t->tasks += p->tasks.n;
		t->blocking += p->blocking_calls.n;
		t->slow += p->slow_callbacks.n;
		for (size_t j = 0; j < p->tasks.n; j++) {
			const char *s = p->tasks.v[j].state;

			t->done += s && !strcmp(s, "done");
			t->cancelled += s && !strcmp(s, "cancelled");
			t->failed += s && !strcmp(s, "failed");
		}
		for (size_t j = 0; j < p->loops.n; j++)
			if (p->loops.v[j].lag.max_ns > t->worst_lag)
				t->worst_lag = p->loops.v[j].lag.max_ns;
	}
}

static void html_card(FILE *f, const char *id, const char *key, uint64_t v, bool bad)
{
	fprintf(f,
		"<div class=\"card%s\" id=\"card-%s\"><div class=\"v\">%llu</div>"
		"<div class=\"k\">%s</div></div>\n",
		bad && v ? " bad" : "", id, (unsigned long long)v, key);
}

static void html_cards(FILE *f, const struct ap_report *r)
{
	struct html_totals t = {0};

	html_count(r, &t);
	fputs("<div class=\"cards\">\n", f);
	html_card(f, "tasks", "tasks", t.tasks, false);
	html_card(f, "done", "completed (done)", t.done, false);
	html_card(f, "cancelled", "cancelled", t.cancelled, false);
	html_card(f, "failed", "failed", t.failed, true);
	html_card(f, "blocking", "blocking calls", t.blocking, true);
	html_card(f, "slow", "slow callbacks", t.slow, true);
	fputs("<div class=\"card\" id=\"card-lag\"><div class=\"v\">", f);
	html_dur(f, t.worst_lag);
	fputs("</div><div class=\"k\">worst lag</div></div>\n</div>\n", f);
}

/* The chart column of t_ns (clamped). */
static size_t html_col(const struct html *h, uint64_t t_ns)
{
	size_t c =
		t_ns <= h->t0 ? 0 : (size_t)((double)(t_ns - h->t0) * HTML_COLS / (double)h->span);

	return c < HTML_COLS ? c : HTML_COLS - 1;
}

/*
 * Max lag (ns) per chart column: each sample holds from its grid instant
 * to the next one (a step chart), at least one column wide.
 */
static void html_lag_cols(const struct html *h, const struct ap_loop *l, uint64_t *cols)
{
	memset(cols, 0, HTML_COLS * sizeof(*cols));
	for (size_t i = 0; i < l->lag_series.n; i++) {
		const struct ap_lag_point *pt = &l->lag_series.v[i];
		size_t a = html_col(h, pt->t_ns), b = html_col(h, pt->t_ns + h->r->lag_interval_ns);

		if (pt->t_ns < h->t0)
			continue;
		for (size_t c = a; c <= b; c++)
			if (pt->lag_ns > cols[c] && (c == a || c < b))
				cols[c] = pt->lag_ns;
	}
}

/* The SVG axes: a y label at the top (max) and x labels every fifth of the window. */
static void html_lag_axes(const struct html *h, uint64_t max_ns)
{
	FILE *f = h->f;

	fprintf(f, "<line x1=\"50\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#99a\"/>\n",
		HTML_CHART_H - 20, HTML_COLS + 50, HTML_CHART_H - 20);
	fputs("<text x=\"4\" y=\"16\" font-size=\"11\" fill=\"#667\">", f);
	html_dur(f, max_ns);
	fputs("</text>\n", f);
	for (int i = 0; i <= 5; i++)
		fprintf(f,
			"<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#667\" "
			"text-anchor=\"middle\">%.1f s</text>\n",
			50 + i * HTML_COLS / 5, HTML_CHART_H - 4, h->span * i / 5.0 / 1e9);
}

/* Lag over time as a step area: x is time, y the lag of the worst sample per column. */
static int html_lag_chart(const struct html *h, const struct ap_loop *l)
{
	uint64_t *cols = calloc(HTML_COLS, sizeof(*cols)), max = 0;
	double y0 = HTML_CHART_H - 20, plot_h = HTML_CHART_H - 40, y;
	FILE *f = h->f;

	if (!cols)
		return -ENOMEM;
	html_lag_cols(h, l, cols);
	for (int c = 0; c < HTML_COLS; c++)
		max = cols[c] > max ? cols[c] : max;
	fprintf(f, "<h3>Loop lag, thread %u</h3>\n", l->tid);
	fprintf(f,
		"<svg class=\"lag\" id=\"lag-%u\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\"><title>loop lag of thread %u</title>\n",
		l->tid, HTML_COLS + 80, HTML_CHART_H, HTML_COLS + 80, HTML_CHART_H, l->tid);
	html_lag_axes(h, max);
	fprintf(f, "<path fill=\"#e57373\" stroke=\"#c62828\" stroke-width=\"0.5\" d=\"M50 %.0f",
		y0);
	for (int c = 0; c < HTML_COLS && max; c++) {
		y = y0 - plot_h * (double)cols[c] / (double)max;
		fprintf(f, "V%.1fh1", y);
	}
	fprintf(f, "V%.0fZ\"/>\n</svg>\n", y0);
	free(cols);
	return 0;
}

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
	double l = html_pct(h, a), r = html_pct(h, b);

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
		double l = html_pct(h, b->start_ns), r = html_pct(h, b->start_ns + b->duration_ns);

		if (t ? b->task != t->id || ap_task_index__at(&h->tasks, t->id, b->start_ns) != t
		      : b->tid != tid)
			continue;
		fprintf(h->f, "<div class=\"bar blk\" style=\"left:%.3f%%;width:%.3f%%\" title=\"",
			l, r - l);
		html__escape(h->f, b->syscall, "?");
		fputs(" ", h->f);
		html_dur(h->f, b->duration_ns);
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
	html_dur(f, t->busy_ns);
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
			html_pct(h, t->finished_ns));
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
static int html_gantt(struct html *h)
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
	html_dur(f, ns);
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
	html_task_name(h, task, t_ns);
	fputs("</td>", h->f);
}

static void html_td_at(const struct html *h, uint64_t t_ns)
{
	fputs("<td class=\"n\">", h->f);
	html_at(h, t_ns);
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

static int html_slow_table(const struct html *h)
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
	html_td_dur(f, b->duration_ns);
	html_td_text(f, b->syscall);
	html_td_text(f, b->kind);
	html_td_text(f, b->detail);
	html_td_task(h, b->task, b->start_ns);
	html_td_text(f, b->callback);
	html_stack(f, &b->stack);
	fputs("</tr>\n", f);
}

static int html_blocking_table(const struct html *h)
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

static int html_callback_table(const struct html *h)
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

static int html_task_table(const struct html *h)
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

static void html_process_head(const struct html *h)
{
	const struct ap_process *p = h->p;
	FILE *f = h->f;

	fputs("<h2>", f);
	html__escape(f, p->comm, "?");
	fprintf(f, " (pid %u)</h2>\n<p class=\"muted\">", p->pid);
	html__escape(f, p->exe, "-");
	fputs(", ", f);
	html__escape(f, p->runtime, "?");
	fputs(" ", f);
	html__escape(f, p->runtime_version, "");
	fputs(", backend ", f);
	html__escape(f, p->backend, "?");
	fputs("</p>\n", f);
}

static int html_process(struct html *h)
{
	int err;

	ap_task_index__free(&h->tasks);
	err = ap_task_index__build(&h->tasks, h->p);
	if (err)
		return err;
	html_process_head(h);
	for (size_t i = 0; i < h->p->loops.n && !err; i++)
		err = html_lag_chart(h, &h->p->loops.v[i]);
	if (!err)
		err = html_gantt(h);
	if (!err)
		err = html_slow_table(h);
	if (!err)
		err = html_blocking_table(h);
	if (!err)
		err = html_callback_table(h);
	if (!err)
		err = html_task_table(h);
	return err;
}

int out_html__write(FILE *f, const struct ap_report *r, const struct out_opts *o)
{
	struct html h = {.f = f, .r = r};
	int err = 0;

	(void)o; /* no options */
	h.t0 = h.r->start_ns;
	h.span = h.r->end_ns > h.r->start_ns ? h.r->end_ns - h.r->start_ns : 1;
	html_head(f, h.r);
	html_cards(f, h.r);
	for (size_t i = 0; i < h.r->processes.n && !err; i++) {
		h.p = &h.r->processes.v[i];
		err = html_process(&h);
	}
	fputs("</body></html>\n", f);
	free(h.by_task);
	ap_task_index__free(&h.tasks);
	return err;
}
