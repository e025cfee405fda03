// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Chrome Trace Event JSON ("JSON Object Format"), as ui.perfetto.dev and
 * chrome://tracing read it. Per process: name metadata, one thread track
 * per loop with a complete ("X") slice per callback run and per blocking
 * call, one async track ("b"/"e") per task, and a loop lag counter ("C").
 * Timestamps are microseconds (floats) from the window start.
 */
#include <errno.h>
#include <stdlib.h>
#include "output.h"
#include "json_writer.h"

#define AP_TOOL_NAME "asyncprof-bpf"

struct chrome_ctx {
	json_writer_t *w;
	const struct ap_report *r;
	const struct ap_process *p;
	struct ap_task_index tasks; /* p's */
};

/* A timestamp in us from the window start (may be negative). */
static void chrome_ts(struct chrome_ctx *c, const char *name, uint64_t t_ns)
{
	jsonw_float_field(c->w, name, ((double)(int64_t)(t_ns - c->r->start_ns)) / 1000.0);
}

/* ph, pid, tid and ts of an event; the caller closes the object. */
static void chrome_event(struct chrome_ctx *c, const char *ph, uint32_t tid, uint64_t t_ns)
{
	jsonw_start_object(c->w);
	jsonw_string_field(c->w, "ph", ph);
	jsonw_uint_field(c->w, "pid", c->p->pid);
	jsonw_uint_field(c->w, "tid", tid);
	chrome_ts(c, "ts", t_ns);
}

