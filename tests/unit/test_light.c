// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Light mode: tasks and callbacks estimated from CPU samples and blocking calls. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "light.h"
#include "pyrt.h"
#include "names.h"

#define MS     1000000ull
#define PERIOD (5 * MS)
#define PID    100
#define TID    101
#define TASK   0x7f0000001000ull
#define CORO   0x7f0000002000ull /* the task's coroutine qualname: its callback identity */
#define CB     0x7f0000003000ull /* a plain callback */

static struct light_sample smp(uint64_t ts, uint64_t busy, uint64_t task, uint64_t cb)
{
	struct light_sample s = {PID, TID, ts, busy, task, cb};

	return s;
}

static void free_process(struct ap_process *p)
{
	for (size_t i = 0; i < p->tasks.n; i++) {
		free(p->tasks.v[i].name);
		free(p->tasks.v[i].coro);
	}
	for (size_t i = 0; i < p->callbacks.n; i++)
		free(p->callbacks.v[i].name);
	free(p->tasks.v);
	free(p->callbacks.v);
}

static const struct ap_callback *cb_named(const struct ap_process *p, const char *name)
{
	for (size_t i = 0; i < p->callbacks.n; i++)
		if (p->callbacks.v[i].name && !strcmp(p->callbacks.v[i].name, name))
			return &p->callbacks.v[i];
	return NULL;
}

/* Three iterations sampled 3, 1 and 2 times: 3 steps, 6 periods, the longest 3. */
static void test_light_task_from_samples(void **state)
{
	struct light *l = light__new();
	struct names *n = names__new(16);
	struct ap_process p = {.pid = PID};
	struct light_sample s;
	const uint64_t busy[] = {10, 10, 10, 40, 70, 70};
	const struct ap_task *t;

	(void)state;
	assert_non_null(l);
	assert_non_null(n);
	assert_int_equal(names__set(n, PID, AP_NAME_TASK, TASK, "worker-1"), 0);
	assert_int_equal(names__set(n, PID, AP_NAME_TASK_CORO, TASK, "worker"), 0);
	assert_int_equal(names__set(n, PID, AP_NAME_CALLBACK, CORO, "worker"), 0);
	for (int i = 0; i < 6; i++) {
		s = smp((uint64_t)(busy[i] + i) * MS, busy[i] * MS, TASK, CORO);
		assert_int_equal(light__add_sample(l, &s), 0);
	}
	assert_int_equal(light__fill(l, n, PERIOD, &p), 0);
	assert_int_equal(p.tasks.n, 1);
	t = &p.tasks.v[0];
	assert_true(t->id == TASK);
	assert_string_equal(t->name, "worker-1");
	assert_string_equal(t->coro, "worker");
	assert_int_equal(t->loop_tid, TID);
	assert_int_equal(t->steps, 3);
	assert_true(t->busy_ns == 6 * PERIOD);
	assert_true(t->max_step_ns == 3 * PERIOD);
	assert_true(t->first_run_ns == 10 * MS);
	assert_true(t->last_run_ns == 75 * MS);
	assert_null(t->state); /* a task's end is not seen in light mode */
	assert_true(t->finished_ns == AP_NULL_U64);
	/* the task's time is also its coroutine's, in callbacks */
	assert_int_equal(p.callbacks.n, 1);
	assert_non_null(cb_named(&p, "worker"));
	assert_true(cb_named(&p, "worker")->total_ns == 6 * PERIOD);
	assert_int_equal(cb_named(&p, "worker")->count, 3);
	free_process(&p);
	light__free(l);
	names__free(n);
}

/* Blocked time counts as the task's; another process's samples are not p's. */
static void test_light_blocked_and_processes(void **state)
{
	struct light *l = light__new();
	struct names *n = names__new(16);
	struct ap_process p = {.pid = PID};
	struct light_sample s = smp(10 * MS, 10 * MS, TASK, CORO);
	struct light_sample other = smp(10 * MS, 10 * MS, TASK, CORO);
	struct light_sample plain = smp(20 * MS, 20 * MS, 0, CB);
	struct light_sample none = smp(30 * MS, 30 * MS, 0, 0);

	(void)state;
	other.pid = PID + 1;
	assert_int_equal(light__add_blocked(l, &s, 50 * MS), 0);
	assert_int_equal(light__add_sample(l, &s), 0);
	assert_int_equal(light__add_sample(l, &other), 0);
	assert_int_equal(light__add_sample(l, &plain), 0);
	assert_int_equal(light__add_sample(l, &none), 0); /* not attributed: counted nowhere */
	assert_int_equal(light__fill(l, n, PERIOD, &p), 0);
	assert_int_equal(p.tasks.n, 1);
	assert_null(p.tasks.v[0].name); /* no name seen: null, never made up */
	assert_true(p.tasks.v[0].blocked_ns == 50 * MS);
	assert_true(p.tasks.v[0].busy_ns == 50 * MS + PERIOD);
	assert_int_equal(p.tasks.v[0].steps, 1);
	assert_int_equal(p.callbacks.n, 2); /* the coroutine and the plain callback */
	free_process(&p);
	light__free(l);
	light__free(NULL);
	names__free(n);
}

/*
 * A table of 4: tasks first seen after it is full are counted in
 * tasks_omitted, once each however often they are sampled or block, per
 * process; the kept tasks keep their figures.
 */
