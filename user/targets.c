// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Traced processes: explicit ones, and those discovered system-wide. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "log.h"
#include "targets.h"
#include "tracer.h"

#define TARGETS_MAX 1024 /* processes traced at once, system-wide */

struct target_ent {
	struct target tg;
	int pidfd; /* -1 when none */
};

struct targets {
	AP_VEC(struct target_ent) v;
	AP_VEC(int) ignored; /* pids found not to be traceable, not retried */
	struct tracer *tr;
	struct session *sess;
	struct target_opts opts;
};

int targets__new(const struct target_opts *o, struct targets **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->opts = *o;
	return 0;
}

void targets__free(struct targets *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->v.n; i++) {
		target__close(&ts->v.v[i].tg);
		if (ts->v.v[i].pidfd >= 0)
			close(ts->v.v[i].pidfd);
	}
	free(ts->v.v);
	free(ts->ignored.v);
	free(ts);
}

static struct target_ent *targets__push(struct targets *ts)
{
	struct target_ent *e = AP_VEC_PUSH(ts->v);

	if (e)
		e->pidfd = -1;
	return e;
}

int targets__open_pids(struct targets *ts, const int *pids, int n)
{
	struct target_ent *e;
	int err;

	for (int i = 0; i < n; i++) {
		e = targets__push(ts);
		if (!e)
			return -ENOMEM;
		err = target__open(pids[i], &ts->opts, &e->tg);
		if (err)
			return err;
		e->pidfd = (int)syscall(SYS_pidfd_open, pids[i], 0);
	}
	return 0;
}

/* Tell the session about a target and attach its probes. */
static int target_start(struct targets *ts, struct target_ent *e)
{
	int err = session__add_process(ts->sess, &e->tg.proc);

	if (!err)
		err = target__attach(&e->tg, ts->tr);
	return err;
}

int targets__start(struct targets *ts, struct tracer *tr, struct session *sess)
{
	int err = 0;

	targets__bind(ts, tr, sess);
	for (size_t i = 0; i < ts->v.n && !err; i++)
		err = target_start(ts, &ts->v.v[i]);
	return err;
}

void targets__bind(struct targets *ts, struct tracer *tr, struct session *sess)
{
	ts->tr = tr;
	ts->sess = sess;
}

static bool is_ignored(const struct targets *ts, int pid)
{
	for (size_t i = 0; i < ts->ignored.n; i++)
		if (ts->ignored.v[i] == pid)
			return true;
	return false;
}

static int ignore(struct targets *ts, int pid)
{
	int *p = AP_VEC_PUSH(ts->ignored);

	if (!p)
		return -ENOMEM;
	*p = pid;
	return 0;
}

int targets__discover(void *ctx, int pid)
{
	struct targets *ts = ctx;
	struct target_ent *e;

	if (is_ignored(ts, pid) || ts->v.n >= TARGETS_MAX)
		return 0;
	e = targets__push(ts);
	if (!e)
		return -ENOMEM;
	e->tg.discovered = true;
	/* other asyncprof-bpf instances poll their ring buffers: not a service's loop */
	if (target__open(pid, &ts->opts, &e->tg) || !strcmp(e->tg.comm, "asyncprof-bpf") ||
	    (ts->opts.comm && strcmp(ts->opts.comm, e->tg.comm)) || target_start(ts, e)) {
		/* a process that exited, is filtered out, or cannot be probed */
		target__close(&e->tg);
		ts->v.n--;
		return ignore(ts, pid);
	}
	vlog("found a loop in pid %d (%s, %s, backend %s)\n", pid, e->tg.comm, e->tg.proc.runtime,
	     e->tg.proc.backend);
	return 0;
}

int targets__launched(void *ctx, int pid, enum launch_stage stage)
{
	struct target probe = {.discovered = true};
	struct targets *ts = ctx;
	struct target_opts quick = ts->opts;
	struct target_ent *e;
	const char *rt;
	int err;

	/* quietly first: a wrapper or a shell is no error, only not the target yet */
	quick.backend = AP_BACKEND_SYSCALL;
	err = target__open(pid, &quick, &probe);
	rt = err ? "unknown" : probe.proc.runtime;
	err = !strcmp(rt, "unknown")				 ? LAUNCH_OTHER
	      : !strcmp(rt, "cpython") && stage == LAUNCH_LOADED ? LAUNCH_WAIT_LOOP
								 : LAUNCH_ATTACHED;
	target__close(&probe);
	if (err != LAUNCH_ATTACHED)
		return err;
	e = targets__push(ts);
	if (!e)
		return -ENOMEM;
	e->tg.early = true;
	err = target__open(pid, &ts->opts, &e->tg);
	if (err)
		return err;
	e->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	err = target_start(ts, e);
	return err ? err : LAUNCH_ATTACHED;
}

bool targets__all_exited(const struct targets *ts)
{
	struct pollfd pfd = {.events = POLLIN};

	for (size_t i = 0; i < ts->v.n; i++) {
		pfd.fd = ts->v.v[i].pidfd;
		if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0)
			return false;
	}
	return ts->v.n > 0;
}

void targets__tick(struct targets *ts)
{
	for (size_t i = 0; i < ts->v.n && ts->tr; i++)
		target__tick(&ts->v.v[i].tg, ts->tr);
}

unsigned int targets__uprobes(const struct targets *ts)
{
	unsigned int m = 0;

	for (size_t i = 0; i < ts->v.n; i++)
		m |= target__uprobes(&ts->v.v[i].tg);
	return m;
}

size_t targets__count(const struct targets *ts)
{
	return ts->v.n;
}

const struct target *targets__get(const struct targets *ts, size_t i)
{
	return i < ts->v.n ? &ts->v.v[i].tg : NULL;
}
