// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Line numbers from CPython line tables read out of the target. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include "pyline.h"

/* 3.11+ location entry codes (Objects/locations.md) */
#define PYLINE_LOC_ONE_LINE0  10
#define PYLINE_LOC_ONE_LINE2  12
#define PYLINE_LOC_NO_COLUMNS 13
#define PYLINE_LOC_LONG	      14
#define PYLINE_LOC_NONE	      15

/* A varint holds at most 32 bits: six 6-bit chunks. */
#define PYLINE_VARINT_MAX_SHIFT 30

struct pyline_rd {
	const uint8_t *p;
	const uint8_t *end;
};

static int pyline_result(int64_t line)
{
	if (line < 0 || line > INT_MAX)
		return -ERANGE;
	return (int)line;
}

/*
 * co_lnotab (3.6-3.9): (byte delta, signed line delta) pairs, as walked by
 * PyCode_Addr2Line: a pair's line delta applies once its address is <= pos.
 */
static int pyline_lnotab(const uint8_t *t, size_t len, int64_t line, uint32_t pos)
{
	uint64_t addr = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > pos)
			break;
		line += (int8_t)t[i + 1];
	}
	return pyline_result(line);
}

/*
 * 3.10 co_linetable: (byte length, signed line delta) pairs, a delta of
 * -128 meaning "no line". Zero-length pairs only carry line deltas.
 */
static int pyline_linetable310(const uint8_t *t, size_t len, int64_t line, uint32_t pos)
{
	uint64_t addr = (uint64_t)pos * 2, end = 0;
	size_t i;
	int8_t d;

	for (i = 0; i + 1 < len; i += 2) {
		d = (int8_t)t[i + 1];
		if (d != -128)
			line += d;
		end += t[i];
		if (addr < end)
			return d == -128 ? -ENODATA : pyline_result(line);
	}
	return -ENOENT;
}

/* Unsigned varint: 6-bit chunks, little end first, 0x40 = more follow. */
static int pyline_varint(struct pyline_rd *rd, uint32_t *val)
{
	unsigned int shift = 0;
	uint64_t v = 0;
	uint8_t b;

	do {
		if (rd->p >= rd->end || shift > PYLINE_VARINT_MAX_SHIFT)
			return -EINVAL;
		b = *rd->p++;
		if (b & 0x80)
			return -EINVAL;
		v |= (uint64_t)(b & 0x3f) << shift;
		shift += 6;
	} while (b & 0x40);
	if (v > UINT32_MAX)
		return -EINVAL;
	*val = (uint32_t)v;
	return 0;
}

/* Signed varint: the sign in bit 0, the magnitude above it. */
static int pyline_svarint(struct pyline_rd *rd, int64_t *val)
{
	uint32_t u;
	int err;

	err = pyline_varint(rd, &u);
	if (err)
		return err;
	*val = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return 0;
}

/* Line delta of the 3.11+ entry whose first byte (code) was just read. */
static int pyline_loc_delta(struct pyline_rd *rd, unsigned int code, int64_t *delta)
{
	*delta = 0;
	if (code == PYLINE_LOC_LONG || code == PYLINE_LOC_NO_COLUMNS)
		return pyline_svarint(rd, delta);
	if (code >= PYLINE_LOC_ONE_LINE0 && code <= PYLINE_LOC_ONE_LINE2)
		*delta = code - PYLINE_LOC_ONE_LINE0;
	return 0;
}

/*
 * 3.11+ location table. Each entry starts with a byte 1CCCCLLL (code C,
 * L+1 code units long); the rest of it (columns, end line) has bit 7
 * clear and is skipped the way CPython's advance() does.
 */
static int pyline_loctable(const uint8_t *t, size_t len, int64_t line, uint32_t pos)
{
	struct pyline_rd rd = {t, t + len};
	uint64_t end = 0;
	unsigned int code;
	int64_t delta;
	uint8_t b;
	int err;

	while (rd.p < rd.end) {
		b = *rd.p++;
		if (!(b & 0x80))
			return -EINVAL;
		code = (b >> 3) & 15;
		err = pyline_loc_delta(&rd, code, &delta);
		if (err)
			return err;
		line += delta;
		end += (b & 7) + 1;
		if (pos < end)
			return code == PYLINE_LOC_NONE ? -ENODATA : pyline_result(line);
		while (rd.p < rd.end && !(*rd.p & 0x80))
			rd.p++;
	}
	return -ENOENT;
}

static bool pyline_supported(unsigned int major, unsigned int minor)
{
	return major == 3 && minor >= 6 && minor <= 15;
}

int pyline__line(unsigned major, unsigned minor, const uint8_t *table, size_t len, int firstlineno,
		 uint32_t pos)
{
	if (!pyline_supported(major, minor))
		return -EOPNOTSUPP;
	if (pos == PYLINE_POS_START)
		return pyline_result(firstlineno);
	if (!table && len)
		return -EINVAL;
	if (minor <= 9)
		return pyline_lnotab(table, len, firstlineno, pos);
	if (minor == 10)
		return pyline_linetable310(table, len, firstlineno, pos);
	return pyline_loctable(table, len, firstlineno, pos);
}
