// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The live view's screen: header, the loops, tasks and events panes, an event's stack, help. */
#include <stdio.h>
#include <string.h>
#include "strutil.h"
#include "view_int.h"

static const char *const pane_names[PANE__N] = {"Loops", "Tasks", "Events"};
static const char *const sort_names[PANE__N][VIEW_ST__N] = {
	[PANE_LOOPS] = {"lag", "busy", "callbacks", "tid"},
	[PANE_TASKS] = {"busy", "steps", "max step", "blocked", "age", "name"},
	[PANE_EVENTS] = {"time", "duration"},
};

static void put(int y, int *x, const char *s, int width, bool right, attr_t attr)
{
	char buf[CELL_MAX];

	if (*x + width > COLS)
		width = COLS - *x;
	if (width <= 0)
		return;
	attron(attr);
	mvaddstr(y, *x, view_calc__cell(s, width, right, buf, sizeof(buf)));
	attroff(attr);
	*x += width + 1;
}

static attr_t sev_attr(const struct view *v, uint64_t lag_ns)
{
	static const short pairs[] = {PAIR_OK, PAIR_MINOR, PAIR_SIGNIFICANT, PAIR_CRITICAL};
	enum view_sev s = view_calc__severity(lag_ns);
	attr_t a = s >= VIEW_SEV_CRITICAL ? A_BOLD : A_NORMAL;

	return v->colors ? a | COLOR_PAIR(pairs[s]) : a | (s >= VIEW_SEV_SIGNIFICANT ? A_BOLD : 0);
}

static const char *dur(uint64_t ns, char *buf)
{
	strutil__format_ns(ns, buf, 32);
	return buf;
}

static const char *num(double d, char *buf)
{
	if (d < 0)
		snprintf(buf, 32, "-");
	else
		snprintf(buf, 32, "%.1f", d);
	return buf;
}

static void draw_header(const struct view *v)
{
	const struct view_frame *fr = &v->fr;
	char line[CELL_MAX * 2], a[32], b[32];
	int x = 0;

	snprintf(line, sizeof(line),
		 "asyncprof-bpf  host %s  up %s  processes %zu  loops %zu  worst lag now ",
		 fr->host, dur(fr->uptime_ns, a), fr->nprocs, fr->loops.n);
	put(0, &x, line, strlen(line), false, A_BOLD);
	x--;
	dur(fr->worst_lag_ns, b);
	put(0, &x, b, strlen(b), false, sev_attr(v, fr->worst_lag_ns));
	snprintf(line, sizeof(line), " events %llu  drops %llu", (unsigned long long)fr->events,
		 (unsigned long long)fr->drops);
	x--;
	put(0, &x, line, strlen(line), false, fr->drops ? A_BOLD : A_NORMAL);
	x = 0;
	snprintf(line, sizeof(line), "refresh %u ms%s%s%s", v->opts.interval_ms,
		 v->filter[0] ? "  filter: " : "", v->filter, v->have_frame ? "" : "  waiting...");
	put(1, &x, line, strlen(line), false, A_NORMAL);
	if (v->paused) {
		x++;
		put(1, &x, "PAUSED", 6, false, A_REVERSE | A_BOLD);
	}
}

/* Pane title and column header at y; returns the first row line. */
static int draw_title(const struct view *v, enum pane p, int y, const char *cols_line)
{
	char line[CELL_MAX];
	int x = 0;
	attr_t a = v->focus == p ? A_REVERSE | A_BOLD : A_BOLD;

	snprintf(line, sizeof(line), "%s (%zu)  sort: %s%s", pane_names[p], v->nvis[p],
		 sort_names[p][v->sort[p]], v->focus == p ? "  [focused]" : "");
	if (p == PANE_TASKS)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "  loop %u/%u",
			 v->loop_pid, v->loop_tid);
	put(y, &x, line, COLS, false, a);
	x = 0;
	put(y + 1, &x, cols_line, COLS, false, A_UNDERLINE);
	return y + 2;
}

/* Keep the selection of pane p in its h visible lines. */
static void scroll_to(struct view *v, enum pane p, int h)
{
	if (h <= 0)
		return;
	if (v->sel[p] < v->top[p])
		v->top[p] = v->sel[p];
	if (v->sel[p] >= v->top[p] + (size_t)h)
		v->top[p] = v->sel[p] - h + 1;
	if (v->top[p] + (size_t)h > v->nvis[p])
		v->top[p] = v->nvis[p] > (size_t)h ? v->nvis[p] - h : 0;
}

