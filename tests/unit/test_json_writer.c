// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSON writer: commas, nesting, pretty layout, escaping of hostile strings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "json_writer.h"

struct mem_out {
	char *buf;
	size_t len;
	FILE *f;
	json_writer_t *w;
};

static int setup_out(void **state)
{
	struct mem_out *m = calloc(1, sizeof(*m));

	if (!m)
		return -1;
	m->f = open_memstream(&m->buf, &m->len);
	m->w = jsonw_new(m->f);
	if (!m->f || !m->w)
		return -1;
	*state = m;
	return 0;
}

static int teardown_out(void **state)
{
	struct mem_out *m = *state;

	jsonw_destroy(&m->w);
	if (m->f)
		fclose(m->f);
	free(m->buf);
	free(m);
	return 0;
}

/* Everything written so far (without the final newline of destroy). */
static const char *out_text(struct mem_out *m)
{
	fflush(m->f);
	return m->buf;
}

static void test_json_writer_commas_nesting(void **state)
{
	struct mem_out *m = *state;

	jsonw_start_object(m->w);
	jsonw_uint_field(m->w, "a", 1);
	jsonw_int_field(m->w, "b", -2);
	jsonw_name(m->w, "c");
	jsonw_start_array(m->w);
	jsonw_uint(m->w, 1);
	jsonw_start_object(m->w);
	jsonw_end_object(m->w);
	jsonw_start_array(m->w);
	jsonw_end_array(m->w);
	jsonw_null(m->w);
	jsonw_bool(m->w, true);
	jsonw_bool(m->w, false);
	jsonw_end_array(m->w);
	jsonw_string_field(m->w, "d", NULL);
	jsonw_addr_field(m->w, "e", 0x7f12abcdULL);
	jsonw_float_field(m->w, "f", 0.5);
	jsonw_name(m->w, "g");
	jsonw_uint(m->w, UINT64_MAX);
	jsonw_end_object(m->w);
	assert_string_equal(out_text(m), "{\"a\":1,\"b\":-2,\"c\":[1,{},[],null,true,false],"
					 "\"d\":null,\"e\":\"0x7f12abcd\",\"f\":0.5,"
					 "\"g\":18446744073709551615}");
}

static void test_json_writer_pretty(void **state)
{
	struct mem_out *m = *state;

	jsonw_pretty(m->w, true);
	jsonw_start_object(m->w);
	jsonw_uint_field(m->w, "a", 1);
	jsonw_name(m->w, "b");
	jsonw_start_array(m->w);
	jsonw_string(m->w, "x");
	jsonw_start_object(m->w);
	jsonw_null_field(m->w, "n");
	jsonw_end_object(m->w);
	jsonw_end_array(m->w);
	jsonw_name(m->w, "e");
	jsonw_start_array(m->w);
	jsonw_end_array(m->w);
	jsonw_end_object(m->w);
	assert_string_equal(out_text(m), "{\n"
					 "  \"a\": 1,\n"
					 "  \"b\": [\n"
					 "    \"x\",\n"
					 "    {\n"
					 "      \"n\": null\n"
					 "    }\n"
					 "  ],\n"
					 "  \"e\": []\n"
					 "}");
}

static void test_json_writer_escape_basic(void **state)
{
	struct mem_out *m = *state;

	jsonw_start_array(m->w);
	jsonw_string(m->w, "q\"b\\s/");
	jsonw_string(m->w, "\n\r\t\b\f\x01\x1b\x1f\x7f");
	jsonw_string(m->w, "<script>alert(1)</script>&");
	jsonw_end_array(m->w);
	assert_string_equal(out_text(m),
			    "[\"q\\\"b\\\\s/\","
			    "\"\\n\\r\\t\\b\\f\\u0001\\u001b\\u001f\\u007f\","
			    "\"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\\u0026\"]");
}

static void test_json_writer_escape_utf8(void **state)
{
	struct mem_out *m = *state;
	/* é, €, 😀 valid; then a lone continuation, a truncated sequence,
	 * an overlong '/', a surrogate (ED A0 80), 0xFF, and U+2028 */
	const char s[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xe2\x82|\xc0\xaf|"
			 "\xed\xa0\x80|\xff|\xe2\x80\xa8";

	jsonw_string(m->w, s);
	assert_string_equal(out_text(m), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|"
					 "\\ufffd\\ufffd|\\ufffd\\ufffd|"
					 "\\ufffd\\ufffd\\ufffd|\\ufffd|\\u2028\"");
}

static void test_json_writer_string_len(void **state)
{
	struct mem_out *m = *state;

	jsonw_start_array(m->w);
	jsonw_string_len(m->w, "a\0b", 3);
	jsonw_string_len(m->w, "abcdef", 2);
	jsonw_printf(m->w, "%d-%s", 42, "<x>");
	jsonw_end_array(m->w);
	assert_string_equal(out_text(m), "[\"a\\u0000b\",\"ab\",\"42-\\u003cx\\u003e\"]");
}

static void test_json_writer_destroy_newline(void **state)
{
	struct mem_out *m = *state;

	jsonw_start_object(m->w);
	jsonw_end_object(m->w);
	jsonw_destroy(&m->w);
	assert_null(m->w);
	assert_string_equal(out_text(m), "{}\n");
	jsonw_destroy(&m->w); /* NULL is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_writer_commas_nesting, setup_out,
						teardown_out),
		cmocka_unit_test_setup_teardown(test_json_writer_pretty, setup_out, teardown_out),
		cmocka_unit_test_setup_teardown(test_json_writer_escape_basic, setup_out,
						teardown_out),
		cmocka_unit_test_setup_teardown(test_json_writer_escape_utf8, setup_out,
						teardown_out),
		cmocka_unit_test_setup_teardown(test_json_writer_string_len, setup_out,
						teardown_out),
		cmocka_unit_test_setup_teardown(test_json_writer_destroy_newline, setup_out,
						teardown_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
