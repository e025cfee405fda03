// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * _Py_DebugOffsets of real interpreters (fixtures/pydebug_*.txt, recorded
 * with fixtures/pydebug_record.py from pyenv 3.13.0, Debian sid's 3.14.10
 * and 3.15.2, and Debian 12's 3.11, which has no table), and tables made
 * wrong on purpose.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "pydebug.h"
#include "pyrt.h"

struct table {
	unsigned char b[1024];
	size_t len;
};

static void load(const char *name, struct table *t)
{
	char path[128], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "fixtures/%s", name);
	f = fopen(path, "re");
	assert_non_null(f);
	t->len = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		for (char *p = line; p[0] && p[1] && p[0] != '\n'; p += 2) {
			unsigned v;

			assert_int_equal(sscanf(p, "%2x", &v), 1);
			assert_true(t->len < sizeof(t->b));
			t->b[t->len++] = (unsigned char)v;
		}
	}
	fclose(f);
}

static void put_word(struct table *t, unsigned i, uint64_t v)
{
	memcpy(t->b + 8 * i, &v, sizeof(v));
}

static void test_pydebug_313(void **state)
{
	const struct ap_py_offsets *o = pyrt_offsets__find(3, 13);
	struct table t;
	struct pydebug d;

	(void)state;
	load("pydebug_3.13.txt", &t);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), 0);
	assert_int_equal(d.version_hex, 0x030d00f0);
	assert_int_equal(d.minor, 13);
	assert_false(d.free_threaded);
	assert_int_equal(d.off[PD_TSTATE_CURRENT_FRAME], 72);
	assert_int_equal(d.off[PD_TSTATE_NATIVE_THREAD_ID], 160);
	assert_int_equal(d.off[PD_FRAME_OWNER], 70);
	assert_int_equal(d.off[PD_THREADS_HEAD], 7344);
	/* what 3.13's table lacks is absent, not zero */
	assert_false(pydebug__has(&d, PD_THREADS_MAIN));
	assert_false(pydebug__has(&d, PD_FRAME_STACKPOINTER));
	assert_false(pydebug__has(&d, PD_GEN_IFRAME));
	assert_true(pydebug__has(&d, PD_FRAME_EXECUTABLE));
	/* the hand-made 3.13 table says the same */
	assert_int_equal(d.off[PD_CODE_QUALNAME], o->code_qualname);
	assert_int_equal(d.off[PD_CODE_ADAPTIVE], o->code_adaptive);
	assert_int_equal(d.off[PD_FRAME_INSTR_PTR], o->frame_lasti);
	assert_int_equal(d.off[PD_STR_ASCII_SIZE], o->str_ascii_data);
}

static void test_pydebug_314(void **state)
{
	struct table t;
	struct pydebug d;

	(void)state;
	load("pydebug_3.14.txt", &t);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), 0);
	assert_int_equal(d.version_hex, 0x030e0af0);
	assert_int_equal(d.minor, 14);
	assert_int_equal(d.micro, 10);
	assert_int_equal(d.off[PD_THREADS_MAIN], 7360);
	assert_int_equal(d.off[PD_TSTATE_CURRENT_FRAME], 72);
	assert_int_equal(d.off[PD_TSTATE_NATIVE_THREAD_ID], 160);
	assert_int_equal(d.off[PD_FRAME_PREVIOUS], 8);
	assert_int_equal(d.off[PD_FRAME_EXECUTABLE], 0);
	assert_int_equal(d.off[PD_FRAME_INSTR_PTR], 56);
	assert_int_equal(d.off[PD_FRAME_OWNER], 74);
	assert_int_equal(d.off[PD_FRAME_STACKPOINTER], 64);
	assert_int_equal(d.off[PD_CODE_QUALNAME], 128);
	assert_int_equal(d.off[PD_CODE_ADAPTIVE], 208);
	assert_int_equal(d.off[PD_GEN_IFRAME], 72);
	assert_int_equal(d.off[PD_STR_ASCII_SIZE], 40);
}

