// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Figures of one refresh of the live view: per-loop lag, busy share and
 * rates over the window between two snapshots, per-task rates, the latest
 * events; names escaped once here. Pure: no terminal, no clock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include "awaits.h"
#include "strutil.h"
#include "view_calc.h"

#define NS_PER_MS 1000000ull

enum view_sev view_calc__severity(uint64_t lag_ns)
{
	if (lag_ns < 1 * NS_PER_MS)
		return VIEW_SEV_OK;
	if (lag_ns < 10 * NS_PER_MS)
		return VIEW_SEV_MINOR;
	if (lag_ns < 100 * NS_PER_MS)
		return VIEW_SEV_SIGNIFICANT;
	return VIEW_SEV_CRITICAL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void view_calc__window_lag(const struct ap_loop *l, uint64_t t0, uint64_t t1, uint64_t grid_ns,
			   uint64_t *p99_ns, uint64_t *max_ns)
{
	uint64_t *v, grid, rank;
	size_t k = 0;

	*p99_ns = 0;
	*max_ns = 0;
	v = malloc((l->lag_series.n ? l->lag_series.n : 1) * sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < l->lag_series.n; i++) {
		const struct ap_lag_point *pt = &l->lag_series.v[i];

		if (pt->t_ns > t0 && pt->t_ns <= t1 && pt->lag_ns)
			v[k++] = pt->lag_ns;
	}
	if (k) {
		qsort(v, k, sizeof(*v), cmp_u64);
		grid = grid_ns && t1 > t0 ? (t1 - t0) / grid_ns : 0;
		if (grid < k)
			grid = k;
		rank = (grid * 99 + 99) / 100; /* nearest rank: ceil(0.99 * grid) */
		*p99_ns = rank > grid - k ? v[rank - (grid - k) - 1] : 0;
		*max_ns = v[k - 1];
	}
	free(v);
}

static const struct ap_process *find_proc(const struct ap_report *r, uint32_t pid)
{
	for (size_t i = 0; r && i < r->processes.n; i++)
		if (r->processes.v[i].pid == pid)
			return &r->processes.v[i];
	return NULL;
}

static const struct ap_loop *find_loop(const struct ap_process *p, uint32_t tid)
{
	for (size_t i = 0; p && i < p->loops.n; i++)
		if (p->loops.v[i].tid == tid)
			return &p->loops.v[i];
	return NULL;
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

static double per_s(uint64_t count, uint64_t window_ns)
{
	return window_ns ? count * 1e9 / window_ns : 0.0;
}

/* The refresh window of cur against prev. */
struct win {
	uint64_t t0, t1, ns;
	bool prev; /* a previous snapshot: figures over the window, not since start */
};

static struct win window_of(const struct ap_report *cur, const struct ap_report *prev)
{
	struct win w = {
		.t0 = prev ? prev->end_ns : cur->start_ns, .t1 = cur->end_ns, .prev = prev != NULL};

	w.ns = delta(w.t1, w.t0);
	return w;
}

static void loop_lag(struct view_loop_row *row, const struct ap_loop *l, const struct win *w,
		     const struct ap_report *cur)
{
	row->lag_p99_all_ns = l->lag.p99_ns;
	row->lag_max_all_ns = l->lag.max_ns;
	if (w->prev) {
		view_calc__window_lag(l, w->t0, w->t1, cur->lag_interval_ns, &row->lag_p99_ns,
				      &row->lag_max_ns);
	} else {
		row->lag_p99_ns = l->lag.p99_ns;
		row->lag_max_ns = l->lag.max_ns;
	}
}

static size_t count_blocking(const struct ap_process *p, uint32_t tid, const struct win *w)
{
	size_t n = 0;

	for (size_t i = 0; i < p->blocking_calls.n; i++) {
		const struct ap_blocking *b = &p->blocking_calls.v[i];

		if (b->tid == tid && b->start_ns > w->t0 && b->start_ns <= w->t1)
			n++;
	}
	return n;
}

const char view_cause_letters[AP_NCAUSES + 1] = "rqg.osfnpl";

int view_calc__cause_bar(const uint64_t ns[AP_NCAUSES], char *out, int width)
{
	int order[AP_NCAUSES], n = ap_causes__order(ns, order), cells[AP_NCAUSES] = {0}, used = 0;
	uint64_t total = 0, rem[AP_NCAUSES] = {0};
	int x = 0;

	for (int i = 0; i < n; i++)
		total += ns[order[i]];
	memset(out, ' ', width);
	out[width] = '\0';
	if (!total)
		return -1;
	for (int i = 0; i < n; i++) {
		uint64_t q = ns[order[i]] * (uint64_t)width;

		cells[i] = q / total;
		rem[i] = q % total;
		used += cells[i];
	}
	/* the cells left go to the largest remainders (ties: the larger cause) */
	while (used < width) {
		int best = 0;

		for (int i = 1; i < n; i++)
			if (rem[i] > rem[best])
				best = i;
		cells[best]++;
		rem[best] = 0;
		used++;
	}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < cells[i]; k++)
			out[x++] = view_cause_letters[order[i]];
	return order[0];
}

/* Busy time by cause over the window: a bar and its top cause. */
static void loop_causes(struct view_loop_row *row, const struct ap_loop *l,
			const struct ap_loop *pl)
{
	uint64_t d[AP_NCAUSES], total = 0;

	for (int i = 0; i < AP_NCAUSES; i++) {
		d[i] = l->busy_causes[i] == AP_NULL_U64
			       ? 0
			       : delta(l->busy_causes[i],
				       pl->busy_causes[i] == AP_NULL_U64 ? 0 : pl->busy_causes[i]);
		total += d[i];
	}
	row->top_cause = view_calc__cause_bar(d, row->causes, VIEW_BAR);
	row->top_pct = row->top_cause >= 0 ? 100.0 * d[row->top_cause] / total : VIEW_NA;
}

/* Busy share, callback and GIL rates of l against its previous state pl (or NULL). */
static void loop_rates(struct view_loop_row *row, const struct ap_loop *l, const struct ap_loop *pl,
		       const struct win *w)
{
	static const struct ap_loop zero = {0};
	uint64_t busy, idle;

	if (!pl)
		pl = &zero;
	busy = delta(l->busy_ns, pl->busy_ns);
	idle = delta(l->idle_ns, pl->idle_ns);
	row->busy_pct = busy + idle ? 100.0 * busy / (busy + idle) : 0.0;
	row->cb_per_s = VIEW_NA;
	if (l->callbacks != AP_NULL_U64)
		row->cb_per_s =
			per_s(delta(l->callbacks, pl->callbacks == AP_NULL_U64 ? 0 : pl->callbacks),
			      w->ns);
	row->gil_pct = VIEW_NA;
	if (l->gil_wait_ns != AP_NULL_U64 && w->ns)
		row->gil_pct = 100.0 *
			       delta(l->gil_wait_ns,
				     pl->gil_wait_ns == AP_NULL_U64 ? 0 : pl->gil_wait_ns) /
			       w->ns;
	loop_causes(row, l, pl);
}

static void runtime_str(const struct ap_process *p, char *buf, size_t size)
{
	char raw[VIEW_NAME_MAX];

	snprintf(raw, sizeof(raw), "%s%s%s", p->runtime ? p->runtime : "?",
		 p->runtime_version ? " " : "", p->runtime_version ? p->runtime_version : "");
	strutil__term(raw, buf, size);
}

static int add_loops(struct view_frame *fr, const struct ap_process *p, const struct ap_process *pp,
		     const struct ap_report *cur, const struct win *w)
{
	for (size_t i = 0; i < p->loops.n; i++) {
		const struct ap_loop *l = &p->loops.v[i];
		struct view_loop_row *row = AP_VEC_PUSH(fr->loops);

		if (!row)
			return -ENOMEM;
		row->pid = p->pid;
		row->tid = l->tid;
		strutil__term(p->comm, row->comm, sizeof(row->comm));
		runtime_str(p, row->runtime, sizeof(row->runtime));
		row->backend = p->backend;
		row->kind = l->kind;
		loop_lag(row, l, w, cur);
		loop_rates(row, l, find_loop(pp, l->tid), w);
		row->blk_per_s = per_s(count_blocking(p, l->tid, w), w->ns);
		if (row->lag_max_ns > fr->worst_lag_ns)
			fr->worst_lag_ns = row->lag_max_ns;
	}
	return 0;
}

/* Append one escaped, formatted line to the task row's await chain. */
static int chain_add(struct view_task_row *row, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int chain_add(struct view_task_row *row, const char *fmt, ...)
{
	char raw[VIEW_NAME_MAX * 2], esc[VIEW_NAME_MAX * 2];
	char **v = realloc(row->chain, (row->nchain + 1) * sizeof(*v));
	va_list ap;

	if (!v)
		return -ENOMEM;
	row->chain = v;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	v[row->nchain] = strdup(strutil__term(raw, esc, sizeof(esc)));
	if (!v[row->nchain])
		return -ENOMEM;
	row->nchain++;
	return 0;
}

#define CHAIN_MAX 8 /* tasks followed down an await chain */

/* What t awaits, down the chain of tasks awaiting tasks, and who awaits it. */
static int task_chain(struct view_task_row *row, const struct ap_process *p,
		      const struct ap_task *t, uint64_t now)
{
	const struct ap_task *x = t, *next;
	uint64_t by[CHAIN_MAX];
	size_t n;
	int err = 0;

	if (!t->awaits_known)
		return chain_add(row, "what it awaits is not known (it ended, or is not readable)");
	for (int hop = 0; hop < CHAIN_MAX && x && !err; hop++, x = next) {
		next = ap_process__find_task(p, x->awaits);
		if (!x->awaits)
			err = chain_add(row, "%s%s awaits nothing: running or scheduled to run",
					hop ? "-> " : "", x->name ? x->name : "?");
		else if (next)
			err = chain_add(row, "%s%s awaits task %s (0x%llx)", hop ? "-> " : "",
					x->name ? x->name : "?", next->name ? next->name : "?",
					(unsigned long long)x->awaits);
		else
			err = chain_add(row, "%s%s awaits %s (0x%llx)", hop ? "-> " : "",
					x->name ? x->name : "?",
					x->awaits_type ? x->awaits_type : "?",
					(unsigned long long)x->awaits);
		if (!err && x->awaits_at)
			err = chain_add(row, "     at %s", x->awaits_at);
		if (next == t) {
			err = err ? err : chain_add(row, "-> back to %s: a deadlock", t->name);
			break;
		}
		if (next && !next->awaits_known)
			break;
	}
	n = awaits__by(p, t->id, by, CHAIN_MAX);
	for (size_t i = 0; i < n && i < CHAIN_MAX && !err; i++) {
		const struct ap_task *w = ap_process__find_task(p, by[i]);

		err = chain_add(row, "awaited by %s (0x%llx)", w && w->name ? w->name : "?",
				(unsigned long long)by[i]);
	}
	if (!err && t->last_run_ns && now > t->last_run_ns)
		err = chain_add(row, "last step %.1f s ago", (now - t->last_run_ns) / 1e9);
	return err;
}

static uint64_t task_age(const struct ap_task *t, uint64_t now)
{
	uint64_t born =
		t->created_ns != AP_NULL_U64 && t->created_ns ? t->created_ns : t->first_run_ns;

	return born ? delta(now, born) : 0;
}

static int add_tasks(struct view_frame *fr, const struct ap_process *p, const struct ap_process *pp,
		     const struct ap_report *cur, const struct win *w)
{
	for (size_t i = 0; i < p->tasks.n; i++) {
		const struct ap_task *t = &p->tasks.v[i], *pt = ap_process__find_task(pp, t->id);
		struct view_task_row *row = AP_VEC_PUSH(fr->tasks);

		if (!row)
			return -ENOMEM;
		row->pid = p->pid;
		row->loop_tid = t->loop_tid;
		row->id = t->id;
		strutil__term(t->name, row->name, sizeof(row->name));
		strutil__term(t->coro, row->coro, sizeof(row->coro));
		row->state = t->state;
		row->steps_per_s = per_s(delta(t->steps, pt ? pt->steps : 0), w->ns);
		row->dbusy_ns = delta(t->busy_ns, pt ? pt->busy_ns : 0);
		row->busy_pct = w->ns ? 100.0 * row->dbusy_ns / w->ns : 0.0;
		row->busy_ns = t->busy_ns;
		row->max_step_ns = t->max_step_ns;
		row->blocked_ns = t->blocked_ns;
		row->age_ns = task_age(t, cur->end_ns);
		if (task_chain(row, p, t, cur->end_ns))
			return -ENOMEM;
	}
	return 0;
}

/* Escaped copies of the frames of st. */
static int copy_frames(struct view_event_row *row, const struct ap_stack *st)
{
	char esc[VIEW_NAME_MAX * 2];

	if (!st->n)
		return 0;
	row->frames = calloc(st->n, sizeof(*row->frames));
	if (!row->frames)
		return -ENOMEM;
	for (size_t i = 0; i < st->n; i++) {
		row->frames[i] = strdup(strutil__term(st->frames[i], esc, sizeof(esc)));
		if (!row->frames[i])
			return -ENOMEM;
		row->nframes++;
	}
	return 0;
}

static struct view_event_row *new_event(struct view_frame *fr, const struct ap_process *p,
					const struct ap_report *cur, uint32_t tid, uint64_t start,
					uint64_t task)
{
	struct view_event_row *row = AP_VEC_PUSH(fr->events_rows);
	const struct ap_task *t = ap_process__find_task(p, task);

	if (!row)
		return NULL;
	row->pid = p->pid;
	row->tid = tid;
	row->start_ns = start;
	row->t_ns = delta(start, cur->start_ns);
	strutil__term(t ? t->name : NULL, row->task, sizeof(row->task));
	return row;
}

static int add_events(struct view_frame *fr, const struct ap_process *p,
		      const struct ap_report *cur)
{
	char raw[VIEW_NAME_MAX * 2];
	struct view_event_row *row;
	size_t i;

	for (i = 0; i < p->blocking_calls.n; i++) {
		const struct ap_blocking *b = &p->blocking_calls.v[i];

		row = new_event(fr, p, cur, b->tid, b->start_ns, b->task);
		if (!row)
			return -ENOMEM;
		row->duration_ns = b->duration_ns;
		row->kind = b->kind ? b->kind : "?";
		snprintf(raw, sizeof(raw), "%s%s%s%s%s", b->in_progress ? "(in progress) " : "",
			 b->began_before ? "(began before) " : "", b->syscall ? b->syscall : "?",
			 b->detail ? " " : "", b->detail ? b->detail : "");
		strutil__term(raw, row->what, sizeof(row->what));
		if (copy_frames(row, &b->stack))
			return -ENOMEM;
	}
	for (i = 0; i < p->lints.n; i++) {
		const struct ap_lint *l = &p->lints.v[i];

		/* a lint holds now: listed with the latest events */
		row = new_event(fr, p, cur, l->tid, cur->end_ns, l->task);
		if (!row)
			return -ENOMEM;
		row->duration_ns = l->ns;
		row->kind = l->kind;
		row->fix = l->fix;
		strutil__term(l->message, row->what, sizeof(row->what));
		if (copy_frames(row, &l->stack))
			return -ENOMEM;
	}
	for (i = 0; i < p->slow_callbacks.n; i++) {
		const struct ap_slow_cb *s = &p->slow_callbacks.v[i];

		row = new_event(fr, p, cur, s->tid, s->start_ns, s->task);
		if (!row)
			return -ENOMEM;
		row->duration_ns = s->duration_ns;
		row->slow_cb = true;
		row->kind = "slow cb";
		strutil__term(s->callback, row->what, sizeof(row->what));
		if (copy_frames(row, &s->stack))
			return -ENOMEM;
	}
	return 0;
}

int view_frame__build(struct view_frame *fr, const struct ap_report *cur,
		      const struct ap_report *prev, const struct view_stats *st)
{
	struct win w = window_of(cur, prev);
	int err = 0;

	strutil__term(cur->host ? cur->host : "-", fr->host, sizeof(fr->host));
	fr->uptime_ns = delta(cur->end_ns, cur->start_ns);
	fr->window_ns = w.ns;
	fr->nprocs = cur->processes.n;
	fr->events = st ? st->events : 0;
	fr->drops = st ? st->drops : cur->drops_events;
	for (size_t i = 0; !err && i < cur->processes.n; i++) {
		const struct ap_process *p = &cur->processes.v[i], *pp = find_proc(prev, p->pid);

		err = add_loops(fr, p, pp, cur, &w);
		if (!err)
			err = add_tasks(fr, p, pp, cur, &w);
		if (!err)
			err = add_events(fr, p, cur);
	}
	view_calc__sort_loops(fr->loops.v, fr->loops.n, VIEW_SL_TID);
	view_calc__sort_events(fr->events_rows.v, fr->events_rows.n, VIEW_SE_TIME);
	return err;
}

void view_frame__clear(struct view_frame *fr)
{
	for (size_t i = 0; i < fr->events_rows.n; i++) {
		struct view_event_row *e = &fr->events_rows.v[i];

		for (size_t j = 0; j < e->nframes; j++)
			free(e->frames[j]);
		free(e->frames);
	}
	for (size_t i = 0; i < fr->tasks.n; i++) {
		for (size_t j = 0; j < fr->tasks.v[i].nchain; j++)
			free(fr->tasks.v[i].chain[j]);
		free(fr->tasks.v[i].chain);
	}
	free(fr->loops.v);
	free(fr->tasks.v);
	free(fr->events_rows.v);
	memset(fr, 0, sizeof(*fr));
}

/* --- sorting --- */

#define CMP_DESC(x, y) ((x) > (y) ? -1 : (x) < (y))
#define CMP_ASC(x, y)  ((x) < (y) ? -1 : (x) > (y))

static int cmp_loop_id(const struct view_loop_row *a, const struct view_loop_row *b)
{
	return a->pid != b->pid ? CMP_ASC(a->pid, b->pid) : CMP_ASC(a->tid, b->tid);
}

static int cmp_loop(const void *pa, const void *pb, void *arg)
{
	const struct view_loop_row *a = pa, *b = pb;
	enum view_sort_loop by = *(const enum view_sort_loop *)arg;
	int c = 0;

	if (by == VIEW_SL_LAG)
		c = CMP_DESC(a->lag_max_ns, b->lag_max_ns);
	else if (by == VIEW_SL_BUSY)
		c = CMP_DESC(a->busy_pct, b->busy_pct);
	else if (by == VIEW_SL_CB)
		c = CMP_DESC(a->cb_per_s, b->cb_per_s);
	return c ? c : cmp_loop_id(a, b);
}

void view_calc__sort_loops(struct view_loop_row *r, size_t n, enum view_sort_loop by)
{
	if (n)
		qsort_r(r, n, sizeof(*r), cmp_loop, &by);
}

static int cmp_task(const void *pa, const void *pb, void *arg)
{
	const struct view_task_row *a = pa, *b = pb;
	enum view_sort_task by = *(const enum view_sort_task *)arg;
	int c = 0;

	switch (by) {
	case VIEW_ST_BUSY:
		c = CMP_DESC(a->dbusy_ns, b->dbusy_ns);
		if (!c)
			c = CMP_DESC(a->busy_ns, b->busy_ns);
		break;
	case VIEW_ST_STEPS:
		c = CMP_DESC(a->steps_per_s, b->steps_per_s);
		break;
	case VIEW_ST_MAX_STEP:
		c = CMP_DESC(a->max_step_ns, b->max_step_ns);
		break;
	case VIEW_ST_BLOCKED:
		c = CMP_DESC(a->blocked_ns, b->blocked_ns);
		break;
	case VIEW_ST_AGE:
		c = CMP_DESC(a->age_ns, b->age_ns);
		break;
	default:
		c = strcmp(a->name, b->name);
		break;
	}
	if (!c)
		c = a->pid != b->pid ? CMP_ASC(a->pid, b->pid) : CMP_ASC(a->id, b->id);
	return c;
}

void view_calc__sort_tasks(struct view_task_row *r, size_t n, enum view_sort_task by)
{
	if (n)
		qsort_r(r, n, sizeof(*r), cmp_task, &by);
}

static int cmp_event(const void *pa, const void *pb, void *arg)
{
	const struct view_event_row *a = pa, *b = pb;
	enum view_sort_event by = *(const enum view_sort_event *)arg;
	int c = 0;

	if (by == VIEW_SE_DURATION)
		c = CMP_DESC(a->duration_ns, b->duration_ns);
	if (!c)
		c = CMP_DESC(a->start_ns, b->start_ns);
	if (!c)
		c = a->pid != b->pid ? CMP_ASC(a->pid, b->pid) : CMP_ASC(a->tid, b->tid);
	return c ? c : CMP_ASC(a->slow_cb, b->slow_cb);
}

void view_calc__sort_events(struct view_event_row *r, size_t n, enum view_sort_event by)
{
	if (n)
		qsort_r(r, n, sizeof(*r), cmp_event, &by);
}

/* --- cells --- */

/* Display columns of the valid UTF-8 sequence at s of n bytes (1 if unknown). */
static int seq_width(const unsigned char *s, size_t n)
{
	static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	wchar_t cp = s[0] & lead_mask[n];
	int w;

	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	w = n > 1 ? wcwidth(cp) : 1;
	return w < 0 ? 1 : w;
}

const char *view_calc__cell(const char *s, int width, bool right, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "-");
	size_t len = strlen((const char *)p), pos = 0, n, end;
	int cols = 0, w, pad;

	if (!size)
		return buf;
	while (pos < len) {
		n = utf8__seq_len(p + pos, len - pos);
		if (!n)
			n = 1;
		w = seq_width(p + pos, n);
		if (cols + w > width || (cols + w == width && pos + n < len))
			break;
		cols += w;
		pos += n;
	}
	end = pos;
	if (end < len && width > 0)
		cols++; /* the '~' */
	pad = width > cols ? width - cols : 0;
	if ((size_t)pad + end + 2 > size)
		end = pad = 0;
	n = 0;
	if (right) {
		memset(buf, ' ', pad);
		n = pad;
	}
	memcpy(buf + n, p, end);
	n += end;
	if (end < len && width > 0)
		buf[n++] = '~';
	if (!right) {
		memset(buf + n, ' ', pad);
		n += pad;
	}
	buf[n] = '\0';
	return buf;
}
