/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus metrics: the text exposition format rendered from a snapshot,
 * and a small libmicrohttpd server that serves the latest rendering on
 * /metrics. Label cardinality is bounded: at most PROM_MAX_LOOPS loops and,
 * per loop, PROM_MAX_SYSCALLS syscalls by name (the rest as "other").
 */
#ifndef AP_PROM_H
#define AP_PROM_H

#include <stdbool.h>
#include <stdio.h>
#include "model.h"

#define PROM_MAX_LOOPS	  256
#define PROM_MAX_SYSCALLS 16

struct prom;

/* Write the exposition of snapshot r to f; 0 or -errno. */
int prom__format(FILE *f, const struct ap_report *r);

/* Is addr a [ADDR:]PORT we can listen on (syntax only)? */
bool prom__addr_valid(const char *addr);
/* Serve /metrics on addr ("127.0.0.1:9464", "9464", "[::1]:9464"); 0 or -errno. */
int prom__start(const char *addr, struct prom **out);
/* Render r; scrapes get it from now on. 0 or -errno. */
int prom__publish(struct prom *p, const struct ap_report *r);
void prom__stop(struct prom *p);

#endif /* AP_PROM_H */
