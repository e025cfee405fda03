/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HTML writer's parts: the page (out_html.c), the task timeline
 * (out_html_gantt.c) and the tables (out_html_tables.c).
 */
#ifndef AP_OUT_HTML_H
#define AP_OUT_HTML_H

#include <stdio.h>
#include "output.h"

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

/* A duration ("-" when unknown). */
void out_html__dur(FILE *f, uint64_t ns);
/* An offset from the window start, in seconds: "+1.234 s". */
void out_html__at(const struct html *h, uint64_t t_ns);
/* A percentage of the window for t_ns, clamped to [0, 100]. */
double out_html__pct(const struct html *h, uint64_t t_ns);
/* The name (escaped) of the task id running at t_ns, else its id, else "-". */
void out_html__task_name(const struct html *h, uint64_t id, uint64_t t_ns);
/* The lag chart's column of t_ns (also the timeline's merge resolution). */
size_t out_html__col(const struct html *h, uint64_t t_ns);

/* The timeline: a row per loop, then the busiest tasks by start. 0 or -ENOMEM. */
int out_html__gantt(struct html *h);
/* The tables of h->p, each at most HTML_MAX_TABLE rows. 0 or -ENOMEM. */
int out_html__slow_table(const struct html *h);
int out_html__blocking_table(const struct html *h);
int out_html__callback_table(const struct html *h);
int out_html__task_table(const struct html *h);
/* The lints (none: no table). 0. */
int out_html__lint_table(const struct html *h);
/* Why loop l was late: its slow iterations' time by cause, a bar each. 0 or -ENOMEM. */
int out_html__late(const struct html *h, const struct ap_loop *l);

#endif /* AP_OUT_HTML_H */
