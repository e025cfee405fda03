// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loop lag from busy intervals: exact samples on a fixed grid. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "lag.h"

/* More grid instants than this in one window is a bogus interval. */
#define LAG_MAX_SAMPLES (1u << 26)

struct lag_sample {
	uint64_t k;   /* grid index */
	uint64_t lag; /* > 0 */
};

struct lag {
	uint64_t grid_start;
	uint64_t interval;
	uint64_t max_len;
	bool sorted; /* samples in increasing k so far */
	AP_VEC(struct lag_sample) s;
};

struct lag *lag__new(uint64_t grid_start_ns, uint64_t interval_ns)
{
	struct lag *acc;

	if (!interval_ns) {
		errno = EINVAL;
		return NULL;
	}
	acc = calloc(1, sizeof(*acc));
	if (!acc)
		return NULL;
	acc->grid_start = grid_start_ns;
	acc->interval = interval_ns;
	acc->sorted = true;
	return acc;
}

void lag__free(struct lag *acc)
{
	if (!acc)
		return;
	free(acc->s.v);
	free(acc);
}

void lag__note_busy_len(struct lag *acc, uint64_t len_ns)
{
	if (len_ns > acc->max_len)
		acc->max_len = len_ns;
}

/* First grid index whose instant is >= t (t >= grid_start). */
static uint64_t lag_k_ceil(const struct lag *acc, uint64_t t)
{
	uint64_t d = t - acc->grid_start;

	return d / acc->interval + (d % acc->interval != 0);
}

int lag__add_busy(struct lag *acc, uint64_t busy_start_ns, uint64_t busy_end_ns)
{
	uint64_t lo, k, k_end, t;
	struct lag_sample *smp;

	if (busy_end_ns <= busy_start_ns)
		return 0;
	lag__note_busy_len(acc, busy_end_ns - busy_start_ns);
	if (busy_end_ns <= acc->grid_start)
		return 0;
	lo = busy_start_ns > acc->grid_start ? busy_start_ns : acc->grid_start;
	k = lag_k_ceil(acc, lo);
	k_end = (busy_end_ns - 1 - acc->grid_start) / acc->interval; /* last k with t < end */
	if (k > k_end)
		return 0; /* shorter than the grid: covers no instant */
	if (k_end - k >= LAG_MAX_SAMPLES || acc->s.n + (k_end - k) >= LAG_MAX_SAMPLES)
		return -E2BIG;
	if (acc->s.n && k <= acc->s.v[acc->s.n - 1].k)
		acc->sorted = false;
	for (; k <= k_end; k++) {
		smp = AP_VEC_PUSH(acc->s);
		if (!smp)
			return -ENOMEM;
		t = acc->grid_start + k * acc->interval;
		smp->k = k;
		smp->lag = busy_end_ns - t;
	}
	return 0;
}

/* By grid index, then larger lag first, so the first of equal k wins. */
static int cmp_sample(const void *a, const void *b)
{
	const struct lag_sample *x = a, *y = b;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return x->lag > y->lag ? -1 : x->lag < y->lag;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Number of values <= v in sorted v[0..n). */
static size_t upper_bound(const uint64_t *vals, size_t n, uint64_t v)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (vals[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Nearest-rank percentile over zeros zero samples then sorted nz[0..n_nz). */
static uint64_t percentile(const uint64_t *nz, size_t n_nz, uint64_t zeros, unsigned p)
{
	uint64_t n = zeros + n_nz;
	unsigned __int128 r = ((unsigned __int128)p * n + 99) / 100;

	if (r == 0)
		r = 1;
	if (!nz || r <= zeros || r - zeros > n_nz)
		return 0;
	return nz[(size_t)(r - zeros - 1)];
}

/* Non-zero lags of the instants k_lo..k_hi, one per instant, into *out (sorted). */
static int lag_collect(struct lag *acc, uint64_t k_lo, uint64_t k_hi, uint64_t **out, size_t *n)
{
	uint64_t *vals, prev_k = 0;
	size_t i, m = 0;

	*out = NULL;
	*n = 0;
	if (!acc->s.n)
		return 0;
	if (!acc->sorted) {
		qsort(acc->s.v, acc->s.n, sizeof(*acc->s.v), cmp_sample);
		acc->sorted = true;
	}
	vals = malloc(acc->s.n * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < acc->s.n; i++) {
		const struct lag_sample *smp = &acc->s.v[i];

		if (smp->k < k_lo || smp->k > k_hi || (m && smp->k == prev_k))
			continue;
		/* equal k after an unsorted merge: keep the larger lag */
		vals[m++] = smp->lag;
		prev_k = smp->k;
	}
	qsort(vals, m, sizeof(*vals), cmp_u64);
	*out = vals;
	*n = m;
	return 0;
}

int lag__finish(struct lag *acc, uint64_t first_ns, uint64_t end_ns, struct ap_lag *out)
{
	uint64_t lo = first_ns > acc->grid_start ? first_ns : acc->grid_start;
	uint64_t k_lo, k_hi, zeros, *nz = NULL;
	unsigned __int128 sum = 0;
	size_t n_nz = 0, i;
	int err;

	memset(out, 0, sizeof(*out));
	out->max_ns = acc->max_len;
	if (end_ns < lo)
		return 0;
	k_lo = lag_k_ceil(acc, lo);
	k_hi = (end_ns - acc->grid_start) / acc->interval;
	if (k_hi < k_lo)
		return 0;
	out->samples = k_hi - k_lo + 1;
	err = lag_collect(acc, k_lo, k_hi, &nz, &n_nz);
	if (err)
		return err;
	zeros = out->samples - n_nz;
	for (i = 0; i < n_nz; i++)
		sum += nz[i];
	out->mean_ns = (uint64_t)(sum / out->samples);
	out->p50_ns = percentile(nz, n_nz, zeros, 50);
	out->p90_ns = percentile(nz, n_nz, zeros, 90);
	out->p99_ns = percentile(nz, n_nz, zeros, 99);
	for (i = 0; i < AP_LAG_BUCKETS; i++)
		out->le_count[i] = zeros + upper_bound(nz, n_nz, ap_lag_bucket_le[i]);
	free(nz);
	return 0;
}

int lag__series(struct lag *acc, uint64_t first_ns, uint64_t end_ns, struct ap_lag_point **out,
		size_t *n)
{
	uint64_t lo = first_ns > acc->grid_start ? first_ns : acc->grid_start, k_lo, k_hi;
	struct ap_lag_point *pts;
	size_t i, m = 0;

	*out = NULL;
	*n = 0;
	if (!acc->s.n || end_ns < lo)
		return 0;
	if (!acc->sorted) {
		qsort(acc->s.v, acc->s.n, sizeof(*acc->s.v), cmp_sample);
		acc->sorted = true;
	}
	k_lo = lag_k_ceil(acc, lo);
	k_hi = (end_ns - acc->grid_start) / acc->interval;
	pts = malloc(acc->s.n * sizeof(*pts));
	if (!pts)
		return -ENOMEM;
	for (i = 0; i < acc->s.n; i++) {
		const struct lag_sample *smp = &acc->s.v[i];

		if (smp->k < k_lo || smp->k > k_hi || (m && smp->k == acc->s.v[i - 1].k))
			continue;
		pts[m].t_ns = acc->grid_start + smp->k * acc->interval;
		pts[m++].lag_ns = smp->lag;
	}
	*out = pts;
	*n = m;
	return 0;
}
