// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Streaming JSON writer, modelled on bpftool's json_writer.c: a depth, a
 * "separator needed" flag and a "name just written" flag are all the state.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "json_writer.h"
#include "strutil.h"

struct json_writer {
	FILE *out;
	unsigned depth;
	bool pretty;
	bool sep;	 /* a value was written at this level: next one needs a comma */
	bool after_name; /* a member name was just written: the value follows on the line */
};

json_writer_t *jsonw_new(FILE *f)
{
	json_writer_t *self = calloc(1, sizeof(*self));

	if (!self)
		return NULL;
	self->out = f;
	return self;
}

void jsonw_destroy(json_writer_t **self_p)
{
	json_writer_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	fputc('\n', self->out);
	free(self);
	*self_p = NULL;
}

void jsonw_pretty(json_writer_t *self, bool on)
{
	self->pretty = on;
}

static void jsonw_indent(json_writer_t *self)
{
	for (unsigned i = 0; i < self->depth; i++)
		fputs("  ", self->out);
}

/* Before any value or name: comma and new line as the position needs. */
static void jsonw_begin_value(json_writer_t *self)
{
	if (self->after_name) {
		self->after_name = false;
		return;
	}
	if (self->sep)
		fputc(',', self->out);
	if (self->pretty && self->depth) {
		fputc('\n', self->out);
		jsonw_indent(self);
	}
}

static void jsonw_end_value(json_writer_t *self)
{
	self->sep = true;
}

static void jsonw_open(json_writer_t *self, char c)
{
	jsonw_begin_value(self);
	fputc(c, self->out);
	self->depth++;
	self->sep = false;
}

static void jsonw_close(json_writer_t *self, char c)
{
	if (self->depth)
		self->depth--;
	/* a non-empty container ends on its own line */
	if (self->pretty && self->sep) {
		fputc('\n', self->out);
		jsonw_indent(self);
	}
	fputc(c, self->out);
	jsonw_end_value(self);
}

void jsonw_start_object(json_writer_t *self)
{
	jsonw_open(self, '{');
}

void jsonw_end_object(json_writer_t *self)
{
	jsonw_close(self, '}');
}

void jsonw_start_array(json_writer_t *self)
{
	jsonw_open(self, '[');
}

void jsonw_end_array(json_writer_t *self)
{
	jsonw_close(self, ']');
}

void jsonw_escape(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t n;

	while (p < end) {
		unsigned char c = *p;

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '<':
		case '>':
		case '&':
		case 0x7f:
			fprintf(f, "\\u%04x", c);
			break;
		default:
			if (c < 0x20) {
				fprintf(f, "\\u%04x", c);
				break;
			}
			if (c < 0x80) {
				fputc(c, f);
				break;
			}
			n = utf8__seq_len(p, end - p);
			if (!n) {
				fputs("\\ufffd", f);
				break;
			}
			/* U+2028 and U+2029 end a line in older JavaScript */
			if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
			    (p[2] == 0xa8 || p[2] == 0xa9))
				fprintf(f, "\\u%04x", 0x2000 | (p[2] - 0x80));
			else
				fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		p++;
	}
}

void jsonw_string_len(json_writer_t *self, const char *s, size_t len)
{
	if (!s) {
		jsonw_null(self);
		return;
	}
	jsonw_begin_value(self);
	fputc('"', self->out);
	jsonw_escape(self->out, s, len);
	fputc('"', self->out);
	jsonw_end_value(self);
}

void jsonw_string(json_writer_t *self, const char *s)
{
	jsonw_string_len(self, s, s ? strlen(s) : 0);
}

void jsonw_name(json_writer_t *self, const char *name)
{
	jsonw_begin_value(self);
	fputc('"', self->out);
	jsonw_escape(self->out, name, strlen(name));
	fputs(self->pretty ? "\": " : "\":", self->out);
	self->after_name = true;
}

void jsonw_printf(json_writer_t *self, const char *fmt, ...)
{
	char *str = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (n < 0) {
		jsonw_null(self);
		return;
	}
	jsonw_string_len(self, str, n);
	free(str);
}

void jsonw_uint(json_writer_t *self, uint64_t v)
{
	jsonw_begin_value(self);
	fprintf(self->out, "%" PRIu64, v);
	jsonw_end_value(self);
}

void jsonw_int(json_writer_t *self, int64_t v)
{
	jsonw_begin_value(self);
	fprintf(self->out, "%" PRId64, v);
	jsonw_end_value(self);
}

void jsonw_float(json_writer_t *self, double v)
{
	if (!isfinite(v)) {
		jsonw_null(self);
		return;
	}
	jsonw_begin_value(self);
	fprintf(self->out, "%.17g", v);
	jsonw_end_value(self);
}

void jsonw_bool(json_writer_t *self, bool v)
{
	jsonw_begin_value(self);
	fputs(v ? "true" : "false", self->out);
	jsonw_end_value(self);
}

void jsonw_null(json_writer_t *self)
{
	jsonw_begin_value(self);
	fputs("null", self->out);
	jsonw_end_value(self);
}

void jsonw_addr(json_writer_t *self, uint64_t v)
{
	jsonw_begin_value(self);
	fprintf(self->out, "\"0x%" PRIx64 "\"", v);
	jsonw_end_value(self);
}

void jsonw_string_field(json_writer_t *self, const char *name, const char *s)
{
	jsonw_name(self, name);
	jsonw_string(self, s);
}

void jsonw_string_array_field(json_writer_t *self, const char *name, char *const *v, size_t n)
{
	jsonw_name(self, name);
	jsonw_start_array(self);
	for (size_t i = 0; i < n; i++)
		jsonw_string(self, v[i]);
	jsonw_end_array(self);
}

void jsonw_uint_field(json_writer_t *self, const char *name, uint64_t v)
{
	jsonw_name(self, name);
	jsonw_uint(self, v);
}

void jsonw_int_field(json_writer_t *self, const char *name, int64_t v)
{
	jsonw_name(self, name);
	jsonw_int(self, v);
}

void jsonw_float_field(json_writer_t *self, const char *name, double v)
{
	jsonw_name(self, name);
	jsonw_float(self, v);
}

void jsonw_bool_field(json_writer_t *self, const char *name, bool v)
{
	jsonw_name(self, name);
	jsonw_bool(self, v);
}

void jsonw_null_field(json_writer_t *self, const char *name)
{
	jsonw_name(self, name);
	jsonw_null(self);
}

void jsonw_addr_field(json_writer_t *self, const char *name, uint64_t v)
{
	jsonw_name(self, name);
	jsonw_addr(self, v);
}
