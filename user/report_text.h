/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The human summary of a report: window and thresholds, drops, then per
 * process its loops (lag, busy and blocked share), blocking calls grouped
 * by (kind, syscall), the longest blocking calls, slow callbacks and the
 * busiest tasks. Strings from the target are escaped for the terminal.
 */
#ifndef AP_REPORT_TEXT_H
#define AP_REPORT_TEXT_H

#include <stdio.h>
#include "model.h"

/* Print the summary to f; each list shows at most top_n entries (<= 0: 10). */
void report_text__print(FILE *f, const struct ap_report *r, int top_n);

/* The summary into path, atomically (see report_file__save); "-": stdout. 0 or -errno. */
int report_text__save(const char *path, const struct ap_report *r, int top_n);

#endif /* AP_REPORT_TEXT_H */
