/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Why the loop was late: BPF splits every slow iteration's time by cause
 * (enum ap_cause); this names, for each cause, the callback most of that
 * time went to, from the blocking calls (sleep, file, ..., GIL) and slow
 * callbacks (running) that fell inside the iteration.
 */
#ifndef AP_CAUSES_H
#define AP_CAUSES_H

#include "model.h"

/*
 * Fill p's iterations[].culprits and loops[].slow_culprits. p's
 * iterations, blocking calls and slow callbacks are sorted by start.
 * 0 or -ENOMEM (then some culprits may be missing, none wrong).
 */
int causes__attribute(struct ap_process *p);

/* The enum ap_cause of a blocking call's kind ("sleep", "gil", ...), or -1. */
int causes__of_kind(const char *kind);

#endif /* AP_CAUSES_H */
