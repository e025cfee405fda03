// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* elfsym on ELF files of this machine; each test skips when its file is absent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <gelf.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "elfsym.h"

#define LIB311	    "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"
#define DEB311	    "/usr/bin/python3.11"
#define DEB_ASYNCIO "/usr/lib/python3.11/lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so"

static struct elf_file *open_or_skip(const char *path)
{
	struct elf_file *ef = NULL;

	if (access(path, R_OK)) {
		print_message("skipped: %s is absent\n", path);
		skip();
	}
	assert_int_equal(elf_file__open(path, &ef), 0);
	return ef;
}

static void test_elfsym_symtab_local(void **state)
{
	struct elf_file *ef = open_or_skip(LIB311);
	struct elf_sym sym;
	uint64_t off;

	(void)state;
	assert_int_equal(elf_file__type(ef), ET_DYN);
	assert_true(elf_file__has_symtab(ef));
	assert_int_equal(elf_file__find_sym(ef, "context_run", &sym), 0);
	assert_int_equal(sym.value, 0x269d10);
	assert_int_equal(sym.type, STT_FUNC);
	assert_true(sym.local);
	assert_false(sym.dynamic);
	assert_int_equal(elf_file__vaddr_to_off(ef, sym.value, &off), 0);
	assert_int_equal(off, 0x269d10);
	assert_true(elf_file__is_text(ef, sym.value));
	assert_int_equal(elf_file__find_sym(ef, "PyContext_Type", &sym), 0);
	assert_int_equal(sym.value, 0x4645e0);
	assert_int_equal(sym.type, STT_OBJECT);
	assert_false(sym.local);
	assert_int_equal(elf_file__find_sym(ef, "no_such_symbol_here", &sym), -ENOENT);
	elf_file__close(ef);
}

static void test_elfsym_stripped_exec(void **state)
{
	struct elf_file *ef = open_or_skip(DEB311);
	struct elf_sym sym;
	uint64_t off, vaddr, ptr;
	char name[32];

	(void)state;
	assert_int_equal(elf_file__type(ef), ET_EXEC);
	assert_false(elf_file__has_symtab(ef));
	assert_int_equal(elf_file__find_sym(ef, "context_run", &sym), -ENOENT);
	assert_int_equal(elf_file__find_sym(ef, "PyContext_Type", &sym), 0);
	assert_true(sym.dynamic);
	assert_int_equal(sym.value, 0x948340);
	assert_int_equal(elf_file__vaddr_to_off(ef, 0x695cd0, &off), 0);
	assert_int_equal(off, 0x295cd0);
	assert_int_equal(elf_file__off_to_vaddr(ef, off, &vaddr), 0);
	assert_int_equal(vaddr, 0x695cd0);
	/* statically initialised tp_methods and tp_name */
	assert_int_equal(elf_file__read_ptr(ef, sym.value + 232, &ptr), 0);
	assert_int_equal(ptr, 0x9481e0);
	assert_int_equal(elf_file__read_ptr(ef, sym.value + 24, &ptr), 0);
	assert_int_equal(elf_file__read_str(ef, ptr, name, sizeof(name)), 0);
	assert_string_equal(name, "_contextvars.Context");
	assert_int_equal(elf_file__read(ef, 0x10, name, 1), -ENOENT);
	elf_file__close(ef);
}

/* Research note section 3: tp_call of TaskStepMethWrapper from relocations. */
static void test_elfsym_relative_relocs(void **state)
{
	struct elf_file *ef = open_or_skip(DEB_ASYNCIO);
	uint64_t refs[8], fn;
	int n, i, hits = 0;

	(void)state;
	n = elf_file__string_refs(ef, "TaskStepMethWrapper", refs, 8);
	assert_true(n >= 1);
	for (i = 0; i < n && i < 8; i++) {
		if (!elf_file__read_ptr(ef, refs[i] - 24 + 128, &fn) && fn == 0x7ba0)
			hits++;
	}
	assert_int_equal(hits, 1);
	n = elf_file__string_refs(ef, "task_wakeup", refs, 8);
	assert_true(n >= 1);
	assert_int_equal(elf_file__read_ptr(ef, refs[0] + 8, &fn), 0);
	assert_int_equal(fn, 0x8e70);
	assert_int_equal(elf_file__string_refs(ef, "no such string at all", refs, 8), 0);
	elf_file__close(ef);
}

/* A file without RELATIVE relocations or PT_LOAD (a .o): lookups fail cleanly (fuzz_elfsym). */
static void test_elfsym_no_relocs(void **state)
{
	struct elf_file *ef = open_or_skip("../../fuzz/corpus/elfsym/obj.o");
	uint64_t v;
	char buf[16];

	(void)state;
	assert_int_equal(elf_file__type(ef), ET_REL);
	assert_int_equal(elf_file__first_load_vaddr(ef), 0);
	assert_int_equal(elf_file__read_ptr(ef, 0x10, &v), -ENOENT);
	assert_int_equal(elf_file__read_str(ef, 0, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(elf_file__string_refs(ef, "TaskStepMethWrapper", &v, 1), 0);
	elf_file__close(ef);
}

static void test_elfsym_open_errors(void **state)
{
	struct elf_file *ef = NULL;

	(void)state;
	assert_int_equal(elf_file__open("/nonexistent/file", &ef), -ENOENT);
	assert_null(ef);
	assert_int_equal(elf_file__open("fixtures/maps_node.txt", &ef), -ENOEXEC);
	elf_file__close(NULL);
}

/* Sections by name: Debian's stripped 3.11 keeps .PyRuntime; a non-allocated one is not found. */
static void test_elfsym_sections(void **state)
{
	struct elf_file *ef = open_or_skip(DEB311);
	struct elf_sym sym;
	uint64_t vaddr, size;

	(void)state;
	assert_int_equal(elf_file__find_section(ef, ".PyRuntime", &vaddr, &size), 0);
	assert_int_equal(vaddr, 0xa5b740);
	assert_int_equal(size, 0x28b20);
	/* _PyRuntime is the section's first object */
	assert_int_equal(elf_file__find_sym(ef, "_PyRuntime", &sym), 0);
	assert_int_equal(sym.value, vaddr);
	assert_int_equal(elf_file__find_section(ef, ".AsyncioDebug", &vaddr, &size), -ENOENT);
	assert_int_equal(elf_file__find_section(ef, ".comment", &vaddr, &size), -ENOENT);
	elf_file__close(ef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elfsym_symtab_local),
		cmocka_unit_test(test_elfsym_stripped_exec),
		cmocka_unit_test(test_elfsym_relative_relocs),
		cmocka_unit_test(test_elfsym_no_relocs),
		cmocka_unit_test(test_elfsym_open_errors),
		cmocka_unit_test(test_elfsym_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
