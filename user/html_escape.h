/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTML escaping of untrusted strings (task names, qualnames, paths read
 * from the target) for text content and double-quoted attribute values.
 */
#ifndef AP_HTML_ESCAPE_H
#define AP_HTML_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write s[0..len) to f escaped for HTML text and attribute values:
 * & < > " ' as entities; control characters other than tab and newline,
 * and DEL, as the text "\xNN"; each byte of invalid UTF-8 as U+FFFD. Valid
 * UTF-8 passes through.
 */
void html__escape_len(FILE *f, const char *s, size_t len);
/* html__escape_len of a C string; NULL writes null_text (not escaped) instead. */
void html__escape(FILE *f, const char *s, const char *null_text);

#endif /* AP_HTML_ESCAPE_H */
