// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pystack: code objects resolved to "qualname (file:line)" from memory
 * recorded in live CPython 3.11 and 3.8 processes by
 * fixtures/pystack_record.py (see that script for the fixture format), served
 * through pystack__set_reader(); positions, the not-started position,
 * unreadable code objects, the cache and its eviction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pyrt.h"
#include "pystack.h"

#define TPS_MAX_REGIONS 64
#define TPS_MAX_EXPECT	64
#define TPS_REGION_MAX	1024

struct tps_region {
	uint64_t addr;
	size_t len;
	uint8_t bytes[TPS_REGION_MAX];
};

struct tps_expect {
	char tag;
	uint32_t pos; /* AP_POS_START for "start" lines */
	char frame[512];
};

struct tps_fixture {
	unsigned major, minor;
	uint64_t code[3]; /* by tag m, a, b */
	struct tps_region r[TPS_MAX_REGIONS];
	size_t nr;
	struct tps_expect e[TPS_MAX_EXPECT];
	size_t ne;
	/* reads overlapping [deny_lo, deny_hi) fail, as for a freed object */
	uint64_t deny_lo, deny_hi;
	unsigned reads;
};

static int tps_tag(char c)
{
	return c == 'm' ? 0 : c == 'a' ? 1 : c == 'b' ? 2 : -1;
}

static void tps_load(const char *path, struct tps_fixture *fx)
{
	char line[4096], tag, hex[2 * TPS_REGION_MAX + 2];
	FILE *f = fopen(path, "re");
	unsigned long long addr;
	unsigned pos, b;
	int n;

	memset(fx, 0, sizeof(*fx));
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || !line[0])
			continue;
		if (sscanf(line, "version %u %u", &fx->major, &fx->minor) == 2)
			continue;
		if (sscanf(line, "code %c %llx", &tag, &addr) == 2) {
			assert_true(tps_tag(tag) >= 0);
			fx->code[tps_tag(tag)] = addr;
			continue;
		}
		if (sscanf(line, "expect %c %u %n", &tag, &pos, &n) == 2 ||
		    (sscanf(line, "start %c %n", &tag, &n) == 1 && (pos = AP_POS_START, 1))) {
			struct tps_expect *e = &fx->e[fx->ne++];

			assert_true(fx->ne <= TPS_MAX_EXPECT);
			e->tag = tag;
			e->pos = pos;
			snprintf(e->frame, sizeof(e->frame), "%s", line + n);
			continue;
		}
		if (sscanf(line, "mem %llx %2049s", &addr, hex) == 2) {
			struct tps_region *r = &fx->r[fx->nr++];
			size_t len = strlen(hex) / 2;

			assert_true(fx->nr <= TPS_MAX_REGIONS);
			assert_true(len <= TPS_REGION_MAX);
			r->addr = addr;
			r->len = len;
			for (size_t i = 0; i < len; i++) {
				assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
				r->bytes[i] = b;
			}
			continue;
		}
		fail_msg("bad fixture line in %s: %s", path, line);
	}
	fclose(f);
	assert_true(fx->major == 3);
	assert_true(fx->code[0] && fx->code[1] && fx->code[2]);
	assert_true(fx->ne > 0);
}

/* pystack_read_fn over the fixture: whole reads from one region, else -EFAULT. */
static int tps_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct tps_fixture *fx = ctx;

	fx->reads++;
	if (addr < fx->deny_hi && addr + len > fx->deny_lo)
		return -EFAULT;
	for (size_t i = 0; i < fx->nr; i++) {
		struct tps_region *r = &fx->r[i];

		if (addr >= r->addr && addr + len <= r->addr + r->len) {
			memcpy(buf, r->bytes + (addr - r->addr), len);
			return 0;
		}
	}
	return -EFAULT;
}

