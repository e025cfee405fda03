/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syscall backend: finds loop threads (threads that wait again and
 * again in epoll_wait on one epoll descriptor), keeps their busy and idle
 * time, and reports blocking syscalls made outside the poll call. Every
 * figure is aggregated here; the ring buffer carries only busy intervals
 * that cover a lag grid point (at most one per lag interval) and blocking
 * calls past the threshold.
 */
#ifndef AP_SYSCALLS_BPF_H
#define AP_SYSCALLS_BPF_H

#include "common.bpf.h"
#include "dispatch.bpf.h"
#include "fdinfo.bpf.h"
#include "pystack.bpf.h"
#include "thread.bpf.h"

/* x86-64 syscall numbers used here */
#define NR_EPOLL_WAIT	232
#define NR_EPOLL_PWAIT	281
#define NR_EPOLL_PWAIT2 441
/*
 * Since Linux 6.11 a uretprobe returns through the uretprobe syscall (and,
 * since 6.16, an optimised uprobe enters through the uprobe syscall): our
 * own probes, never the target's blocking calls.
 */
#define NR_URETPROBE	  335
#define NR_UPROBE	  336
#define AP_LOOP_MIN_POLLS 2 /* consecutive polls on one epfd that make a loop */

/*
 * A field of a tracepoint argument: tp_btf programs load it directly, raw_tp
 * ones (older kernels) through bpf_probe_read_kernel. Every syscall of the
 * target runs these programs: a helper call per field was a good part of
 * the per-syscall cost. btf is a constant in each program, so the other
 * branch is not compiled in.
 */
#define TP_FIELD(btf, p, f) ((btf) ? (p)->f : BPF_CORE_READ(p, f))

static __always_inline bool nr_is_probe(__u32 nr)
{
	return nr == NR_URETPROBE || nr == NR_UPROBE;
}

static __always_inline bool nr_is_poll(__u32 nr)
{
	return nr == NR_EPOLL_WAIT || nr == NR_EPOLL_PWAIT || nr == NR_EPOLL_PWAIT2;
}

/*
 * The thread's entry. System-wide, only a poll call makes one, so the map
 * holds threads that may be loops, not every thread of the host.
 */
static __always_inline struct ap_thread *thread_of(__u32 tid, __u32 tgid, __u64 now, __u32 nr)
{
	if (targ_all && !nr_is_poll(nr))
		return bpf_map_lookup_elem(&threads, &tid);
	return thread_get(tid, tgid, now);
}

/* Does [b, e) hold an instant of the lag grid? */
static __always_inline bool covers_grid(__u64 b, __u64 e)
{
	__u64 ws = window_start_ns, i = lag_interval_ns, g;

	if (!i || e <= ws)
		return false;
	if (b <= ws)
		return true;
	g = ws + ((b - ws + i - 1) / i) * i;
	return g < e;
}

/*
 * Light mode: a busy interval as long as a slow callback is a slow
 * iteration, reported like one; userspace gives it the stack and the
 * task or callback sampled most inside it.
 */
static __always_inline void slow_iteration_emit(struct ap_thread *t, __u32 tid, __u64 b, __u64 len)
{
	struct ap_rec_slow_cb *r = rec_reserve(struct ap_rec_slow_cb, AP_REC_SLOW_CB, t->tgid, tid);

	if (!r)
		return;
	r->start_ns = b;
	r->duration_ns = len;
	r->task = 0;
	r->callback = 0;
	r->blocked_ns = t->cb_blocked_ns;
	rec_submit_now(r);
}

/*
 * The task's time spent waiting on a run queue so far: sched_info's
 * run_delay, which the scheduler adds to at each switch-in. Read only by
 * the running task, so every wait before now is in it. 0 without
 * CONFIG_SCHED_INFO (userspace then reports the run queue as unknown).
 */
static __always_inline __u64 run_delay(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (!bpf_core_field_exists(task->sched_info)) {
		runq_missing = 1;
		return 0;
	}
	return BPF_CORE_READ(task, sched_info.run_delay);
}

/* The thread leaves its poll call: an iteration begins, its causes from 0. */
static __always_inline void iter_begin(struct ap_thread *t)
{
	t->it_rd_ns = run_delay();
	__builtin_memset(t->it_cause, 0, sizeof(t->it_cause));
	t->it_gil_holder = 0;
	t->it_acct = 1;
}

