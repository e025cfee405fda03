// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The live view's copy of a session: what it has seen so far and the maps now. */
#include <errno.h>
#include <stdlib.h>
#include "session_int.h"

#define SNAPSHOT_EVENTS 64 /* latest blocking calls and slow callbacks in a snapshot */

/* Copy the last n entries of a vector with copy_fn; 0 or -ENOMEM. */
#define COPY_TAIL(dst, src, max, copy_fn)                                    \
	({                                                                   \
		size_t __from = (src).n > (max) ? (src).n - (max) : 0;       \
		int __err = 0;                                               \
		for (size_t __i = __from; __i < (src).n && !__err; __i++) {  \
			__typeof__((dst).v) __d = AP_VEC_PUSH(dst);          \
			__err = __d ? copy_fn(__d, &(src).v[__i]) : -ENOMEM; \
		}                                                            \
		__err;                                                       \
	})

/* A process of the session, without its loops and live figures. */
static int process_copy(struct ap_process *d, const struct ap_process *p)
{
	int err = 0;

	d->pid = p->pid;
	d->ns_pid = p->ns_pid;
	d->comm = sess_strdup(p->comm);
	d->exe = sess_strdup(p->exe);
	d->runtime = p->runtime;
	d->runtime_version = sess_strdup(p->runtime_version);
	d->backend = p->backend;
	d->steps_exact = p->steps_exact;
	for (size_t i = 0; i < p->tasks.n && !err; i++) {
		struct ap_task *t = AP_VEC_PUSH(d->tasks);

		err = t ? ap_task__copy(t, &p->tasks.v[i]) : -ENOMEM;
	}
	if (!err)
		err = COPY_TAIL(d->blocking_calls, p->blocking_calls, SNAPSHOT_EVENTS,
				ap_blocking__copy);
	if (!err)
		err = COPY_TAIL(d->slow_callbacks, p->slow_callbacks, SNAPSHOT_EVENTS,
				ap_slow_cb__copy);
	return err;
}

static int add_blocking_sum(struct ap_process *d, const struct ap_blocking *b)
{
	struct ap_blocking_sum *sum = NULL;

	for (size_t i = 0; i < d->blocking_sums.n && !sum; i++) {
		struct ap_blocking_sum *x = &d->blocking_sums.v[i];

		if (x->tid == b->tid && x->kind == b->kind && x->syscall == b->syscall)
			sum = x;
	}
	if (!sum) {
		sum = AP_VEC_PUSH(d->blocking_sums);
		if (!sum)
			return -ENOMEM;
		*sum = (struct ap_blocking_sum){b->tid, b->kind, b->syscall, 0, 0};
	}
	sum->count++;
	sum->total_ns += b->duration_ns;
	return 0;
}

/* Totals over everything the session saw of p, into its snapshot d. */
static int sum_process(const struct ap_process *p, struct ap_process *d)
{
	int err = 0;

	for (size_t i = 0; i < p->blocking_calls.n && !err; i++)
		err = add_blocking_sum(d, &p->blocking_calls.v[i]);
	for (size_t i = 0; i < p->slow_callbacks.n; i++)
		for (size_t j = 0; j < d->loops.n; j++)
			d->loops.v[j].slow_callbacks +=
				d->loops.v[j].tid == p->slow_callbacks.v[i].tid;
	return err;
}

int session__snapshot(struct session *s, const struct session_maps *maps, uint64_t now_ns,
		      uint64_t drops_events, session_alive_fn alive, struct ap_report **out)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	int err = 0;

	if (!r)
		return -ENOMEM;
	*r = (struct ap_report){
		.tool_version = s->rep->tool_version,
		.start_ns = s->rep->start_ns,
		.end_ns = now_ns,
		.slow_callback_ns = s->rep->slow_callback_ns,
		.stuck_ns = s->rep->stuck_ns,
		.blocking_ns = s->rep->blocking_ns,
		.lag_interval_ns = s->rep->lag_interval_ns,
		.drops_events = drops_events,
		.host = s->rep->host,
		.sample_period_ns = s->rep->sample_period_ns,
		.mode = s->rep->mode,
	};
	for (size_t i = 0; i < s->rep->processes.n && !err; i++) {
		const struct ap_process *p = &s->rep->processes.v[i];
		struct ap_process *d;

		/* processes that exited leave the view (the final report keeps them) */
		if (alive && !alive((int)p->pid))
			continue;
		d = AP_VEC_PUSH(r->processes);
		err = d ? process_copy(d, p) : -ENOMEM;
	}
	if (!err)
		err = sess_read_maps(s, maps, now_ns, r);
	for (size_t i = 0; i < r->processes.n && !err; i++)
		err = sum_process(sess_find_in(s->rep, r->processes.v[i].pid, NULL),
				  &r->processes.v[i]);
	if (err) {
		ap_report__free(r);
		return err;
	}
	*out = r;
	return 0;
}
