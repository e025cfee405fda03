// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSON report writer (schema asyncprof-bpf/report/v1). */
#include <errno.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "awaits.h"
#include "json_writer.h"
#include "output.h"

#define AP_SCHEMA    "asyncprof-bpf/report/v1"
#define AP_TOOL_NAME "asyncprof-bpf"

/* A u64 that may be AP_NULL_U64. */
static void json_u64_or_null(json_writer_t *w, const char *name, uint64_t v)
{
	if (v == AP_NULL_U64)
		jsonw_null_field(w, name);
	else
		jsonw_uint_field(w, name, v);
}

/* An address; 0 means none. */
static void json_addr_or_null(json_writer_t *w, const char *name, uint64_t v)
{
	if (!v)
		jsonw_null_field(w, name);
	else
		jsonw_addr_field(w, name, v);
}

static void json_lag(json_writer_t *w, const struct ap_lag *lag)
{
	jsonw_name(w, "lag");
	jsonw_start_object(w);
	jsonw_uint_field(w, "samples", lag->samples);
	jsonw_uint_field(w, "max_ns", lag->max_ns);
	jsonw_uint_field(w, "mean_ns", lag->mean_ns);
	jsonw_uint_field(w, "p50_ns", lag->p50_ns);
	jsonw_uint_field(w, "p90_ns", lag->p90_ns);
	jsonw_uint_field(w, "p99_ns", lag->p99_ns);
	jsonw_name(w, "histogram");
	jsonw_start_array(w);
	for (int i = 0; i < AP_LAG_BUCKETS; i++) {
		jsonw_start_object(w);
		jsonw_uint_field(w, "le_ns", ap_lag_bucket_le[i]);
		jsonw_uint_field(w, "count", lag->le_count[i]);
		jsonw_end_object(w);
	}
	jsonw_start_object(w);
	jsonw_null_field(w, "le_ns");
	jsonw_uint_field(w, "count", lag->samples);
	jsonw_end_object(w);
	jsonw_end_array(w);
	jsonw_end_object(w);
}

/* "name": {"running_ns": ..., "run_queue_ns": ..., ...}; AP_NULL_U64 is null. */
static void json_causes(json_writer_t *w, const char *name, const uint64_t ns[AP_NCAUSES])
{
	char key[32];

	jsonw_name(w, name);
	jsonw_start_object(w);
	for (int i = 0; i < AP_NCAUSES; i++) {
		snprintf(key, sizeof(key), "%s_ns", ap_cause_names[i]);
		json_u64_or_null(w, key, ns[i]);
	}
	jsonw_end_object(w);
}

/* "name": {"sleep": {"callback": ..., "task": ..., "ns": ...}, ...}: the known ones. */
static void json_culprits(json_writer_t *w, const char *name, const struct ap_culprit c[AP_NCAUSES])
{
	jsonw_name(w, name);
	jsonw_start_object(w);
	for (int i = 0; i < AP_NCAUSES; i++) {
		if (!c[i].callback)
			continue;
		jsonw_name(w, ap_cause_names[i]);
		jsonw_start_object(w);
		jsonw_string_field(w, "callback", c[i].callback);
		json_addr_or_null(w, "task", c[i].task);
		jsonw_uint_field(w, "ns", c[i].ns);
		if (i == AP_CAUSE_GIL) {
			json_u64_or_null(w, "holder_tid", c[i].holder ? c[i].holder : AP_NULL_U64);
			jsonw_string_field(w, "holder_comm", c[i].holder_comm);
		}
		jsonw_end_object(w);
	}
	jsonw_end_object(w);
}