/* A syscall of the iteration ended: its time, less its run queue, is cause's. */
static __always_inline void iter_note_sys(struct ap_thread *t, __u64 now, __u32 cause)
{
	__u64 rq = run_delay() - t->sys_rd_ns, wall = now - t->sys_start_ns;

	if (cause < AP_CAUSE_N && wall > rq)
		t->it_cause[cause] += wall - rq;
}

/* A slow iteration and its causes, for userspace to name what made it slow. */
static __always_inline void iter_emit(struct ap_thread *t, __u32 tid, __u64 b, __u64 len)
{
	struct ap_rec_iter *r = rec_reserve(struct ap_rec_iter, AP_REC_ITER, t->tgid, tid);

	if (!r)
		return;
	r->start_ns = b;
	r->duration_ns = len;
	__builtin_memcpy(r->cause_ns, t->it_cause, sizeof(r->cause_ns));
	r->gil_holder = t->it_gil_holder;
	r->pad = 0;
	rec_submit_now(r);
}

/*
 * The iteration [b, b + len) ends: the run queue is the run_delay it
 * added, running the rest once the syscalls' and GIL waits' time is out.
 */
static __always_inline void iter_end(struct ap_thread *t, __u32 tid, __u64 b, __u64 len)
{
	__u64 rq = run_delay() - t->it_rd_ns, other = rq;
	int i;

#pragma unroll
	for (i = AP_CAUSE_GIL; i < AP_CAUSE_N; i++)
		other += t->it_cause[i];
	t->it_cause[AP_CAUSE_RUNQ] = rq;
	t->it_cause[AP_CAUSE_RUNNING] = len > other ? len - other : 0;
#pragma unroll
	for (i = 0; i < AP_CAUSE_N; i++)
		t->busy_cause[i] += t->it_cause[i];
	if (!t->is_loop || len < slow_cb_ns)
		return;
	t->slow_iters++;
#pragma unroll
	for (i = 0; i < AP_CAUSE_N; i++)
		t->slow_cause[i] += t->it_cause[i];
	iter_emit(t, tid, b, len);
}

/* The thread enters its poll call: a busy interval ends now. */
static __always_inline void busy_end(struct ap_thread *t, __u32 tid, __u64 now)
{
	__u64 b = busy_since(t, now), len = now > b ? now - b : 0;
	struct ap_rec_busy *r;

	t->busy_ns += len;
	if (len > t->max_busy_ns)
		t->max_busy_ns = len;
	/* a thread seen polling once may be a loop: userspace keeps only loops */
	if ((t->is_loop || t->cand_count) && covers_grid(b, now)) {
		r = rec_reserve(struct ap_rec_busy, AP_REC_BUSY, t->tgid, tid);
		if (r) {
			r->start_ns = b;
			r->end_ns = now;
			rec_submit(r);
		}
	}
	if (light_mode && t->is_loop && len >= slow_cb_ns)
		slow_iteration_emit(t, tid, b, len);
	if (t->it_acct)
		iter_end(t, tid, b, len);
	t->it_acct = 0;
	t->busy_start_ns = 0;
}

/* Counts consecutive polls on one epfd; the thread becomes a loop at the second. */
static __always_inline void note_poll(struct ap_thread *t, __u32 tid, __s32 epfd, __u64 now)
{
	struct ap_rec_loop *r;

	if (t->is_loop)
		return;
	if (epfd != t->cand_epfd) {
		t->cand_epfd = epfd;
		t->cand_count = 0;
	}
	if (++t->cand_count < AP_LOOP_MIN_POLLS)
		return;
	t->is_loop = 1;
	t->loop_epfd = epfd;
	r = rec_reserve(struct ap_rec_loop, AP_REC_LOOP, t->tgid, tid);
	if (r) {
		r->first_ns = t->first_ns;
		r->epfd = epfd;
		rec_submit_now(r);
	}
}

static __always_inline bool is_loop_poll(struct ap_thread *t, __u32 nr, __s32 fd)
{
	if (!nr_is_poll(nr))
		return false;
	return !t->is_loop || fd == t->loop_epfd;
}

/*
 * A blocking record is built here, then copied to the ring buffer: it is
 * larger than any stack frame, and a record reserved in the ring buffer
 * cannot be handed to a global function on 5.10. Only sys_exit programs
 * use it, and one at a time on a CPU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ap_rec_blocking);
} blocking_scratch __weak SEC(".maps");

static __always_inline struct ap_rec_blocking *blocking_rec(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&blocking_scratch, &zero);
}

/*
 * Fill detail of the blocking call in blocking_scratch from its arguments.
 * A global function: the verifier checks it once, not once per state it is
 * reached in.
 */
