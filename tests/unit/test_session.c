// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The session fed a stream of ring-buffer records, as the BPF programs send
 * them, then finished without maps: what lands in the report, and what a
 * malformed, foreign or early record does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <cmocka.h>
#include "session.h"

#define PID   4242
#define TID   4243
#define T0    1000000000ull /* the window's start */
#define MS    1000000ull
#define TASK  0x7f0000001000ull
#define CODE  0x7f0000002000ull
#define CODE2 0x7f0000003000ull

static struct session *new_session(bool traced)
{
	struct session_opts o = {
		.start_ns = T0,
		.blocking_ns = MS,
		.slow_cb_ns = 100 * MS,
		.lag_interval_ns = 10 * MS,
		.tool_version = "test",
		.traced = traced,
	};
	struct session_proc p = {
		.pid = PID,
		.comm = "py",
		.runtime = "cpython",
		.backend = "uprobe",
		.loop_kind = "asyncio",
	};
	struct session *s;

	assert_int_equal(session__new(&o, &s), 0);
	assert_int_equal(session__add_process(s, &p), 0);
	return s;
}

static void hdr(struct ap_rec_hdr *h, uint32_t type, uint32_t pid, size_t size)
{
	h->type = type;
	h->pid = pid;
	h->tid = pid == PID ? TID : pid + 1;
	h->size = (uint32_t)size;
}

/* Hand one record to the session, as the ring buffer does. */
#define FEED(s, rec) assert_int_equal(session__handle_event((s), &(rec), sizeof(rec)), 0)

static void feed_loop(struct session *s, uint32_t pid)
{
	struct ap_rec_loop r = {0};

	hdr(&r.hdr, AP_REC_LOOP, pid, sizeof(r));
	r.first_ns = T0;
	FEED(s, r);
}

static void feed_name(struct session *s, uint32_t kind, uint64_t key, const char *name)
{
	struct ap_rec_name r = {0};

	hdr(&r.hdr, AP_REC_NAME, PID, sizeof(r));
	r.key = key;
	r.kind = kind;
	r.enc = AP_STR_LATIN1;
	r.len = (uint32_t)strlen(name);
	memcpy(r.name, name, r.len);
	FEED(s, r);
}

static void feed_sleep(struct session *s, uint64_t start, uint64_t dur, uint64_t task)
{
	struct ap_rec_blocking r = {0};

	hdr(&r.hdr, AP_REC_BLOCKING, PID, sizeof(r));
	r.start_ns = start;
	r.duration_ns = dur;
	r.task = task;
	r.callback = CODE;
	r.syscall_nr = SYS_clock_nanosleep;
	FEED(s, r);
}

static struct ap_report *finish(struct session *s)
{
	struct session_maps maps = {-1, -1, -1};
	struct ap_report *r = NULL;

	assert_int_equal(session__finish(s, &maps, T0 + 1000 * MS, NULL, &r), 0);
	assert_non_null(r);
	assert_int_equal(r->processes.n, 1);
	return r;
}