static attr_t row_attr(const struct view *v, enum pane p, size_t k)
{
	if (k != v->sel[p])
		return A_NORMAL;
	return v->focus == p ? A_REVERSE : A_BOLD;
}

/* What the loops pane leaves to the comm column. */
static int comm_width(bool wide)
{
	int w = COLS - (wide ? 105 : 71) - (COLS >= CAUSE_COLS ? 2 + VIEW_BAR + 16 : 0);

	return w < 4 ? 4 : w;
}

static void loop_line(const struct view *v, int y, const struct view_loop_row *l, attr_t ra)
{
	bool wide = COLS >= WIDE_COLS;
	int comm_w = comm_width(wide);
	char n[8][32];
	int x = 0;

	snprintf(n[0], 32, "%u", l->pid);
	snprintf(n[1], 32, "%u", l->tid);
	put(y, &x, n[0], 6, true, ra);
	put(y, &x, n[1], 6, true, ra);
	put(y, &x, l->comm, comm_w, false, ra);
	if (wide) {
		put(y, &x, l->runtime, 16, false, ra);
		put(y, &x, l->backend, 7, false, ra);
	}
	put(y, &x, dur(l->lag_p99_ns, n[2]), 8, true, ra | sev_attr(v, l->lag_p99_ns));
	put(y, &x, dur(l->lag_max_ns, n[3]), 8, true, ra | sev_attr(v, l->lag_max_ns));
	if (wide)
		put(y, &x, dur(l->lag_p99_all_ns, n[4]), 8, true,
		    ra | sev_attr(v, l->lag_p99_all_ns));
	put(y, &x, dur(l->lag_max_all_ns, n[5]), 8, true, ra | sev_attr(v, l->lag_max_all_ns));
	put(y, &x, num(l->busy_pct, n[6]), 6, true, ra);
	put(y, &x, num(l->cb_per_s, n[7]), 8, true, ra);
	put(y, &x, num(l->blk_per_s, n[2]), 6, true, ra);
	put(y, &x, num(l->gil_pct, n[3]), 5, true, ra);
	if (COLS >= CAUSE_COLS) {
		put(y, &x, l->causes, VIEW_BAR, false, ra);
		if (l->top_cause >= 0)
			snprintf(n[4], 32, "%.0f%% %s", l->top_pct, ap_cause_labels[l->top_cause]);
		else
			snprintf(n[4], 32, "-");
		put(y, &x, n[4], 16, false, ra);
	}
}

static void draw_loops(struct view *v, int y, int h)
{
	char hdr[CELL_MAX];
	bool wide = COLS >= WIDE_COLS;
	int comm_w = comm_width(wide);

	if (wide)
		snprintf(hdr, sizeof(hdr),
			 "%6s %6s %-*s %-16s %-7s %8s %8s %8s %8s %6s %8s %6s %5s", "PID", "TID",
			 comm_w, "COMM", "RUNTIME", "BACKEND", "LAG P99", "LAG MAX", "P99 ALL",
			 "MAX ALL", "BUSY%", "CB/S", "BLK/S", "GIL%");
	else
		snprintf(hdr, sizeof(hdr), "%6s %6s %-*s %8s %8s %8s %6s %8s %6s %5s", "PID", "TID",
			 comm_w, "COMM", "LAG P99", "LAG MAX", "MAX ALL", "BUSY%", "CB/S", "BLK/S",
			 "GIL%");
	if (COLS >= CAUSE_COLS)
		snprintf(hdr + strlen(hdr), sizeof(hdr) - strlen(hdr), " %-*s %-16s", VIEW_BAR,
			 "CAUSES", "MOST BUSY IN");
	y = draw_title(v, PANE_LOOPS, y, hdr);
	h -= 2;
	scroll_to(v, PANE_LOOPS, h);
	for (int r = 0; r < h && v->top[PANE_LOOPS] + r < v->nvis[PANE_LOOPS]; r++) {
		size_t k = v->top[PANE_LOOPS] + r;

		loop_line(v, y + r, &v->fr.loops.v[v->vis[PANE_LOOPS][k]],
			  row_attr(v, PANE_LOOPS, k));
	}
}

