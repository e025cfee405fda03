// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* String helpers: name decoding, paths, addresses, terminal escaping, durations. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <cmocka.h>
#include "strutil.h"

static void name_rec(struct ap_rec_name *r, unsigned enc, const void *bytes, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->enc = enc;
	r->len = len;
	memcpy(r->name, bytes, len);
}

static void test_strutil_decode_latin1(void **state)
{
	struct ap_rec_name r;
	char buf[64];

	(void)state;
	name_rec(&r, AP_STR_LATIN1, "caf\xe9-1", 6);
	assert_int_equal(strutil__decode_name(&r, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "caf\xc3\xa9-1");
	name_rec(&r, AP_STR_LATIN1, "", 0);
	assert_int_equal(strutil__decode_name(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_strutil_decode_ucs2_ucs4(void **state)
{
	/* "Ж€" little endian, then a lone surrogate, then a half code unit */
	static const unsigned char ucs2[] = {0x16, 0x04, 0xac, 0x20, 0x00, 0xd8, 0x41};
	/* "a😀" and a value beyond U+10FFFF */
	static const unsigned char ucs4[] = {'a',  0,	 0,    0,    0x00, 0xf6,
					     0x01, 0x00, 0x00, 0x00, 0x11, 0x00};
	struct ap_rec_name r;
	char buf[64];

	(void)state;
	name_rec(&r, AP_STR_UCS2, ucs2, sizeof(ucs2));
	assert_true(strutil__decode_name(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "\xd0\x96\xe2\x82\xac\xef\xbf\xbd");
	name_rec(&r, AP_STR_UCS4, ucs4, sizeof(ucs4));
	assert_true(strutil__decode_name(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "a\xf0\x9f\x98\x80\xef\xbf\xbd");
	name_rec(&r, 3, ucs4, sizeof(ucs4));
	assert_int_equal(strutil__decode_name(&r, buf, sizeof(buf)), -EINVAL);
}

static void test_strutil_decode_int_truncated(void **state)
{
	struct ap_rec_name r;
	char buf[64], small[4];

	(void)state;
	name_rec(&r, AP_STR_INT, "", 0);
	r.int_value = 42;
	assert_int_equal(strutil__decode_name(&r, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "Task-42");
	assert_int_equal(strutil__decode_name(&r, small, sizeof(small)), -ENOSPC);
	name_rec(&r, AP_STR_LATIN1, "worker", 6);
	r.truncated = 1;
	assert_int_equal(strutil__decode_name(&r, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "worker...");
	/* len beyond the buffer is clamped, not overread */
	name_rec(&r, AP_STR_LATIN1, "x", 1);
	r.len = 100000;
	assert_int_equal(strutil__decode_name(&r, buf, sizeof(buf)), -ENOSPC);
}

static void test_strutil_join_path(void **state)
{
	static const char d[] = "leaf.txt\0b\0a\0/";
	char buf[64], small[8];

	(void)state;
	assert_int_equal(strutil__join_path(d, sizeof(d), buf, sizeof(buf)), 13);
	assert_string_equal(buf, "/a/b/leaf.txt");
	/* unterminated last component */
	assert_int_equal(strutil__join_path("x\0tmp", 5, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "/tmp/x");
	assert_int_equal(strutil__join_path("", 0, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(strutil__join_path("\0\0", 2, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(strutil__join_path(d, sizeof(d), small, sizeof(small)), -ENOSPC);
}

static void test_strutil_format_inet(void **state)
{
	struct ap_inet_addr a = {.family = AF_INET, .port = 8080};
	char buf[64];

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", a.addr);
	assert_true(strutil__format_inet(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "127.0.0.1:8080");
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.port = 443;
	inet_pton(AF_INET6, "::1", a.addr);
	assert_true(strutil__format_inet(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "[::1]:443");
	assert_int_equal(strutil__format_inet(&a, buf, 4), -ENOSPC);
	a.family = 99;
	assert_int_equal(strutil__format_inet(&a, buf, sizeof(buf)), -EAFNOSUPPORT);
}

static void test_strutil_escape_term(void **state)
{
	char buf[128], small[12];

	(void)state;
	assert_string_equal(strutil__term("\x1b[31mred\x1b[0m", buf, sizeof(buf)),
			    "\\x1b[31mred\\x1b[0m");
	assert_string_equal(strutil__term("a\\b\tc\x7f", buf, sizeof(buf)), "a\\\\b\\x09c\\x7f");
	/* valid UTF-8 kept; invalid byte, C1 CSI and RTL override escaped */
	assert_string_equal(strutil__term("\xc3\xa9\xff\xc2\x9b\xe2\x80\xae", buf, sizeof(buf)),
			    "\xc3\xa9\\xff\\xc2\\x9b\\xe2\\x80\\xae");
	assert_string_equal(strutil__term(NULL, buf, sizeof(buf)), "-");
	/* too long: never splits an escape, ends with "..." */
	strutil__term("abcdef\x1b\x1b\x1b", small, sizeof(small));
	assert_string_equal(small, "abcdef...");
}

static void test_strutil_format_ns(void **state)
{
	char buf[32];

	(void)state;
	strutil__format_ns(850, buf, sizeof(buf));
	assert_string_equal(buf, "850 ns");
	strutil__format_ns(12300, buf, sizeof(buf));
	assert_string_equal(buf, "12.3 us");
	strutil__format_ns(1230000, buf, sizeof(buf));
	assert_string_equal(buf, "1.23 ms");
	strutil__format_ns(201400000, buf, sizeof(buf));
	assert_string_equal(buf, "201.4 ms");
	strutil__format_ns(999960000, buf, sizeof(buf));
	assert_string_equal(buf, "1.00 s");
	strutil__format_ns(2010000000, buf, sizeof(buf));
	assert_string_equal(buf, "2.01 s");
}

/* A thread's name keeps a newline inside (a hostile one); only the kernel's last one goes. */
static void test_strutil_read_small(void **state)
{
	char path[] = "/tmp/ap_test_small_XXXXXX";
	int fd = mkstemp(path);
	char *s;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "q\nx\n\n", 5), 5);
	close(fd);
	s = strutil__read_small(path);
	assert_string_equal(s, "q\nx");
	free(s);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
	assert_null(strutil__read_small(path)); /* empty */
	unlink(path);
	assert_null(strutil__read_small(path)); /* gone */
	assert_null(strutil__thread_comm(0, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strutil_read_small),
		cmocka_unit_test(test_strutil_decode_latin1),
		cmocka_unit_test(test_strutil_decode_ucs2_ucs4),
		cmocka_unit_test(test_strutil_decode_int_truncated),
		cmocka_unit_test(test_strutil_join_path),
		cmocka_unit_test(test_strutil_format_inet),
		cmocka_unit_test(test_strutil_escape_term),
		cmocka_unit_test(test_strutil_format_ns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