/* A task step that slept, a slow callback, the task's end, its runs: all in the report. */
static void test_session_stream(void **state)
{
	struct session *s = new_session(true);
	struct ap_rec_slow_cb slow = {0};
	struct ap_rec_task_end end = {0};
	struct ap_rec_cb cb = {0};
	struct ap_report *r;
	struct ap_process *p;

	(void)state;
	feed_loop(s, PID);
	feed_name(s, AP_NAME_CALLBACK, CODE, "worker");
	feed_name(s, AP_NAME_TASK, TASK, "Task-7");
	feed_sleep(s, T0 + 10 * MS, 200 * MS, TASK);
	hdr(&slow.hdr, AP_REC_SLOW_CB, PID, sizeof(slow));
	slow.start_ns = T0 + 9 * MS;
	slow.duration_ns = 202 * MS;
	slow.task = TASK;
	slow.callback = CODE;
	slow.blocked_ns = 200 * MS;
	FEED(s, slow);
	hdr(&cb.hdr, AP_REC_CB, PID, sizeof(cb));
	cb.start_ns = slow.start_ns;
	cb.duration_ns = slow.duration_ns;
	cb.task = TASK;
	cb.callback = CODE;
	FEED(s, cb);
	hdr(&end.hdr, AP_REC_TASK_END, PID, sizeof(end));
	end.task = TASK;
	end.st = (struct ap_task_stats){.first_run_ns = T0 + 9 * MS,
					.last_run_ns = T0 + 9 * MS,
					.finished_ns = T0 + 211 * MS,
					.steps = 1,
					.busy_ns = 202 * MS,
					.blocked_ns = 200 * MS,
					.loop_tid = TID,
					.state = AP_TASK_DONE};
	FEED(s, end);
	assert_int_equal(session__events(s), 7);

	r = finish(s);
	p = &r->processes.v[0];
	assert_int_equal(p->blocking_calls.n, 1);
	assert_string_equal(p->blocking_calls.v[0].syscall, "clock_nanosleep");
	assert_string_equal(p->blocking_calls.v[0].kind, "sleep");
	assert_string_equal(p->blocking_calls.v[0].callback, "worker");
	assert_int_equal(p->blocking_calls.v[0].duration_ns, 200 * MS);
	assert_int_equal(p->slow_callbacks.n, 1);
	assert_string_equal(p->slow_callbacks.v[0].callback, "worker");
	assert_int_equal(p->slow_callbacks.v[0].blocked_ns, 200 * MS);
	assert_int_equal(p->tasks.n, 1);
	assert_string_equal(p->tasks.v[0].name, "Task-7");
	assert_string_equal(p->tasks.v[0].state, "done");
	assert_int_equal(p->tasks.v[0].finished_ns, T0 + 211 * MS);
	assert_int_equal(p->slices.n, 1);
	assert_string_equal(p->slices.v[0].callback, "worker");
	session__free(s);
	ap_report__free(r);
}

/* Too short, longer than delivered, of no known type, of a process not traced: ignored. */
static void test_session_bad_records(void **state)
{
	struct session *s = new_session(false);
	struct ap_rec_blocking b = {0};
	struct ap_rec_hdr h = {0};
	struct ap_report *r;
	char tiny[4] = {0};

	(void)state;
	assert_int_equal(session__handle_event(s, tiny, sizeof(tiny)), 0);
	hdr(&h, 99, PID, sizeof(h));
	assert_int_equal(session__handle_event(s, &h, sizeof(h)), 0);
	hdr(&h, 0, PID, sizeof(h));
	assert_int_equal(session__handle_event(s, &h, sizeof(h)), 0);
	hdr(&b.hdr, AP_REC_BLOCKING, PID, sizeof(b) + 1);
	assert_int_equal(session__handle_event(s, &b, sizeof(b)), 0);
	/* a whole header, but a blocking record cut short */
	hdr(&b.hdr, AP_REC_BLOCKING, PID, sizeof(b.hdr) + 8);
	assert_int_equal(session__handle_event(s, &b, sizeof(b.hdr) + 8), 0);
	feed_loop(s, PID);
	hdr(&b.hdr, AP_REC_BLOCKING, 777, sizeof(b));
	b.start_ns = T0 + MS;
	b.duration_ns = 5 * MS;
	FEED(s, b);
	assert_int_equal(session__events(s), 7);
	r = finish(s);
	assert_int_equal(r->processes.v[0].blocking_calls.n, 0);
	session__free(s);
	ap_report__free(r);
}

/* A call in flight at the start is kept until its thread shows it is a loop's. */
static void test_session_early_blocking(void **state)
{
	struct session *s = new_session(false);
	struct ap_report *r;

	(void)state;
	feed_sleep(s, T0, 30 * MS, 0);
	r = finish(s);
	assert_int_equal(r->processes.v[0].blocking_calls.n, 0);
	session__free(s);
	ap_report__free(r);

	s = new_session(false);
	feed_sleep(s, T0, 30 * MS, 0);
	feed_loop(s, PID);
	r = finish(s);
	assert_int_equal(r->processes.v[0].blocking_calls.n, 1);
	assert_int_equal(r->processes.v[0].blocking_calls.v[0].duration_ns, 30 * MS);
	session__free(s);
	ap_report__free(r);
}

/* GIL waits of one run arrive again and again, longer each time: one entry. */
static void test_session_gil_wait_grows(void **state)
{
	struct session *s = new_session(false);
	struct ap_rec_blocking g = {0};
	struct ap_report *r;

	(void)state;
	feed_loop(s, PID);
	hdr(&g.hdr, AP_REC_BLOCKING, PID, sizeof(g));
	g.start_ns = T0 + 5 * MS;
	g.gil = 1;
	g.syscall_nr = SYS_futex;
	for (int i = 1; i <= 3; i++) {
		g.duration_ns = i * 2 * MS;
		FEED(s, g);
	}
	r = finish(s);
	assert_int_equal(r->processes.v[0].blocking_calls.n, 1);
	assert_string_equal(r->processes.v[0].blocking_calls.v[0].kind, "gil");
	assert_int_equal(r->processes.v[0].blocking_calls.v[0].duration_ns, 6 * MS);
	session__free(s);
	ap_report__free(r);
}

