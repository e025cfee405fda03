// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Calls still in flight when tracing ends (session_int.h,
 * sess_read_inflight): a loop stalled in a blocking call right now is the
 * first thing its user wants named, and no exit record will ever say it.
 *
 * Two sources. A loop thread BPF knows and left inside a call (in_sys,
 * begun at sys_start_ns) or, in full mode, inside a callback open longer
 * than a slow one (cb_start_ns): a blocking call and a slow callback in
 * progress. A thread BPF never saw (no syscall entered or left in the
 * whole window) whose Python stack runs an event loop: it was stalled
 * before tracing began and still is, in a call now
 * (/proc/PID/task/TID/syscall) or busy in Python. The Python stack is
 * walked from userspace (pythread.c); the file behind the call's fd is
 * read from /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "lag.h"
#include "session_int.h"
#include "sockpeer.h"
#include "strutil.h"
#include "syscalls.h"

/* What /proc/PID/task/TID/syscall says: 0 and the call when in one. */
static int thread_syscall(int pid, uint32_t tid, long *nr, unsigned long long args[3])
{
	char path[64], buf[256];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/task/%u/syscall", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fgets(buf, sizeof(buf), f)
		    ? sscanf(buf, "%ld %llx %llx %llx", nr, &args[0], &args[1], &args[2])
		    : 0;
	fclose(f);
	/* "running", or "-1 sp pc": not in a call */
	return n == 4 && *nr >= 0 ? 0 : -ENOENT;
}

/* A path as /proc shows it to us, made the process's own: its root's prefix cut. */
static void path_in_root(int pid, char *path)
{
	char link[64], root[4096];
	ssize_t n;
	size_t len;

	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	n = readlink(link, root, sizeof(root) - 1);
	if (n <= 1) /* "/": our own root */
		return;
	root[n] = 0;
	len = (size_t)n;
	if (!strncmp(path, root, len) && path[len] == '/')
		memmove(path, path + len, strlen(path + len) + 1);
}

/* The fd's kind and, for a file, its path (as the process sees it) into path. */
static unsigned fd_kind(int pid, unsigned long long fd, char *path, size_t size)
{
	char link[64];
	ssize_t n;

	path[0] = 0;
	if (fd > 1 << 20)
		return AP_FD_NONE; /* not an fd argument */
	snprintf(link, sizeof(link), "/proc/%d/fd/%llu", pid, fd);
	n = readlink(link, path, size - 1);
	if (n <= 0)
		return AP_FD_NONE;
	path[n] = 0;
	if (!strncmp(path, "socket:", 7))
		return AP_FD_SOCK;
	if (!strncmp(path, "pipe:", 5))
		return AP_FD_PIPE;
	if (path[0] != '/')
		return AP_FD_OTHER;
	path_in_root(pid, path);
	return strncmp(path, "/dev/", 5) ? AP_FD_REG : AP_FD_CHR;
}

/* "1.2.3.4:443" of the socket "socket:[INODE]" of pid, malloc'd, or NULL. */
static char *socket_peer(int pid, const char *link)
{
	struct ap_inet_addr a;
	unsigned long inode;
	char dir[64], buf[128];

	if (sscanf(link, "socket:[%lu]", &inode) != 1)
		return NULL;
	snprintf(dir, sizeof(dir), "/proc/%d/net", pid);
	if (sockpeer__find(dir, inode, &a) || strutil__format_inet(&a, buf, sizeof(buf)) < 0)
		return NULL;
	return strdup(buf);
}

/* tid's Python stack, walked now, into out (empty when it cannot be); idx: the session's. */
static int walk(struct session *s, size_t idx, uint32_t tid, struct ap_stack *out)
{
	const struct sess_py *py = &s->pys.v[idx];
	struct pystack *ps = s->stackers.v[idx];
	struct ap_pystack st;

	if (!py->runtime || !ps)
		return 0;
	if (pythread__stack(pystack__read, ps, py->runtime, pystack__offsets(ps), &py->threads, tid,
			    AP_STACK_DEPTH, &st) ||
	    !st.depth)
		return 0;
	return pystack__resolve(ps, &st, out);
}

/* Does the stack run an event loop (asyncio's, or uvloop's from asyncio.run)? */
static bool runs_a_loop(const struct ap_stack *st)
{
	static const char *const marks[] = {"run_forever (", "._run_once (", "Runner.run ("};

	for (size_t i = 0; i < st->n; i++)
		for (size_t j = 0; j < sizeof(marks) / sizeof(marks[0]); j++)
			if (strstr(st->frames[i], marks[j]))
				return true;
	return false;
}

