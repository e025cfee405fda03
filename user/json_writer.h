/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small streaming JSON writer, after bpftool's json_writer: the caller
 * opens and closes objects and arrays and names members; the writer places
 * the commas, the newlines and the indentation (2 spaces when pretty).
 *
 * Strings are untrusted (read from the target) and are always escaped:
 * '"', '\\', control characters and DEL as \u00XX (or \n, \t, ...), and
 * '<', '>', '&', U+2028 and U+2029 as \uXXXX, so the output can be embedded
 * in HTML <script> and JavaScript. Valid UTF-8 passes through; each byte of
 * an invalid sequence becomes \ufffd.
 *
 * Errors of the stream are sticky in the FILE: check ferror() at the end.
 */
#ifndef AP_JSON_WRITER_H
#define AP_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct json_writer json_writer_t;

/* A writer on f (not owned), or NULL on ENOMEM. */
json_writer_t *jsonw_new(FILE *f);
/* Ends the line and frees *self_p; sets it to NULL. NULL is fine. */
void jsonw_destroy(json_writer_t **self_p);
/* Pretty-print: one member per line, 2-space indentation. Off by default. */
void jsonw_pretty(json_writer_t *self, bool on);

void jsonw_start_object(json_writer_t *self);
void jsonw_end_object(json_writer_t *self);
void jsonw_start_array(json_writer_t *self);
void jsonw_end_array(json_writer_t *self);
/* The name of the next member of the current object. */
void jsonw_name(json_writer_t *self, const char *name);

/* Values. A NULL string is written as null. */
void jsonw_string(json_writer_t *self, const char *s);
void jsonw_string_len(json_writer_t *self, const char *s, size_t len);
void jsonw_uint(json_writer_t *self, uint64_t v);
void jsonw_int(json_writer_t *self, int64_t v);
void jsonw_float(json_writer_t *self, double v); /* NaN and infinities as null */
void jsonw_bool(json_writer_t *self, bool v);
void jsonw_null(json_writer_t *self);
/* An address as the string "0x..." (lowercase hex). */
void jsonw_addr(json_writer_t *self, uint64_t v);
/* printf-formatted string value (escaped like any string). */
void jsonw_printf(json_writer_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* name + value in one call. */
void jsonw_string_field(json_writer_t *self, const char *name, const char *s);
/* name: [v[0], ..., v[n-1]] (a NULL element is written as null). */
void jsonw_string_array_field(json_writer_t *self, const char *name, char *const *v, size_t n);
void jsonw_uint_field(json_writer_t *self, const char *name, uint64_t v);
void jsonw_int_field(json_writer_t *self, const char *name, int64_t v);
void jsonw_float_field(json_writer_t *self, const char *name, double v);
void jsonw_bool_field(json_writer_t *self, const char *name, bool v);
void jsonw_null_field(json_writer_t *self, const char *name);
void jsonw_addr_field(json_writer_t *self, const char *name, uint64_t v);

/* Escape bytes s[0..len) as the body of a JSON string (no quotes) to f. */
void jsonw_escape(FILE *f, const char *s, size_t len);

#endif /* AP_JSON_WRITER_H */
