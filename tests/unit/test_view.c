// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live view's figures and batch text, over two snapshots built here:
 * prev ends 1 s into the trace, cur 2 s; the lag grid is 10 ms. Set
 * VIEW_UPDATE_FIXTURES=1 to rewrite fixtures/view_batch_expected.txt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "model.h"
#include "view_batch.h"
#include "view_calc.h"

#define T0	 1000000000000ull
#define MS	 1000000ull
#define S	 1000000000ull
#define EXPECTED "fixtures/view_batch_expected.txt"

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void add_lag(struct ap_loop *l, uint64_t t, uint64_t lag)
{
	struct ap_lag_point *pt = AP_VEC_PUSH(l->lag_series);

	assert_non_null(pt);
	pt->t_ns = t;
	pt->lag_ns = lag;
}

static void set_stack(struct ap_stack *st, const char *a, const char *b)
{
	st->frames = calloc(2, sizeof(char *));
	assert_non_null(st->frames);
	st->frames[0] = xstrdup(a);
	st->frames[1] = xstrdup(b);
	st->n = 2;
}

/* The asyncio loop of the demo: at 1 s (later: at 2 s). */
static void fill_loops(struct ap_process *p, bool later)
{
	struct ap_loop *l = AP_VEC_PUSH(p->loops), *e;

	assert_non_null(l);
	l->tid = 4242;
	l->kind = "asyncio";
	l->busy_ns = later ? 700 * MS : 200 * MS;
	l->idle_ns = later ? 1300 * MS : 800 * MS;
	l->callbacks = later ? 350 : 100;
	l->gil_wait_ns = later ? 50 * MS : 0;
	l->busy_causes[AP_CAUSE_RUNNING] = later ? 300 * MS : 100 * MS;
	l->busy_causes[AP_CAUSE_KIND + AP_KIND_SLEEP] = later ? 150 * MS : 0;
	l->busy_causes[AP_CAUSE_GIL] = later ? 50 * MS : 0;
	l->first_ns = T0;
	l->lag.max_ns = later ? 150 * MS : 2 * MS;
	l->lag.p99_ns = later ? 5 * MS : 2 * MS;
	add_lag(l, T0 + S / 2, 2 * MS);
	if (later) {
		add_lag(l, T0 + 1200 * MS, 150 * MS);
		add_lag(l, T0 + 1500 * MS, 5 * MS);
	}
	e = AP_VEC_PUSH(p->loops);
	assert_non_null(e);
	e->tid = 4250;
	e->kind = "epoll";
	e->busy_ns = later ? 100 * MS : 50 * MS;
	e->idle_ns = later ? 1900 * MS : 950 * MS;
	e->callbacks = AP_NULL_U64;
	e->gil_wait_ns = AP_NULL_U64;
}

static struct ap_task *add_task(struct ap_process *p, uint64_t id, const char *name,
				const char *coro, uint32_t tid)
{
	struct ap_task *t = AP_VEC_PUSH(p->tasks);

	assert_non_null(t);
	t->id = id;
	t->name = xstrdup(name);
	t->coro = xstrdup(coro);
	t->loop_tid = tid;
	t->created_ns = AP_NULL_U64;
	t->finished_ns = AP_NULL_U64;
	t->state = "pending";
	return t;
}

static void fill_tasks(struct ap_process *p, bool later)
{
	struct ap_task *t = add_task(p, 0x7f0000001000ull, "worker-1", "worker", 4242);

	t->first_run_ns = T0 + 100 * MS;
	t->steps = later ? 60 : 10;
	t->busy_ns = later ? 400 * MS : 100 * MS;
	t->max_step_ns = later ? 150 * MS : 20 * MS;
	t->blocked_ns = later ? 150 * MS : 0;
	t = add_task(p, 0x7f0000002000ull, "poller", "poller", 4242);
	t->created_ns = T0;
	t->first_run_ns = T0 + 1 * MS;
	t->steps = later ? 30 : 20;
	t->busy_ns = later ? 12 * MS : 10 * MS;
	t->max_step_ns = 1 * MS;
	if (!later)
		return;
	t = add_task(p, 0x7f0000003000ull, "evil\x1b[31m\nname", "evil\x1b]0;x\a", 4242);
	t->first_run_ns = T0 + 1500 * MS;
	t->steps = 4;
	t->busy_ns = 40 * MS;
	t->max_step_ns = 30 * MS;
}

