/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the screen's two files share: the view's state (view.c: the rows
 * shown, the keys, the lifecycle) and its drawing (view_draw.c).
 */
#ifndef AP_VIEW_INT_H
#define AP_VIEW_INT_H

#define NCURSES_WIDECHAR 1
#include <curses.h>
#include "view.h"

#define MIN_COLS     80
#define MIN_ROWS     20
#define CELL_MAX     (VIEW_NAME_MAX * 2)
#define FILTER_MAX   64
#define WIDE_COLS    120 /* from here the loops pane shows runtime and backend */
#define CAUSE_COLS   150 /* and from here the busy time by cause */
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

/* The task under the cursor of the tasks pane, or NULL. */
const struct view_task_row *view__sel_task(const struct view *v);
/* The event under the cursor of the events pane, or NULL. */
const struct view_event_row *view__sel_event(const struct view *v);
/* Draw the whole screen from v's rows. */
void view_draw__screen(struct view *v);

#endif /* AP_VIEW_INT_H */
