// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Line table decoding: every position of the fixtures recorded from each
 * CPython by tools/gen_pyline_fixtures.py, hand-built tables for each entry
 * form, and malformed, truncated and random tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pyline.h"

#define PYLINE_T(minor, tab) 3, (minor), (tab), sizeof(tab)

/* A decoder answer is a line or one of the documented errors. */
static bool tp_valid_result(int r)
{
	return r >= 0 || r == -ENODATA || r == -ENOENT || r == -EINVAL || r == -ERANGE;
}

/* Hex to an exact-size heap buffer, so ASan catches any over-read. */
static uint8_t *tp_unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2, i;
	unsigned int b;
	uint8_t *buf;

	*len = 0;
	if (!strcmp(hex, "-"))
		return NULL;
	buf = malloc(n ? n : 1);
	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		buf[i] = b;
	}
	*len = n;
	return buf;
}

/* Every prefix of a real table must decode without faults or odd errors. */
static void tp_check_prefixes(unsigned int minor, const uint8_t *tab, size_t len, int first,
			      uint32_t pos)
{
	uint8_t *cut;
	size_t k;

	for (k = 0; k < len; k++) {
		cut = malloc(k ? k : 1);
		assert_non_null(cut);
		memcpy(cut, tab, k);
		assert_true(tp_valid_result(pyline__line(3, minor, cut, k, first, pos)));
		free(cut);
	}
}

struct tp_case {
	unsigned int minor;
	int first;
	uint8_t *tab;
	size_t len;
	int npos;
	uint32_t maxpos;
};

/* Check one "pos:line" item of a fixture line against the decoder. */
static void tp_check_item(const struct tp_case *c, const char *item, const char *name)
{
	unsigned long pos;
	int want, got;

	assert_int_equal(sscanf(item, "%lu:%d", &pos, &want), 2);
	got = pyline__line(3, c->minor, c->tab, c->len, c->first, (uint32_t)pos);
	if (want >= 0 ? got != want : (got != -ENODATA && got != -ENOENT))
		fail_msg("3.%u %s pos %lu: want %d got %d", c->minor, name, pos, want, got);
}

/* "<kind> <name> <firstlineno> <hex> <pos>:<line>..." */
static void tp_check_line(unsigned int minor, char *line)
{
	struct tp_case c = {.minor = minor};
	char *save, *name, *item;
	unsigned long pos;

	assert_non_null(strtok_r(line, " \n", &save));
	name = strtok_r(NULL, " \n", &save);
	assert_non_null(name);
	c.first = atoi(strtok_r(NULL, " \n", &save));
	c.tab = tp_unhex(strtok_r(NULL, " \n", &save), &c.len);
	while ((item = strtok_r(NULL, " \n", &save))) {
		tp_check_item(&c, item, name);
		pos = strtoul(item, NULL, 10);
		if (pos != PYLINE_POS_START && pos > c.maxpos)
			c.maxpos = pos;
		c.npos++;
	}
	assert_true(c.npos > 0);
	tp_check_prefixes(minor, c.tab, c.len, c.first, c.maxpos);
	free(c.tab);
}

/* Run every case of fixtures/pyline_<tag>.txt; returns the case count. */
static int tp_check_fixture(const char *tag, unsigned int minor)
{
	unsigned int vmaj, vmin;
	char path[256], *line = NULL;
	size_t cap = 0;
	int cases = 0;
	FILE *f;

	snprintf(path, sizeof(path), "fixtures/pyline_%s.txt", tag);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	while (getline(&line, &cap, f) > 0) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "version %u %u", &vmaj, &vmin) == 2) {
			assert_int_equal(vmaj, 3);
			assert_int_equal(vmin, minor);
			continue;
		}
		tp_check_line(minor, line);
		cases++;
	}
	free(line);
	fclose(f);
	assert_true(cases >= 20);
	return cases;
}

#define TP_FIXTURE(fn, tag, minor)            \
	static void fn(void **state)          \
	{                                     \
		(void)state;                  \
		tp_check_fixture(tag, minor); \
	}

