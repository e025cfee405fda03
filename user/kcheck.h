/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --check: what this kernel offers, what each mode uses, and a load of
 * every mode's programs (the verifier's verdict, not a guess from versions).
 */
#ifndef AP_KCHECK_H
#define AP_KCHECK_H

#include <stdbool.h>
#include <stdio.h>

struct tracer_opts;

/*
 * Print the report to out, as text or JSON; each load takes its thresholds
 * and sizes from base. 0 if every mode loads, 1 if one cannot run.
 */
int kcheck__run(FILE *out, bool json, const struct tracer_opts *base);

#endif /* AP_KCHECK_H */