static struct pystack *tps_new(struct tps_fixture *fx, size_t max_codes)
{
	const struct ap_py_offsets *off = pyrt_offsets__find(fx->major, fx->minor);
	struct pystack *ps;

	assert_non_null(off);
	ps = pystack__new(0, fx->major, fx->minor, off, max_codes);
	assert_non_null(ps);
	pystack__set_reader(ps, tps_read, fx);
	return ps;
}

static uint64_t tps_frame(uint64_t code, uint32_t pos)
{
	return ((uint64_t)pos << 48) | AP_FRAME_CODE(code);
}

/* pystack__frame of (tag's code, pos) equals want and succeeds. */
static void tps_check(struct pystack *ps, struct tps_fixture *fx, char tag, uint32_t pos,
		      const char *want)
{
	char buf[1024];
	int err = pystack__frame(ps, tps_frame(fx->code[tps_tag(tag)], pos), buf, sizeof(buf));

	if (err || strcmp(buf, want))
		fail_msg("code %c pos %u: got %d \"%s\", want \"%s\"", tag, pos, err, buf, want);
}

static const char *tps_want(struct tps_fixture *fx, char tag, uint32_t pos)
{
	for (size_t i = 0; i < fx->ne; i++)
		if (fx->e[i].tag == tag && fx->e[i].pos == pos)
			return fx->e[i].frame;
	fail_msg("no expectation for code %c pos %u", tag, pos);
	return NULL;
}

/* Every recorded position of every code object, and the not-started one. */
static void tps_all_positions(const char *path)
{
	struct tps_fixture *fx = malloc(sizeof(*fx));
	struct pystack *ps;
	unsigned starts = 0;

	assert_non_null(fx);
	tps_load(path, fx);
	ps = tps_new(fx, 64);
	for (size_t i = 0; i < fx->ne; i++) {
		tps_check(ps, fx, fx->e[i].tag, fx->e[i].pos, fx->e[i].frame);
		starts += fx->e[i].pos == AP_POS_START;
	}
	assert_int_equal(starts, 3);
	/* and again, now from the cache */
	for (size_t i = 0; i < fx->ne; i++)
		tps_check(ps, fx, fx->e[i].tag, fx->e[i].pos, fx->e[i].frame);
	pystack__free(ps);
	free(fx);
}

static void test_pystack_frame_lines_311(void **state)
{
	(void)state;
	tps_all_positions("fixtures/pystack_3.11.txt");
}

static void test_pystack_frame_lines_38(void **state)
{
	(void)state;
	tps_all_positions("fixtures/pystack_3.8.txt");
}

/* AP_POS_START gives co_firstlineno: the def line, not the first body line. */
static void test_pystack_frame_start_is_firstlineno(void **state)
{
	struct tps_fixture *fx = malloc(sizeof(*fx));
	struct pystack *ps;
	char buf[1024];

	(void)state;
	assert_non_null(fx);
	tps_load("fixtures/pystack_3.8.txt", fx);
	ps = tps_new(fx, 64);
	/* 3.8 gen_N: def on line 1, the first instruction on line 2 */
	assert_int_equal(pystack__frame(ps, tps_frame(fx->code[1], AP_POS_START), buf, sizeof(buf)),
			 0);
	assert_non_null(strstr(buf, ".py:1)"));
	assert_string_equal(buf, tps_want(fx, 'a', AP_POS_START));
	assert_int_equal(pystack__frame(ps, tps_frame(fx->code[1], 0), buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, ".py:2)"));
	pystack__free(ps);
	free(fx);
}

