/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Logging ladder: elog always, vlog with -v, dlog with -vv. */
#ifndef AP_LOG_H
#define AP_LOG_H

#include <stdio.h>
#include "env.h"

#define elog(fmt, ...) fprintf(stderr, "asyncprof-bpf: " fmt, ##__VA_ARGS__)
#define wlog(fmt, ...) fprintf(stderr, "asyncprof-bpf: warning: " fmt, ##__VA_ARGS__)
#define vlog(fmt, ...)                                       \
	do {                                                 \
		if (env.verbose >= 1)                        \
			fprintf(stderr, fmt, ##__VA_ARGS__); \
	} while (0)
#define dlog(fmt, ...)                                       \
	do {                                                 \
		if (env.verbose >= 2)                        \
			fprintf(stderr, fmt, ##__VA_ARGS__); \
	} while (0)

#endif /* AP_LOG_H */
