/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libbpf's warnings, kept instead of printed: a failed load becomes one line
 * a user can act on (the program and the verifier's reason), not a log dump.
 */
#ifndef AP_BPFERR_H
#define AP_BPFERR_H

#include <stddef.h>

/* Take one line of libbpf output (a "libbpf: ..." message or a log line). */
void bpferr__feed(const char *line);
/* Forget what was fed (before the next load). */
void bpferr__reset(void);
/* The verifier's reason in plain words, NULL when it is not one we know. */
const char *bpferr__plain(const char *reason);
/*
 * "program NAME: PLAIN (\"REASON\")", or "program NAME: REASON" for the last load that failed, ""
 * if none: REASON is the verifier's last line that says why, else libbpf's own message.
 */
const char *bpferr__summary(char *buf, size_t n);

#endif /* AP_BPFERR_H */
