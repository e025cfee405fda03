// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Name cache: lookups, replacement, eviction of the oldest past max. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "names.h"

static void test_names_set_get(void **state)
{
	struct names *n = names__new(8);

	(void)state;
	assert_non_null(n);
	assert_int_equal(names__set(n, 10, 1, 0x7f00, "worker-1"), 0);
	assert_int_equal(names__set(n, 10, 2, 0x7f00, "worker"), 0);
	assert_int_equal(names__set(n, 11, 1, 0x7f00, "other-pid"), 0);
	assert_string_equal(names__get(n, 10, 1, 0x7f00), "worker-1");
	assert_string_equal(names__get(n, 10, 2, 0x7f00), "worker");
	assert_string_equal(names__get(n, 11, 1, 0x7f00), "other-pid");
	assert_null(names__get(n, 10, 3, 0x7f00));
	assert_int_equal(names__count(n), 3);
	names__free(n);
}

static void test_names_replace_and_null(void **state)
{
	struct names *n = names__new(4);

	(void)state;
	assert_int_equal(names__set(n, 1, 1, 5, "old"), 0);
	assert_int_equal(names__set(n, 1, 1, 5, "new"), 0);
	assert_string_equal(names__get(n, 1, 1, 5), "new");
	assert_int_equal(names__set(n, 1, 1, 6, NULL), 0);
	assert_null(names__get(n, 1, 1, 6));
	assert_int_equal(names__count(n), 2);
	assert_int_equal(names__set(n, 1, 0, 6, "x"), -EINVAL);
	names__free(n);
}

static void test_names_evicts_oldest(void **state)
{
	struct names *n = names__new(3);
	char buf[32];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(buf, sizeof(buf), "name-%d", i);
		assert_int_equal(names__set(n, 1, 1, 0x1000 + i * 16, buf), 0);
	}
	assert_int_equal(names__count(n), 3);
	assert_int_equal(names__evictions(n), 7);
	for (int i = 0; i < 7; i++)
		assert_null(names__get(n, 1, 1, 0x1000 + i * 16));
	for (int i = 7; i < 10; i++) {
		snprintf(buf, sizeof(buf), "name-%d", i);
		assert_string_equal(names__get(n, 1, 1, 0x1000 + i * 16), buf);
	}
	names__free(n);
}

/* Many keys that collide in the table still resolve after removals. */
static void test_names_probe_runs_survive_eviction(void **state)
{
	struct names *n = names__new(64);
	char buf[32];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		assert_int_equal(names__set(n, 7, 3, (uint64_t)i << 20, buf), 0);
		snprintf(buf, sizeof(buf), "%d", i);
		assert_string_equal(names__get(n, 7, 3, (uint64_t)i << 20), buf);
	}
	/* evicted an eighth at a time: the newest 56 at least are there */
	for (int i = 1000 - 56; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		assert_string_equal(names__get(n, 7, 3, (uint64_t)i << 20), buf);
	}
	assert_in_range(names__count(n), 56, 64);
	assert_int_equal(names__evictions(n), 1000 - names__count(n));
	assert_null(names__get(n, 7, 3, (uint64_t)(1000 - 65) << 20));
	names__free(n);
}

/* A deleted name is gone; the others of its probe run still resolve. */
static void test_names_del(void **state)
{
	struct names *n = names__new(64);
	char buf[32];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		assert_int_equal(names__set(n, 7, 3, (uint64_t)i << 20, buf), 0);
	}
	for (int i = 0; i < 40; i += 2)
		names__del(n, 7, 3, (uint64_t)i << 20);
	names__del(n, 7, 3, 0xdead); /* unknown: nothing happens */
	assert_int_equal(names__count(n), 20);
	assert_int_equal(names__evictions(n), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		if (i % 2)
			assert_string_equal(names__get(n, 7, 3, (uint64_t)i << 20), buf);
		else
			assert_null(names__get(n, 7, 3, (uint64_t)i << 20));
	}
	names__free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_set_get),
		cmocka_unit_test(test_names_replace_and_null),
		cmocka_unit_test(test_names_evicts_oldest),
		cmocka_unit_test(test_names_probe_runs_survive_eviction),
		cmocka_unit_test(test_names_del),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
