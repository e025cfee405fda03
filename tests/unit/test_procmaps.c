// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/PID/maps parsing on recorded maps files (run from tests/unit). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "procmaps.h"

#define FIX "fixtures/"

static struct procmaps *load(const char *name)
{
	struct procmaps *pm = NULL;

	assert_int_equal(procmaps__load(name, &pm), 0);
	assert_non_null(pm);
	return pm;
}

static void test_procmaps_parse_debian(void **state)
{
	struct procmaps *pm = load(FIX "maps_debian311.txt");
	const struct procmap *m;

	(void)state;
	assert_int_equal(procmaps__count(pm), 77);
	m = procmaps__get(pm, 1);
	assert_int_equal(m->start, 0x41f000);
	assert_int_equal(m->end, 0x6d2000);
	assert_int_equal(m->pgoff, 0x1f000);
	assert_int_equal(m->prot, PROT_READ | PROT_EXEC);
	assert_false(m->shared);
	assert_string_equal(m->path, "/usr/bin/python3.11");
	assert_null(procmaps__get(pm, 77));
	procmaps__free(pm);
}

static void test_procmaps_find_addr_and_offset(void **state)
{
	struct procmaps *pm = load(FIX "maps_debian311.txt");
	const struct procmap *m;
	uint64_t off;

	(void)state;
	/* Debian's context_run: vaddr 0x695cd0 is file offset 0x295cd0 */
	assert_int_equal(procmaps__addr_to_off(pm, 0x695cd0, &off, &m), 0);
	assert_int_equal(off, 0x295cd0);
	assert_int_equal(m->start, 0x41f000);
	assert_non_null(procmaps__find_addr(pm, 0x400000));
	assert_null(procmaps__find_addr(pm, 0x1000));
	assert_int_equal(procmaps__addr_to_off(pm, 0x1000, &off, NULL), -ENOENT);
	procmaps__free(pm);
}

static void test_procmaps_find_file_patterns(void **state)
{
	struct procmaps *pm = load(FIX "maps_debian311_uvloop.txt");
	const struct procmap *m;
	size_t from = 0;
	int n = 0;

	(void)state;
	m = procmaps__find_file(pm, "uvloop/loop.cpython-*.so", NULL);
	assert_non_null(m);
	assert_string_equal(
		m->path,
		"/usr/lib/python3/dist-packages/uvloop/loop.cpython-311-x86_64-linux-gnu.so");
	assert_int_equal(m->pgoff, 0);
	assert_non_null(procmaps__find_file(pm, "_asyncio.cpython-*.so", NULL));
	assert_null(procmaps__find_file(pm, "libpython3.*.so*", NULL));
	assert_null(procmaps__find_file(pm, "loop.cpython-*.so/x", NULL));
	while (procmaps__find_file(pm, "/usr/bin/python3.11", &from))
		n++;
	assert_true(n >= 4); /* r--p, r-xp, r--p, rw-p */
	procmaps__free(pm);
}

static void test_procmaps_load_bias(void **state)
{
	struct procmaps *pm = load(FIX "maps_pyenv311.txt");
	const struct procmap *m;
	uint64_t bias;

	(void)state;
	m = procmaps__find_file(pm, "libpython3.*.so*", NULL);
	assert_non_null(m);
	assert_int_equal(procmaps__load_bias(pm, m->path, true, 0, &bias), 0);
	assert_int_equal(bias, m->start);
	assert_int_equal(procmaps__load_bias(pm, m->path, false, 0x400000, &bias), 0);
	assert_int_equal(bias, 0);
	assert_int_equal(procmaps__load_bias(pm, "/nonexistent", true, 0, &bias), -ENOENT);
	procmaps__free(pm);
	pm = load(FIX "maps_debian311.txt");
	assert_int_equal(procmaps__load_bias(pm, "/usr/bin/python3.11", false, 0x400000, &bias), 0);
	assert_int_equal(bias, 0);
	procmaps__free(pm);
}

static void test_procmaps_bad_input(void **state)
{
	struct procmaps *pm = NULL;

	(void)state;
	assert_int_equal(procmaps__load(FIX "no-such-file", &pm), -ENOENT);
	assert_null(pm);
	assert_int_equal(procmaps__load("/dev/null", &pm), -ENOENT);
	assert_int_equal(procmaps__load(FIX "debian311_context_type.txt", &pm), -EINVAL);
	procmaps__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procmaps_parse_debian),
		cmocka_unit_test(test_procmaps_find_addr_and_offset),
		cmocka_unit_test(test_procmaps_find_file_patterns),
		cmocka_unit_test(test_procmaps_load_bias),
		cmocka_unit_test(test_procmaps_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
