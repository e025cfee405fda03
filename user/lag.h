/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Exact loop lag of one loop thread (spec: "Loop lag"), from its busy
 * intervals. The grid instants are t_k = grid_start + k * interval, k >= 0.
 * An instant inside a busy interval [s, e) (s <= t < e) is a sample of lag
 * e - t; every other instant of the window is a sample of lag 0.
 *
 * Intervals may be added in any order. They should not overlap; if they do,
 * a grid instant covered twice is still one sample, with the larger lag
 * (the one of the later end). Only instants >= grid_start count, so an
 * interval that began before it (a thread first seen mid-interval) adds
 * only its instants from grid_start on. Only the instants with a non-zero
 * lag are stored (16 bytes each): a 1-hour window at 10 ms is 360k at most.
 *
 * Percentiles use the nearest-rank definition: with the N samples sorted
 * ascending, the p-th percentile is the sample at 1-based rank
 * ceil(p * N / 100) (the smallest value with at least p% of the samples
 * at or below it). All figures are 0 when N is 0.
 */
#ifndef AP_LAG_H
#define AP_LAG_H

#include <stdint.h>
#include "model.h"

struct lag;

/* An accumulator for the grid from grid_start_ns every interval_ns (> 0); NULL on error. */
struct lag *lag__new(uint64_t grid_start_ns, uint64_t interval_ns);
void lag__free(struct lag *acc);

/*
 * The thread was busy over [busy_start_ns, busy_end_ns): record a sample
 * for each grid instant inside it, and its length for max_ns. An empty or
 * reversed interval is ignored. 0 or -ENOMEM.
 */
int lag__add_busy(struct lag *acc, uint64_t busy_start_ns, uint64_t busy_end_ns);

/* A busy interval of len_ns was seen (counted elsewhere): only max_ns uses it. */
void lag__note_busy_len(struct lag *acc, uint64_t len_ns);

/*
 * Figures over the grid instants in [max(first_ns, grid_start), end_ns]:
 * samples, mean (rounded down), nearest-rank p50/p90/p99, the cumulative
 * histogram over ap_lag_bucket_le, and max_ns = the longest busy interval
 * added or noted. The accumulator stays usable. 0 or -ENOMEM.
 */
int lag__finish(struct lag *acc, uint64_t first_ns, uint64_t end_ns, struct ap_lag *out);

/*
 * The non-zero samples of [first_ns, end_ns] in time order (the samples
 * lag__finish counts), for a lag-over-time chart; every other grid instant
 * has lag 0. *out is malloc'd (NULL when there are none). 0 or -ENOMEM.
 */
int lag__series(struct lag *acc, uint64_t first_ns, uint64_t end_ns, struct ap_lag_point **out,
		size_t *n);

#endif /* AP_LAG_H */
