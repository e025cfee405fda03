// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loop lag: exact samples on the grid from busy intervals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <cmocka.h>
#include "lag.h"

#define MS 1000000ull
#define G0 (1000 * MS) /* grid start */

static void test_lag_empty_window(void **state)
{
	struct lag *acc = lag__new(G0, 10 * MS);
	struct ap_lag out;

	(void)state;
	assert_non_null(acc);
	/* end before start: no sample */
	assert_int_equal(lag__finish(acc, G0, G0 - 1, &out), 0);
	assert_int_equal(out.samples, 0);
	assert_int_equal(out.p99_ns, 0);
	/* one instant, idle */
	assert_int_equal(lag__finish(acc, G0, G0, &out), 0);
	assert_int_equal(out.samples, 1);
	assert_int_equal(out.mean_ns, 0);
	assert_int_equal(out.le_count[0], 1);
	lag__free(acc);
	assert_null(lag__new(G0, 0));
	lag__free(NULL);
}

static void test_lag_short_interval(void **state)
{
	struct lag *acc = lag__new(G0, 10 * MS);
	struct ap_lag out;

	(void)state;
	/* 3 ms busy between grid points: no sample, but max_ns */
	assert_int_equal(lag__add_busy(acc, G0 + 2 * MS, G0 + 5 * MS), 0);
	/* [G0+10ms, G0+10ms+1): covers t=G0+10ms, lag 1 ns */
	assert_int_equal(lag__add_busy(acc, G0 + 10 * MS, G0 + 10 * MS + 1), 0);
	/* ends exactly on a grid point: that point is not covered */
	assert_int_equal(lag__add_busy(acc, G0 + 25 * MS, G0 + 30 * MS), 0);
	assert_int_equal(lag__finish(acc, G0, G0 + 100 * MS, &out), 0);
	assert_int_equal(out.samples, 11);
	assert_int_equal(out.max_ns, 5 * MS);
	assert_int_equal(out.p99_ns, 1);
	assert_int_equal(out.p90_ns, 0);
	assert_int_equal(out.mean_ns, 0);
	lag__free(acc);
}

static void test_lag_long_interval(void **state)
{
	struct lag *acc = lag__new(G0, 10 * MS);
	struct ap_lag out;

	(void)state;
	/* busy [G0+5ms, G0+45ms): instants 10,20,30,40 with lags 35,25,15,5 ms */
	assert_int_equal(lag__add_busy(acc, G0 + 5 * MS, G0 + 45 * MS), 0);
	assert_int_equal(lag__finish(acc, 0, G0 + 90 * MS, &out), 0);
	assert_int_equal(out.samples, 10); /* 0..90 */
	assert_int_equal(out.max_ns, 40 * MS);
	assert_int_equal(out.mean_ns, 8 * MS); /* 80 ms / 10 */
	/* sorted: 0 x6, 5, 15, 25, 35 ms. rank ceil(5)=5 -> 0, ceil(9)=9 -> 25, ceil(9.9)=10 -> 35
	 */
	assert_int_equal(out.p50_ns, 0);
	assert_int_equal(out.p90_ns, 25 * MS);
	assert_int_equal(out.p99_ns, 35 * MS);
	lag__free(acc);
}

static void test_lag_first_seen_mid_interval(void **state)
{
	struct lag *acc = lag__new(G0, 10 * MS);
	struct ap_lag out;

	(void)state;
	/* began 100 ms before the grid: only instants >= G0 count (0, 10) */
	assert_int_equal(lag__add_busy(acc, G0 - 100 * MS, G0 + 15 * MS), 0);
	assert_int_equal(lag__finish(acc, G0 - 100 * MS, G0 + 30 * MS, &out), 0);
	assert_int_equal(out.samples, 4);
	assert_int_equal(out.max_ns, 115 * MS);
	assert_int_equal(out.p99_ns, 15 * MS);
	assert_int_equal(out.p90_ns, 15 * MS); /* sorted 0, 0, 5, 15: rank 4 */
	assert_int_equal(out.p50_ns, 0);       /* rank 2 */
	assert_int_equal(out.mean_ns, 5 * MS);
	/* a thread first seen at G0+12ms: the window starts at the instant 20 */
	assert_int_equal(lag__finish(acc, G0 + 12 * MS, G0 + 30 * MS, &out), 0);
	assert_int_equal(out.samples, 2);
	assert_int_equal(out.p99_ns, 0);
	lag__free(acc);
}