static void test_pydebug_315(void **state)
{
	struct table t;
	struct pydebug d;

	(void)state;
	load("pydebug_3.15.txt", &t);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), 0);
	assert_int_equal(d.minor, 15);
	assert_int_equal(d.micro, 2);
	/* base_frame and the profiler's fields moved thread_id and native_thread_id */
	assert_int_equal(d.off[PD_TSTATE_THREAD_ID], 176);
	assert_int_equal(d.off[PD_TSTATE_NATIVE_THREAD_ID], 184);
	assert_int_equal(d.off[PD_FRAME_OWNER], 74);
	assert_int_equal(d.off[PD_CODE_QUALNAME], 128);
	assert_int_equal(d.off[PD_TP_FLAGS], 168);
	assert_int_equal(d.off[PD_STR_ASCII_SIZE], 40);
	assert_true(pydebug__has(&d, PD_GEN_FRAME_STATE));
}

/* Debian 12's 3.11 has a .PyRuntime section but no table in it. */
static void test_pydebug_none(void **state)
{
	struct table t;
	struct pydebug d;

	(void)state;
	load("pydebug_3.11.txt", &t);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), -ENOENT);
	assert_int_equal(pydebug__parse(t.b, 0, &d), -ENOENT);
}

static void test_pydebug_wrong(void **state)
{
	struct table t;
	struct pydebug d;

	(void)state;
	load("pydebug_3.14.txt", &t);
	/* cut short: the header, but not the whole 3.14 table */
	assert_int_equal(pydebug__parse(t.b, 100, &d), -EINVAL);
	/* a free-threaded build reads, and says so */
	put_word(&t, 2, 1);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), 0);
	assert_true(d.free_threaded);
	put_word(&t, 2, 7);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), -EINVAL);
	put_word(&t, 2, 0);
	/* a version whose layout is not known */
	put_word(&t, 1, 0x03100000);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), -ENOTSUP);
	assert_int_equal(d.minor, 16);
	put_word(&t, 1, 0x030e0af0);
	/* code_object.qualname past sizeof(PyCodeObject) */
	put_word(&t, 42, 100000);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), -EINVAL);
	put_word(&t, 42, 128);
	/* not a 64-bit PyObject */
	put_word(&t, 51, 4);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), -EINVAL);
	put_word(&t, 51, 8);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), 0);
	assert_string_equal(pydebug__name(PD_CODE_QUALNAME), "code_object.qualname");
}

/* _asyncio's table: 3.14's in its .so, 3.15's built into the interpreter. */
static void test_pydebug_asyncio(void **state)
{
	struct pydebug_asyncio a;
	struct table t;

	(void)state;
	load("pyasync_3.14.txt", &t);
	assert_int_equal(pydebug__parse_asyncio(t.b, t.len, &a), 0);
	assert_int_equal(a.task_size, 168);
	assert_int_equal(a.task_name, 136);
	assert_int_equal(a.task_coro, 128);
	assert_int_equal(a.task_node, 152);
	assert_int_equal(a.tstate_running_loop, 864);
	assert_int_equal(a.tstate_running_task, 872);
	load("pyasync_3.15.txt", &t);
	assert_int_equal(pydebug__parse_asyncio(t.b, t.len, &a), 0);
	assert_int_equal(a.tstate_running_task, 1032);
	assert_int_equal(a.interp_tasks_head, 10856);
	assert_int_equal(pydebug__parse_asyncio(t.b, 96, &a), -EINVAL);
	put_word(&t, 1, 168); /* task_name at the Task's end */
	assert_int_equal(pydebug__parse_asyncio(t.b, t.len, &a), -EINVAL);
	put_word(&t, 1, 136);
	put_word(&t, 9, 0); /* no thread state size */
	assert_int_equal(pydebug__parse_asyncio(t.b, t.len, &a), -EINVAL);
}

/*
 * 3.14/3.15's offsets made from their tables: each walk field is the
 * table's; full mode's come from Debian's DWARF only while the tables agree
 * with its anchors, else they are 0, so nothing reads at a guessed offset;
 * 3.13 (its own DWARF table) and a table lacking a walk field are refused.
 */
