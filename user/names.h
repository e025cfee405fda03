/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Names read from the target (task names, coroutine and callback
 * qualnames), keyed by (pid, kind, object address). BPF sends each name
 * once; this cache keeps it for the report. Bounded: past max entries
 * the oldest eighth is evicted and counted.
 */
#ifndef AP_NAMES_H
#define AP_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct names;

struct names *names__new(size_t max);
void names__free(struct names *n);
/* Store a copy of name (NULL stores "unreadable"); replaces an older one. */
int names__set(struct names *n, uint32_t pid, uint32_t kind, uint64_t key, const char *name);
/* Forget a name (a finished task's, once copied into the report). */
void names__del(struct names *n, uint32_t pid, uint32_t kind, uint64_t key);
/* The name, or NULL when unknown or unreadable. */
const char *names__get(const struct names *n, uint32_t pid, uint32_t kind, uint64_t key);
size_t names__count(const struct names *n);
uint64_t names__evictions(const struct names *n);

#endif /* AP_NAMES_H */
