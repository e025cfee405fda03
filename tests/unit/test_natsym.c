// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Native symbolisation: this process's own libc, and a real libpython. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "elfsym.h"
#include "natsym.h"

#define LIBPY311 "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"

static void test_natsym_own_libc(void **state)
{
	struct natsym *ns = natsym__new("/proc/self");
	uint64_t addr = (uint64_t)(uintptr_t)&getppid + 5;
	char buf[256];

	(void)state;
	assert_non_null(ns);
	assert_int_equal(natsym__frame(ns, addr, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "getppid+0x5 (libc.so.6)"));
	natsym__free(ns);
}

static void test_natsym_unmapped_and_resolve(void **state)
{
	struct natsym *ns = natsym__new("/proc/self");
	uint64_t ips[3] = {(uint64_t)(uintptr_t)&getppid + 1, 0x10, 0};
	struct ap_stack st;
	char buf[64];

	(void)state;
	assert_int_equal(natsym__frame(ns, 0x10, buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "[unknown]");
	/* the walk stops at the first frame outside a file mapping */
	assert_int_equal(natsym__resolve(ns, ips, 3, &st), 0);
	assert_int_equal(st.n, 1);
	assert_non_null(strstr(st.frames[0], "getppid+0x1"));
	ap_stack__free(&st);
	natsym__free(ns);
}

static void test_elfsym_sym_at(void **state)
{
	struct elf_file *ef = NULL;
	uint64_t off = 0;
	char name[64];

	(void)state;
	if (access(LIBPY311, R_OK))
		skip();
	assert_int_equal(elf_file__open(LIBPY311, &ef), 0);
	assert_int_equal(elf_file__sym_at(ef, 0x269d10 + 4, name, sizeof(name), &off), 0);
	assert_string_equal(name, "context_run");
	assert_int_equal(off, 4);
	assert_int_equal(elf_file__sym_at(ef, 0x10, name, sizeof(name), &off), -ENOENT);
	elf_file__close(ef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_natsym_own_libc),
		cmocka_unit_test(test_natsym_unmapped_and_resolve),
		cmocka_unit_test(test_elfsym_sym_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