struct call {
	uint32_t tid;
	long nr;
	unsigned long long args[3];
	uint64_t start_ns;
	bool began_before;
	bool gil;      /* a futex wait on the GIL */
	uint64_t task; /* the task and callback running it, 0 when unknown */
	char *callback;
};

/* A futex call on the GIL of process idx (its futexes are inside _PyRuntime, as for BPF). */
static bool is_gil(const struct session *s, size_t idx, long nr, const unsigned long long *args)
{
	const struct sess_py *py = &s->pys.v[idx];

	return nr == 202 /* futex */ && args[0] >= py->gil_lo && args[0] < py->gil_hi;
}

/*
 * The task and callback thread t runs, as BPF's running_cb reads them at a
 * call's exit: the open callback's, or under uvloop the innermost handle's.
 */
static void running(struct session *s, const struct ap_thread *t, struct call *c)
{
	uint32_t d = t->uv_depth;
	uint64_t id = t->cb_id;

	c->task = t->cb_task;
	if (d && d <= 4) {
		c->task = t->uv_task[(d - 1) & 3];
		id = c->task ? 0 : t->uv_id[(d - 1) & 3];
	}
	if (id)
		c->callback = sess_name_dup(s, t->tgid, AP_NAME_CALLBACK, id);
	else if (c->task) /* a task's callback is its coroutine */
		c->callback = sess_name_dup(s, t->tgid, AP_NAME_TASK_CORO, c->task);
}

/* The call c of process p, in progress at end_ns, into its blocking calls; takes stack and
 * c's callback. */
static int add_call(struct ap_process *p, struct call *c, uint64_t end_ns, struct ap_stack *stack)
{
	struct ap_blocking *b = AP_VEC_PUSH(p->blocking_calls);
	char path[4096];
	unsigned fd_type;

	if (!b)
		return -ENOMEM;
	fd_type = ap_nr_arg_kind((__u32)c->nr) == AP_ARG_FD0
			  ? fd_kind((int)p->pid, c->args[0], path, sizeof(path))
			  : AP_FD_NONE;
	b->tid = c->tid;
	b->start_ns = c->start_ns;
	b->duration_ns = end_ns - c->start_ns;
	b->syscall = syscalls__name((unsigned)c->nr);
	if (!b->syscall)
		b->syscall = "unknown";
	b->kind = syscalls__kind((unsigned)c->nr, fd_type, c->args);
	b->detail = fd_type == AP_FD_REG ? strdup(path) : NULL;
	if (fd_type == AP_FD_SOCK)
		b->detail = socket_peer((int)p->pid, path);
	if (c->gil)
		b->kind = "gil";
	b->began_before = c->began_before;
	b->in_progress = true;
	b->task = c->task;
	b->callback = c->callback;
	c->callback = NULL;
	b->stack = *stack;
	*stack = (struct ap_stack){0};
	return 0;
}

/* The callback c names, running since c->start_ns, as a slow callback still in progress. */
static int add_running(struct ap_process *p, struct call *c, uint64_t end_ns, uint64_t blocked_ns,
		       struct ap_stack *stack)
{
	struct ap_slow_cb *cb = AP_VEC_PUSH(p->slow_callbacks);

	if (!cb)
		return -ENOMEM;
	cb->tid = c->tid;
	cb->start_ns = c->start_ns;
	cb->duration_ns = end_ns - c->start_ns;
	cb->task = c->task;
	cb->callback = c->callback;
	c->callback = NULL;
	cb->blocked_ns = blocked_ns;
	cb->began_before = c->began_before;
	cb->in_progress = true;
	cb->stack = *stack;
	*stack = (struct ap_stack){0};
	return 0;
}

/*
 * A loop thread BPF knows, at end_ns: left inside a call, and (full mode)
 * inside a callback open for longer than a slow one's threshold.
 */
