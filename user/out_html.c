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
#include "html_escape.h"
#include "out_html.h"
#include "strutil.h"

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
	"summary{cursor:pointer}"
	".causes{display:flex;width:1000px;height:18px;background:#fff;border:1px solid #dde}"
	".causes.small{width:300px;height:10px}.causes i{display:block;height:100%}"
	/* enum ap_cause: running, run queue, GIL, short syscalls, other calls, sleep, file,
	   net, process, lock */
	".c0{background:#2e9d4f}.c1{background:#8e24aa}.c2{background:#e69b00}"
	".c3{background:#9e9e9e}.c4{background:#607d8b}.c5{background:#c62828}"
	".c6{background:#1f5fbf}.c7{background:#00838f}.c8{background:#6d4c41}"
	".c9{background:#f06292}";

void out_html__dur(FILE *f, uint64_t ns)
{
	char buf[32];

	if (ns == AP_NULL_U64 || strutil__format_ns(ns, buf, sizeof(buf)) < 0)
		fputs("-", f);
	else
		fputs(buf, f);
}

/* An offset from the window start, in seconds: "+1.234 s". */
void out_html__at(const struct html *h, uint64_t t_ns)
{
	fprintf(h->f, "+%.3f s", ((double)(int64_t)(t_ns - h->t0)) / 1e9);
}

/* A percentage of the window for t_ns, clamped to [0, 100]. */
double out_html__pct(const struct html *h, uint64_t t_ns)
{
	double v;

	if (t_ns <= h->t0)
		return 0;
	v = (double)(t_ns - h->t0) * 100.0 / (double)h->span;
	return v > 100 ? 100 : v;
}

/* The name (escaped) of the task id running at t_ns, else its id, else "-". */
void out_html__task_name(const struct html *h, uint64_t id, uint64_t t_ns)
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
	out_html__dur(f, r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0);
	fputs(", slow callback &ge; ", f);
	out_html__dur(f, r->slow_callback_ns);
	fputs(", blocking call &ge; ", f);
	out_html__dur(f, r->blocking_ns);
	fputs(", lag grid ", f);
	out_html__dur(f, r->lag_interval_ns);
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
	out_html__dur(f, t.worst_lag);
	fputs("</div><div class=\"k\">worst lag</div></div>\n</div>\n", f);
}

/* The chart column of t_ns (clamped). */
size_t out_html__col(const struct html *h, uint64_t t_ns)
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
		size_t a = out_html__col(h, pt->t_ns),
		       b = out_html__col(h, pt->t_ns + h->r->lag_interval_ns);

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
	out_html__dur(f, max_ns);
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

static void html_process_head(const struct html *h)
{
	const struct ap_process *p = h->p;
	FILE *f = h->f;

	fputs("<h2>", f);
	html__escape(f, p->comm, "?");
	fprintf(f, " (pid %u", p->pid);
	if (p->ns_pid && p->ns_pid != p->pid)
		fprintf(f, "; %u in its PID namespace", p->ns_pid);
	fputs(")</h2>\n<p class=\"muted\">", f);
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
	for (size_t i = 0; i < h->p->loops.n && !err; i++) {
		err = html_lag_chart(h, &h->p->loops.v[i]);
		if (!err)
			err = out_html__late(h, &h->p->loops.v[i]);
	}
	if (!err)
		err = out_html__lint_table(h);
	if (!err)
		err = out_html__gantt(h);
	if (!err)
		err = out_html__slow_table(h);
	if (!err)
		err = out_html__blocking_table(h);
	if (!err)
		err = out_html__callback_table(h);
	if (!err)
		err = out_html__task_table(h);
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