static void test_lag_out_of_order_overlap(void **state)
{
	struct lag *acc = lag__new(G0, 10 * MS);
	struct ap_lag out;

	(void)state;
	assert_int_equal(lag__add_busy(acc, G0 + 35 * MS, G0 + 42 * MS), 0); /* 40: 2 ms */
	assert_int_equal(lag__add_busy(acc, G0 + 5 * MS, G0 + 12 * MS), 0);  /* 10: 2 ms */
	/* overlapping [G0+8, G0+13): instant 10 again, lag 3 ms wins, no double count */
	assert_int_equal(lag__add_busy(acc, G0 + 8 * MS, G0 + 13 * MS), 0);
	assert_int_equal(lag__add_busy(acc, G0 + 20 * MS, G0 + 20 * MS), 0); /* empty: ignored */
	assert_int_equal(lag__add_busy(acc, G0 + 30 * MS, G0 + 20 * MS), 0); /* reversed */
	assert_int_equal(lag__finish(acc, G0, G0 + 49 * MS, &out), 0);
	assert_int_equal(out.samples, 5);
	assert_int_equal(out.mean_ns, 1 * MS); /* (3 + 2) / 5 */
	assert_int_equal(out.p99_ns, 3 * MS);
	assert_int_equal(out.p90_ns, 3 * MS);
	assert_int_equal(out.p50_ns, 0);
	assert_int_equal(out.le_count[3], 3); /* <= 1 ms: the zeros */
	assert_int_equal(out.le_count[4], 4); /* <= 2.5 ms: and the 2 ms */
	assert_int_equal(out.le_count[5], 5); /* <= 5 ms: all */
	assert_int_equal(out.max_ns, 7 * MS);
	lag__free(acc);
}

static void test_lag_percentiles_histogram(void **state)
{
	struct lag *acc = lag__new(0, 1000);
	struct ap_lag out;
	uint64_t i;

	(void)state;
	/* 100 instants 0..99 us; interval i covers instants i..2i, overlapping */
	for (i = 0; i < 100; i++)
		assert_int_equal(lag__add_busy(acc, i * 1000, i * 1000 + (i + 1) * 1000), 0);
	lag__note_busy_len(acc, 123 * MS);
	assert_int_equal(lag__finish(acc, 0, 99 * 1000, &out), 0);
	/* the intervals overlap: instant k is covered by every interval j <= k with
	 * j*1000 + (j+1)*1000 > k*1000; the larger lag wins. Check the invariants. */
	assert_int_equal(out.samples, 100);
	assert_int_equal(out.max_ns, 123 * MS);
	for (i = 1; i < AP_LAG_BUCKETS; i++)
		assert_true(out.le_count[i] >= out.le_count[i - 1]);
	assert_int_equal(out.le_count[AP_LAG_BUCKETS - 1], out.samples);
	assert_true(out.p50_ns <= out.p90_ns && out.p90_ns <= out.p99_ns);
	/* instant k: the largest lag is from interval k, (k + 1) us */
	assert_int_equal(out.p50_ns, 50000);
	assert_int_equal(out.p90_ns, 90000);
	assert_int_equal(out.p99_ns, 99000);
	assert_int_equal(out.mean_ns, 50500);
	assert_int_equal(out.le_count[0], 100); /* all <= 100 us */
	lag__free(acc);
}

static void test_lag_known_distribution(void **state)
{
	struct lag *acc = lag__new(0, 10 * MS);
	struct ap_lag out;
	uint64_t k;

	(void)state;
	/* 200 instants; instants k = 0..99 busy with lag (k+1) * 100 us, each from
	 * its own interval [t, t + lag); instants 100..199 idle */
	for (k = 0; k < 100; k++)
		assert_int_equal(lag__add_busy(acc, k * 10 * MS, k * 10 * MS + (k + 1) * 100000),
				 0);
	assert_int_equal(lag__finish(acc, 0, 199 * 10 * MS, &out), 0);
	assert_int_equal(out.samples, 200);
	/* sorted: 100 zeros, then 0.1 .. 10 ms. p50 rank 100 -> 0; p90 rank 180 -> the
	 * 80th non-zero = 8 ms; p99 rank 198 -> the 98th = 9.8 ms */
	assert_int_equal(out.p50_ns, 0);
	assert_int_equal(out.p90_ns, 8 * MS);
	assert_int_equal(out.p99_ns, 9800000);
	/* mean: 100 us * (1 + ... + 100) / 200 = 100 us * 5050 / 200 = 2.525 ms */
	assert_int_equal(out.mean_ns, 2525000);
	assert_int_equal(out.max_ns, 10 * MS);
	/* cumulative: <= 100 us: 101; <= 250 us: 102; <= 1 ms: 110; <= 10 ms: 200 */
	assert_int_equal(ap_lag_bucket_le[0], 100000);
	assert_int_equal(out.le_count[0], 101);
	assert_int_equal(out.le_count[1], 102);
	assert_int_equal(out.le_count[3], 110);
	assert_int_equal(out.le_count[6], 200);
	assert_int_equal(out.le_count[AP_LAG_BUCKETS - 1], 200);
	lag__free(acc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lag_empty_window),
		cmocka_unit_test(test_lag_short_interval),
		cmocka_unit_test(test_lag_long_interval),
		cmocka_unit_test(test_lag_first_seen_mid_interval),
		cmocka_unit_test(test_lag_out_of_order_overlap),
		cmocka_unit_test(test_lag_percentiles_histogram),
		cmocka_unit_test(test_lag_known_distribution),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