/* Past 20000 finished tasks only the busiest are kept; the others are counted. */
static void test_session_finished_tasks_bounded(void **state)
{
	struct session *s = new_session(false);
	struct ap_rec_task_end e = {0};
	struct ap_report *r;
	uint64_t least = UINT64_MAX;
	const size_t n = 20000 + 500;

	(void)state;
	hdr(&e.hdr, AP_REC_TASK_END, PID, sizeof(e));
	for (size_t i = 0; i < n; i++) {
		e.task = TASK + 64 * i;
		/* busy time interleaved: the first and last tasks are the least busy */
		e.st.busy_ns = (i * 7919) % n + 1;
		e.st.state = AP_TASK_DONE;
		FEED(s, e);
	}
	r = finish(s);
	assert_int_equal(r->processes.v[0].tasks.n, 20000);
	assert_int_equal(r->processes.v[0].tasks_omitted, 500);
	for (size_t i = 0; i < r->processes.v[0].tasks.n; i++)
		if (r->processes.v[0].tasks.v[i].busy_ns < least)
			least = r->processes.v[0].tasks.v[i].busy_ns;
	assert_int_equal(least, 501); /* busy times are 1..n, each once */
	session__free(s);
	ap_report__free(r);
}

static int discovered;

static int on_discover(void *ctx, int pid)
{
	(void)ctx;
	discovered = pid;
	return 0;
}

static bool none_alive(int pid)
{
	(void)pid;
	return false;
}

/* A loop of an unknown process is reported to the discoverer; snapshots follow liveness. */
static void test_session_discover_and_snapshot(void **state)
{
	struct session *s = new_session(false);
	struct session_maps maps = {-1, -1, -1};
	struct ap_report *snap;

	(void)state;
	session__set_discover(s, on_discover, NULL);
	feed_loop(s, 9999);
	assert_int_equal(discovered, 9999);
	feed_loop(s, PID);
	feed_sleep(s, T0 + MS, 3 * MS, 0);
	assert_int_equal(session__snapshot(s, &maps, T0 + 50 * MS, 2, NULL, &snap), 0);
	assert_int_equal(snap->processes.n, 1);
	assert_int_equal(snap->drops_events, 2);
	assert_int_equal(snap->processes.v[0].blocking_calls.n, 1);
	assert_int_equal(snap->processes.v[0].blocking_sums.n, 1);
	assert_int_equal(snap->processes.v[0].blocking_sums.v[0].count, 1);
	ap_report__free(snap);
	assert_int_equal(session__snapshot(s, &maps, T0 + 50 * MS, 0, none_alive, &snap), 0);
	assert_int_equal(snap->processes.n, 0);
	ap_report__free(snap);
	session__free(s);
}

/* Every loss BPF counted lands in the report's drops. */
static void test_session_drops(void **state)
{
	struct session *s = new_session(false);
	struct session_maps maps = {-1, -1, -1};
	struct session_drops d = {.events = 1,
				  .stacks = 2,
				  .tasks = 3,
				  .threads = 4,
				  .callbacks = 5,
				  .callback_ends = 6};
	struct ap_report *r = NULL;

	(void)state;
	assert_int_equal(session__finish(s, &maps, T0 + MS, &d, &r), 0);
	assert_int_equal(r->drops_events, 1);
	assert_int_equal(r->drops_stacks, 2);
	assert_int_equal(r->drops_tasks, 3);
	assert_int_equal(r->drops_threads, 4);
	assert_int_equal(r->drops_callbacks, 5);
	assert_int_equal(r->callback_ends, 6);
	session__free(s);
	ap_report__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_stream),
		cmocka_unit_test(test_session_bad_records),
		cmocka_unit_test(test_session_early_blocking),
		cmocka_unit_test(test_session_gil_wait_grows),
		cmocka_unit_test(test_session_finished_tasks_bounded),
		cmocka_unit_test(test_session_discover_and_snapshot),
		cmocka_unit_test(test_session_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
