/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Exporters of a finished report besides JSON and text. Each writes its
 * file atomically (report_file__save) and returns 0 or -errno; "-" is
 * stdout.
 */
#ifndef AP_EXPORT_H
#define AP_EXPORT_H

#include "model.h"

/* Chrome Trace Event JSON (ui.perfetto.dev, chrome://tracing). */
int export_chrome__save(const char *path, const struct ap_report *r);
/* One self-contained HTML page: cards, lag chart, task Gantt, tables. */
int export_html__save(const char *path, const struct ap_report *r);
/* Collapsed stacks for flamegraph.pl, speedscope, inferno. */
int export_folded__save(const char *path, const struct ap_report *r);

#endif /* AP_EXPORT_H */
