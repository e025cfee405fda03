/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The atomic file save every output format uses, and its check before tracing. */
#ifndef AP_REPORT_FILE_H
#define AP_REPORT_FILE_H

#include <stdio.h>

/* Writes one output to f; 0 or -errno. */
typedef int (*report_write_fn)(FILE *f, const void *ctx);

/*
 * Create or replace path with what write_fn writes, atomically: a temporary
 * file in the same directory (mkstemp, mode 0644), fflush + fsync, then
 * rename over path. On any error the temporary file is removed and path is
 * left as it was. "-" writes to stdout instead (flushed, not synced).
 * 0 or -errno.
 */
int report_file__save(const char *path, report_write_fn write_fn, const void *ctx);

/*
 * Can report_file__save write path? Checked before tracing, so a typo costs
 * no trace: -EISDIR for a directory, else what creating the temporary file
 * next to it (or opening a device for writing) fails with. 0 or -errno.
 */
int report_file__check(const char *path);

#endif /* AP_REPORT_FILE_H */