static void fill_events(struct ap_process *p, bool later)
{
	struct ap_blocking *b = AP_VEC_PUSH(p->blocking_calls);
	struct ap_slow_cb *s;

	assert_non_null(b);
	b->tid = 4242;
	b->start_ns = T0 + 300 * MS;
	b->duration_ns = 12 * MS;
	b->syscall = "read";
	b->kind = "file";
	b->detail = xstrdup("/etc/hosts");
	b->task = 0x7f0000002000ull;
	set_stack(&b->stack, "load_hosts (demo.py:20)", "poller (demo.py:50)");
	if (!later)
		return;
	b = AP_VEC_PUSH(p->blocking_calls);
	assert_non_null(b);
	b->tid = 4242;
	b->start_ns = T0 + 1200 * MS;
	b->duration_ns = 150 * MS;
	b->syscall = "clock_nanosleep";
	b->kind = "sleep";
	b->task = 0x7f0000001000ull;
	set_stack(&b->stack, "legacy_sleep (demo.py:36)", "worker (demo.py:80)");
	s = AP_VEC_PUSH(p->slow_callbacks);
	assert_non_null(s);
	s->tid = 4242;
	s->start_ns = T0 + 1600 * MS;
	s->duration_ns = 120 * MS;
	s->task = 0x7f0000003000ull;
	s->callback = xstrdup("cpu_hog");
	set_stack(&s->stack, "cpu_hog (demo.py:40)", "evil\x1b[2J (demo.py:\n90)");
}

static struct ap_report *snapshot(bool later)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p;

	assert_non_null(r);
	r->tool_version = "test";
	r->start_ns = T0;
	r->end_ns = later ? T0 + 2 * S : T0 + S;
	r->lag_interval_ns = 10 * MS;
	r->host = "testhost";
	p = AP_VEC_PUSH(r->processes);
	assert_non_null(p);
	p->pid = 4242;
	p->comm = xstrdup("python3");
	p->runtime = "cpython";
	p->runtime_version = xstrdup("3.11.2");
	p->backend = "uprobe";
	fill_loops(p, later);
	fill_tasks(p, later);
	fill_events(p, later);
	return r;
}

struct pair {
	struct ap_report *prev, *cur;
	struct view_frame fr;
};

static int setup(void **state)
{
	struct pair *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->prev = snapshot(false);
	s->cur = snapshot(true);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct pair *s = *state;

	view_frame__clear(&s->fr);
	ap_report__free(s->prev);
	ap_report__free(s->cur);
	free(s);
	return 0;
}

static const struct view_stats stats = {.events = 1234, .drops = 5};

