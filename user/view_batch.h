/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live view as plain text (--batch, or stdout not a terminal). */
#ifndef AP_VIEW_BATCH_H
#define AP_VIEW_BATCH_H

#include <stdio.h>
#include "model.h"
#include "view_calc.h"

/*
 * Batch text for one refresh, like top -b: a header line, the loops table,
 * the top tasks by busy time and the latest events; every string from the
 * target escaped. Pure over its arguments (prev may be NULL), so the same
 * inputs give the same bytes. 0 or -errno.
 */
int view_batch__print(FILE *f, const struct ap_report *cur, const struct ap_report *prev,
		      const struct view_stats *st, unsigned interval_ms);

#endif /* AP_VIEW_BATCH_H */