static void task_line(const struct view *v, int y, const struct view_task_row *t, attr_t ra)
{
	int name_w = (COLS - 58) / 2, coro_w = COLS - 58 - name_w;
	char n[5][32];
	int x = 0;

	put(y, &x, t->name, name_w, false, ra);
	put(y, &x, t->coro, coro_w, false, ra);
	put(y, &x, t->state, 9, false, ra);
	put(y, &x, num(t->steps_per_s, n[0]), 8, true, ra);
	put(y, &x, num(t->busy_pct, n[1]), 6, true, ra);
	put(y, &x, dur(t->max_step_ns, n[2]), 9, true, ra | sev_attr(v, t->max_step_ns));
	put(y, &x, dur(t->blocked_ns, n[3]), 9, true, ra);
	put(y, &x, dur(t->age_ns, n[4]), 9, true, ra);
}

static void draw_tasks(struct view *v, int y, int h)
{
	int name_w = (COLS - 58) / 2, coro_w = COLS - 58 - name_w;
	char hdr[CELL_MAX];

	snprintf(hdr, sizeof(hdr), "%-*s %-*s %-9s %8s %6s %9s %9s %9s", name_w, "NAME", coro_w,
		 "CORO", "STATE", "STEPS/S", "BUSY%", "MAX STEP", "BLOCKED", "AGE");
	y = draw_title(v, PANE_TASKS, y, hdr);
	h -= 2;
	scroll_to(v, PANE_TASKS, h);
	for (int r = 0; r < h && v->top[PANE_TASKS] + r < v->nvis[PANE_TASKS]; r++) {
		size_t k = v->top[PANE_TASKS] + r;

		task_line(v, y + r, &v->fr.tasks.v[v->vis[PANE_TASKS][k]],
			  row_attr(v, PANE_TASKS, k));
	}
}

static void event_line(const struct view *v, int y, const struct view_event_row *e, attr_t ra)
{
	char t[32], d[32];
	int x = 0;

	snprintf(t, sizeof(t), "+%.3fs", e->t_ns / 1e9);
	put(y, &x, t, 10, true, ra);
	put(y, &x, dur(e->duration_ns, d), 9, true, ra | sev_attr(v, e->duration_ns));
	put(y, &x, e->kind, 8, false, ra);
	put(y, &x, e->task, 16, false, ra);
	put(y, &x, e->what, 20, false, ra);
	put(y, &x, e->nframes ? e->frames[0] : "-", COLS - x, false, ra);
}

static void draw_events(struct view *v, int y, int h)
{
	char hdr[CELL_MAX];

	snprintf(hdr, sizeof(hdr), "%10s %9s %-8s %-16s %-20s %s", "TIME", "DURATION", "KIND",
		 "TASK", "WHAT", "TOP FRAME");
	y = draw_title(v, PANE_EVENTS, y, hdr);
	h -= 2;
	scroll_to(v, PANE_EVENTS, h);
	for (int r = 0; r < h && v->top[PANE_EVENTS] + r < v->nvis[PANE_EVENTS]; r++) {
		size_t k = v->top[PANE_EVENTS] + r;

		event_line(v, y + r, &v->fr.events_rows.v[v->vis[PANE_EVENTS][k]],
			   row_attr(v, PANE_EVENTS, k));
	}
}

/* Lines of a detail: a header, then numbered (frames) or plain (an await chain) lines. */
static void draw_lines(struct view *v, int y, int h, const char *head, const char *first,
		       char *const *lines, size_t n, bool numbered, const char *none)
{
	char line[CELL_MAX * 2];
	int x = 0, r = 1;

	put(y, &x, head, COLS, false, A_REVERSE | A_BOLD);
	if (first && r < h) {
		x = 0;
		put(y + r++, &x, first, COLS, false, A_BOLD);
	}
	if (v->detail_top >= n)
		v->detail_top = n ? n - 1 : 0;
	for (size_t i = v->detail_top; r < h && i < n; i++, r++) {
		x = 0;
		if (numbered)
			snprintf(line, sizeof(line), "#%-3zu %s", i, lines[i]);
		else
			snprintf(line, sizeof(line), "%s", lines[i]);
		put(y + r, &x, line, COLS, false, A_NORMAL);
	}
	if (!n && r < h) {
		x = 0;
		put(y + r, &x, none, COLS, false, A_NORMAL);
	}
}

