// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One log line to stderr. Messages carry strings of the target (comm, file
 * names from its maps, Python names): escaped here for the terminal, so no
 * message can send a control sequence to the user's screen.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "strutil.h"

int log_verbosity;

void log__write(const char *prefix, const char *fmt, ...)
{
	char msg[2048], out[8192];
	va_list ap;
	size_t n;
	bool nl;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	nl = n && msg[n - 1] == '\n'; /* the one newline a message may end with */
	strutil__escape_term(msg, n - nl, out, sizeof(out));
	fprintf(stderr, "%s%s%s", prefix, out, nl ? "\n" : "");
}