static void json_loop(json_writer_t *w, const struct ap_loop *l)
{
	jsonw_start_object(w);
	jsonw_uint_field(w, "tid", l->tid);
	jsonw_string_field(w, "kind", l->kind);
	jsonw_uint_field(w, "iterations", l->iterations);
	jsonw_uint_field(w, "busy_ns", l->busy_ns);
	jsonw_uint_field(w, "idle_ns", l->idle_ns);
	json_u64_or_null(w, "callbacks", l->callbacks);
	json_lag(w, &l->lag);
	jsonw_uint_field(w, "blocked_ns", l->blocked_ns);
	json_u64_or_null(w, "gil_wait_ns", l->gil_wait_ns);
	jsonw_uint_field(w, "preempted_ns", l->preempted_ns);
	jsonw_uint_field(w, "first_ns", l->first_ns);
	json_causes(w, "busy_causes", l->busy_causes);
	jsonw_uint_field(w, "slow_iterations", l->slow_iterations);
	json_causes(w, "slow_iteration_causes", l->slow_causes);
	json_culprits(w, "slow_iteration_culprits", l->slow_culprits);
	jsonw_bool_field(w, "stuck_before_window", l->stuck_before);
	jsonw_end_object(w);
}

static void json_iteration(json_writer_t *w, const struct ap_iteration *it)
{
	jsonw_start_object(w);
	jsonw_uint_field(w, "tid", it->tid);
	jsonw_uint_field(w, "start_ns", it->start_ns);
	jsonw_uint_field(w, "duration_ns", it->duration_ns);
	json_causes(w, "causes", it->cause_ns);
	json_culprits(w, "culprits", it->culprits);
	jsonw_bool_field(w, "in_progress", it->in_progress);
	jsonw_end_object(w);
}

/* A pending task's await: the future, its type, the task it is, where the coroutine waits. */
static void json_awaits(json_writer_t *w, const struct ap_process *p, const struct ap_task *t,
			uint64_t end_ns)
{
	uint64_t by[64];
	size_t n;

	jsonw_name(w, "awaits");
	if (!t->awaits_known) {
		jsonw_null(w);
	} else {
		jsonw_start_object(w);
		json_addr_or_null(w, "future", t->awaits);
		jsonw_string_field(w, "type", t->awaits_type);
		json_addr_or_null(w, "task", ap_process__find_task(p, t->awaits) ? t->awaits : 0);
		jsonw_string_field(w, "at", t->awaits_at);
		jsonw_end_object(w);
	}
	/* only a pending task is awaited (and only theirs were read) */
	n = t->awaits_known ? awaits__by(p, t->id, by, sizeof(by) / sizeof(by[0])) : 0;
	jsonw_name(w, "awaited_by");
	jsonw_start_array(w);
	for (size_t i = 0; i < n && i < sizeof(by) / sizeof(by[0]); i++)
		jsonw_addr(w, by[i]);
	jsonw_end_array(w);
	json_u64_or_null(w, "since_last_step_ns",
			 t->awaits_known && end_ns >= t->last_run_ns ? end_ns - t->last_run_ns
								     : AP_NULL_U64);
}

static void json_task(json_writer_t *w, const struct ap_process *p, const struct ap_task *t,
		      uint64_t end_ns)
{
	jsonw_start_object(w);
	jsonw_addr_field(w, "id", t->id);
	jsonw_string_field(w, "name", t->name);
	jsonw_string_field(w, "coro", t->coro);
	jsonw_uint_field(w, "loop_tid", t->loop_tid);
	json_addr_or_null(w, "parent", t->parent);
	json_u64_or_null(w, "created_ns", t->created_ns);
	jsonw_uint_field(w, "first_run_ns", t->first_run_ns);
	jsonw_uint_field(w, "last_run_ns", t->last_run_ns);
	json_u64_or_null(w, "finished_ns", t->finished_ns);
	jsonw_string_field(w, "state", t->state);
	jsonw_string_field(w, "error", t->error);
	jsonw_uint_field(w, "steps", t->steps);
	jsonw_uint_field(w, "busy_ns", t->busy_ns);
	jsonw_uint_field(w, "max_step_ns", t->max_step_ns);
	jsonw_uint_field(w, "blocked_ns", t->blocked_ns);
	json_awaits(w, p, t, end_ns);
	jsonw_end_object(w);
}