__noinline int blocking_detail(void);

/* Python stack, task and callback of the blocking record r. */
static __always_inline void blocking_attribute(struct ap_rec_blocking *r, __u32 tgid, __u32 tid,
					       bool loop)
{
	struct py_scratch *ps;

	if (py_attribute_any(tgid, tid, AP_SLOT_TP, loop))
		return;
	ps = py_scratch_get(AP_SLOT_TP);
	if (!ps)
		return;
	r->stack_id = ps->stack_id;
	if (light_mode) {
		r->task = ps->task;
		r->callback = ps->cb;
	}
}

/*
 * Reports the call if it lasted past the threshold; returns its cause
 * (enum ap_cause): the GIL, a short syscall, or its kind.
 */
static __always_inline __u32 blocking_emit(void *ctx, struct ap_thread *t, __u32 tid, __u64 now,
					   long ret, bool loop)
{
	__u64 start = t->sys_start_ns, dur = now - start;
	__u32 holder = 0;
	bool gil = gil_wait(t, now, &start, &dur, &holder);
	struct ap_rec_blocking *r;
	long n;

	/* a short wait's holder too: the one that ends a run of timed-out slices */
	if (holder)
		t->it_gil_holder = holder;
	if (gil && dur < blocking_ns)
		return AP_CAUSE_GIL;
	if (dur < blocking_ns)
		return AP_CAUSE_SHORT;
	if (gil && dur - (now - t->sys_start_ns) >= blocking_ns) {
		/* a GIL wait already reported grows: count only this slice */
		t->blocked_ns += now - t->sys_start_ns;
	} else {
		t->blocked_ns += dur;
		t->blocking_calls++;
	}
	r = blocking_rec();
	if (!r)
		return AP_CAUSE_KIND +
		       ap_nr_kind(t->sys_nr, AP_FD_NONE, t->sys_args[0], t->sys_args[1]);
	r->hdr.type = AP_REC_BLOCKING;
	r->hdr.pid = t->tgid;
	r->hdr.tid = tid;
	r->hdr.size = sizeof(*r);
	r->start_ns = start;
	r->duration_ns = dur;
	r->ret = ret;
	r->args[0] = t->sys_args[0];
	r->args[1] = t->sys_args[1];
	r->args[2] = t->sys_args[2];
	running_cb(t, &r->task, &r->callback);
	r->stack_id = 0;
	r->syscall_nr = t->sys_nr;
	r->fd_type = AP_FD_NONE;
	r->detail_kind = AP_DETAIL_NONE;
	r->detail_len = 0;
	r->gil = gil;
	r->gil_holder = holder;
	r->began_before = t->in_sys == 2;
	/* native frames (frame pointers permitting); a failure leaves none */
	n = bpf_get_stack(ctx, r->ustack, sizeof(r->ustack), BPF_F_USER_STACK);
	r->nustack = n > 0 ? n / sizeof(r->ustack[0]) : 0;
	blocking_detail();
	blocking_attribute(r, t->tgid, tid, loop);
	if (bpf_ringbuf_output(&events, r, sizeof(*r), 0))
		stat_inc(AP_STAT_RB_DROPS);
	if (gil)
		return AP_CAUSE_GIL;
	return AP_CAUSE_KIND + ap_nr_kind(r->syscall_nr, r->fd_type, r->args[0], r->args[1]);
}

static __always_inline int on_sys_enter(struct pt_regs *regs, long id, bool btf)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, nr = (__u32)id;
	struct ap_thread *t;
	__s32 fd;

	if (!is_target(tgid) || nr_is_probe(nr) || READ_ONCE(tracing_stopped))
		return 0;
	now = bpf_ktime_get_ns();
	/* any thread's, system-wide too: the one holding the GIL is rarely a loop */
	if (nr == NR_FUTEX)
		gil_wake_note(tgid, tid, TP_FIELD(btf, regs, di), TP_FIELD(btf, regs, si), now);
	t = thread_of(tid, tgid, now, nr);
	if (!t)
		return 0;
	fd = (__s32)TP_FIELD(btf, regs, di);
	if (is_loop_poll(t, nr, fd)) {
		note_poll(t, tid, fd, now);
		cb_end_at_poll(t, tid, now);
		busy_end(t, tid, now);
		t->in_poll = 1;
		t->in_sys = 0;
		t->poll_start_ns = now;
		return 0;
	}
	t->in_sys = 1;
	if (t->it_acct)
		t->sys_rd_ns = run_delay();
	t->sys_nr = nr;
	t->sys_start_ns = now;
	t->sys_args[0] = TP_FIELD(btf, regs, di);
	t->sys_args[1] = TP_FIELD(btf, regs, si);
	t->sys_args[2] = TP_FIELD(btf, regs, dx);
	return 0;
}

