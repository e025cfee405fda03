// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Why the loop was late: the culprit of each cause of slow iterations, and their order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "causes.h"

#define MS 1000000ull

static void add_iter(struct ap_process *p, uint32_t tid, uint64_t s, uint64_t d)
{
	struct ap_iteration *it = AP_VEC_PUSH(p->iterations);

	assert_non_null(it);
	it->tid = tid;
	it->start_ns = s;
	it->duration_ns = d;
}

static void add_call(struct ap_process *p, uint32_t tid, uint64_t s, uint64_t d, const char *kind,
		     const char *cb, uint64_t task)
{
	struct ap_blocking *b = AP_VEC_PUSH(p->blocking_calls);

	assert_non_null(b);
	*b = (struct ap_blocking){
		.tid = tid, .start_ns = s, .duration_ns = d, .kind = kind, .task = task};
	b->callback = cb ? strdup(cb) : NULL;
}

static void add_slow(struct ap_process *p, uint32_t tid, uint64_t s, uint64_t d, uint64_t blocked,
		     const char *cb)
{
	struct ap_slow_cb *c = AP_VEC_PUSH(p->slow_callbacks);

	assert_non_null(c);
	*c = (struct ap_slow_cb){
		.tid = tid, .start_ns = s, .duration_ns = d, .blocked_ns = blocked};
	c->callback = strdup(cb);
}

static struct ap_report *report_new(void)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p;
	struct ap_loop *l;

	assert_non_null(r);
	p = AP_VEC_PUSH(r->processes);
	assert_non_null(p);
	l = AP_VEC_PUSH(p->loops);
	assert_non_null(l);
	l->tid = 7;
	l = AP_VEC_PUSH(p->loops);
	assert_non_null(l);
	l->tid = 8;
	return r;
}

/*
 * Two slow iterations on loop 7, one on loop 8; calls and callbacks on
 * either side of them and on the other thread must not count.
 */
