// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live view: a top-style ncurses screen with three panes (loops, tasks
 * of the selected loop, latest events), or batch text (view_batch.c). The
 * view keeps its own copy of the last snapshot's rows (struct view_frame),
 * so it can redraw on keys and resizes, and while paused. This file: the
 * rows shown (filter, selection), the keys and the lifecycle; the drawing
 * is view_draw.c's.
 */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wctype.h>
#include "strutil.h"
#include "view_int.h"
#include "view_batch.h"

static const int sort_count[PANE__N] = {VIEW_SL__N, VIEW_ST__N, VIEW_SE__N};

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

const struct view_task_row *view__sel_task(const struct view *v)
{
	if (!v->nvis[PANE_TASKS])
		return NULL;
	return &v->fr.tasks.v[v->vis[PANE_TASKS][v->sel[PANE_TASKS]]];
}

const struct view_event_row *view__sel_event(const struct view *v)
{
	if (!v->nvis[PANE_EVENTS])
		return NULL;
	return &v->fr.events_rows.v[v->vis[PANE_EVENTS][v->sel[PANE_EVENTS]]];
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
	else if ((v->focus == PANE_EVENTS && view__sel_event(v)) ||
		 (v->focus == PANE_TASKS && view__sel_task(v))) {
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
	view_draw__screen(v);
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
	view_draw__screen(v);
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
	view_draw__screen(v);
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
