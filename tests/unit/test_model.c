// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The report's queries: a task's start, the task of an id at a time, find by id. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>
#include "model.h"

static void add_task(struct ap_process *p, uint64_t id, uint64_t created, uint64_t first_run)
{
	struct ap_task *t = AP_VEC_PUSH(p->tasks);

	assert_non_null(t);
	t->id = id;
	t->created_ns = created;
	t->first_run_ns = first_run;
	t->finished_ns = AP_NULL_U64;
}

static void test_task_start(void **state)
{
	struct ap_task t = {.created_ns = AP_NULL_U64, .first_run_ns = 50};

	(void)state;
	assert_int_equal(ap_task__start(&t), 50);
	t.created_ns = 20;
	assert_int_equal(ap_task__start(&t), 20);
	t.created_ns = 70; /* created after its first run seen: a clock skew, take the run */
	assert_int_equal(ap_task__start(&t), 50);
}

/* CPython reuses a freed task's address: id 0xa is three tasks, listed out of order. */
static void test_task_index_reused_ids(void **state)
{
	struct ap_process p = {0};
	struct ap_task_index ix;

	(void)state;
	add_task(&p, 0xa, 300, 310); /* third */
	add_task(&p, 0xb, AP_NULL_U64, 5);
	add_task(&p, 0xa, 100, 110);	     /* first */
	add_task(&p, 0xa, AP_NULL_U64, 200); /* second: creation not seen */
	assert_int_equal(ap_task_index__build(&ix, &p), 0);
	assert_ptr_equal(ap_task_index__at(&ix, 0xa, 150), &p.tasks.v[2]);
	assert_ptr_equal(ap_task_index__at(&ix, 0xa, 200), &p.tasks.v[3]);
	assert_ptr_equal(ap_task_index__at(&ix, 0xa, 299), &p.tasks.v[3]);
	assert_ptr_equal(ap_task_index__at(&ix, 0xa, 1000), &p.tasks.v[0]);
	/* before any of them began: the first to begin */
	assert_ptr_equal(ap_task_index__at(&ix, 0xa, 10), &p.tasks.v[2]);
	assert_ptr_equal(ap_task_index__at(&ix, 0xb, 0), &p.tasks.v[1]);
	assert_null(ap_task_index__at(&ix, 0xc, 150));
	assert_null(ap_task_index__at(&ix, 0x1, 150));
	assert_null(ap_task_index__at(&ix, 0, 150));
	assert_ptr_equal(ap_process__find_task(&p, 0xb), &p.tasks.v[1]);
	assert_null(ap_process__find_task(&p, 0));
	assert_null(ap_process__find_task(NULL, 0xb));
	ap_task_index__free(&ix);
	assert_null(ix.by_id);
	free(p.tasks.v);
}

static void test_task_index_empty(void **state)
{
	struct ap_process p = {0};
	struct ap_task_index ix;

	(void)state;
	assert_int_equal(ap_task_index__build(&ix, &p), 0);
	assert_null(ap_task_index__at(&ix, 0xa, 1));
	ap_task_index__free(&ix);
	ap_task_index__free(&ix); /* twice is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_start),
		cmocka_unit_test(test_task_index_reused_ids),
		cmocka_unit_test(test_task_index_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