static void json_lint(json_writer_t *w, const struct ap_lint *l)
{
	jsonw_start_object(w);
	jsonw_string_field(w, "kind", l->kind);
	jsonw_uint_field(w, "tid", l->tid);
	json_addr_or_null(w, "task", l->task);
	jsonw_string_field(w, "name", l->name);
	jsonw_string_field(w, "coro", l->coro);
	jsonw_string_field(w, "message", l->message);
	jsonw_string_field(w, "fix", l->fix);
	jsonw_uint_field(w, "ns", l->ns);
	jsonw_uint_field(w, "count", l->count);
	jsonw_string_array_field(w, "stack", l->stack.frames, l->stack.n);
	jsonw_end_object(w);
}

static void json_callback(json_writer_t *w, const struct ap_callback *c)
{
	jsonw_start_object(w);
	jsonw_string_field(w, "name", c->name);
	jsonw_uint_field(w, "count", c->count);
	jsonw_uint_field(w, "total_ns", c->total_ns);
	jsonw_uint_field(w, "max_ns", c->max_ns);
	jsonw_end_object(w);
}

static void json_slow_cb(json_writer_t *w, const struct ap_slow_cb *c)
{
	jsonw_start_object(w);
	jsonw_uint_field(w, "tid", c->tid);
	jsonw_uint_field(w, "start_ns", c->start_ns);
	jsonw_uint_field(w, "duration_ns", c->duration_ns);
	json_addr_or_null(w, "task", c->task);
	jsonw_string_field(w, "callback", c->callback);
	jsonw_string_array_field(w, "stack", c->stack.frames, c->stack.n);
	jsonw_uint_field(w, "blocked_ns", c->blocked_ns);
	jsonw_bool_field(w, "began_before_window", c->began_before);
	jsonw_bool_field(w, "in_progress", c->in_progress);
	jsonw_end_object(w);
}

static void json_blocking(json_writer_t *w, const struct ap_blocking *b)
{
	jsonw_start_object(w);
	jsonw_uint_field(w, "tid", b->tid);
	jsonw_uint_field(w, "start_ns", b->start_ns);
	jsonw_uint_field(w, "duration_ns", b->duration_ns);
	jsonw_string_field(w, "syscall", b->syscall);
	jsonw_string_field(w, "kind", b->kind);
	jsonw_string_field(w, "detail", b->detail);
	json_addr_or_null(w, "task", b->task);
	jsonw_string_field(w, "callback", b->callback);
	jsonw_string_array_field(w, "stack", b->stack.frames, b->stack.n);
	jsonw_string_array_field(w, "native_stack", b->native_stack.frames, b->native_stack.n);
	jsonw_bool_field(w, "began_before_window", b->began_before);
	jsonw_bool_field(w, "in_progress", b->in_progress);
	json_u64_or_null(w, "gil_holder_tid", b->gil_holder ? b->gil_holder : AP_NULL_U64);
	jsonw_string_field(w, "gil_holder_comm", b->gil_holder_comm);
	jsonw_end_object(w);
}

/* "name": [ each(elem) ... ] over an AP_VEC. */
#define JSON_VEC(w, name, vec, each)                    \
	do {                                            \
		jsonw_name(w, name);                    \
		jsonw_start_array(w);                   \
		for (size_t _i = 0; _i < (vec).n; _i++) \
			each(w, &(vec).v[_i]);          \
		jsonw_end_array(w);                     \
	} while (0)