static void test_light_tasks_omitted(void **state)
{
	struct light *l = light__new_cap(4);
	struct names *n = names__new(16);
	struct ap_process p = {.pid = PID}, q = {.pid = PID + 1};
	struct light_sample s;

	(void)state;
	assert_non_null(l);
	assert_non_null(n);
	for (uint64_t i = 0; i < 10; i++) {
		s = smp(10 * MS + i, 10 * MS, TASK + i * 0x100, CORO);
		assert_int_equal(light__add_sample(l, &s), 0);
	}
	/* an omitted task seen again, sampled and blocked: still one */
	s = smp(20 * MS, 20 * MS, TASK + 9 * 0x100, CORO);
	assert_int_equal(light__add_sample(l, &s), 0);
	assert_int_equal(light__add_blocked(l, &s, 3 * MS), 0);
	/* a kept task is still counted */
	s = smp(30 * MS, 30 * MS, TASK, CORO);
	assert_int_equal(light__add_sample(l, &s), 0);
	/* another process's task: its own count */
	s = smp(40 * MS, 40 * MS, TASK, CORO);
	s.pid = PID + 1;
	assert_int_equal(light__add_blocked(l, &s, MS), 0);

	assert_int_equal(light__fill(l, n, PERIOD, &p), 0);
	assert_int_equal(p.tasks.n, 4);
	assert_int_equal(p.tasks_omitted, 6);
	assert_int_equal(p.tasks.v[0].steps, 2);
	assert_int_equal(light__fill(l, n, PERIOD, &q), 0);
	assert_int_equal(q.tasks.n, 0);
	assert_int_equal(q.tasks_omitted, 1);
	free_process(&p);
	free_process(&q);
	names__free(n);
	light__free(l);
}

/* Past the set of omitted tasks (4 x the cap) the count is an upper estimate. */
static void test_light_tasks_omitted_many(void **state)
{
	struct light *l = light__new_cap(2);
	struct names *n = names__new(16);
	struct ap_process p = {.pid = PID};
	struct light_sample s;

	(void)state;
	assert_non_null(l);
	assert_non_null(n);
	for (uint64_t i = 0; i < 1000; i++) {
		/* each task sampled twice in a row: the repeat is never counted */
		s = smp(MS + i, MS, TASK + i * 0x100, CORO);
		assert_int_equal(light__add_sample(l, &s), 0);
		assert_int_equal(light__add_sample(l, &s), 0);
	}
	assert_int_equal(light__fill(l, n, PERIOD, &p), 0);
	assert_int_equal(p.tasks.n, 2);
	assert_int_equal(p.tasks_omitted, 998);
	free_process(&p);
	names__free(n);
	light__free(l);
}

/*
 * Thousands of tasks, each with its own callback identity, sampled in
 * turn: every sample finds its own entries (the index grows under them),
 * and past the cap the callbacks' samples are counted as dropped.
 */
static void test_light_many_entries(void **state)
{
	const uint64_t ntasks = 5000;
	struct light *l = light__new_cap(ntasks);
	struct names *n = names__new(16);
	struct ap_process p = {.pid = PID};
	struct light_sample s;

	(void)state;
	assert_non_null(l);
	assert_non_null(n);
	for (uint64_t round = 0; round < 3; round++)
		for (uint64_t i = 0; i < ntasks; i++) {
			/* a new busy interval per round: one step per round */
			s = smp(MS + round * ntasks + i, (round + 1) * MS, TASK + i * 0x100,
				CORO + i * 0x10);
			assert_int_equal(light__add_sample(l, &s), 0);
		}
	assert_int_equal(light__cbs_dropped(l), 0);
	/* one more callback identity: the callbacks table is full */
	s = smp(10 * MS, 10 * MS, 0, CB + 0x1000000);
	assert_int_equal(light__add_sample(l, &s), 0);
	assert_int_equal(light__add_blocked(l, &s, MS), 0);
	assert_int_equal(light__cbs_dropped(l), 2);
	assert_int_equal(light__fill(l, n, PERIOD, &p), 0);
	assert_int_equal(p.tasks.n, ntasks);
	assert_int_equal(p.callbacks.n, ntasks);
	for (size_t i = 0; i < p.tasks.n; i++) {
		assert_int_equal(p.tasks.v[i].steps, 3);
		assert_int_equal(p.tasks.v[i].busy_ns, 3 * PERIOD);
		assert_int_equal(p.callbacks.v[i].count, 3);
	}
	assert_int_equal(p.tasks_omitted, 0);
	free_process(&p);
	names__free(n);
	light__free(l);
	assert_int_equal(light__cbs_dropped(NULL), 0);
}

static void test_light_offsets(void **state)
{
	uint32_t flags, locals;

	(void)state;
	pyrt_offsets__light(8, &flags, &locals);
	assert_int_equal(flags, 36);
	assert_int_equal(locals, 360);
	pyrt_offsets__light(10, &flags, &locals);
	assert_int_equal(locals, 352);
	pyrt_offsets__light(13, &flags, &locals);
	assert_int_equal(flags, 48);
	assert_int_equal(locals, 72);
	pyrt_offsets__light(7, &flags, &locals); /* unsupported: no search */
	assert_int_equal(flags, 0);
	assert_int_equal(locals, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_light_task_from_samples),
		cmocka_unit_test(test_light_blocked_and_processes),
		cmocka_unit_test(test_light_tasks_omitted),
		cmocka_unit_test(test_light_tasks_omitted_many),
		cmocka_unit_test(test_light_many_entries),
		cmocka_unit_test(test_light_offsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
