// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live view: a top-style ncurses screen with three panes (loops, tasks
 * of the selected loop, latest events), or batch text (view_batch.c). The
 * view keeps its own copy of the last snapshot's rows (struct view_frame),
 * so it can redraw on keys and resizes, and while paused.
 */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wctype.h>
#include "strutil.h"
#include "view.h"
#include "view_batch.h"

#define MIN_COLS     80
#define MIN_ROWS     20
#define CELL_MAX     (VIEW_NAME_MAX * 2)
#define FILTER_MAX   64
#define WIDE_COLS    120 /* from here the loops pane shows runtime and backend */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum pane { PANE_LOOPS, PANE_TASKS, PANE_EVENTS, PANE__N };

enum { PAIR_OK = 1, PAIR_MINOR, PAIR_SIGNIFICANT, PAIR_CRITICAL, PAIR_TITLE };

struct view {
	struct view_opts opts;
	SCREEN *scr; /* NULL in batch mode */
	bool colors;
	bool paused, help, detail, prompt, have_frame;
	struct view_frame fr;
	enum pane focus;
	size_t sel[PANE__N], top[PANE__N], detail_top;
	int sort[PANE__N];
	size_t *vis[PANE__N], nvis[PANE__N]; /* rows shown: indexes into fr */
	uint32_t loop_pid, loop_tid;	     /* the loop whose tasks are shown */
	char filter[FILTER_MAX], input[FILTER_MAX];
};

static const char *const sort_names[PANE__N][VIEW_ST__N] = {
	[PANE_LOOPS] = {"lag", "busy", "callbacks", "tid"},
	[PANE_TASKS] = {"busy", "steps", "max step", "blocked", "age", "name"},
	[PANE_EVENTS] = {"time", "duration"},
};
static const int sort_count[PANE__N] = {VIEW_SL__N, VIEW_ST__N, VIEW_SE__N};
static const char *const pane_names[PANE__N] = {"Loops", "Tasks", "Events"};

/* --- rows shown: the filter and the selected loop --- */

static bool match(const struct view *v, const char *s)
{
	return !v->filter[0] || (s && strcasestr(s, v->filter));
}

static bool task_matches(const struct view *v, const struct view_task_row *t)
{
	return match(v, t->name) || match(v, t->coro);
}

static bool loop_shown(const struct view *v, const struct view_loop_row *l)
{
	if (match(v, l->comm))
		return true;
	for (size_t i = 0; i < v->fr.tasks.n; i++) {
		const struct view_task_row *t = &v->fr.tasks.v[i];

		if (t->pid == l->pid && t->loop_tid == l->tid && task_matches(v, t))
			return true;
	}
	return false;
}

static bool row_shown(const struct view *v, enum pane p, size_t i)
{
	const struct view_task_row *t;
	const struct view_event_row *e;

	switch (p) {
	case PANE_LOOPS:
		return loop_shown(v, &v->fr.loops.v[i]);
	case PANE_TASKS:
		t = &v->fr.tasks.v[i];
		return t->pid == v->loop_pid && t->loop_tid == v->loop_tid && task_matches(v, t);
	default:
		e = &v->fr.events_rows.v[i];
		return match(v, e->task) || match(v, e->what);
	}
}

static size_t pane_rows(const struct view *v, enum pane p)
{
	return p == PANE_LOOPS	 ? v->fr.loops.n
	       : p == PANE_TASKS ? v->fr.tasks.n
				 : v->fr.events_rows.n;
}

static void clamp_sel(struct view *v, enum pane p)
{
	if (v->sel[p] >= v->nvis[p])
		v->sel[p] = v->nvis[p] ? v->nvis[p] - 1 : 0;
}

