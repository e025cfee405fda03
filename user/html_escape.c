// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTML escaping for the HTML report. */
#include <string.h>
#include "html_escape.h"
#include "strutil.h"

/* The entity for an ASCII byte that needs one, or NULL. */
static const char *html_entity(unsigned char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

void html__escape_len(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	const char *ent;

	while (i < len) {
		n = utf8__seq_len(p + i, len - i);
		if (!n) {
			fputs("\xef\xbf\xbd", f); /* U+FFFD */
			i++;
			continue;
		}
		if (n > 1) {
			fwrite(p + i, 1, n, f);
		} else if ((ent = html_entity(p[i]))) {
			fputs(ent, f);
		} else if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') || p[i] == 0x7f) {
			fprintf(f, "\\x%02x", p[i]);
		} else {
			fputc(p[i], f);
		}
		i += n;
	}
}

void html__escape(FILE *f, const char *s, const char *null_text)
{
	if (!s) {
		fputs(null_text ? null_text : "", f);
		return;
	}
	html__escape_len(f, s, strlen(s));
}
