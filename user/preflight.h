/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Checks before anything is loaded: privilege and kernel BTF. */
#ifndef AP_PREFLIGHT_H
#define AP_PREFLIGHT_H

/* Print one line and return -errno when tracing cannot work here. */
int preflight__check(void);

#endif /* AP_PREFLIGHT_H */
