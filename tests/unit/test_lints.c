// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Lints and the await graph on a made-up process: cycles, stuck, busy polls, blocking calls. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "awaits.h"
#include "lints.h"

#define MS  1000000ull
#define S   (1000 * MS)
#define END (100 * S)

static struct ap_task *add_task(struct ap_process *p, uint64_t id, const char *name,
				uint64_t awaits, uint64_t last_run)
{
	struct ap_task *t = AP_VEC_PUSH(p->tasks);

	assert_non_null(t);
	t->id = id;
	t->name = strdup(name);
	t->coro = strdup("worker");
	t->state = "pending";
	t->loop_tid = 7;
	t->awaits = awaits;
	t->awaits_known = true;
	t->first_run_ns = last_run - S;
	t->last_run_ns = last_run;
	t->steps = 2;
	return t;
}

static size_t count(const struct ap_process *p, const char *kind)
{
	size_t n = 0;

	for (size_t i = 0; i < p->lints.n; i++)
		n += !strcmp(p->lints.v[i].kind, kind);
	return n;
}

static const struct ap_lint *find(const struct ap_process *p, const char *kind, const char *name)
{
	for (size_t i = 0; i < p->lints.n; i++)
		if (!strcmp(p->lints.v[i].kind, kind) && p->lints.v[i].name &&
		    !strcmp(p->lints.v[i].name, name))
			return &p->lints.v[i];
	return NULL;
}

/* a -> b -> c -> a is one deadlock; d awaits into it and is in none. */
static void test_cycle_and_stuck(void **state)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p;
	const struct ap_lint *l;
	size_t cycle[8];
	uint64_t by[4];

	(void)state;
	assert_non_null(r);
	r->stuck_ns = 10 * S;
	p = AP_VEC_PUSH(r->processes);
	assert_non_null(p);
	add_task(p, 0xa, "a", 0xb, END - 50 * S);
	add_task(p, 0xb, "b", 0xc, END - 50 * S);
	add_task(p, 0xc, "c", 0xa, END - 50 * S);
	add_task(p, 0xd, "d", 0xa, END - 5 * S);    /* awaits a, not stuck yet */
	add_task(p, 0xe, "e", 0xf00, END - 20 * S); /* a future: stuck */
	assert_int_equal(awaits__cycle(p, 0, cycle, 8), 3);
	assert_int_equal(cycle[1], 1);
	assert_int_equal(cycle[2], 2);
	assert_int_equal(awaits__cycle(p, 3, cycle, 8), 0);
	assert_int_equal(awaits__cycle(p, 2, cycle, 2), 0); /* longer than max */
	assert_int_equal(awaits__by(p, 0xa, by, 4), 2);	    /* c and d */
	assert_int_equal(by[0], 0xc);
	assert_int_equal(by[1], 0xd);
	assert_int_equal(lints__find(r, p, END), 0);
	assert_int_equal(count(p, "deadlock"), 1);
	l = find(p, "deadlock", "a");
	assert_non_null(l);
	assert_int_equal(l->count, 3);
	assert_string_equal(l->message, "3 tasks await each other: a -> b -> c -> a");
	assert_int_equal(count(p, "stuck"), 4); /* a, b, c, e */
	assert_null(find(p, "stuck", "d"));
	l = find(p, "stuck", "e");
	assert_non_null(l);
	assert_int_equal(l->ns, 20 * S);
	assert_non_null(strstr(l->message, "pending with no step for 20.0 s"));
	l = find(p, "stuck", "a");
	assert_non_null(strstr(l->message, "awaiting task b"));
	/* again: replaced, not added */
	assert_int_equal(lints__find(r, p, END), 0);
	assert_int_equal(count(p, "stuck"), 4);
	ap_report__free(r);
}

static void test_busy_poll_never_yields(void **state)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p;
	struct ap_slow_cb *c;
	struct ap_task *t;
	const struct ap_lint *l;

	(void)state;
	assert_non_null(r);
	r->stuck_ns = 10 * S;
	p = AP_VEC_PUSH(r->processes);
	assert_non_null(p);
	t = add_task(p, 0x1, "spinner", 0, END);
	t->steps = 5000; /* 5000 in 1 s, no future awaited */
	t = add_task(p, 0x2, "consumer", 0xf00, END);
	t->steps = 5000; /* as often, but it awaits a future: not a poll */
	t = add_task(p, 0x3, "slow", 0, END);
	t->steps = 50; /* rarely */
	for (int i = 0; i < 3; i++) {
		c = AP_VEC_PUSH(p->slow_callbacks);
		assert_non_null(c);
		*c = (struct ap_slow_cb){.tid = 7,
					 .start_ns = (uint64_t)i * S,
					 .duration_ns = (uint64_t)(150 + 50 * (i == 1)) * MS,
					 .task = 0x3};
	}
	assert_int_equal(lints__find(r, p, END), 0);
	assert_int_equal(count(p, "busy_poll"), 1);
	assert_non_null(find(p, "busy_poll", "spinner"));
	assert_int_equal(count(p, "never_yields"), 1); /* the task's longest step only */
	l = find(p, "never_yields", "slow");
	assert_non_null(l);
	assert_int_equal(l->ns, 200 * MS);
	assert_non_null(l->fix);
	ap_report__free(r);
}

static void add_call(struct ap_process *p, const char *kind, const char *cb, const char *detail,
		     uint64_t dur)
{
	struct ap_blocking *b = AP_VEC_PUSH(p->blocking_calls);

	assert_non_null(b);
	*b = (struct ap_blocking){.tid = 7, .duration_ns = dur, .kind = kind, .syscall = "x"};
	b->callback = cb ? strdup(cb) : NULL;
	b->detail = detail ? strdup(detail) : NULL;
}

static void test_blocking(void **state)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p;
	const struct ap_lint *l;

	(void)state;
	assert_non_null(r);
	p = AP_VEC_PUSH(r->processes);
	assert_non_null(p);
	add_call(p, "sleep", "handler", NULL, 20 * MS);
	add_call(p, "sleep", "handler", NULL, 30 * MS);
	add_call(p, "sleep", "other", NULL, 5 * MS);
	add_call(p, "gil", "handler", NULL, 50 * MS);  /* no advice */
	add_call(p, "lock", "handler", NULL, 50 * MS); /* no advice */
	add_call(p, "net", "resolve", "10.0.0.2:53", 8 * MS);
	add_call(p, "process", NULL, NULL, 40 * MS);
	assert_int_equal(lints__find(r, p, END), 0);
	assert_int_equal(count(p, "blocking"), 4);
	l = find(p, "blocking", "handler");
	assert_non_null(l);
	assert_int_equal(l->count, 2);
	assert_int_equal(l->ns, 50 * MS);
	assert_string_equal(l->fix, "await asyncio.sleep()");
	assert_string_equal(find(p, "blocking", "resolve")->fix, "await loop.getaddrinfo()");
	assert_string_equal(lints__fix("net", "1.2.3.4:443"),
			    "an asyncio client (asyncio streams, aiohttp, httpx.AsyncClient) or "
			    "await asyncio.to_thread()");
	assert_null(lints__fix("gil", NULL));
	assert_null(lints__fix(NULL, NULL));
	ap_report__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cycle_and_stuck),
		cmocka_unit_test(test_busy_poll_never_yields),
		cmocka_unit_test(test_blocking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