static void chrome_name_meta(struct chrome_ctx *c, const char *what, uint32_t tid)
{
	json_writer_t *w = c->w;

	jsonw_start_object(w);
	jsonw_string_field(w, "ph", "M");
	jsonw_string_field(w, "name", what);
	jsonw_uint_field(w, "pid", c->p->pid);
	jsonw_uint_field(w, "tid", tid);
	jsonw_name(w, "args");
	jsonw_start_object(w);
	jsonw_name(w, "name");
	if (tid)
		jsonw_printf(w, "loop %u", tid);
	else if (c->p->ns_pid && c->p->ns_pid != c->p->pid)
		jsonw_printf(w, "%s (%u; %u in its PID namespace)", c->p->comm ? c->p->comm : "?",
			     c->p->pid, c->p->ns_pid);
	else
		jsonw_printf(w, "%s (%u)", c->p->comm ? c->p->comm : "?", c->p->pid);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

static void chrome_task_id(json_writer_t *w, const char *name, uint64_t id)
{
	if (id)
		jsonw_addr_field(w, name, id);
	else
		jsonw_null_field(w, name);
}

/* The name of a callback run: "task <name>", the callback qualname or "callback". */
static void chrome_run_name(struct chrome_ctx *c, const struct ap_task *t, uint64_t task,
			    const char *callback)
{

	jsonw_name(c->w, "name");
	if (t && t->name)
		jsonw_printf(c->w, "task %s", t->name);
	else if (callback)
		jsonw_string(c->w, callback);
	else if (task)
		jsonw_printf(c->w, "task 0x%llx", (unsigned long long)task);
	else
		jsonw_string(c->w, "callback");
}

/* One callback run as an "X" slice. */
static void chrome_run(struct chrome_ctx *c, uint32_t tid, uint64_t start_ns, uint64_t dur_ns,
		       uint64_t task, const char *callback)
{
	const struct ap_task *t = task ? ap_task_index__at(&c->tasks, task, start_ns) : NULL;
	json_writer_t *w = c->w;

	chrome_event(c, "X", tid, start_ns);
	jsonw_float_field(w, "dur", dur_ns / 1000.0);
	jsonw_string_field(w, "cat", task ? "task" : "callback");
	chrome_run_name(c, t, task, callback);
	jsonw_name(w, "args");
	jsonw_start_object(w);
	chrome_task_id(w, "task", task);
	jsonw_string_field(w, "coro", t ? t->coro : NULL);
	jsonw_string_field(w, "callback", callback);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

static void chrome_blocking(struct chrome_ctx *c, const struct ap_blocking *b)
{
	json_writer_t *w = c->w;

	chrome_event(c, "X", b->tid, b->start_ns);
	jsonw_float_field(w, "dur", b->duration_ns / 1000.0);
	jsonw_string_field(w, "cat", "blocking");
	jsonw_name(w, "name");
	jsonw_printf(w, "[syscall] %s%s", b->syscall ? b->syscall : "?",
		     b->in_progress ? " (in progress)" : "");
	jsonw_name(w, "args");
	jsonw_start_object(w);
	jsonw_string_field(w, "syscall", b->syscall);
	jsonw_bool_field(w, "in_progress", b->in_progress);
	jsonw_string_field(w, "kind", b->kind);
	jsonw_string_field(w, "detail", b->detail);
	chrome_task_id(w, "task", b->task);
	jsonw_string_field(w, "callback", b->callback);
	jsonw_string_array_field(w, "stack", b->stack.frames, b->stack.n);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

/*
 * A slow loop iteration, around the callback runs and calls inside it;
 * its args give the time by cause and the callback behind each.
 */
static void chrome_iteration(struct chrome_ctx *c, const struct ap_iteration *it)
{
	json_writer_t *w = c->w;
	int order[AP_NCAUSES], n = ap_causes__order(it->cause_ns, order);

	chrome_event(c, "X", it->tid, it->start_ns);
	jsonw_float_field(w, "dur", it->duration_ns / 1000.0);
	jsonw_string_field(w, "cat", "iteration");
	jsonw_name(w, "name");
	if (n)
		jsonw_printf(w, "slow iteration: %.0f%% %s",
			     100.0 * it->cause_ns[order[0]] /
				     (it->duration_ns ? it->duration_ns : 1),
			     ap_cause_labels[order[0]]);
	else
		jsonw_string(w, "slow iteration");
	jsonw_name(w, "args");
	jsonw_start_object(w);
	for (int i = 0; i < n; i++) {
		const struct ap_culprit *k = &it->culprits[order[i]];

		jsonw_name(w, ap_cause_labels[order[i]]);
		if (k->callback && k->holder)
			jsonw_printf(w, "%.2f ms in %s, held by thread %u%s%s%s",
				     it->cause_ns[order[i]] / 1e6, k->callback, k->holder,
				     k->holder_comm ? " (" : "",
				     k->holder_comm ? k->holder_comm : "",
				     k->holder_comm ? ")" : "");
		else if (k->callback)
			jsonw_printf(w, "%.2f ms in %s", it->cause_ns[order[i]] / 1e6, k->callback);
		else
			jsonw_printf(w, "%.2f ms", it->cause_ns[order[i]] / 1e6);
	}
	jsonw_end_object(w);
	jsonw_end_object(w);
}

/* A lint, as an instant on its loop's track at the window's end, when it holds. */
static void chrome_lint(struct chrome_ctx *c, const struct ap_lint *l)
{
	json_writer_t *w = c->w;

	chrome_event(c, "i", l->tid, c->r->end_ns);
	jsonw_string_field(w, "s", "t");
	jsonw_string_field(w, "cat", "lint");
	jsonw_name(w, "name");
	jsonw_printf(w, "lint: %s", l->kind);
	jsonw_name(w, "args");
	jsonw_start_object(w);
	jsonw_string_field(w, "name", l->name);
	chrome_task_id(w, "task", l->task);
	jsonw_string_field(w, "coro", l->coro);
	jsonw_string_field(w, "message", l->message);
	jsonw_string_field(w, "instead", l->fix);
	jsonw_string_array_field(w, "stack", l->stack.frames, l->stack.n);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

/* Callback runs: the slices when traced, else the slow callbacks only. */
static void chrome_runs(struct chrome_ctx *c)
{
	const struct ap_process *p = c->p;
	size_t i;

	for (i = 0; i < p->slices.n; i++) {
		const struct ap_slice *s = &p->slices.v[i];

		chrome_run(c, s->tid, s->start_ns, s->duration_ns, s->task, s->callback);
	}
	if (p->slices.n)
		return;
	for (i = 0; i < p->slow_callbacks.n; i++) {
		const struct ap_slow_cb *s = &p->slow_callbacks.v[i];

		chrome_run(c, s->tid, s->start_ns, s->duration_ns, s->task, s->callback);
	}
}

/* A task's async track: "b" at creation (or first run), "e" at its end. */
static void chrome_task_track(struct chrome_ctx *c, const struct ap_task *t)
{
	uint64_t b = ap_task__start(t);
	uint64_t e = t->finished_ns != AP_NULL_U64 ? t->finished_ns : c->r->end_ns;
	json_writer_t *w = c->w;

	if (e < b)
		e = b;
	for (int end = 0; end < 2; end++) {
		chrome_event(c, end ? "e" : "b", t->loop_tid, end ? e : b);
		jsonw_string_field(w, "cat", "task");
		jsonw_addr_field(w, "id", t->id);
		jsonw_name(w, "name");
		if (t->name)
			jsonw_printf(w, "task %s", t->name);
		else
			jsonw_printf(w, "task 0x%llx", (unsigned long long)t->id);
		jsonw_name(w, "args");
		jsonw_start_object(w);
		if (!end) {
			jsonw_addr_field(w, "id", t->id);
			jsonw_string_field(w, "coro", t->coro);
			jsonw_uint_field(w, "steps", t->steps);
		} else {
			jsonw_string_field(w, "state", t->state);
			jsonw_string_field(w, "error", t->error);
		}
		jsonw_end_object(w);
		jsonw_end_object(w);
	}
}

static void chrome_lag_point(struct chrome_ctx *c, const struct ap_loop *l, uint64_t t_ns,
			     uint64_t lag_ns)
{
	chrome_event(c, "C", l->tid, t_ns);
	jsonw_name(c->w, "name");
	jsonw_printf(c->w, "loop lag %u", l->tid);
	jsonw_name(c->w, "args");
	jsonw_start_object(c->w);
	jsonw_float_field(c->w, "lag_ms", lag_ns / 1e6);
	jsonw_end_object(c->w);
	jsonw_end_object(c->w);
}

/*
 * The lag counter of a loop: 0 at its first sight, each non-zero grid
 * sample, a 0 at the grid instants next to them (so the counter drops back
 * between stalls), and 0 at the window end.
 */
static void chrome_lag(struct chrome_ctx *c, const struct ap_loop *l)
{
	uint64_t step = c->r->lag_interval_ns, first = l->first_ns, last = first;
	size_t n = l->lag_series.n;

	if (first < c->r->start_ns)
		first = last = c->r->start_ns;
	chrome_lag_point(c, l, first, 0);
	for (size_t i = 0; i < n; i++) {
		const struct ap_lag_point *pt = &l->lag_series.v[i];

		if (step && pt->t_ns >= last + 2 * step)
			chrome_lag_point(c, l, pt->t_ns - step, 0);
		chrome_lag_point(c, l, pt->t_ns, pt->lag_ns);
		last = pt->t_ns;
		if (step && (i + 1 == n || l->lag_series.v[i + 1].t_ns > last + step) &&
		    last + step <= c->r->end_ns) {
			chrome_lag_point(c, l, last + step, 0);
			last += step;
		}
	}
	if (c->r->end_ns > last)
		chrome_lag_point(c, l, c->r->end_ns, 0);
}

static int chrome_process(struct chrome_ctx *c)
{
	const struct ap_process *p = c->p;
	size_t i;
	int err;

	ap_task_index__free(&c->tasks);
	err = ap_task_index__build(&c->tasks, p);
	if (err)
		return err;
	chrome_name_meta(c, "process_name", 0);
	for (i = 0; i < p->loops.n; i++)
		chrome_name_meta(c, "thread_name", p->loops.v[i].tid);
	for (i = 0; i < p->iterations.n; i++)
		chrome_iteration(c, &p->iterations.v[i]);
	chrome_runs(c);
	for (i = 0; i < p->blocking_calls.n; i++)
		chrome_blocking(c, &p->blocking_calls.v[i]);
	for (i = 0; i < p->tasks.n; i++)
		chrome_task_track(c, &p->tasks.v[i]);
	for (i = 0; i < p->loops.n; i++)
		chrome_lag(c, &p->loops.v[i]);
	for (i = 0; i < p->lints.n; i++)
		chrome_lint(c, &p->lints.v[i]);
	return 0;
}

static void chrome_metadata(json_writer_t *w, const struct ap_report *r)
{
	jsonw_name(w, "metadata");
	jsonw_start_object(w);
	jsonw_string_field(w, "tool", AP_TOOL_NAME);
	jsonw_string_field(w, "version", r->tool_version);
	jsonw_uint_field(w, "window_start_ns", r->start_ns);
	jsonw_uint_field(w, "window_end_ns", r->end_ns);
	jsonw_uint_field(w, "slow_callback_ns", r->slow_callback_ns);
	jsonw_uint_field(w, "blocking_ns", r->blocking_ns);
	jsonw_uint_field(w, "lag_interval_ns", r->lag_interval_ns);
	jsonw_bool_field(w, "traced", r->traced);
	jsonw_name(w, "drops");
	jsonw_start_object(w);
	jsonw_uint_field(w, "events", r->drops_events);
	jsonw_uint_field(w, "stacks", r->drops_stacks);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

int out_chrome__write(FILE *f, const struct ap_report *r, const struct out_opts *o)
{
	struct chrome_ctx c = {.r = r};
	int err = 0;

	(void)o; /* no options */
	c.w = jsonw_new(f);
	if (!c.w)
		return -ENOMEM;
	jsonw_start_object(c.w);
	jsonw_name(c.w, "traceEvents");
	jsonw_start_array(c.w);
	for (size_t i = 0; i < c.r->processes.n && !err; i++) {
		c.p = &c.r->processes.v[i];
		err = chrome_process(&c);
	}
	jsonw_end_array(c.w);
	jsonw_string_field(c.w, "displayTimeUnit", "ms");
	chrome_metadata(c.w, c.r);
	jsonw_end_object(c.w);
	jsonw_destroy(&c.w);
	ap_task_index__free(&c.tasks);
	return err;
}
