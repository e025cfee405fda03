// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus exposition: names, types, labels escaped, histogram shape. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "prom.h"

static struct ap_report *fixture(void)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p = AP_VEC_PUSH(r->processes);
	struct ap_loop *l = AP_VEC_PUSH(p->loops);
	struct ap_blocking_sum *b;

	p->pid = 42;
	p->comm = strdup("we\"ird\\na\nme");
	l->tid = 43;
	l->busy_ns = 250;
	l->idle_ns = 750;
	l->callbacks = 1000;
	l->slow_callbacks = 3;
	l->gil_wait_ns = 1500000000;
	l->busy_causes[AP_CAUSE_KIND + AP_KIND_SLEEP] = 400000000;
	l->busy_causes[AP_CAUSE_RUNQ] = AP_NULL_U64; /* the kernel keeps none */
	l->lag.samples = 10;
	l->lag.mean_ns = 2000000;
	for (int i = 0; i < AP_LAG_BUCKETS; i++)
		l->lag.le_count[i] = i < 3 ? 5 : 8 + (i > 10);
	b = AP_VEC_PUSH(p->blocking_sums);
	*b = (struct ap_blocking_sum){43, "sleep", "clock_nanosleep", 2, 300000000};
	b = AP_VEC_PUSH(p->blocking_sums);
	*b = (struct ap_blocking_sum){43, "sleep", "pselect6", 1, 100000000};
	b = AP_VEC_PUSH(p->blocking_sums);
	*b = (struct ap_blocking_sum){43, "file", "fsync", 4, 8000000};
	r->drops_events = 7;
	return r;
}

static char *render(const struct ap_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(prom__format(f, r), 0);
	fclose(f);
	return buf;
}

static void test_prom_metrics_and_types(void **state)
{
	struct ap_report *r = fixture();
	char *t = render(r);

	(void)state;
	assert_non_null(strstr(t, "# TYPE asyncprof_loop_lag_seconds histogram\n"));
	assert_non_null(strstr(t, "# TYPE asyncprof_loop_busy_ratio gauge\n"));
	assert_non_null(strstr(t, "# TYPE asyncprof_callbacks_total counter\n"));
	assert_non_null(strstr(t, "# TYPE asyncprof_slow_callbacks_total counter\n"));
	assert_non_null(strstr(t, "# TYPE asyncprof_blocking_calls_total counter\n"));
	assert_non_null(strstr(t, "# TYPE asyncprof_blocking_seconds_total counter\n"));
	assert_non_null(strstr(t, "# TYPE asyncprof_gil_wait_seconds_total counter\n"));
	assert_non_null(strstr(t, "asyncprof_dropped_events_total 7\n"));
	assert_non_null(strstr(t, "le=\"+Inf\"} 10\n"));
	assert_non_null(strstr(t, "asyncprof_loop_busy_ratio{pid=\"42\","));
	assert_non_null(strstr(t, "} 0.250000\n"));
	assert_non_null(strstr(t, "} 1.500000000\n"));
	/* seconds by kind: the two sleep syscalls summed into one series */
	assert_non_null(strstr(t, "tid=\"43\",kind=\"sleep\"} 0.400000000\n"));
	assert_non_null(strstr(t, "tid=\"43\",kind=\"file\"} 0.008000000\n"));
	assert_non_null(strstr(t, "kind=\"sleep\",syscall=\"pselect6\"} 1\n"));
	/* busy time by cause: every known cause, none for the unknown run queue */
	assert_non_null(strstr(t, "# TYPE asyncprof_busy_seconds_total counter\n"));
	assert_non_null(strstr(t, ",cause=\"sleep\"} 0.400000000\n"));
	assert_non_null(strstr(t, ",cause=\"running\"} 0.000000000\n"));
	assert_null(strstr(t, "cause=\"run_queue\""));
	free(t);
	ap_report__free(r);
}

static void test_prom_label_escaping(void **state)
{
	struct ap_report *r = fixture();
	char *t = render(r);

	(void)state;
	assert_non_null(strstr(t, "comm=\"we\\\"ird\\\\na\\nme\""));
	/* no raw newline inside a label: every line starts with a name or # */
	for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"))
		assert_true(line[0] == '#' || !strncmp(line, "asyncprof_", 10));
	free(t);
	ap_report__free(r);
}

/* A comm is any bytes: controls, C1, bidi overrides and bad UTF-8 become U+FFFD. */
static void test_prom_label_controls(void **state)
{
	struct ap_report *r = fixture();
	char *t;

	(void)state;
	free(r->processes.v[0].comm);
	r->processes.v[0].comm = strdup("a\x1b[2J\x07\xc2\x9b\xe2\x80\xae\xff\x7f\xc3\xa9z");
	t = render(r);
	assert_non_null(strstr(t, "comm=\"a\xef\xbf\xbd[2J\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				  "\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9z\""));
	assert_null(strchr(t, 0x1b));
	free(t);
	ap_report__free(r);
}

static void test_prom_histogram_monotonic(void **state)
{
	struct ap_report *r = fixture();
	char *t = render(r), *p = t;
	unsigned long prev = 0, v;
	int buckets = 0;

	(void)state;
	while ((p = strstr(p, "asyncprof_loop_lag_seconds_bucket{"))) {
		p = strstr(p, "} ");
		v = strtoul(p + 2, NULL, 10);
		assert_true(v >= prev);
		prev = v;
		buckets++;
	}
	assert_int_equal(buckets, AP_LAG_BUCKETS + 1);
	assert_int_equal(prev, 10); /* +Inf equals the count */
	free(t);
	ap_report__free(r);
}

static void test_prom_bad_address(void **state)
{
	struct prom *p = NULL;

	(void)state;
	assert_int_equal(prom__start("nonsense", &p), -EINVAL);
	assert_int_equal(prom__start("127.0.0.1:0", &p), -EINVAL);
	assert_int_equal(prom__start("999.1.1.1:9000", &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_metrics_and_types),
		cmocka_unit_test(test_prom_label_escaping),
		cmocka_unit_test(test_prom_label_controls),
		cmocka_unit_test(test_prom_histogram_monotonic),
		cmocka_unit_test(test_prom_bad_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