TP_FIXTURE(test_pyline_fixture_3_6, "3.6", 6)
TP_FIXTURE(test_pyline_fixture_3_7, "3.7", 7)
TP_FIXTURE(test_pyline_fixture_3_8, "3.8", 8)
TP_FIXTURE(test_pyline_fixture_3_9, "3.9", 9)
TP_FIXTURE(test_pyline_fixture_3_10, "3.10", 10)
TP_FIXTURE(test_pyline_fixture_3_11, "3.11", 11)
TP_FIXTURE(test_pyline_fixture_3_11_debian, "3.11-debian", 11)
TP_FIXTURE(test_pyline_fixture_3_12, "3.12", 12)
TP_FIXTURE(test_pyline_fixture_3_13, "3.13", 13)
TP_FIXTURE(test_pyline_fixture_3_14_debian, "3.14-debian", 14)
TP_FIXTURE(test_pyline_fixture_3_15_debian, "3.15-debian", 15)

static void test_pyline_lnotab_pairs(void **state)
{
	/* +1 at byte 6, +2 at 10, -1 at 14, line +300 via 0/127 pairs at 20 */
	static const uint8_t t[] = {6, 1, 4, 2, 4, 0xff, 6, 127, 0, 127, 0, 46};

	(void)state;
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 0), 10);
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 5), 10);
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 6), 11);
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 10), 13);
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 14), 12);
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 19), 12);
	/* the last line extends past the table, as in CPython */
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 20), 312);
	assert_int_equal(pyline__line(PYLINE_T(8, t), 10, 100000), 312);
	/* a one-line function has an empty co_lnotab; an odd byte is ignored */
	assert_int_equal(pyline__line(3, 8, NULL, 0, 7, 40), 7);
	assert_int_equal(pyline__line(3, 9, t, 1, 7, 40), 7);
}

static void test_pyline_linetable310_pairs(void **state)
{
	/* 4 units line 5; width 0 +127; 3 units no line; 2 units line 130+1 */
	static const uint8_t t[] = {8, 0, 0, 127, 6, 0x80, 4, 1};

	(void)state;
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, 0), 5);
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, 3), 5);
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, 4), -ENODATA);
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, 6), -ENODATA);
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, 7), 133);
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, 8), 133);
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, 9), -ENOENT);
	/* pos * 2 must not wrap */
	assert_int_equal(pyline__line(PYLINE_T(10, t), 5, UINT32_MAX - 1), -ENOENT);
	assert_int_equal(pyline__line(3, 10, NULL, 0, 5, 0), -ENOENT);
}

static void test_pyline_loctable_forms(void **state)
{
	/* clang-format off */
	static const uint8_t t[] = {
		0x80 | 0 << 3 | 1, 0x12,			/* short form, 2 units, +0 */
		0x80 | 11 << 3 | 0, 4, 9,			/* one line +1, 1 unit */
		0x80 | 13 << 3 | 2, 0x07,			/* no columns, -3, 3 units */
		0x80 | 14 << 3 | 7, 0x60, 0x4b, 0x22, 0, 1, 2,	/* long, +70000, 8 units */
		0x80 | 15 << 3 | 0,				/* no location, 1 unit */
		0x80 | 12 << 3 | 0, 1, 2,			/* one line +2, 1 unit */
	};
	/* clang-format on */

	(void)state;
	assert_int_equal(pyline__line(PYLINE_T(11, t), 20, 0), 20);
	assert_int_equal(pyline__line(PYLINE_T(11, t), 20, 1), 20);
	assert_int_equal(pyline__line(PYLINE_T(12, t), 20, 2), 21);
	assert_int_equal(pyline__line(PYLINE_T(12, t), 20, 3), 18);
	assert_int_equal(pyline__line(PYLINE_T(13, t), 20, 5), 18);
	assert_int_equal(pyline__line(PYLINE_T(13, t), 20, 6), 70018);
	assert_int_equal(pyline__line(PYLINE_T(13, t), 20, 13), 70018);
	assert_int_equal(pyline__line(PYLINE_T(13, t), 20, 14), -ENODATA);
	assert_int_equal(pyline__line(PYLINE_T(13, t), 20, 15), 70020);
	assert_int_equal(pyline__line(PYLINE_T(13, t), 20, 16), -ENOENT);
	assert_int_equal(pyline__line(PYLINE_T(13, t), 20, PYLINE_POS_START), 20);
}