static void test_culprits(void **state)
{
	struct ap_report *r = report_new();
	struct ap_process *p = &r->processes.v[0];
	const struct ap_culprit *c;

	(void)state;
	add_iter(p, 7, 100 * MS, 200 * MS); /* [100, 300) */
	add_iter(p, 8, 150 * MS, 100 * MS); /* [150, 250), the other loop */
	add_iter(p, 7, 500 * MS, 300 * MS); /* [500, 800) */
	/* sorted by start, as the report is */
	add_call(p, 7, 50 * MS, 20 * MS, "sleep", "before", 0); /* not in an iteration */
	add_call(p, 7, 110 * MS, 150 * MS, "sleep", "legacy_sleep", 0x10);
	add_call(p, 8, 160 * MS, 80 * MS, "sleep", "other_loop", 0);
	add_call(p, 7, 270 * MS, 100 * MS, "file", "writer", 0); /* 30 ms of it inside */
	add_call(p, 7, 510 * MS, 20 * MS, "sleep", "short_nap", 0);
	add_call(p, 7, 540 * MS, 10 * MS, "gil", "legacy_sleep", 0x20);
	add_call(p, 7, 600 * MS, 50 * MS, "gil", "cpu_work", 0);
	add_call(p, 7, 700 * MS, 5 * MS, "net", NULL, 0); /* no name: no culprit */
	add_slow(p, 7, 500 * MS, 250 * MS, 50 * MS, "cpu_work");
	add_slow(p, 7, 900 * MS, 150 * MS, 0, "after");

	assert_int_equal(causes__attribute(p), 0);
	/* iteration 1: the sleep, the file write clipped to the iteration */
	c = p->iterations.v[0].culprits;
	assert_string_equal(c[AP_CAUSE_KIND + AP_KIND_SLEEP].callback, "legacy_sleep");
	assert_int_equal(c[AP_CAUSE_KIND + AP_KIND_SLEEP].ns, 150 * MS);
	assert_int_equal(c[AP_CAUSE_KIND + AP_KIND_SLEEP].task, 0x10);
	assert_string_equal(c[AP_CAUSE_KIND + AP_KIND_FILE].callback, "writer");
	assert_int_equal(c[AP_CAUSE_KIND + AP_KIND_FILE].ns, 30 * MS);
	assert_null(c[AP_CAUSE_RUNNING].callback);
	assert_null(c[AP_CAUSE_GIL].callback);
	/* the other loop's iteration has its own */
	c = p->iterations.v[1].culprits;
	assert_string_equal(c[AP_CAUSE_KIND + AP_KIND_SLEEP].callback, "other_loop");
	assert_null(c[AP_CAUSE_KIND + AP_KIND_FILE].callback);
	/* iteration 3: running is the slow callback less its blocked time */
	c = p->iterations.v[2].culprits;
	assert_string_equal(c[AP_CAUSE_RUNNING].callback, "cpu_work");
	assert_int_equal(c[AP_CAUSE_RUNNING].ns, 200 * MS);
	assert_string_equal(c[AP_CAUSE_GIL].callback, "cpu_work");
	assert_int_equal(c[AP_CAUSE_GIL].ns, 50 * MS);
	assert_string_equal(c[AP_CAUSE_KIND + AP_KIND_SLEEP].callback, "short_nap");
	assert_null(c[AP_CAUSE_KIND + AP_KIND_NET].callback);
	/* loop 7 over both: sleep is legacy_sleep's (150 > 20), the GIL cpu_work's (50 > 10) */
	c = p->loops.v[0].slow_culprits;
	assert_string_equal(c[AP_CAUSE_KIND + AP_KIND_SLEEP].callback, "legacy_sleep");
	assert_int_equal(c[AP_CAUSE_KIND + AP_KIND_SLEEP].ns, 150 * MS);
	assert_string_equal(c[AP_CAUSE_GIL].callback, "cpu_work");
	assert_string_equal(c[AP_CAUSE_RUNNING].callback, "cpu_work");
	assert_string_equal(p->loops.v[1].slow_culprits[AP_CAUSE_KIND + AP_KIND_SLEEP].callback,
			    "other_loop");
	/* again: the same answer, nothing leaked */
	assert_int_equal(causes__attribute(p), 0);
	assert_string_equal(p->loops.v[0].slow_culprits[AP_CAUSE_GIL].callback, "cpu_work");
	ap_report__free(r);
}

/* No culprit has more of a cause than BPF counted in the iteration (the rest was run queue). */
static void test_culprit_clamped(void **state)
{
	struct ap_report *r = report_new();
	struct ap_process *p = &r->processes.v[0];
	struct ap_iteration *it;

	(void)state;
	add_iter(p, 7, 100 * MS, 300 * MS);
	it = &p->iterations.v[0];
	it->cause_ns[AP_CAUSE_RUNNING] = 150 * MS;
	it->cause_ns[AP_CAUSE_RUNQ] = 140 * MS;
	it->cause_ns[AP_CAUSE_KIND + AP_KIND_SLEEP] = 10 * MS;
	add_call(p, 7, 100 * MS, 12 * MS, "sleep", "nap", 0);
	add_slow(p, 7, 100 * MS, 300 * MS, 12 * MS, "hogged");
	assert_int_equal(causes__attribute(p), 0);
	assert_int_equal(it->culprits[AP_CAUSE_RUNNING].ns, 150 * MS);
	assert_string_equal(it->culprits[AP_CAUSE_RUNNING].callback, "hogged");
	assert_int_equal(it->culprits[AP_CAUSE_KIND + AP_KIND_SLEEP].ns, 10 * MS);
	assert_null(it->culprits[AP_CAUSE_RUNQ].callback);
	ap_report__free(r);
}

