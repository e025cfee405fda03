// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Light mode: backend choice per process, and tasks and callbacks from CPU samples. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "light.h"
#include "names.h"
#include "pyrt.h"
#include "target.h"

#define LIGHT_MAX_ENTS 65536 /* tasks (and callbacks) kept; later ones are not counted */

/* What the samples say about one task, or one callback identity. */
struct light_ent {
	uint32_t pid;
	uint32_t tid;
	uint64_t task; /* 0 in the callbacks table */
	uint64_t cb;
	uint64_t samples;
	uint64_t blocked_ns;
	uint64_t first_ns;
	uint64_t last_ns;
	uint64_t steps;	       /* distinct busy intervals seen in */
	uint64_t last_busy_ns; /* the busy interval of the last sample */
	uint64_t cur_samples;  /* samples in that interval */
	uint64_t max_samples;  /* most samples in one interval */
};

struct light {
	AP_VEC(struct light_ent) tasks;
	AP_VEC(struct light_ent) cbs;
};

int light__pick(struct target *tg, const struct pyrt_info *pi, enum ap_backend backend)
{
	struct session_proc *p = &tg->proc;

	tg->uprobe = false;
	/* the stack walker needs the version's offsets and _PyRuntime */
	tg->light_py = backend != AP_BACKEND_SYSCALL && pi->runtime == PYRT_CPYTHON && pi->off &&
		       pi->runtime_addr;
	p->backend = "syscall";
	if (tg->light_py) {
		p->py_off = pi->off;
		p->py_major = pi->major;
		p->py_minor = pi->minor;
	}
	return 0;
}

void light__offsets(int minor, uint32_t *code_flags, uint32_t *frame_locals)
{
	/* PyCodeObject.co_flags; f_localsplus (<= 3.10) or _PyInterpreterFrame.localsplus */
	switch (minor) {
	case 8:
	case 9:
		*code_flags = 36;
		*frame_locals = 360;
		return;
	case 10:
		*code_flags = 36;
		*frame_locals = 352;
		return;
	case 11:
	case 12:
	case 13:
		*code_flags = 48;
		*frame_locals = 72;
		return;
	default:
		*code_flags = 0;
		*frame_locals = 0;
	}
}

struct light *light__new(void)
{
	return calloc(1, sizeof(struct light));
}

void light__free(struct light *l)
{
	if (!l)
		return;
	free(l->tasks.v);
	free(l->cbs.v);
	free(l);
}

/* The entry (pid, task, cb), made when missing; NULL when full or out of memory. */
#define ENT_GET(vec, s, task_, cb_)                                                         \
	({                                                                                  \
		struct light_ent *__e = NULL;                                               \
		for (size_t __i = (vec).n; __i-- > 0 && !__e;)                              \
			if ((vec).v[__i].pid == (s)->pid && (vec).v[__i].task == (task_) && \
			    (vec).v[__i].cb == (cb_))                                       \
				__e = &(vec).v[__i];                                        \
		if (!__e && (vec).n < LIGHT_MAX_ENTS) {                                     \
			__e = AP_VEC_PUSH(vec);                                             \
			if (__e) {                                                          \
				__e->pid = (s)->pid;                                        \
				__e->tid = (s)->tid;                                        \
				__e->task = (task_);                                        \
				__e->cb = (cb_);                                            \
				__e->first_ns = (s)->ts_ns;                                 \
			}                                                                   \
		}                                                                           \
		__e;                                                                        \
	})

static void ent_sample(struct light_ent *e, const struct light_sample *s)
{
	e->samples++;
	if (!e->steps || s->busy_start_ns != e->last_busy_ns) {
		e->steps++;
		e->last_busy_ns = s->busy_start_ns;
		e->cur_samples = 0;
	}
	if (++e->cur_samples > e->max_samples)
		e->max_samples = e->cur_samples;
	if (s->ts_ns > e->last_ns)
		e->last_ns = s->ts_ns;
}

int light__add_sample(struct light *l, const struct light_sample *s)
{
	struct light_ent *e;

	if (s->task) {
		e = ENT_GET(l->tasks, s, s->task, s->cb);
		if (!e && l->tasks.n < LIGHT_MAX_ENTS)
			return -ENOMEM;
		if (e)
			ent_sample(e, s);
	}
	if (!s->cb)
		return 0;
	e = ENT_GET(l->cbs, s, 0, s->cb);
	if (!e && l->cbs.n < LIGHT_MAX_ENTS)
		return -ENOMEM;
	if (e)
		ent_sample(e, s);
	return 0;
}

static void ent_blocked(struct light_ent *e, const struct light_sample *s, uint64_t dur)
{
	e->blocked_ns += dur;
	if (s->ts_ns > e->last_ns)
		e->last_ns = s->ts_ns;
	if (s->ts_ns < e->first_ns)
		e->first_ns = s->ts_ns;
}

int light__add_blocked(struct light *l, const struct light_sample *s, uint64_t dur_ns)
{
	struct light_ent *e;

	if (s->task) {
		e = ENT_GET(l->tasks, s, s->task, s->cb);
		if (!e && l->tasks.n < LIGHT_MAX_ENTS)
			return -ENOMEM;
		if (e)
			ent_blocked(e, s, dur_ns);
	}
	if (!s->cb)
		return 0;
	e = ENT_GET(l->cbs, s, 0, s->cb);
	if (!e && l->cbs.n < LIGHT_MAX_ENTS)
		return -ENOMEM;
	if (e)
		ent_blocked(e, s, dur_ns);
	return 0;
}

static char *name_dup(const struct names *names, uint32_t pid, uint32_t kind, uint64_t key)
{
	const char *n = key ? names__get(names, pid, kind, key) : NULL;

	return n ? strdup(n) : NULL;
}

static void fill_task(const struct light_ent *e, const struct names *names, uint64_t period,
		      struct ap_task *t)
{
	t->id = e->task;
	t->name = name_dup(names, e->pid, AP_NAME_TASK, e->task);
	t->coro = name_dup(names, e->pid, AP_NAME_TASK_CORO, e->task);
	t->loop_tid = e->tid;
	t->created_ns = AP_NULL_U64;
	t->first_run_ns = e->first_ns;
	t->last_run_ns = e->last_ns;
	t->finished_ns = AP_NULL_U64;
	t->state = NULL;		    /* not seen without the return probe */
	t->steps = e->steps ? e->steps : 1; /* seen only blocked: it ran at least once */
	t->busy_ns = e->samples * period + e->blocked_ns;
	t->max_step_ns = e->max_samples * period;
	t->blocked_ns = e->blocked_ns;
}

int light__fill(const struct light *l, const struct names *names, uint64_t period_ns,
		struct ap_process *p)
{
	struct ap_callback *c;
	struct ap_task *t;

	for (size_t i = 0; i < l->tasks.n; i++) {
		const struct light_ent *e = &l->tasks.v[i];

		if (e->pid != p->pid)
			continue;
		t = AP_VEC_PUSH(p->tasks);
		if (!t)
			return -ENOMEM;
		fill_task(e, names, period_ns, t);
	}
	for (size_t i = 0; i < l->cbs.n; i++) {
		const struct light_ent *e = &l->cbs.v[i];

		if (e->pid != p->pid)
			continue;
		c = AP_VEC_PUSH(p->callbacks);
		if (!c)
			return -ENOMEM;
		c->name = name_dup(names, e->pid, AP_NAME_CALLBACK, e->cb);
		c->count = e->steps ? e->steps : 1;
		c->total_ns = e->samples * period_ns + e->blocked_ns;
		c->max_ns = e->max_samples * period_ns;
	}
	return 0;
}