static int known_loop(struct session *s, struct ap_process *p, size_t idx, uint32_t tid,
		      const struct ap_thread *t, uint64_t end_ns)
{
	bool in_call = t->in_sys == 1 && t->sys_start_ns < end_ns &&
		       end_ns - t->sys_start_ns >= s->opts.blocking_ns;
	bool in_cb = t->cb_start_ns && !t->in_poll && t->cb_start_ns < end_ns &&
		     end_ns - t->cb_start_ns >= s->opts.slow_cb_ns;
	struct ap_stack stack = {0};
	struct call c = {.tid = tid, .nr = t->sys_nr};
	long nr = -1;
	int err = 0;

	if (!in_call && !in_cb)
		return 0;
	memcpy(c.args, t->sys_args, sizeof(c.args));
	/* the stack now is the call's only while the thread is still in it */
	if (!in_call || (!thread_syscall((int)t->tgid, tid, &nr, (unsigned long long[3]){0}) &&
			 nr == (long)t->sys_nr))
		err = walk(s, idx, tid, &stack);
	if (!err && in_call) {
		c.start_ns = t->sys_start_ns;
		c.gil = is_gil(s, idx, c.nr, c.args);
		running(s, t, &c);
		err = add_call(p, &c, end_ns, &stack);
		free(c.callback);
		c.callback = NULL;
		/* the callback's stack is the call's */
		if (!err && in_cb)
			err = ap_stack__copy(&stack,
					     &p->blocking_calls.v[p->blocking_calls.n - 1].stack);
	}
	if (!err && in_cb) {
		c.start_ns = t->cb_start_ns;
		running(s, t, &c);
		err = add_running(p, &c, end_ns,
				  t->cb_blocked_ns + (in_call ? end_ns - t->sys_start_ns : 0),
				  &stack);
	}
	ap_stack__free(&stack);
	free(c.callback);
	return err;
}

/* The thread's run queue delay so far (/proc/PID/task/TID/schedstat's second field), or -1. */
static long long thread_run_delay(uint32_t pid, uint32_t tid)
{
	char path[64];
	unsigned long long run, wait;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/schedstat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? (long long)wait : -1;
}

/* What the call thread t is in counts as, as BPF's sys_exit would count it. */
static int call_cause(struct session *s, size_t idx, const struct ap_thread *t, uint64_t wall)
{
	unsigned long long args[3] = {t->sys_args[0], t->sys_args[1], t->sys_args[2]};
	char path[4096];
	unsigned fd_type = AP_FD_NONE;

	if (is_gil(s, idx, t->sys_nr, args))
		return AP_CAUSE_GIL;
	if (wall < s->opts.blocking_ns)
		return AP_CAUSE_SHORT;
	if (ap_nr_arg_kind(t->sys_nr) == AP_ARG_FD0)
		fd_type = fd_kind((int)t->tgid, args[0], path, sizeof(path));
	return AP_CAUSE_KIND + ap_nr_kind(t->sys_nr, fd_type, args[0], args[1]);
}

/*
 * A loop thread busy at the end for as long as a slow iteration: the
 * iteration so far, split as BPF splits one at its end (its call in
 * flight less its run queue, the run queue from /proc, running the rest),
 * and counted in its loop's slow iterations.
 */
static int iteration_in_progress(struct session *s, struct ap_process *p, size_t idx, uint32_t tid,
				 const struct ap_thread *t, uint64_t end_ns, bool runq_unknown)
{
	uint64_t len, other, runq = 0, wall;
	long long rd = thread_run_delay(p->pid, tid);
	struct ap_iteration *it;
	struct ap_loop *l = NULL;

	if (t->in_poll || !t->it_acct || !t->busy_start_ns || end_ns <= t->busy_start_ns ||
	    end_ns - t->busy_start_ns < s->opts.slow_cb_ns)
		return 0;
	len = end_ns - t->busy_start_ns;
	it = AP_VEC_PUSH(p->iterations);
	if (!it)
		return -ENOMEM;
	it->tid = tid;
	it->start_ns = t->busy_start_ns;
	it->duration_ns = len;
	it->in_progress = true;
	memcpy(it->cause_ns, t->it_cause, sizeof(it->cause_ns));
	it->gil_holder = t->it_gil_holder;
	if (it->gil_holder)
		it->gil_holder_comm = strutil__thread_comm(p->pid, it->gil_holder);
	if (rd >= 0 && (uint64_t)rd >= t->it_rd_ns)
		runq = (uint64_t)rd - t->it_rd_ns;
	if (t->in_sys == 1 && t->sys_start_ns < end_ns) {
		uint64_t rq =
			rd >= 0 && (uint64_t)rd >= t->sys_rd_ns ? (uint64_t)rd - t->sys_rd_ns : 0;

		wall = end_ns - t->sys_start_ns;
		it->cause_ns[call_cause(s, idx, t, wall)] += wall > rq ? wall - rq : 0;
	}
	it->cause_ns[AP_CAUSE_RUNQ] = runq;
	other = runq;
	for (int c = AP_CAUSE_GIL; c < AP_CAUSE_N; c++)
		other += it->cause_ns[c];
	it->cause_ns[AP_CAUSE_RUNNING] = len > other ? len - other : 0;
	if (runq_unknown)
		it->cause_ns[AP_CAUSE_RUNQ] = AP_NULL_U64;
	for (size_t i = 0; i < p->loops.n && !l; i++)
		l = p->loops.v[i].tid == tid ? &p->loops.v[i] : NULL;
	if (!l)
		return 0;
	l->slow_iterations++;
	for (int c = 0; c < AP_CAUSE_N; c++)
		if (l->slow_causes[c] != AP_NULL_U64)
			l->slow_causes[c] += it->cause_ns[c];
	return 0;
}