static void test_pyline_errors(void **state)
{
	static const uint8_t cont[] = {0x40, 0x80};
	static const uint8_t trunc[] = {0x80 | 14 << 3, 0x41};
	static const uint8_t wide[] = {0x80 | 13 << 3, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x01};
	static const uint8_t big[] = {0x80 | 13 << 3, 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0x03};
	static const uint8_t neg[] = {2, 0x81};
	static const uint8_t one[] = {0x80};

	(void)state;
	assert_int_equal(pyline__line(PYLINE_T(11, cont), 1, 0), -EINVAL);
	assert_int_equal(pyline__line(PYLINE_T(11, trunc), 1, 0), -EINVAL);
	assert_int_equal(pyline__line(PYLINE_T(11, wide), 1, 0), -EINVAL);
	/* a 32-bit svarint is fine; the line it gives is not */
	assert_int_equal(pyline__line(PYLINE_T(12, big), 1, 0), -ERANGE);
	assert_int_equal(pyline__line(PYLINE_T(8, neg), 1, 2), -ERANGE);
	assert_int_equal(pyline__line(3, 11, NULL, 4, 1, 0), -EINVAL);
	assert_int_equal(pyline__line(3, 13, one, 1, -1, 0), -ERANGE);
	assert_int_equal(pyline__line(3, 13, one, 1, -1, PYLINE_POS_START), -ERANGE);
	assert_int_equal(pyline__line(2, 7, one, 1, 1, 0), -EOPNOTSUPP);
	assert_int_equal(pyline__line(3, 5, one, 1, 1, 0), -EOPNOTSUPP);
	assert_int_equal(pyline__line(3, 16, one, 1, 1, 0), -EOPNOTSUPP);
	assert_int_equal(pyline__line(4, 0, one, 1, 1, 0), -EOPNOTSUPP);
}

/* A big table ends the walk at its end, never later. */
static void test_pyline_bounded(void **state)
{
	size_t len = 1 << 20;
	uint8_t *t = malloc(len);

	(void)state;
	assert_non_null(t);
	memset(t, 0x80 | 7, len); /* 8 units each, line +0 */
	assert_int_equal(pyline__line(3, 12, t, len, 3, 8 * len - 1), 3);
	assert_int_equal(pyline__line(3, 12, t, len, 3, 8 * len), -ENOENT);
	memset(t, 0xff, len);
	assert_int_equal(pyline__line(3, 10, t, len, 3, UINT32_MAX - 1), -ENOENT);
	assert_int_equal(pyline__line(3, 9, t, len, 3, UINT32_MAX - 1), -ERANGE);
	free(t);
}

static uint32_t tp_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Odd iterations: any byte; even: mostly 3.11+ continuation bytes. */
static uint8_t tp_rand_byte(uint32_t *s, bool any)
{
	uint32_t r = tp_rand(s);

	if (any || r % 4 == 0)
		return r | (any ? 0 : 0x80);
	return r & 0x7f;
}

/* Random tables and positions: only documented results, no faults. */
static void test_pyline_random(void **state)
{
	uint32_t seed = 0x9e3779b9, pos;
	size_t len, i;
	unsigned int minor;
	uint8_t *t;
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		len = tp_rand(&seed) % 64;
		t = malloc(len ? len : 1);
		assert_non_null(t);
		for (i = 0; i < len; i++)
			t[i] = tp_rand_byte(&seed, iter & 1);
		minor = 6 + tp_rand(&seed) % 8;
		pos = iter % 3 ? tp_rand(&seed) % 128 : tp_rand(&seed);
		assert_true(tp_valid_result(
			pyline__line(3, minor, t, len, (int)(tp_rand(&seed) % 1000), pos)));
		free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyline_fixture_3_6),
		cmocka_unit_test(test_pyline_fixture_3_7),
		cmocka_unit_test(test_pyline_fixture_3_8),
		cmocka_unit_test(test_pyline_fixture_3_9),
		cmocka_unit_test(test_pyline_fixture_3_10),
		cmocka_unit_test(test_pyline_fixture_3_11),
		cmocka_unit_test(test_pyline_fixture_3_11_debian),
		cmocka_unit_test(test_pyline_fixture_3_12),
		cmocka_unit_test(test_pyline_fixture_3_13),
		cmocka_unit_test(test_pyline_fixture_3_14_debian),
		cmocka_unit_test(test_pyline_fixture_3_15_debian),
		cmocka_unit_test(test_pyline_lnotab_pairs),
		cmocka_unit_test(test_pyline_linetable310_pairs),
		cmocka_unit_test(test_pyline_loctable_forms),
		cmocka_unit_test(test_pyline_errors),
		cmocka_unit_test(test_pyline_bounded),
		cmocka_unit_test(test_pyline_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
