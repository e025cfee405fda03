// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The await graph: what each pending task awaits, read from the live target. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "awaits.h"
#include "pystack.h"

#define TYPE_NAME_MAX 128
/*
 * Pending tasks read per report or refresh: a few reads of the target
 * each; past it (a service with more live tasks) the rest stay unknown.
 */
#define AWAITS_MAX_READ 4096

static uint64_t read_ptr(struct pystack *ps, uint64_t addr)
{
	uint64_t v = 0;

	return addr && !pystack__read(ps, addr, &v, sizeof(v)) ? v : 0;
}

/* The tp_name of obj's type ("_asyncio.Task", "_GatheringFuture"), malloc'd, or NULL. */
static char *type_name(struct pystack *ps, const struct ap_py_offsets *o, uint64_t obj)
{
	uint64_t name = read_ptr(ps, read_ptr(ps, obj + o->ob_type) + o->tp_name);
	char buf[TYPE_NAME_MAX];

	if (!name || pystack__read(ps, name, buf, sizeof(buf) - 1))
		return NULL;
	buf[sizeof(buf) - 1] = '\0';
	return strdup(buf);
}

int awaits__read(struct pystack *ps, struct ap_process *p)
{
	const struct ap_py_offsets *o = pystack__offsets(ps);
	char at[1024];
	uint64_t w;
	__s32 state;

	if (!o->task_fut_waiter || !o->task_state)
		return 0;
	for (size_t i = 0, n = 0; i < p->tasks.n && n < AWAITS_MAX_READ; i++) {
		struct ap_task *t = &p->tasks.v[i];

		if (!t->state || strcmp(t->state, "pending"))
			continue;
		n++;
		/* a task freed since (its address reused) is not pending any more */
		if (pystack__read(ps, t->id + o->task_state, &state, sizeof(state)) || state != 0)
			continue;
		if (pystack__read(ps, t->id + o->task_fut_waiter, &w, sizeof(w)))
			continue;
		t->awaits = w;
		t->awaits_known = true;
		free(t->awaits_type);
		t->awaits_type = w ? type_name(ps, o, w) : NULL;
		free(t->awaits_at);
		t->awaits_at = NULL;
		if (o->task_coro &&
		    !pystack__coro_frame(ps, read_ptr(ps, t->id + o->task_coro), at, sizeof(at)))
			t->awaits_at = strdup(at);
	}
	return 0;
}

size_t awaits__by(const struct ap_process *p, uint64_t id, uint64_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; id && i < p->tasks.n; i++)
		if (p->tasks.v[i].awaits_known && p->tasks.v[i].awaits == id) {
			if (n < max)
				out[n] = p->tasks.v[i].id;
			n++;
		}
	return n;
}

/* The index of the pending task with this id, or SIZE_MAX. */
static size_t pending_task(const struct ap_process *p, uint64_t id)
{
	for (size_t i = 0; id && i < p->tasks.n; i++)
		if (p->tasks.v[i].id == id && p->tasks.v[i].awaits_known)
			return i;
	return SIZE_MAX;
}

size_t awaits__cycle(const struct ap_process *p, size_t i, size_t *cycle, size_t max)
{
	size_t n = 0, j = i;

	/* each task awaits at most one: follow the chain until it ends or comes back */
	while (n < max && n <= p->tasks.n) {
		cycle[n++] = j;
		j = pending_task(p, p->tasks.v[j].awaits);
		if (j == SIZE_MAX)
			return 0;
		if (j == i)
			return n;
		for (size_t k = 1; k < n; k++)
			if (cycle[k] == j)
				return 0; /* a cycle i only leads into: not i's */
	}
	return 0;
}
