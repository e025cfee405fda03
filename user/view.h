/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The live view: a top-style ncurses screen (default on a terminal) or
 * plain text every interval (--batch, or stdout not a terminal, through
 * view_batch.h). It is fed snapshots: reports built from the BPF maps as
 * they are now (see session__snapshot), the previous one given for
 * per-interval rates; view_calc.h turns them into rows.
 */
#ifndef AP_VIEW_H
#define AP_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "model.h"
#include "view_calc.h"

struct view;

struct view_opts {
	bool batch;	      /* plain text on out, like top -b */
	FILE *out;	      /* batch output (stdout) */
	unsigned interval_ms; /* refresh period, for rates and the header */
	const char *host;     /* host name for the header */
};

enum view_action {
	VIEW_CONTINUE = 0,
	VIEW_QUIT = 1,
};

int view__new(const struct view_opts *opts, struct view **out);
/*
 * Show snapshot cur (prev: the previous snapshot or NULL). The view keeps
 * neither pointer after returning. 0 or -errno.
 */
int view__update(struct view *v, const struct ap_report *cur, const struct ap_report *prev,
		 const struct view_stats *st);
/* Handle keys for up to timeout_ms; VIEW_QUIT when the user quits (q). */
int view__wait(struct view *v, int timeout_ms);
/* Restore the terminal; accepts NULL. */
void view__free(struct view *v);

#endif /* AP_VIEW_H */