/* A code object that cannot be read: "[unknown] (code 0x...)" and an error. */
static void test_pystack_frame_unreadable(void **state)
{
	struct tps_fixture *fx = malloc(sizeof(*fx));
	uint64_t bogus = 0x7f0000001230ULL;
	struct pystack *ps;
	char buf[1024], want[64];

	(void)state;
	assert_non_null(fx);
	tps_load("fixtures/pystack_3.11.txt", fx);
	ps = tps_new(fx, 64);
	assert_true(pystack__frame(ps, tps_frame(bogus, 3), buf, sizeof(buf)) < 0);
	snprintf(want, sizeof(want), "[unknown] (code 0x%" PRIx64 ")", bogus);
	assert_string_equal(buf, want);
	/* a real one whose reads fail (freed meanwhile) */
	fx->deny_lo = fx->code[0];
	fx->deny_hi = fx->code[0] + 256; /* the code object */
	assert_true(pystack__frame(ps, tps_frame(fx->code[0], 1), buf, sizeof(buf)) < 0);
	snprintf(want, sizeof(want), "[unknown] (code 0x%" PRIx64 ")", fx->code[0]);
	assert_string_equal(buf, want);
	/* the others still resolve */
	tps_check(ps, fx, 'a', 0, tps_want(fx, 'a', 0));
	pystack__free(ps);
	free(fx);
}

/* A resolved code object is not read again while it stays in the cache. */
static void test_pystack_cache_hit(void **state)
{
	struct tps_fixture *fx = malloc(sizeof(*fx));
	struct pystack *ps;
	unsigned reads;

	(void)state;
	assert_non_null(fx);
	tps_load("fixtures/pystack_3.11.txt", fx);
	ps = tps_new(fx, 64);
	tps_check(ps, fx, 'm', 1, tps_want(fx, 'm', 1));
	reads = fx->reads;
	assert_true(reads > 0);
	fx->deny_lo = 0;
	fx->deny_hi = UINT64_MAX; /* nothing readable any more */
	tps_check(ps, fx, 'm', 1, tps_want(fx, 'm', 1));
	tps_check(ps, fx, 'm', AP_POS_START, tps_want(fx, 'm', AP_POS_START));
	pystack__free(ps);
	free(fx);
}

/*
 * Two code objects in the same slot of a tiny direct-mapped cache (the
 * recorder picked them so): each evicts the other and both keep resolving;
 * after b evicted a, a is read again (its reads now fail: unknown).
 */
static void tps_cache_evicts(const char *path)
{
	struct tps_fixture *fx = malloc(sizeof(*fx));
	struct pystack *ps;
	const char *wa, *wb;

	assert_non_null(fx);
	tps_load(path, fx);
	/* the smallest cache pystack__new makes (64 slots, slot = (addr >> 4) & 63) */
	assert_int_equal((fx->code[1] >> 4) & 63, (fx->code[2] >> 4) & 63);
	assert_true(fx->code[1] != fx->code[2]);
	ps = tps_new(fx, 1);
	wa = tps_want(fx, 'a', 0);
	wb = tps_want(fx, 'b', 0);
	assert_string_not_equal(wa, wb);
	for (int i = 0; i < 3; i++) {
		tps_check(ps, fx, 'a', 0, wa);
		tps_check(ps, fx, 'b', 0, wb);
	}
	tps_check(ps, fx, 'a', AP_POS_START, tps_want(fx, 'a', AP_POS_START));
	tps_check(ps, fx, 'b', AP_POS_START, tps_want(fx, 'b', AP_POS_START));
	/* b is in the slot now: a must be read again, and that read fails */
	fx->deny_lo = fx->code[1];
	fx->deny_hi = fx->code[1] + 256;		 /* the code object */
	tps_check(ps, fx, 'm', 0, tps_want(fx, 'm', 0)); /* another slot: no effect */
	tps_check(ps, fx, 'b', 0, wb);
	{
		char buf[1024], want[64];

		assert_true(pystack__frame(ps, tps_frame(fx->code[1], 0), buf, sizeof(buf)) < 0);
		snprintf(want, sizeof(want), "[unknown] (code 0x%" PRIx64 ")", fx->code[1]);
		assert_string_equal(buf, want);
	}
	pystack__free(ps);
	free(fx);
}