/*
 * Over the tasks and events panes: the selected event's whole stack (a
 * lint's with what to use instead), or the selected task's await chain.
 */
static void draw_detail(struct view *v, int y, int h)
{
	const struct view_event_row *e = v->focus == PANE_EVENTS ? view__sel_event(v) : NULL;
	const struct view_task_row *t = v->focus == PANE_TASKS ? view__sel_task(v) : NULL;
	char head[CELL_MAX * 2], fix[CELL_MAX * 2], d[32];

	for (int r = y; r < y + h; r++) {
		move(r, 0);
		clrtoeol();
	}
	if (t) {
		snprintf(head, sizeof(head),
			 "task %s (%s), pid %u loop %u: its await chain "
			 "(Esc/q: back)",
			 t->name, t->coro, t->pid, t->loop_tid);
		draw_lines(v, y, h, head, NULL, t->chain, t->nchain, false, "(not known)");
		return;
	}
	if (!e) {
		v->detail = false;
		return;
	}
	snprintf(head, sizeof(head), "%s %s: %s, task %s, pid %u tid %u at +%.3fs (Esc/q: back)",
		 e->kind, e->what, dur(e->duration_ns, d), e->task, e->pid, e->tid, e->t_ns / 1e9);
	if (e->fix)
		snprintf(fix, sizeof(fix), "instead: %s", e->fix);
	draw_lines(v, y, h, head, e->fix ? fix : NULL, e->frames, e->nframes, true,
		   "(no stack recorded)");
}

static void draw_help(void)
{
	static const char *const lines[] = {
		"Keys",
		"  Up/Down, j/k   move the cursor         PgUp/PgDn  page",
		"  Tab            next pane               Enter      loop: its tasks; event: "
		"stack;",
		"                                                    task: its await chain",
		"  s              cycle the sort column   p          pause / resume",
		"  /              filter by name (task, coroutine, comm, callback); empty clears",
		"  ?              this help               q          quit (Esc/q leave a detail)",
		"",
		"Lag colours: green < 1 ms, yellow < 10 ms, magenta < 100 ms, red >= 100 ms",
		"CAUSES: busy time by cause, a letter a tenth: r running, q run queue, g GIL,",
		"  s sleep, f file, n net, p process, l lock, o other calls, . short syscalls",
		"Any key closes this help.",
	};
	int h = ARRAY_LEN(lines) + 2, w = 78, y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;

	for (int r = 0; r < h; r++) {
		int x = x0;

		put(y0 + r, &x, r && r < h - 1 ? lines[r - 1] : "", w, false, A_REVERSE);
	}
}

static void draw_footer(const struct view *v)
{
	char line[CELL_MAX];
	int x = 0;

	if (v->prompt) {
		snprintf(line, sizeof(line), "filter: %s_", v->input);
		put(LINES - 1, &x, line, COLS - 1, false, A_BOLD);
		return;
	}
	put(LINES - 1, &x,
	    "q quit  Tab pane  j/k move  Enter open  s sort  p pause  / filter  ? help", COLS - 1,
	    false, A_DIM);
}

void view_draw__screen(struct view *v)
{
	int loops_h, rest, events_h;

	erase();
	if (LINES < MIN_ROWS || COLS < MIN_COLS) {
		mvaddnstr(0, 0, "terminal too small (need 80x20)", COLS);
		refresh();
		return;
	}
	draw_header(v);
	loops_h = 2 + (v->nvis[PANE_LOOPS] < 3	 ? 3
		       : v->nvis[PANE_LOOPS] > 6 ? 6
						 : v->nvis[PANE_LOOPS]);
	rest = LINES - 3 - loops_h - 1;
	events_h = rest * 2 / 5;
	draw_loops(v, 2, loops_h);
	if (v->detail) {
		draw_detail(v, 2 + loops_h, rest);
	} else {
		draw_tasks(v, 2 + loops_h, rest - events_h);
		draw_events(v, 2 + loops_h + rest - events_h, events_h);
	}
	draw_footer(v);
	if (v->help)
		draw_help();
	refresh();
}