static __always_inline int on_sys_exit(void *ctx, struct pt_regs *regs, long ret, bool btf,
				       bool loop)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	__u32 nr, cause = AP_CAUSE_SHORT;
	struct ap_thread *t;

	if (!is_target(tgid))
		return 0;
	nr = (__u32)TP_FIELD(btf, regs, orig_ax);
	/*
	 * The uretprobe syscall leaves orig_ax at -1 by its exit: what ends
	 * there is our probe's return trampoline, not a call of the target.
	 */
	if (nr_is_probe(nr) || nr == (__u32)-1)
		return 0;
	now = bpf_ktime_get_ns();
	/* a thread first seen here was in a call that started before the window */
	t = thread_of(tid, tgid, now, nr);
	if (!t)
		return 0;
	if (t->in_poll) {
		t->in_poll = 0;
		t->idle_ns += now - t->poll_start_ns;
		t->iterations++;
		t->busy_start_ns = now;
		iter_begin(t);
		if (light_mode)
			t->cb_blocked_ns = 0;
		return 0;
	}
	if (!t->in_sys) {
		/* first sight of a thread that was already in a call: maybe its poll */
		if (nr_is_poll(nr)) {
			if (!t->busy_start_ns) {
				note_poll(t, tid, (__s32)TP_FIELD(btf, regs, di), now);
				t->idle_ns += now - busy_since(t, now);
				t->iterations++;
				t->busy_start_ns = now;
				iter_begin(t);
			}
			return 0;
		}
		/*
		 * Else its first call, in flight when tracing began (a loop stalled
		 * as we attach): it started before the window, at first_ns for a
		 * thread that old, so its duration is a lower bound. The thread is
		 * not known as a loop yet: userspace keeps the call if it becomes one.
		 */
		if (t->sys_start_ns || t->poll_start_ns)
			return 0;
		t->sys_nr = nr;
		t->sys_start_ns = t->first_ns;
		t->sys_args[0] = TP_FIELD(btf, regs, di);
		t->sys_args[1] = TP_FIELD(btf, regs, si);
		t->sys_args[2] = TP_FIELD(btf, regs, dx);
		t->in_sys = 2;
	}
	blocking_note_cb(t, now - t->sys_start_ns);
	if (t->is_loop || t->in_sys == 2)
		cause = blocking_emit(ctx, t, tid, now, ret, loop);
	if (t->it_acct && t->in_sys == 1)
		iter_note_sys(t, now, cause);
	t->in_sys = 0;
	return 0;
}

/* Involuntary off-CPU time of a busy loop thread: the CPU was taken from it. */
static __always_inline int on_sched_switch(bool preempt, struct task_struct *prev,
					   struct task_struct *next, bool btf)
{
	__u32 ptgid = TP_FIELD(btf, prev, tgid), ntgid = TP_FIELD(btf, next, tgid);
	__u64 now = 0;
	struct ap_thread *t;
	__u32 tid;

	if (preempt && is_target(ptgid)) {
		tid = TP_FIELD(btf, prev, pid);
		t = bpf_map_lookup_elem(&threads, &tid);
		if (t && t->is_loop && !t->in_poll) {
			now = bpf_ktime_get_ns();
			t->offcpu_start_ns = now;
		}
	}
	if (is_target(ntgid)) {
		tid = TP_FIELD(btf, next, pid);
		t = bpf_map_lookup_elem(&threads, &tid);
		if (t && t->offcpu_start_ns) {
			if (!now)
				now = bpf_ktime_get_ns();
			t->preempted_ns += now - t->offcpu_start_ns;
			t->offcpu_start_ns = 0;
		}
	}
	return 0;
}

/* A thread exits: forget it unless it was a loop (its figures are reported). */
static __always_inline int on_thread_exit(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct ap_thread *t;

	if (!is_target(tgid))
		return 0;
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t)
		return 0;
	if (!t->is_loop) {
		bpf_map_delete_elem(&threads, &tid);
		return 0;
	}
	if (!t->in_poll)
		busy_end(t, tid, bpf_ktime_get_ns());
	t->exited = 1;
	return 0;
}

#endif /* AP_SYSCALLS_BPF_H */