static void test_pystack_cache_evicts_311(void **state)
{
	(void)state;
	tps_cache_evicts("fixtures/pystack_3.11.txt");
}

static void test_pystack_cache_evicts_38(void **state)
{
	(void)state;
	tps_cache_evicts("fixtures/pystack_3.8.txt");
}

/* pystack__resolve: every frame, innermost first, unknown ones included. */
static void test_pystack_resolve_stack(void **state)
{
	struct tps_fixture *fx = malloc(sizeof(*fx));
	struct ap_pystack st = {0};
	struct ap_stack out = {0};
	struct pystack *ps;
	char want[64];

	(void)state;
	assert_non_null(fx);
	tps_load("fixtures/pystack_3.11.txt", fx);
	ps = tps_new(fx, 64);
	st.depth = 3;
	st.frames[0] = tps_frame(fx->code[1], 1);
	st.frames[1] = tps_frame(0x7f0000004440ULL, 0);
	st.frames[2] = tps_frame(fx->code[0], AP_POS_START);
	assert_int_equal(pystack__resolve(ps, &st, &out), 0);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.frames[0], tps_want(fx, 'a', 1));
	snprintf(want, sizeof(want), "[unknown] (code 0x%" PRIx64 ")", (uint64_t)0x7f0000004440ULL);
	assert_string_equal(out.frames[1], want);
	assert_string_equal(out.frames[2], tps_want(fx, 'm', AP_POS_START));
	ap_stack__free(&out);
	/* a depth beyond AP_STACK_DEPTH is clamped */
	st.depth = AP_STACK_DEPTH + 5;
	for (int i = 0; i < AP_STACK_DEPTH; i++)
		st.frames[i] = tps_frame(fx->code[2], 0);
	assert_int_equal(pystack__resolve(ps, &st, &out), 0);
	assert_int_equal(out.n, AP_STACK_DEPTH);
	assert_string_equal(out.frames[AP_STACK_DEPTH - 1], tps_want(fx, 'b', 0));
	ap_stack__free(&out);
	pystack__free(ps);
	free(fx);
}

static void test_pystack_handle_callback(void **state)
{
	char *plain[] = {
		"legacy_sleep (/srv/app.py:12)", "case_sleep (/srv/app.py:40)",
		"Handle._run (/usr/lib/python3.11/asyncio/events.py:80)",
		"BaseEventLoop._run_once (/usr/lib/python3.11/asyncio/base_events.py:1922)"};
	char *top[] = {"Handle._run (/usr/lib/python3.11/asyncio/events.py:80)", "x (y.py:1)"};
	char *other[] = {"f (a.py:1)", "Handle._run (/srv/mine/events.py:3)", "g (b.py:2)"};
	struct ap_stack st = {plain, 4};
	char *cb;

	(void)state;
	/* the frame Handle._run runs: the callback, not the function it called */
	cb = pystack__handle_callback(&st);
	assert_string_equal(cb, "case_sleep");
	free(cb);
	/* innermost Handle._run: nothing inside it */
	st = (struct ap_stack){top, 2};
	assert_null(pystack__handle_callback(&st));
	/* another module's Handle._run is not asyncio's */
	st = (struct ap_stack){other, 3};
	assert_null(pystack__handle_callback(&st));
	st = (struct ap_stack){NULL, 0};
	assert_null(pystack__handle_callback(&st));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pystack_handle_callback),
		cmocka_unit_test(test_pystack_frame_lines_311),
		cmocka_unit_test(test_pystack_frame_lines_38),
		cmocka_unit_test(test_pystack_frame_start_is_firstlineno),
		cmocka_unit_test(test_pystack_frame_unreadable),
		cmocka_unit_test(test_pystack_cache_hit),
		cmocka_unit_test(test_pystack_cache_evicts_311),
		cmocka_unit_test(test_pystack_cache_evicts_38),
		cmocka_unit_test(test_pystack_resolve_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
