/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The JSON report (docs/report-v1.md), pretty-printed with
 * 2-space indentation.
 */
#ifndef AP_REPORT_JSON_H
#define AP_REPORT_JSON_H

#include <stdio.h>
#include "model.h"

/* Write r as one JSON object to f. 0, or -EIO when the stream failed, -ENOMEM. */
int report_json__write(FILE *f, const struct ap_report *r);

/* Write r to path atomically ("-": stdout). 0 or -errno. */
int report_json__save(const char *path, const struct ap_report *r);

#endif /* AP_REPORT_JSON_H */