/* A GIL wait that timed out knows no holder: the culprit's holder is the one a wake gave. */
static void test_culprit_gil_holder(void **state)
{
	struct ap_report *r = report_new();
	struct ap_process *p = &r->processes.v[0];
	const struct ap_culprit *c;

	(void)state;
	add_iter(p, 7, 100 * MS, 300 * MS);
	add_call(p, 7, 110 * MS, 130 * MS, "gil", "spin", 0);
	add_call(p, 7, 245 * MS, 5 * MS, "gil", "spin", 0);
	p->blocking_calls.v[1].gil_holder = 99;
	p->blocking_calls.v[1].gil_holder_comm = strdup("cpu-burner");
	assert_int_equal(causes__attribute(p), 0);
	c = &p->iterations.v[0].culprits[AP_CAUSE_GIL];
	assert_string_equal(c->callback, "spin");
	assert_int_equal(c->ns, 135 * MS);
	assert_int_equal(c->holder, 99);
	assert_string_equal(c->holder_comm, "cpu-burner");
	assert_int_equal(p->loops.v[0].slow_culprits[AP_CAUSE_GIL].holder, 99);
	/* no reported wait named one: the iteration's (a short last wait's) holds */
	p->blocking_calls.v[1].gil_holder = 0;
	p->iterations.v[0].gil_holder = 98;
	p->iterations.v[0].gil_holder_comm = strdup("burner");
	assert_int_equal(causes__attribute(p), 0);
	c = &p->iterations.v[0].culprits[AP_CAUSE_GIL];
	assert_int_equal(c->holder, 98);
	assert_string_equal(c->holder_comm, "burner");
	assert_int_equal(p->loops.v[0].slow_culprits[AP_CAUSE_GIL].holder, 98);
	ap_report__free(r);
}

/* A callback run by two tasks is no one task's. */
static void test_culprit_task_shared(void **state)
{
	struct ap_report *r = report_new();
	struct ap_process *p = &r->processes.v[0];

	(void)state;
	add_iter(p, 7, 100 * MS, 200 * MS);
	add_call(p, 7, 110 * MS, 50 * MS, "sleep", "handler", 0x10);
	add_call(p, 7, 170 * MS, 50 * MS, "sleep", "handler", 0x20);
	assert_int_equal(causes__attribute(p), 0);
	assert_int_equal(p->iterations.v[0].culprits[AP_CAUSE_KIND + AP_KIND_SLEEP].ns, 100 * MS);
	assert_int_equal(p->iterations.v[0].culprits[AP_CAUSE_KIND + AP_KIND_SLEEP].task, 0);
	ap_report__free(r);
}

static void test_kind_and_order(void **state)
{
	uint64_t ns[AP_NCAUSES] = {0};
	int order[AP_NCAUSES];

	(void)state;
	assert_int_equal(causes__of_kind("gil"), AP_CAUSE_GIL);
	assert_int_equal(causes__of_kind("sleep"), AP_CAUSE_KIND + AP_KIND_SLEEP);
	assert_int_equal(causes__of_kind("other"), AP_CAUSE_KIND + AP_KIND_OTHER);
	assert_int_equal(causes__of_kind("bogus"), -1);
	assert_int_equal(causes__of_kind(NULL), -1);
	assert_int_equal(ap_causes__order(ns, order), 0);
	ns[AP_CAUSE_RUNQ] = AP_NULL_U64; /* unknown: no time */
	ns[AP_CAUSE_GIL] = 30;
	ns[AP_CAUSE_KIND + AP_KIND_SLEEP] = 62;
	ns[AP_CAUSE_RUNNING] = 8;
	ns[AP_CAUSE_KIND + AP_KIND_LOCK] = 8;
	assert_int_equal(ap_causes__order(ns, order), 4);
	assert_int_equal(order[0], AP_CAUSE_KIND + AP_KIND_SLEEP);
	assert_int_equal(order[1], AP_CAUSE_GIL);
	assert_int_equal(order[2], AP_CAUSE_RUNNING); /* ties: the enum's order */
	assert_int_equal(order[3], AP_CAUSE_KIND + AP_KIND_LOCK);
	assert_string_equal(ap_cause_names[AP_CAUSE_RUNQ], "run_queue");
	assert_string_equal(ap_cause_names[AP_CAUSE_KIND + AP_KIND_PROCESS], "process");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_culprits),
		cmocka_unit_test(test_culprit_clamped),
		cmocka_unit_test(test_culprit_task_shared),
		cmocka_unit_test(test_culprit_gil_holder),
		cmocka_unit_test(test_kind_and_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