static char *batch_text(const struct ap_report *cur, const struct ap_report *prev, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(view_batch__print(f, cur, prev, &stats, 1000), 0);
	fclose(f);
	return buf;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void test_batch_expected(void **state)
{
	struct pair *s = *state;
	size_t len, elen = 0;
	char *got = batch_text(s->cur, s->prev, &len), *want;
	FILE *f;

	if (getenv("VIEW_UPDATE_FIXTURES")) {
		f = fopen(EXPECTED, "wb");
		assert_non_null(f);
		fwrite(got, 1, len, f);
		fclose(f);
	}
	want = read_all(EXPECTED, &elen);
	assert_non_null(want);
	assert_int_equal(len, elen);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

/* The same inputs give the same bytes; the first refresh (no prev) works too. */
static void test_batch_deterministic(void **state)
{
	struct pair *s = *state;
	size_t l1, l2, l3;
	char *a = batch_text(s->cur, s->prev, &l1), *b = batch_text(s->cur, s->prev, &l2);
	char *c = batch_text(s->prev, NULL, &l3);

	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1);
	assert_non_null(strstr(c, "LOOPS\n"));
	assert_non_null(strstr(c, "worst lag now 2.00 ms (minor)"));
	free(a);
	free(b);
	free(c);
}

static const struct view_loop_row *loop_row(const struct view_frame *fr, uint32_t tid)
{
	for (size_t i = 0; i < fr->loops.n; i++)
		if (fr->loops.v[i].tid == tid)
			return &fr->loops.v[i];
	fail_msg("no loop %u", tid);
	return NULL;
}

static const struct view_task_row *task_row(const struct view_frame *fr, uint64_t id)
{
	for (size_t i = 0; i < fr->tasks.n; i++)
		if (fr->tasks.v[i].id == id)
			return &fr->tasks.v[i];
	fail_msg("no task %llx", (unsigned long long)id);
	return NULL;
}

static void test_rates_two_snapshots(void **state)
{
	struct pair *s = *state;
	const struct view_loop_row *l, *e;
	const struct view_task_row *t;

	assert_int_equal(view_frame__build(&s->fr, s->cur, s->prev, &stats), 0);
	assert_int_equal(s->fr.window_ns, S);
	l = loop_row(&s->fr, 4242);
	assert_true(l->cb_per_s > 249.99 && l->cb_per_s < 250.01);
	assert_true(l->busy_pct > 49.99 && l->busy_pct < 50.01); /* 500 busy, 500 idle */
	assert_true(l->gil_pct > 4.99 && l->gil_pct < 5.01);	 /* 50 ms of 1 s */
	assert_true(l->blk_per_s > 0.99 && l->blk_per_s < 1.01); /* the 0.3 s one is before */
	assert_string_equal(l->runtime, "cpython 3.11.2");
	/* the window's 400 ms: 200 running, 150 sleep, 50 GIL */
	assert_string_equal(l->causes, "rrrrrssssg");
	assert_int_equal(l->top_cause, AP_CAUSE_RUNNING);
	assert_true(l->top_pct > 49.99 && l->top_pct < 50.01);
	e = loop_row(&s->fr, 4250);
	assert_string_equal(e->causes, "          ");
	assert_int_equal(e->top_cause, -1);
	assert_true(e->cb_per_s == VIEW_NA);
	assert_true(e->gil_pct == VIEW_NA);
	assert_true(e->busy_pct > 4.99 && e->busy_pct < 5.01);
	t = task_row(&s->fr, 0x7f0000001000ull);
	assert_true(t->steps_per_s > 49.99 && t->steps_per_s < 50.01);
	assert_true(t->busy_pct > 29.99 && t->busy_pct < 30.01);
	assert_int_equal(t->age_ns, 1900 * MS); /* from first run */
	t = task_row(&s->fr, 0x7f0000002000ull);
	assert_int_equal(t->age_ns, 2 * S);	 /* from creation */
	t = task_row(&s->fr, 0x7f0000003000ull); /* new: everything in the window */
	assert_true(t->steps_per_s > 3.99 && t->steps_per_s < 4.01);
}

static void test_cause_bar(void **state)
{
	uint64_t ns[AP_NCAUSES] = {0};
	char bar[VIEW_BAR + 1];

	(void)state;
	assert_int_equal(view_calc__cause_bar(ns, bar, VIEW_BAR), -1);
	assert_string_equal(bar, "          ");
	ns[AP_CAUSE_RUNQ] = AP_NULL_U64; /* unknown: no share */
	ns[AP_CAUSE_KIND + AP_KIND_SLEEP] = 62;
	ns[AP_CAUSE_GIL] = 30;
	ns[AP_CAUSE_KIND + AP_KIND_NET] = 8;
	/* 6.2, 3.0, 0.8: net's remainder takes the tenth cell */
	assert_int_equal(view_calc__cause_bar(ns, bar, VIEW_BAR), AP_CAUSE_KIND + AP_KIND_SLEEP);
	assert_string_equal(bar, "ssssssgggn");
	/* one cause: the whole bar */
	memset(ns, 0, sizeof(ns));
	ns[AP_CAUSE_SHORT] = 1;
	assert_int_equal(view_calc__cause_bar(ns, bar, 4), AP_CAUSE_SHORT);
	assert_string_equal(bar, "....");
	assert_int_equal(strlen(view_cause_letters), AP_NCAUSES);
}

/* With no previous snapshot: totals over the whole trace. */
static void test_rates_first_refresh(void **state)
{
	struct pair *s = *state;
	const struct view_loop_row *l;

	assert_int_equal(view_frame__build(&s->fr, s->cur, NULL, NULL), 0);
	l = loop_row(&s->fr, 4242);
	assert_true(l->cb_per_s > 174.99 && l->cb_per_s < 175.01); /* 350 in 2 s */
	assert_true(l->busy_pct > 34.99 && l->busy_pct < 35.01);   /* 700 of 2000 */
	assert_int_equal(l->lag_max_ns, 150 * MS);		   /* lag.max_ns */
	assert_int_equal(l->lag_p99_ns, 5 * MS);
}

static void test_lag_last_refresh(void **state)
{
	struct pair *s = *state;
	const struct ap_loop *l = &s->cur->processes.v[0].loops.v[0];
	uint64_t p99, max;

	/* (1 s, 2 s]: 150 ms and 5 ms among 100 instants: rank 99 is the 5 ms one */
	view_calc__window_lag(l, T0 + S, T0 + 2 * S, 10 * MS, &p99, &max);
	assert_int_equal(max, 150 * MS);
	assert_int_equal(p99, 5 * MS);
	/* (0, 1 s]: one 2 ms point among 100: the p99 is a zero */
	view_calc__window_lag(l, T0, T0 + S, 10 * MS, &p99, &max);
	assert_int_equal(max, 2 * MS);
	assert_int_equal(p99, 0);
	/* a window of 2 instants: p99 is the maximum */
	view_calc__window_lag(l, T0 + 1190 * MS, T0 + 1210 * MS, 10 * MS, &p99, &max);
	assert_int_equal(p99, 150 * MS);
	/* the window is open at t0 and closed at t1 */
	view_calc__window_lag(l, T0 + 1200 * MS, T0 + 1500 * MS, 10 * MS, &p99, &max);
	assert_int_equal(max, 5 * MS);
	view_calc__window_lag(l, T0 + 1600 * MS, T0 + 2 * S, 10 * MS, &p99, &max);
	assert_int_equal(max, 0);
	assert_int_equal(p99, 0);
	/* the frame's worst lag now is the window's max */
	assert_int_equal(view_frame__build(&s->fr, s->cur, s->prev, NULL), 0);
	assert_int_equal(s->fr.worst_lag_ns, 150 * MS);
	assert_int_equal(loop_row(&s->fr, 4242)->lag_p99_ns, 5 * MS);
}

static void test_severity_thresholds(void **state)
{
	(void)state;
	assert_int_equal(view_calc__severity(0), VIEW_SEV_OK);
	assert_int_equal(view_calc__severity(MS - 1), VIEW_SEV_OK);
	assert_int_equal(view_calc__severity(MS), VIEW_SEV_MINOR);
	assert_int_equal(view_calc__severity(10 * MS - 1), VIEW_SEV_MINOR);
	assert_int_equal(view_calc__severity(10 * MS), VIEW_SEV_SIGNIFICANT);
	assert_int_equal(view_calc__severity(100 * MS - 1), VIEW_SEV_SIGNIFICANT);
	assert_int_equal(view_calc__severity(100 * MS), VIEW_SEV_CRITICAL);
	assert_int_equal(view_calc__severity(UINT64_MAX), VIEW_SEV_CRITICAL);
}

static void test_escape_hostile_name(void **state)
{
	struct pair *s = *state;
	const struct view_task_row *t;
	size_t len, lines = 0;
	char *out;

	assert_int_equal(view_frame__build(&s->fr, s->cur, s->prev, NULL), 0);
	t = task_row(&s->fr, 0x7f0000003000ull);
	assert_string_equal(t->name, "evil\\x1b[31m\\x0aname");
	assert_string_equal(t->coro, "evil\\x1b]0;x\\x07");
	out = batch_text(s->cur, s->prev, &len);
	assert_null(memchr(out, 0x1b, len));
	assert_null(memchr(out, '\a', len));
	assert_non_null(strstr(out, "evil\\x1b[31m\\x0aname ")); /* exactly its column */
	assert_null(strstr(out, "evil\\x1b[2J"));		 /* top frames only */
	for (size_t i = 0; i < len; i++)
		lines += out[i] == '\n';
	/* header, 3 titles, 3 column headers, 2 loops, 3 tasks, 3 events, blank */
	assert_int_equal(lines, 1 + 3 + 3 + 2 + 3 + 3 + 1);
	free(out);
}

static void test_sort_tasks(void **state)
{
	struct pair *s = *state;
	struct view_task_row *r;

	assert_int_equal(view_frame__build(&s->fr, s->cur, s->prev, NULL), 0);
	r = s->fr.tasks.v;
	view_calc__sort_tasks(r, s->fr.tasks.n, VIEW_ST_BUSY); /* by busy in the window */
	assert_string_equal(r[0].name, "worker-1");	       /* 300 ms */
	assert_int_equal(r[1].id, 0x7f0000003000ull);	       /* 40 ms */
	assert_string_equal(r[2].name, "poller");	       /* 2 ms */
	view_calc__sort_tasks(r, s->fr.tasks.n, VIEW_ST_NAME);
	assert_string_equal(r[0].name, "evil\\x1b[31m\\x0aname");
	assert_string_equal(r[1].name, "poller");
	view_calc__sort_tasks(r, s->fr.tasks.n, VIEW_ST_AGE);
	assert_string_equal(r[0].name, "poller");
	view_calc__sort_tasks(r, s->fr.tasks.n, VIEW_ST_STEPS);
	assert_string_equal(r[0].name, "worker-1");
	assert_string_equal(r[1].name, "poller"); /* 10/s */
}

static void test_sort_events_loops(void **state)
{
	struct pair *s = *state;
	struct view_event_row *e;
	struct view_loop_row *l;

	assert_int_equal(view_frame__build(&s->fr, s->cur, s->prev, NULL), 0);
	e = s->fr.events_rows.v;
	assert_int_equal(s->fr.events_rows.n, 3);
	assert_string_equal(e[0].kind, "slow cb"); /* newest first by default */
	assert_string_equal(e[2].what, "read /etc/hosts");
	view_calc__sort_events(e, s->fr.events_rows.n, VIEW_SE_DURATION);
	assert_string_equal(e[0].kind, "sleep");
	assert_string_equal(e[0].frames[0], "legacy_sleep (demo.py:36)");
	l = s->fr.loops.v;
	assert_int_equal(l[0].tid, 4242); /* by tid by default */
	view_calc__sort_loops(l, s->fr.loops.n, VIEW_SL_BUSY);
	assert_int_equal(l[0].tid, 4242);
	view_calc__sort_loops(l, s->fr.loops.n, VIEW_SL_CB); /* unknown rates last */
	assert_int_equal(l[1].tid, 4250);
}

static void test_cell_width(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(view_calc__cell("abc", 5, false, buf, sizeof(buf)), "abc  ");
	assert_string_equal(view_calc__cell("abc", 5, true, buf, sizeof(buf)), "  abc");
	assert_string_equal(view_calc__cell("abcdef", 5, false, buf, sizeof(buf)), "abcd~");
	assert_string_equal(view_calc__cell("abcde", 5, false, buf, sizeof(buf)), "abcde");
	assert_string_equal(view_calc__cell("\xc3\xa9t\xc3\xa9", 4, false, buf, sizeof(buf)),
			    "\xc3\xa9t\xc3\xa9 ");
	assert_string_equal(view_calc__cell("\xc3\xa9\xc3\xa9\xc3\xa9", 2, false, buf, sizeof(buf)),
			    "\xc3\xa9~");
	assert_string_equal(view_calc__cell(NULL, 2, false, buf, sizeof(buf)), "- ");
	assert_string_equal(view_calc__cell("abc", 0, false, buf, sizeof(buf)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_expected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rates_two_snapshots, setup, teardown),
		cmocka_unit_test(test_cause_bar),
		cmocka_unit_test_setup_teardown(test_rates_first_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag_last_refresh, setup, teardown),
		cmocka_unit_test(test_severity_thresholds),
		cmocka_unit_test_setup_teardown(test_escape_hostile_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sort_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sort_events_loops, setup, teardown),
		cmocka_unit_test(test_cell_width),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
