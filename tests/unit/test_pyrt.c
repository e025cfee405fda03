// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* pyrt: tp_methods walk, prologue decoder, offset tables, probes on recorded /proc dirs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "pyrt.h"

#define DEB311 "/usr/bin/python3.11"
#define LIB311 "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"

/* Memory regions recorded from a live process: "hexaddr hexbytes" lines. */
struct region {
	uint64_t addr;
	size_t len;
	uint8_t bytes[256];
};

struct recording {
	struct region r[16];
	size_t n;
};

static void recording__load(const char *path, struct recording *rec)
{
	char line[1024], *hex;
	FILE *f = fopen(path, "re");
	size_t i;

	assert_non_null(f);
	rec->n = 0;
	while (fgets(line, sizeof(line), f) && rec->n < 16) {
		struct region *r = &rec->r[rec->n];

		if (line[0] == '#')
			continue;
		r->addr = strtoull(line, &hex, 16);
		hex++;
		for (i = 0; i < sizeof(r->bytes) && sscanf(hex + 2 * i, "%2hhx", &r->bytes[i]) == 1;
		     i++)
			;
		r->len = i;
		rec->n++;
	}
	fclose(f);
}

static int recording__read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct recording *rec = ctx;
	size_t i;

	for (i = 0; i < rec->n; i++) {
		const struct region *r = &rec->r[i];

		if (addr >= r->addr && addr + len <= r->addr + r->len) {
			memcpy(buf, r->bytes + (addr - r->addr), len);
			return 0;
		}
	}
	return -EFAULT;
}

static void test_pyrt_find_method_recorded(void **state)
{
	struct recording rec;
	uint64_t meth;

	(void)state;
	recording__load("fixtures/debian311_context_type.txt", &rec);
	assert_int_equal(pyrt__find_method(recording__read, &rec, 0x948340, 232, "run", &meth), 0);
	assert_int_equal(meth, 0x695cd0);
	assert_int_equal(pyrt__find_method(recording__read, &rec, 0x948340, 232, "get", &meth), 0);
	assert_int_equal(meth, 0x4cb589);
	assert_int_equal(pyrt__find_method(recording__read, &rec, 0x948340, 232, "nope", &meth),
			 -ENOENT);
	assert_int_equal(pyrt__find_method(recording__read, &rec, 0x1000, 232, "run", &meth),
			 -EFAULT);
}

static void check_pick(const uint8_t *code, size_t len, uint64_t want_off, enum pyrt_reg want_reg)
{
	enum pyrt_reg reg;
	uint64_t off;

	pyrt__pick_probe(code, len, &off, &reg);
	assert_int_equal(off, want_off);
	assert_int_equal(reg, want_reg);
}

static void test_pyrt_pick_probe(void **state)
{
	static const uint8_t push_r13[] = {0x41, 0x55, 0x41, 0x54, 0x55};
	/* pyenv 3.11 PyContext_Enter: sub $8,%rsp; mov 0x...(%rip),%rax; cmp ... */
	static const uint8_t sub_rsp[] = {0x48, 0x83, 0xec, 0x08, 0x48, 0x8b, 0x05, 0x75,
					  0x10, 0x19, 0x00, 0x48, 0x39, 0x47, 0x08};
	static const uint8_t sub_push[] = {0x48, 0x83, 0xec, 0x08, 0x53};
	/* Debian PyContext_Enter: mov %rdi,%rsi; mov tstate(%rip),%rdi; jmp _PyContext_Enter */
	static const uint8_t debian[] = {0x48, 0x89, 0xfe, 0x48, 0x8b, 0x3d, 0x11, 0x22,
					 0x33, 0x00, 0xe9, 0x01, 0x02, 0x03, 0x00};
	static const uint8_t endbr_push[] = {0xf3, 0x0f, 0x1e, 0xfa, 0x53};
	static const uint8_t nop5[] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
	static const uint8_t clobber[] = {0x48, 0x89, 0xc7, 0x48, 0x89, 0xc6, 0x53};
	static const uint8_t cut[] = {0x48, 0x89, 0xfe, 0xe9, 0x00};

	(void)state;
	check_pick(push_r13, sizeof(push_r13), 0, PYRT_REG_RDI);
	check_pick(sub_rsp, sizeof(sub_rsp), 0, PYRT_REG_RDI);
	check_pick(sub_push, sizeof(sub_push), 4, PYRT_REG_RDI);
	check_pick(debian, sizeof(debian), 10, PYRT_REG_RSI);
	check_pick(endbr_push, sizeof(endbr_push), 4, PYRT_REG_RDI);
	check_pick(nop5, sizeof(nop5), 0, PYRT_REG_RDI);
	check_pick(clobber, sizeof(clobber), 0, PYRT_REG_RDI); /* ctx lost: stay at entry */
	check_pick(cut, sizeof(cut), 0, PYRT_REG_RDI);
}

/* Code cut inside an instruction: nothing is read past len (ASan checks the heap copy). */
static void test_pyrt_pick_probe_truncated(void **state)
{
	static const uint8_t cuts[][3] = {
		{0x0f, 0x1f}, /* long nop without its ModRM byte (found by fuzz_methods) */
		{0x48, 0x8b}, /* mov without ModRM */
		{0x48},	      /* a lone REX prefix */
		{0xf3, 0x0f}, /* half an endbr64 */
	};
	static const size_t lens[] = {2, 2, 1, 2};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *code = malloc(lens[i]);

		assert_non_null(code);
		memcpy(code, cuts[i], lens[i]);
		check_pick(code, lens[i], 0, PYRT_REG_RDI);
		free(code);
	}
}