/* Loop threads BPF knows: the call and callback they are in at the end. */
static int known_loops(struct session *s, int threads_fd, uint64_t end_ns, struct ap_report *rep)
{
	uint32_t key, next, *prev = NULL;
	struct ap_thread t;
	int err = 0;

	while (!err && !bpf_map_get_next_key(threads_fd, prev, &next)) {
		struct ap_process *p;
		size_t idx;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(threads_fd, &key, &t) || !t.is_loop || t.exited)
			continue;
		p = sess_find_in(rep, t.tgid, NULL);
		if (p && sess_find_process(s, t.tgid, &idx))
			err = known_loop(s, p, idx, key, &t, end_ns);
		if (!err && p && sess_find_process(s, t.tgid, &idx))
			err = iteration_in_progress(s, p, idx, key, &t, end_ns, rep->runq_unknown);
	}
	return err;
}

static bool has_loop(const struct ap_process *p, uint32_t tid)
{
	for (size_t i = 0; i < p->loops.n; i++)
		if (p->loops.v[i].tid == tid)
			return true;
	return false;
}

/*
 * A loop stuck since before the window, which BPF never saw iterate: a
 * loop all the same, busy the whole window, its lag that of one busy
 * interval from the window's start to end_ns (the least it can be).
 */
static int add_stuck_loop(struct session *s, struct ap_process *p, size_t idx, uint32_t tid,
			  uint64_t end_ns)
{
	uint64_t start = s->opts.start_ns;
	struct lag *acc = lag__new(start, s->opts.lag_interval_ns);
	struct ap_loop *l;
	int err;

	if (!acc)
		return -ENOMEM;
	l = AP_VEC_PUSH(p->loops);
	if (!l) {
		lag__free(acc);
		return -ENOMEM;
	}
	l->tid = tid;
	l->kind = s->loop_kinds.v[idx];
	l->busy_ns = end_ns > start ? end_ns - start : 0;
	l->callbacks = s->light ? AP_NULL_U64 : 0;
	l->first_ns = start;
	l->stuck_before = true;
	err = lag__add_busy(acc, start, end_ns);
	if (!err)
		err = lag__finish(acc, start, end_ns, &l->lag);
	if (!err)
		err = lag__series(acc, start, end_ns, &l->lag_series.v, &l->lag_series.n);
	l->lag_series.cap = l->lag_series.n;
	lag__free(acc);
	return err;
}

/*
 * Threads of process p that BPF never saw (no syscall, no callback in the
 * whole window) running an event loop: in a call now, or busy in Python.
 */
static int unseen_loops(struct session *s, int threads_fd, struct ap_process *p, uint64_t end_ns)
{
	char path[64];
	struct dirent *de;
	struct ap_thread t;
	size_t idx;
	int err = 0;
	DIR *d;

	if (!sess_find_process(s, p->pid, &idx) || !s->pys.v[idx].runtime)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/task", p->pid);
	d = opendir(path);
	if (!d)
		return 0; /* it exited */
	while (!err && (de = readdir(d))) {
		uint32_t tid = (uint32_t)strtoul(de->d_name, NULL, 10);
		struct ap_stack stack = {0};
		struct call c = {.tid = tid, .start_ns = s->opts.start_ns, .began_before = true};

		bool in_call;

		if (!tid || !bpf_map_lookup_elem(threads_fd, &tid, &t))
			continue;
		in_call = !thread_syscall((int)p->pid, tid, &c.nr, c.args);
		if (in_call && syscalls__is_poll((unsigned)c.nr))
			continue; /* an idle loop, or not one */
		err = walk(s, idx, tid, &stack);
		if (!err && runs_a_loop(&stack)) {
			c.gil = in_call && is_gil(s, idx, c.nr, c.args);
			/* in a call, or busy in Python the whole window: a callback running */
			err = in_call ? add_call(p, &c, end_ns, &stack)
				      : add_running(p, &c, end_ns, 0, &stack);
			if (!err && !has_loop(p, tid))
				err = add_stuck_loop(s, p, idx, tid, end_ns);
		}
		ap_stack__free(&stack);
	}
	closedir(d);
	return err;
}

int sess_read_inflight(struct session *s, int threads_fd, uint64_t end_ns, struct ap_report *rep)
{
	int err = known_loops(s, threads_fd, end_ns, rep);

	for (size_t i = 0; !err && i < rep->processes.n; i++)
		err = unseen_loops(s, threads_fd, &rep->processes.v[i], end_ns);
	return err;
}