static void json_process(json_writer_t *w, const struct ap_process *p, uint64_t end_ns)
{
	jsonw_start_object(w);
	jsonw_uint_field(w, "pid", p->pid);
	jsonw_uint_field(w, "ns_pid", p->ns_pid ? p->ns_pid : p->pid);
	jsonw_string_field(w, "comm", p->comm);
	jsonw_string_field(w, "exe", p->exe);
	jsonw_string_field(w, "runtime", p->runtime);
	jsonw_string_field(w, "runtime_version", p->runtime_version);
	jsonw_string_field(w, "backend", p->backend);
	jsonw_bool_field(w, "steps_exact", p->steps_exact);
	jsonw_uint_field(w, "tasks_omitted", p->tasks_omitted);
	jsonw_uint_field(w, "slices_omitted", p->slices_omitted);
	JSON_VEC(w, "loops", p->loops, json_loop);
	jsonw_name(w, "tasks");
	jsonw_start_array(w);
	for (size_t i = 0; i < p->tasks.n; i++)
		json_task(w, p, &p->tasks.v[i], end_ns);
	jsonw_end_array(w);
	JSON_VEC(w, "callbacks", p->callbacks, json_callback);
	JSON_VEC(w, "slow_callbacks", p->slow_callbacks, json_slow_cb);
	JSON_VEC(w, "blocking_calls", p->blocking_calls, json_blocking);
	JSON_VEC(w, "slow_iterations", p->iterations, json_iteration);
	JSON_VEC(w, "lints", p->lints, json_lint);
	jsonw_end_object(w);
}

static void json_header(json_writer_t *w, const struct ap_report *r)
{
	jsonw_string_field(w, "schema", AP_SCHEMA);
	jsonw_name(w, "tool");
	jsonw_start_object(w);
	jsonw_string_field(w, "name", AP_TOOL_NAME);
	jsonw_string_field(w, "version", r->tool_version);
	jsonw_end_object(w);
	jsonw_name(w, "window");
	jsonw_start_object(w);
	jsonw_uint_field(w, "start_ns", r->start_ns);
	jsonw_uint_field(w, "end_ns", r->end_ns);
	jsonw_end_object(w);
	jsonw_name(w, "config");
	jsonw_start_object(w);
	jsonw_uint_field(w, "slow_callback_ns", r->slow_callback_ns);
	jsonw_uint_field(w, "blocking_ns", r->blocking_ns);
	jsonw_uint_field(w, "stuck_ns", r->stuck_ns);
	jsonw_uint_field(w, "lag_interval_ns", r->lag_interval_ns);
	jsonw_string_field(w, "mode", r->mode ? r->mode : "full");
	jsonw_uint_field(w, "sample_period_ns", r->sample_period_ns);
	if (r->kernel) {
		/* what ran where: the variants keep the report's meaning, this says which */
		jsonw_name(w, "kernel");
		jsonw_start_object(w);
		jsonw_string_field(w, "release", r->kernel);
		jsonw_string_field(w, "tracepoints", r->tracepoints);
		jsonw_string_field(w, "stack_walk", r->stack_walk);
		jsonw_end_object(w);
	}
	jsonw_end_object(w);
	jsonw_name(w, "drops");
	jsonw_start_object(w);
	jsonw_uint_field(w, "events", r->drops_events);
	jsonw_uint_field(w, "stacks", r->drops_stacks);
	jsonw_uint_field(w, "tasks", r->drops_tasks);
	jsonw_uint_field(w, "threads", r->drops_threads);
	jsonw_uint_field(w, "callbacks", r->drops_callbacks);
	jsonw_uint_field(w, "callback_ends", r->callback_ends);
	jsonw_end_object(w);
}

int out_json__write(FILE *f, const struct ap_report *r, const struct out_opts *o)
{
	json_writer_t *w = jsonw_new(f);

	(void)o; /* no options */
	if (!w)
		return -ENOMEM;
	jsonw_pretty(w, true);
	jsonw_start_object(w);
	json_header(w, r);
	jsonw_name(w, "processes");
	jsonw_start_array(w);
	for (size_t i = 0; i < r->processes.n; i++)
		json_process(w, &r->processes.v[i], r->end_ns);
	jsonw_end_array(w);
	jsonw_end_object(w);
	jsonw_destroy(&w);
	return 0;
}
