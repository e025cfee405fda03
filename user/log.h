/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Logging ladder: elog always, vlog with -v, dlog with -vv. */
#ifndef AP_LOG_H
#define AP_LOG_H

#include <stdio.h>

/* How much to say: 0 by default, 1 with -v (vlog), 2 with -vv (dlog). Set once, by main. */
extern int log_verbosity;

/* prefix and the formatted message, escaped for the terminal (user/log.c) */
void log__write(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define elog(fmt, ...) log__write("asyncprof-bpf: ", fmt, ##__VA_ARGS__)
#define wlog(fmt, ...) log__write("asyncprof-bpf: warning: ", fmt, ##__VA_ARGS__)
#define vlog(fmt, ...)                                      \
	do {                                                \
		if (log_verbosity >= 1)                     \
			log__write("", fmt, ##__VA_ARGS__); \
	} while (0)
#define dlog(fmt, ...)                                      \
	do {                                                \
		if (log_verbosity >= 2)                     \
			log__write("", fmt, ##__VA_ARGS__); \
	} while (0)

#endif /* AP_LOG_H */