static int filter_pane(struct view *v, enum pane p)
{
	size_t n = pane_rows(v, p), *idx;

	idx = realloc(v->vis[p], (n ? n : 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	v->vis[p] = idx;
	v->nvis[p] = 0;
	for (size_t i = 0; i < n; i++)
		if (row_shown(v, p, i))
			idx[v->nvis[p]++] = i;
	clamp_sel(v, p);
	return 0;
}

/* The tasks pane follows the loop under the cursor of the loops pane. */
static void follow_loop(struct view *v)
{
	const struct view_loop_row *l;

	if (!v->nvis[PANE_LOOPS])
		return;
	l = &v->fr.loops.v[v->vis[PANE_LOOPS][v->sel[PANE_LOOPS]]];
	if (l->pid != v->loop_pid || l->tid != v->loop_tid)
		v->sel[PANE_TASKS] = v->top[PANE_TASKS] = 0;
	v->loop_pid = l->pid;
	v->loop_tid = l->tid;
}

static void sort_pane(struct view *v, enum pane p)
{
	if (p == PANE_LOOPS)
		view_calc__sort_loops(v->fr.loops.v, v->fr.loops.n, v->sort[p]);
	else if (p == PANE_TASKS)
		view_calc__sort_tasks(v->fr.tasks.v, v->fr.tasks.n, v->sort[p]);
	else
		view_calc__sort_events(v->fr.events_rows.v, v->fr.events_rows.n, v->sort[p]);
}

static int refilter(struct view *v)
{
	int err = filter_pane(v, PANE_LOOPS);

	follow_loop(v);
	if (!err)
		err = filter_pane(v, PANE_TASKS);
	if (!err)
		err = filter_pane(v, PANE_EVENTS);
	return err;
}

/* --- drawing --- */

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
	int w = COLS - (wide ? 105 : 71);

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

static const struct view_event_row *sel_event(const struct view *v)
{
	if (!v->nvis[PANE_EVENTS])
		return NULL;
	return &v->fr.events_rows.v[v->vis[PANE_EVENTS][v->sel[PANE_EVENTS]]];
}

/* The whole stack of the selected event, over the tasks and events panes. */
static void draw_detail(struct view *v, int y, int h)
{
	const struct view_event_row *e = sel_event(v);
	char line[CELL_MAX * 2], d[32];
	int x = 0;

	for (int r = y; r < y + h; r++) {
		move(r, 0);
		clrtoeol();
	}
	if (!e) {
		v->detail = false;
		return;
	}
	snprintf(line, sizeof(line), "%s %s: %s, task %s, pid %u tid %u at +%.3fs (Esc/q: back)",
		 e->kind, e->what, dur(e->duration_ns, d), e->task, e->pid, e->tid, e->t_ns / 1e9);
	put(y, &x, line, COLS, false, A_REVERSE | A_BOLD);
	if (v->detail_top >= e->nframes)
		v->detail_top = e->nframes ? e->nframes - 1 : 0;
	for (int r = 1; r < h && v->detail_top + r - 1 < e->nframes; r++) {
		size_t i = v->detail_top + r - 1;

		x = 0;
		snprintf(line, sizeof(line), "#%-3zu %s", i, e->frames[i]);
		put(y + r, &x, line, COLS, false, A_NORMAL);
	}
	if (!e->nframes) {
		x = 0;
		put(y + 1, &x, "(no stack recorded)", COLS, false, A_NORMAL);
	}
}

static void draw_help(void)
{
	static const char *const lines[] = {
		"Keys",
		"  Up/Down, j/k   move the cursor         PgUp/PgDn  page",
		"  Tab            next pane               Enter      loop: its tasks; event: stack",
		"  s              cycle the sort column   p          pause / resume",
		"  /              filter by name (task, coroutine, comm, callback); empty clears",
		"  ?              this help               q          quit (Esc/q leave a detail)",
		"",
		"Lag colours: green < 1 ms, yellow < 10 ms, magenta < 100 ms, red >= 100 ms",
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
	    "q quit  Tab pane  j/k move  Enter focus  s sort  p pause  / filter  ? help", COLS - 1,
	    false, A_DIM);
}

static void draw(struct view *v)
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

/* --- keys --- */

static void move_sel(struct view *v, long by)
{
	enum pane p = v->focus;
	long s = (long)v->sel[p] + by;

	if (v->detail) {
		s = (long)v->detail_top + by;
		v->detail_top = s < 0 ? 0 : s;
		return;
	}
	if (s >= (long)v->nvis[p])
		s = (long)v->nvis[p] - 1;
	v->sel[p] = s < 0 ? 0 : s;
	if (p == PANE_LOOPS) {
		follow_loop(v);
		filter_pane(v, PANE_TASKS);
	}
}

static void key_enter(struct view *v)
{
	if (v->focus == PANE_LOOPS && v->nvis[PANE_LOOPS])
		v->focus = PANE_TASKS;
	else if (v->focus == PANE_EVENTS && sel_event(v)) {
		v->detail = true;
		v->detail_top = 0;
	}
}

static void key_sort(struct view *v)
{
	enum pane p = v->focus;

	v->sort[p] = (v->sort[p] + 1) % sort_count[p];
	sort_pane(v, p);
	refilter(v);
}

static void key_prompt(struct view *v, wint_t ch, bool fkey)
{
	size_t n = strlen(v->input);

	if (!fkey && ch == 27) {
		v->prompt = false;
	} else if ((!fkey && (ch == '\n' || ch == '\r')) || (fkey && ch == KEY_ENTER)) {
		v->prompt = false;
		strutil__term(v->input, v->filter, sizeof(v->filter));
		refilter(v);
	} else if ((fkey && ch == KEY_BACKSPACE) || (!fkey && (ch == 127 || ch == 8))) {
		while (n && ((unsigned char)v->input[n - 1] & 0xc0) == 0x80)
			n--;
		if (n)
			v->input[n - 1] = '\0';
	} else if (!fkey && iswprint(ch)) {
		char mb[8];
		int len = wctomb(mb, ch);

		if (len > 0 && n + len < sizeof(v->input) / 2) {
			memcpy(v->input + n, mb, len);
			v->input[n + len] = '\0';
		}
	}
}

static int key_fn(struct view *v, wint_t ch)
{
	int page = LINES / 3;

	switch (ch) {
	case KEY_UP:
		move_sel(v, -1);
		break;
	case KEY_DOWN:
		move_sel(v, 1);
		break;
	case KEY_PPAGE:
		move_sel(v, -page);
		break;
	case KEY_NPAGE:
		move_sel(v, page);
		break;
	case KEY_ENTER:
		key_enter(v);
		break;
	case KEY_BTAB:
		if (!v->detail)
			v->focus = (v->focus + PANE__N - 1) % PANE__N;
		break;
	default:
		break; /* KEY_RESIZE and others: just redraw */
	}
	return VIEW_CONTINUE;
}

static int key_char(struct view *v, wint_t ch)
{
	if (v->detail && (ch == 27 || ch == 'q')) {
		v->detail = false;
		return VIEW_CONTINUE;
	}
	switch (ch) {
	case 'q':
	case 'Q':
		return VIEW_QUIT;
	case 'k':
		move_sel(v, -1);
		break;
	case 'j':
		move_sel(v, 1);
		break;
	case '\t':
		if (!v->detail)
			v->focus = (v->focus + 1) % PANE__N;
		break;
	case '\n':
	case '\r':
		key_enter(v);
		break;
	case 's':
		key_sort(v);
		break;
	case 'p':
		v->paused = !v->paused;
		break;
	case '/':
		v->prompt = true;
		v->input[0] = '\0';
		break;
	case '?':
	case 'h':
		v->help = true;
		break;
	default:
		break;
	}
	return VIEW_CONTINUE;
}

static int view_key(struct view *v, wint_t ch, bool fkey)
{
	int rc = VIEW_CONTINUE;

	if (fkey && ch == KEY_RESIZE) {
		/* nothing: the redraw below lays the screen out again */
	} else if (v->help) {
		v->help = false;
	} else if (v->prompt) {
		key_prompt(v, ch, fkey);
	} else {
		rc = fkey ? key_fn(v, ch) : key_char(v, ch);
	}
	draw(v);
	return rc;
}

/* --- lifecycle --- */

static void colors_init(struct view *v)
{
	if (!has_colors() || start_color() == ERR)
		return;
	use_default_colors();
	init_pair(PAIR_OK, COLOR_GREEN, -1);
	init_pair(PAIR_MINOR, COLOR_YELLOW, -1);
	init_pair(PAIR_SIGNIFICANT, COLOR_MAGENTA, -1);
	init_pair(PAIR_CRITICAL, COLOR_RED, -1);
	init_pair(PAIR_TITLE, COLOR_CYAN, -1);
	v->colors = true;
}

static int curses_init(struct view *v)
{
	setlocale(LC_ALL, "");
	v->scr = newterm(NULL, stdout, stdin);
	if (!v->scr)
		return -ENOTTY;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	colors_init(v);
	draw(v);
	return 0;
}

int view__new(const struct view_opts *opts, struct view **out)
{
	struct view *v = calloc(1, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	v->opts = *opts;
	if (!v->opts.out)
		v->opts.out = stdout;
	v->sort[PANE_LOOPS] = VIEW_SL_LAG;
	if (!v->opts.batch)
		err = curses_init(v);
	if (err) {
		view__free(v);
		return err;
	}
	*out = v;
	return 0;
}

int view__update(struct view *v, const struct ap_report *cur, const struct ap_report *prev,
		 const struct view_stats *st)
{
	struct ap_report named;
	int err;

	if (!cur->host && v->opts.host) {
		named = *cur; /* shallow: only read */
		named.host = v->opts.host;
		cur = &named;
	}
	if (v->opts.batch)
		return view_batch__print(v->opts.out, cur, prev, st, v->opts.interval_ms);
	if (v->paused)
		return 0;
	view_frame__clear(&v->fr);
	err = view_frame__build(&v->fr, cur, prev, st);
	if (v->opts.host && !cur->host)
		strutil__term(v->opts.host, v->fr.host, sizeof(v->fr.host));
	v->have_frame = true;
	for (int p = 0; p < PANE__N; p++)
		sort_pane(v, p);
	if (!err)
		err = refilter(v);
	draw(v);
	return err;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static int batch_wait(int timeout_ms)
{
	struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = timeout_ms % 1000 * 1000000L};

	nanosleep(&ts, NULL); /* a signal ends it early: the caller checks its flag */
	return VIEW_CONTINUE;
}

int view__wait(struct view *v, int timeout_ms)
{
	struct timespec deadline;
	long left;
	wint_t ch;
	int rc;

	if (v->opts.batch)
		return batch_wait(timeout_ms);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += timeout_ms % 1000 * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while ((left = ms_left(&deadline)) > 0) {
		timeout(left);
		errno = 0;
		rc = get_wch(&ch);
		if (rc == ERR) {
			if (errno == EINTR)
				return VIEW_CONTINUE; /* a signal: the caller checks its flag */
			continue;
		}
		if (view_key(v, ch, rc == KEY_CODE_YES) == VIEW_QUIT)
			return VIEW_QUIT;
	}
	return VIEW_CONTINUE;
}

void view__free(struct view *v)
{
	if (!v)
		return;
	if (v->scr) {
		endwin();
		delscreen(v->scr);
	}
	view_frame__clear(&v->fr);
	for (int p = 0; p < PANE__N; p++)
		free(v->vis[p]);
	free(v);
}
