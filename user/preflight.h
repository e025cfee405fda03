/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Checks before anything is loaded: privilege, kernel BTF, writable outputs. */
#ifndef AP_PREFLIGHT_H
#define AP_PREFLIGHT_H

#include "output.h"

/* Root or the capabilities BPF tracing needs; one line and -EPERM if not. */
int preflight__privilege(void);
/* Print one line and return -errno when tracing cannot work here. */
int preflight__check(void);
/* Each output can be written (output__check); one line and -errno if not. */
int preflight__outputs(const struct out_file *outs, int n);

#endif /* AP_PREFLIGHT_H */
