/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one-line status on stderr while recording to files: elapsed (and
 * total) time, events received, events dropped. Only on a terminal.
 */
#ifndef AP_PROGRESS_H
#define AP_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress;

/* A status line if wanted and stderr is a terminal; NULL (a no-op) otherwise. */
struct progress *progress__new(uint64_t start_ns, double duration_s, bool wanted);
/* Redraw, at most a few times a second. NULL is ignored. */
void progress__update(struct progress *p, uint64_t now_ns, uint64_t events, uint64_t drops);
/* Erase the line and free. NULL is ignored. */
void progress__free(struct progress *p);

#endif /* AP_PROGRESS_H */
