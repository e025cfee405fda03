// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where PyGILState_GetThisThreadState finds the thread state, decoded from
 * the code of real interpreters (fixtures/tss_*.txt, recorded with
 * fixtures/func_record.py from Debian 12's 3.11, pyenv 3.12.1 and 3.13.0,
 * Debian sid's 3.14.10 and 3.15.2). Up to 3.13 the answer is checked
 * against the offset tables, measured from DWARF.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "pyrt.h"

struct func {
	uint8_t b[256];
	size_t len;
	uint64_t vaddr, rt, rt_size;
};

static void load(const char *name, struct func *fn)
{
	char path[128], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "fixtures/%s", name);
	f = fopen(path, "re");
	assert_non_null(f);
	memset(fn, 0, sizeof(*fn));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "# vaddr %" SCNx64, &fn->vaddr) == 1 ||
		    sscanf(line, "# _PyRuntime %" SCNx64 " %" SCNu64, &fn->rt, &fn->rt_size) == 2 ||
		    line[0] == '#')
			continue;
		for (char *p = line; p[0] && p[1] && p[0] != '\n'; p += 2) {
			unsigned v;

			assert_int_equal(sscanf(p, "%2x", &v), 1);
			assert_true(fn->len < sizeof(fn->b));
			fn->b[fn->len++] = (uint8_t)v;
		}
	}
	fclose(f);
	assert_true(fn->vaddr && fn->rt && fn->rt_size && fn->len);
}

static void decode(const char *name, struct pyrt_tss *t)
{
	struct func fn;

	load(name, &fn);
	assert_int_equal(pyrt__decode_tss(fn.b, fn.len, fn.vaddr, fn.rt, fn.rt_size, t), 0);
}

/* Through the key, at the offset the tables measured from DWARF. */
static void test_tss_key_matches_tables(void **state)
{
	static const struct {
		const char *fixture;
		int minor;
	} cases[] = {
		{"tss_3.11.txt", 11}, /* static, stripped: mov key,%edi; jmp pthread_getspecific */
		{"tss_3.12.txt", 12}, /* shared: _PyRuntime from its GOT slot, lea +off */
		{"tss_3.13.txt", 13},
	};
	struct pyrt_tss t;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		decode(cases[i].fixture, &t);
		assert_int_equal(t.kind, PYRT_TSS_KEY);
		assert_int_equal(t.key_off, pyrt_offsets__find(3, cases[i].minor)->rt_autotss_key);
	}
}

/* 3.14 still keeps it under _PyRuntime.autoTSSkey; 3.15 in a thread-local. */
static void test_tss_314_315(void **state)
{
	struct pyrt_tss t;

	(void)state;
	decode("tss_3.14.txt", &t);
	assert_int_equal(t.kind, PYRT_TSS_KEY);
	assert_int_equal(t.key_off, 0x920);
	decode("tss_3.15.txt", &t);
	assert_int_equal(t.kind, PYRT_TSS_TLS);
	assert_int_equal(t.tls_off, -0x28);
}

/* Code that does neither, cut short, or naming no address in _PyRuntime. */
static void test_tss_not_found(void **state)
{
	static const uint8_t ret[] = {0x31, 0xc0, 0xc3}; /* xor %eax,%eax; ret */
	struct pyrt_tss t;
	struct func fn;

	(void)state;
	assert_int_equal(pyrt__decode_tss(ret, sizeof(ret), 0x1000, 0x5000, 0x100, &t), -ENOENT);
	assert_int_equal(t.kind, PYRT_TSS_NONE);
	assert_int_equal(pyrt__decode_tss(ret, 0, 0x1000, 0x5000, 0x100, &t), -ENOENT);
	load("tss_3.14.txt", &fn);
	/* the same code against a _PyRuntime somewhere else: no key in it */
	assert_int_equal(pyrt__decode_tss(fn.b, fn.len, fn.vaddr, fn.rt + 0x100000, fn.rt_size, &t),
			 -ENOENT);
	/* cut before the call */
	assert_int_equal(pyrt__decode_tss(fn.b, 12, fn.vaddr, fn.rt, fn.rt_size, &t), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tss_key_matches_tables),
		cmocka_unit_test(test_tss_314_315),
		cmocka_unit_test(test_tss_not_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
