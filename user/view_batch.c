// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Batch text of the live view, like top -b: one block per refresh with a
 * header line, the loops, the busiest tasks and the latest events. Every
 * figure comes from the reports, so the same snapshots print the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include "strutil.h"
#include "view_batch.h"

#define BATCH_TOP_TASKS	 10
#define BATCH_TOP_EVENTS 10
#define CELL_MAX	 (VIEW_NAME_MAX * 2)

static const char *const sev_names[] = {"ok", "minor", "significant", "critical"};

/* Several cells are used in one printf, hence the ring of buffers. */
static char *ring(void)
{
	static char bufs[16][CELL_MAX];
	static unsigned next;

	return bufs[next++ % 16];
}

static const char *dur(uint64_t ns)
{
	char *b = ring();

	strutil__format_ns(ns, b, CELL_MAX);
	return b;
}

/* A rate or share with one decimal, "-" when unknown. */
static const char *num(double v)
{
	char *b = ring();

	if (v < 0)
		snprintf(b, CELL_MAX, "-");
	else
		snprintf(b, CELL_MAX, "%.1f", v);
	return b;
}

static const char *cell(const char *s, int width)
{
	return view_calc__cell(s, width, false, ring(), CELL_MAX);
}

static void batch_header(FILE *f, const struct view_frame *fr, unsigned interval_ms)
{
	fprintf(f,
		"asyncprof-bpf - up %s, host %s, interval %u ms, %zu processes, %zu loops, "
		"worst lag now %s (%s), events %" PRIu64 ", drops %" PRIu64 "\n",
		dur(fr->uptime_ns), fr->host, interval_ms, fr->nprocs, fr->loops.n,
		dur(fr->worst_lag_ns), sev_names[view_calc__severity(fr->worst_lag_ns)], fr->events,
		fr->drops);
}

static void batch_loops(FILE *f, const struct view_frame *fr)
{
	fprintf(f, "LOOPS\n");
	fprintf(f, "%7s %7s %-15s %-16s %-7s %-7s %9s %9s %9s %9s %6s %8s %6s %6s %-*s %s\n", "PID",
		"TID", "COMM", "RUNTIME", "BACKEND", "KIND", "LAG P99", "LAG MAX", "P99 ALL",
		"MAX ALL", "BUSY%", "CB/S", "BLK/S", "GIL%", VIEW_BAR, "CAUSES", "MOST BUSY IN");
	for (size_t i = 0; i < fr->loops.n; i++) {
		const struct view_loop_row *l = &fr->loops.v[i];
		char *top = ring();

		if (l->top_cause >= 0)
			snprintf(top, CELL_MAX, "%.0f%% %s", l->top_pct,
				 ap_cause_labels[l->top_cause]);
		else
			snprintf(top, CELL_MAX, "-");
		fprintf(f, "%7u %7u %s %s %-7s %-7s %9s %9s %9s %9s %6s %8s %6s %6s %s %s\n",
			l->pid, l->tid, cell(l->comm, 15), cell(l->runtime, 16),
			l->backend ? l->backend : "-", l->kind ? l->kind : "-", dur(l->lag_p99_ns),
			dur(l->lag_max_ns), dur(l->lag_p99_all_ns), dur(l->lag_max_all_ns),
			num(l->busy_pct), num(l->cb_per_s), num(l->blk_per_s), num(l->gil_pct),
			l->causes, top);
	}
}

static void batch_tasks(FILE *f, struct view_frame *fr)
{
	size_t n = fr->tasks.n < BATCH_TOP_TASKS ? fr->tasks.n : BATCH_TOP_TASKS;

	view_calc__sort_tasks(fr->tasks.v, fr->tasks.n, VIEW_ST_BUSY);
	fprintf(f, "TASKS (top %zu of %zu by busy time)\n", n, fr->tasks.n);
	fprintf(f, "%7s %7s %-20s %-20s %-9s %8s %6s %9s %9s %9s\n", "PID", "LOOP", "NAME", "CORO",
		"STATE", "STEPS/S", "BUSY%", "MAX STEP", "BLOCKED", "AGE");
	for (size_t i = 0; i < n; i++) {
		const struct view_task_row *t = &fr->tasks.v[i];

		fprintf(f, "%7u %7u %s %s %-9s %8s %6s %9s %9s %9s\n", t->pid, t->loop_tid,
			cell(t->name, 20), cell(t->coro, 20), t->state ? t->state : "-",
			num(t->steps_per_s), num(t->busy_pct), dur(t->max_step_ns),
			dur(t->blocked_ns), dur(t->age_ns));
	}
}

static void batch_events(FILE *f, const struct view_frame *fr)
{
	size_t n = fr->events_rows.n < BATCH_TOP_EVENTS ? fr->events_rows.n : BATCH_TOP_EVENTS;
	char t[32];

	fprintf(f, "EVENTS (latest %zu of %zu)\n", n, fr->events_rows.n);
	fprintf(f, "%10s %9s %-8s %7s %7s %-20s %-24s %s\n", "TIME", "DURATION", "KIND", "PID",
		"TID", "TASK", "WHAT", "TOP FRAME");
	for (size_t i = 0; i < n; i++) {
		const struct view_event_row *e = &fr->events_rows.v[i];

		snprintf(t, sizeof(t), "+%.3fs", e->t_ns / 1e9);
		fprintf(f, "%10s %9s %-8s %7u %7u %s %s %s\n", t, dur(e->duration_ns), e->kind,
			e->pid, e->tid, cell(e->task, 20), cell(e->what, 24),
			e->nframes ? e->frames[0] : "-");
	}
}

int view_batch__print(FILE *f, const struct ap_report *cur, const struct ap_report *prev,
		      const struct view_stats *st, unsigned interval_ms)
{
	struct view_frame fr = {0};
	int err;

	err = view_frame__build(&fr, cur, prev, st);
	if (err)
		goto out_clear;
	batch_header(f, &fr, interval_ms);
	batch_loops(f, &fr);
	batch_tasks(f, &fr);
	batch_events(f, &fr);
	fputc('\n', f);
	if (fflush(f) || ferror(f))
		err = errno == EPIPE ? -EPIPE : -EIO; /* EPIPE: the reader went away (| head) */
out_clear:
	view_frame__clear(&fr);
	return err;
}