static void from_debug(const char *dfix, const char *afix, int minor)
{
	struct pydebug_asyncio a;
	struct ap_py_offsets o;
	struct pydebug d;
	struct table t;
	uint32_t flags;
	bool full;

	load(dfix, &t);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), 0);
	load(afix, &t);
	assert_int_equal(pydebug__parse_asyncio(t.b, t.len, &a), 0);
	assert_int_equal(pyrt_offsets__from_debug(&d, &a, &o, &flags, &full), 0);
	assert_int_equal(o.version_hex, 0x03000000 | minor << 16);
	assert_int_equal(o.frame_code, d.off[PD_FRAME_EXECUTABLE]);
	assert_int_equal(o.frame_back, d.off[PD_FRAME_PREVIOUS]);
	assert_int_equal(o.frame_lasti, d.off[PD_FRAME_INSTR_PTR]);
	assert_int_equal(o.frame_owner, d.off[PD_FRAME_OWNER]);
	assert_int_equal(o.tstate_frame, d.off[PD_TSTATE_CURRENT_FRAME]);
	assert_int_equal(o.code_qualname, d.off[PD_CODE_QUALNAME]);
	assert_int_equal(o.code_adaptive, d.off[PD_CODE_ADAPTIVE]);
	assert_int_equal(o.str_ascii_data, d.off[PD_STR_ASCII_SIZE]);
	assert_int_equal(o.coro_iframe, d.off[PD_GEN_IFRAME]);
	assert_int_equal(o.task_name, a.task_name);
	assert_int_equal(o.task_coro, a.task_coro);
	assert_int_equal(flags, 48);	       /* co_flags, from the public headers */
	assert_int_equal(o.rt_autotss_key, 0); /* the caller's, from the code */
	/* Debian's own build: full mode's fields from its DWARF */
	assert_true(full);
	assert_int_equal(o.task_state, 104);
	assert_int_equal(o.stepwrap_task, 16);
	assert_int_equal(o.coro_qualname, 32);
	/* before asyncio is imported (no _asyncio table): the Task's from DWARF too */
	assert_int_equal(pyrt_offsets__from_debug(&d, NULL, &o, &flags, &full), 0);
	assert_true(full);
	assert_int_equal(o.task_name, a.task_name);
	/* a build whose Task is laid out otherwise: light mode's fields only */
	a.task_name += 8;
	assert_int_equal(pyrt_offsets__from_debug(&d, &a, &o, &flags, &full), 0);
	assert_false(full);
	assert_int_equal(o.task_name, a.task_name);
	assert_int_equal(o.task_state, 0);
	assert_int_equal(o.stepwrap_task, 0);
	assert_int_equal(o.partial_fn, 0);
	assert_int_equal(o.coro_qualname, 0);
	a.task_name -= 8;
	/* or whose frames are */
	d.off[PD_FRAME_INSTR_PTR] += 8;
	assert_int_equal(pyrt_offsets__from_debug(&d, &a, &o, &flags, &full), 0);
	assert_false(full);
	assert_int_equal(o.task_state, 0);
	/* a table without the frame's code: refused, not guessed */
	d.present &= ~(1ULL << PD_FRAME_EXECUTABLE);
	assert_int_equal(pyrt_offsets__from_debug(&d, &a, &o, &flags, &full), -ENODATA);
}

static void test_pydebug_from_debug(void **state)
{
	struct pydebug d;
	struct ap_py_offsets o;
	struct table t;
	uint32_t flags;
	bool full;

	(void)state;
	from_debug("pydebug_3.14.txt", "pyasync_3.14.txt", 14);
	from_debug("pydebug_3.15.txt", "pyasync_3.15.txt", 15);
	load("pydebug_3.13.txt", &t);
	assert_int_equal(pydebug__parse(t.b, t.len, &d), 0);
	assert_int_equal(pyrt_offsets__from_debug(&d, NULL, &o, &flags, &full), -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pydebug_313),	   cmocka_unit_test(test_pydebug_314),
		cmocka_unit_test(test_pydebug_315),	   cmocka_unit_test(test_pydebug_none),
		cmocka_unit_test(test_pydebug_wrong),	   cmocka_unit_test(test_pydebug_asyncio),
		cmocka_unit_test(test_pydebug_from_debug),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