static void test_pyrt_offsets_find(void **state)
{
	const struct ap_py_offsets *o;

	(void)state;
	assert_null(pyrt_offsets__find(3, 7));
	assert_null(pyrt_offsets__find(3, 14));
	assert_null(pyrt_offsets__find(2, 11));
	o = pyrt_offsets__find(3, 11);
	assert_non_null(o);
	assert_int_equal(o->version_hex, 0x030b0000);
	assert_int_equal(o->task_name, 144);
	assert_int_equal(pyrt_offsets__find(3, 13)->tstate_frame, 72);
	assert_int_equal(pyrt_offsets__find(3, 12)->long_lv_tag, 1);
}

/* Value of a field by name, through PYRT_OFFSET_FIELDS. */
static long offsets_field(const struct ap_py_offsets *o, const char *name)
{
#define X(f)                   \
	if (!strcmp(name, #f)) \
		return o->f;
	PYRT_OFFSET_FIELDS(X)
#undef X
	return -1;
}

/* The table must equal what tools/gen_offsets.py measures on installed versions. */
static void test_pyrt_offsets_match_generator(void **state)
{
	char line[256], ver[16], field[64];
	int major, minor, checked = 0;
	long val;
	FILE *p;

	(void)state;
	if (access("../../tools/gen_offsets.py", R_OK) || access("/root/.pyenv/versions", R_OK)) {
		print_message("skipped: no tools/gen_offsets.py or no pyenv versions\n");
		skip();
	}
	p = popen("python3 ../../tools/gen_offsets.py --flat 2>/dev/null", "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		const struct ap_py_offsets *o;

		assert_int_equal(sscanf(line, "%15s %63s %ld", ver, field, &val), 3);
		assert_int_equal(sscanf(ver, "%d.%d", &major, &minor), 2);
		o = pyrt_offsets__find(major, minor);
		assert_non_null(o);
		if (offsets_field(o, field) != val)
			fail_msg("%s %s: table %ld, generator %ld", ver, field,
				 offsets_field(o, field), val);
		checked++;
	}
	pclose(p);
	print_message("compared %d fields\n", checked);
	if (!checked)
		skip();
}

static void test_pyrt_probe_debian_recorded(void **state)
{
	static struct pyrt_info pi;

	(void)state;
	if (access(DEB311, R_OK)) {
		print_message("skipped: %s is absent\n", DEB311);
		skip();
	}
	/* pid 0: no live memory, the walk reads the statically initialised file */
	assert_int_equal(pyrt__probe_dir("fixtures/proc_debian311_uvloop", 0, &pi), 0);
	assert_int_equal(pi.runtime, PYRT_CPYTHON);
	assert_string_equal(pi.version, "3.11.2");
	assert_true(pi.py_is_exe);
	assert_int_equal(pi.py_bias, 0);
	assert_int_equal(pi.runtime_addr, 0xa5b740);
	assert_false(pi.context_run_from_symtab);
	assert_int_equal(pi.context_run_off, 0x295cd0);
	assert_int_equal(pi.ctx_enter_off, 0xf0c55);
	assert_int_equal(pi.enter_ctx_reg, PYRT_REG_RSI);
	assert_int_equal(pi.ctx_exit_off, 0xf0c64);
	assert_int_equal(pi.exit_ctx_reg, PYRT_REG_RSI);
	assert_int_equal(pi.task_step_off, 0x7ba0);
	assert_int_equal(pi.task_wakeup_off, 0x8e70);
	assert_non_null(strstr(pi.uvloop_path, "uvloop/loop.cpython-311"));
}

static void test_pyrt_probe_pyenv_recorded(void **state)
{
	static struct pyrt_info pi;

	(void)state;
	if (access(LIB311, R_OK)) {
		print_message("skipped: %s is absent\n", LIB311);
		skip();
	}
	assert_int_equal(pyrt__probe_dir("fixtures/proc_pyenv311", 0, &pi), 0);
	assert_int_equal(pi.runtime, PYRT_CPYTHON);
	assert_string_equal(pi.version, "3.11.7");
	assert_string_equal(pi.py_path, LIB311);
	assert_false(pi.py_is_exe);
	assert_true(pi.py_bias != 0);
	assert_int_equal(pi.runtime_addr, pi.py_bias + 0x54e540);
	assert_true(pi.context_run_from_symtab);
	assert_int_equal(pi.context_run_off, 0x269d10);
	assert_int_equal(pi.ctx_enter_off, 0x26af10);
	assert_int_equal(pi.task_step_off, 0x9ef0);
	assert_int_equal(pi.task_wakeup_off, 0x99d0);
	assert_string_equal(pi.uvloop_path, "");
}

static void test_pyrt_probe_errors(void **state)
{
	static struct pyrt_info pi;

	(void)state;
	assert_int_equal(pyrt__probe(0, &pi), -ESRCH);
	assert_int_equal(pyrt__probe_dir("fixtures/no-such-proc", 0, &pi), -ESRCH);
	assert_true(pi.error[0] != 0);
	/* our own process: a C test binary is neither Python nor Node */
	assert_int_equal(pyrt__probe(getpid(), &pi), 0);
	assert_int_equal(pi.runtime, PYRT_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyrt_find_method_recorded),
		cmocka_unit_test(test_pyrt_pick_probe),
		cmocka_unit_test(test_pyrt_pick_probe_truncated),
		cmocka_unit_test(test_pyrt_offsets_find),
		cmocka_unit_test(test_pyrt_offsets_match_generator),
		cmocka_unit_test(test_pyrt_probe_debian_recorded),
		cmocka_unit_test(test_pyrt_probe_pyenv_recorded),
		cmocka_unit_test(test_pyrt_probe_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
