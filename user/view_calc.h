/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The figures of one refresh of the live view, shared by the screen
 * (view.c) and the batch text (view_batch.c): rows of loops, tasks and
 * events computed from two snapshots, their sorting, and cell layout.
 */
#ifndef AP_VIEW_CALC_H
#define AP_VIEW_CALC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"

/* What the header shows besides the report. */
struct view_stats {
	uint64_t events; /* ring-buffer records received */
	uint64_t drops;	 /* records lost */
};

enum view_sev {
	VIEW_SEV_OK,	      /* lag < 1 ms */
	VIEW_SEV_MINOR,	      /* 1 ms <= lag < 10 ms */
	VIEW_SEV_SIGNIFICANT, /* 10 ms <= lag < 100 ms */
	VIEW_SEV_CRITICAL,    /* lag >= 100 ms */
};

enum view_sev view_calc__severity(uint64_t lag_ns);

#define VIEW_NAME_MAX 128    /* escaped names, truncated with "..." */
#define VIEW_NA	      (-1.0) /* a rate or share that is unknown: shown as "-" */
#define VIEW_BAR      10     /* letters in a loop's bar of busy time by cause */

/* A letter per cause (enum ap_cause): running r, run queue q, GIL g, short syscalls '.', ... */
extern const char view_cause_letters[AP_NCAUSES + 1];
/*
 * ns (AP_NULL_U64 counts as 0) as a bar of width letters, one per cause's
 * share rounded by largest remainder, most first; out gets width + 1
 * bytes, all spaces when there is no time. Returns the top cause or -1.
 */
int view_calc__cause_bar(const uint64_t ns[AP_NCAUSES], char *out, int width);

/* One loop thread; names escaped. Rates and shares over the refresh window. */
struct view_loop_row {
	uint32_t pid, tid;
	char comm[VIEW_NAME_MAX];
	char runtime[VIEW_NAME_MAX];		       /* "cpython 3.11.2" */
	const char *backend, *kind;		       /* static strings or NULL */
	uint64_t lag_p99_ns, lag_max_ns;	       /* over the refresh window */
	uint64_t lag_p99_all_ns, lag_max_all_ns;       /* since start */
	double busy_pct, cb_per_s, blk_per_s, gil_pct; /* VIEW_NA when unknown */
	/* busy time by cause over the window: a letter per share (view_calc__cause_bar) */
	char causes[VIEW_BAR + 1];
	int top_cause;	/* enum ap_cause with the most of it, -1 when none */
	double top_pct; /* its share of the busy time */
};

struct view_task_row {
	uint32_t pid, loop_tid;
	uint64_t id;
	char name[VIEW_NAME_MAX];
	char coro[VIEW_NAME_MAX];
	const char *state;
	double steps_per_s, busy_pct; /* over the refresh window */
	uint64_t busy_ns, dbusy_ns, max_step_ns, blocked_ns, age_ns;
	char **chain; /* its await chain for people, escaped lines; owned */
	size_t nchain;
};

/* A blocking call or a slow callback. */
struct view_event_row {
	uint32_t pid, tid;
	uint64_t start_ns, t_ns, duration_ns; /* t_ns: since the trace start */
	bool slow_cb;
	const char *kind;	  /* blocking kind, or "slow cb" */
	char what[VIEW_NAME_MAX]; /* syscall and detail, or the callback */
	char task[VIEW_NAME_MAX]; /* task name, "-" when none */
	char **frames;		  /* escaped, innermost first; owned */
	size_t nframes;
	const char *fix; /* a lint's asyncio-native alternative (static), else NULL */
};

/* Everything one refresh shows; owns its rows (the reports may go away). */
struct view_frame {
	char host[VIEW_NAME_MAX];
	uint64_t uptime_ns, window_ns, worst_lag_ns, events, drops;
	size_t nprocs;
	AP_VEC(struct view_loop_row) loops;
	AP_VEC(struct view_task_row) tasks;
	AP_VEC(struct view_event_row) events_rows;
};

/*
 * Compute the rows of cur against prev (NULL: figures since the start).
 * The window is (prev->end_ns, cur->end_ns]. fr must be zeroed or cleared.
 */
int view_frame__build(struct view_frame *fr, const struct ap_report *cur,
		      const struct ap_report *prev, const struct view_stats *st);
/* Free the rows; fr is zeroed and may be built again. */
void view_frame__clear(struct view_frame *fr);

/*
 * Lag over the grid instants in (t0, t1]: the series holds the non-zero
 * points, every other instant of the grid (step grid_ns) counts as 0.
 */
void view_calc__window_lag(const struct ap_loop *l, uint64_t t0, uint64_t t1, uint64_t grid_ns,
			   uint64_t *p99_ns, uint64_t *max_ns);

enum view_sort_loop { VIEW_SL_LAG, VIEW_SL_BUSY, VIEW_SL_CB, VIEW_SL_TID, VIEW_SL__N };
enum view_sort_task {
	VIEW_ST_BUSY,
	VIEW_ST_STEPS,
	VIEW_ST_MAX_STEP,
	VIEW_ST_BLOCKED,
	VIEW_ST_AGE,
	VIEW_ST_NAME,
	VIEW_ST__N,
};
enum view_sort_event { VIEW_SE_TIME, VIEW_SE_DURATION, VIEW_SE__N };

/* Sort in place, biggest (newest, or A first for names) first; ties by a stable key. */
void view_calc__sort_loops(struct view_loop_row *r, size_t n, enum view_sort_loop by);
void view_calc__sort_tasks(struct view_task_row *r, size_t n, enum view_sort_task by);
void view_calc__sort_events(struct view_event_row *r, size_t n, enum view_sort_event by);

/*
 * Copy s (valid UTF-8, already escaped) into buf padded or cut to exactly
 * width columns; a cut string ends with '~'. right: align right. Returns buf.
 */
const char *view_calc__cell(const char *s, int width, bool right, char *buf, size_t size);

#endif /* AP_VIEW_CALC_H */
