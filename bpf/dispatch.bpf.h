/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The CPython backend: uprobes on the event loop's callback dispatch.
 *
 * asyncio: Handle._run calls Context.run (C: context_run) once per
 * callback; args[0] is the callback. The callback ends at context_run's
 * return (a uretprobe), the one moment the Task it stepped is still
 * certainly alive, so its state (done, cancelled, failed) can be read.
 *
 * uvloop: each handle runs between PyContext_Enter and PyContext_Exit,
 * whose argument is not the callback; task steps are recognised by
 * _asyncio's TaskStepMethWrapper_call and task_wakeup firing inside the
 * pair. Pairs in which no task step ran are uvloop's own handles (or
 * plain callbacks, which cannot be told apart) and are not counted.
 */
#ifndef AP_DISPATCH_BPF_H
#define AP_DISPATCH_BPF_H

#include "common.bpf.h"
#include "pyobj.bpf.h"
#include "thread.bpf.h"

const volatile __u32 max_tasks __weak = 16384;

/* Live tasks; finished ones leave through AP_REC_TASK_END. Sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ap_task_stats);
} tasks __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ap_cb_key);
	__type(value, struct ap_cb_stats);
} callbacks __weak SEC(".maps");

__u64 live_tasks __weak = 0;

/* A task seen for the first time: make its entry, send its names. */
static __always_inline struct ap_task_stats *task_get(__u32 tgid, __u32 tid, __u64 task,
						      const struct ap_py_offsets *o, __u64 now)
{
	struct ap_task_stats *st = bpf_map_lookup_elem(&tasks, &task), init = {};
	__u64 coro, qual;

	if (st)
		return st;
	coro = rd_ptr(task + o->task_coro);
	qual = coro_qualname(coro, o);
	init.coro_id = qual;
	init.first_run_ns = now;
	init.loop_tid = tid;
	if (live_tasks >= max_tasks)
		stat_inc(AP_STAT_TASK_EVICT);
	else
		__sync_fetch_and_add(&live_tasks, 1);
	bpf_map_update_elem(&tasks, &task, &init, BPF_ANY);
	emit_pyname(tgid, tid, AP_NAME_TASK, task, rd_ptr(task + o->task_name), o);
	/* the coroutine's name goes once per qualname; the task has it as coro_id */
	if (qual && name_is_new(tgid, AP_NAME_CALLBACK, qual))
		emit_pyname(tgid, tid, AP_NAME_CALLBACK, qual, qual, o);
	return bpf_map_lookup_elem(&tasks, &task);
}

/* A callback starts on thread t. */
static __always_inline void cb_begin(struct ap_thread *t, __u32 tid, __u64 cb,
				     const struct ap_py_offsets *o, __u64 now)
{
	struct cb_ident ci = {};
	struct ap_task_stats *st;

	identify(cb, o, &ci, true);
	t->cb_start_ns = now;
	t->cb_task = ci.task;
	t->cb_blocked_ns = 0;
	if (ci.task) {
		st = task_get(t->tgid, tid, ci.task, o, now);
		t->cb_id = st ? st->coro_id : 0;
		return;
	}
	t->cb_id = ci.id;
	cb_name_once(t->tgid, tid, &ci, o);
}

static __always_inline void cb_account(struct ap_thread *t, __u64 dur)
{
	struct ap_cb_key k = {.tgid = t->tgid, .id = t->cb_id};
	struct ap_cb_stats *cs, init = {};

	t->callbacks++;
	cs = bpf_map_lookup_elem(&callbacks, &k);
	if (!cs) {
		if (bpf_map_update_elem(&callbacks, &k, &init, BPF_NOEXIST) == -7 /* E2BIG */)
			stat_inc(AP_STAT_CB_FULL);
		cs = bpf_map_lookup_elem(&callbacks, &k);
		if (!cs)
			return;
	}
	__sync_fetch_and_add(&cs->count, 1);
	__sync_fetch_and_add(&cs->total_ns, dur);
	if (dur > cs->max_ns)
		cs->max_ns = dur;
}

static __always_inline void trace_cb_emit(struct ap_thread *t, __u32 tid, __u64 dur)
{
	struct ap_rec_cb *r = rec_reserve(struct ap_rec_cb, AP_REC_CB, t->tgid, tid);

	if (!r)
		return;
	r->start_ns = t->cb_start_ns;
	r->duration_ns = dur;
	r->task = t->cb_task;
	r->callback = t->cb_id;
	rec_submit(r);
}

static __always_inline void slow_cb_emit(struct ap_thread *t, __u32 tid, __u64 dur)
{
	struct ap_rec_slow_cb *r;

	if (trace_callbacks)
		trace_cb_emit(t, tid, dur);
	if (dur < slow_cb_ns)
		return;
	r = rec_reserve(struct ap_rec_slow_cb, AP_REC_SLOW_CB, t->tgid, tid);
	if (!r)
		return;
	r->start_ns = t->cb_start_ns;
	r->duration_ns = dur;
	r->task = t->cb_task;
	r->callback = t->cb_id;
	r->blocked_ns = t->cb_blocked_ns;
	rec_submit_now(r);
}

/* State of a task after a step; a finished one leaves the map with a record. */
static __always_inline void task_step_end(struct ap_thread *t, __u32 tid, __u64 task, __u64 dur,
					  const struct ap_py_offsets *o, __u64 now)
{
	struct ap_task_stats *st = bpf_map_lookup_elem(&tasks, &task);
	struct ap_rec_task_end *r;
	__u32 state;
	__u64 exc;

	if (!st)
		return;
	st->steps++;
	st->busy_ns += dur;
	st->blocked_ns += t->cb_blocked_ns;
	st->last_run_ns = t->cb_start_ns;
	if (dur > st->max_step_ns)
		st->max_step_ns = dur;
	if (!o)
		return;
	state = rd_u32(task + o->task_state);
	if (state == AP_TASK_PENDING)
		return;
	st->state = state;
	exc = state == AP_TASK_DONE ? rd_ptr(task + o->task_exception) : 0;
	if (exc) {
		st->state = AP_TASK_FAILED;
		emit_cname(t->tgid, tid, AP_NAME_TASK_ERROR, task,
			   rd_ptr(rd_ptr(exc + o->ob_type) + o->tp_name));
	}
	st->finished_ns = now;
	r = rec_reserve(struct ap_rec_task_end, AP_REC_TASK_END, t->tgid, tid);
	if (r) {
		r->task = task;
		r->st = *st;
		rec_submit(r);
	}
	bpf_map_delete_elem(&tasks, &task);
	if (live_tasks)
		__sync_fetch_and_add(&live_tasks, -1);
}

/* The running callback ends now. o is NULL when the objects may be gone. */
static __always_inline void cb_end(struct ap_thread *t, __u32 tid, __u64 now,
				   const struct ap_py_offsets *o)
{
	__u64 dur = now - t->cb_start_ns;

	cb_account(t, dur);
	slow_cb_emit(t, tid, dur);
	if (t->cb_task)
		task_step_end(t, tid, t->cb_task, dur, o, now);
	t->cb_start_ns = 0;
	t->cb_task = 0;
	t->cb_id = 0;
}

static __always_inline void blocking_note_cb(struct ap_thread *t, __u64 dur)
{
	/* light mode: blocked time of the busy interval (a slow iteration's blocked_ns) */
	if (light_mode || t->cb_start_ns || t->uv_depth)
		t->cb_blocked_ns += dur;
}

/* A callback still open when the loop polls again: its end was not seen. */
static __always_inline void cb_end_at_poll(struct ap_thread *t, __u32 tid, __u64 now)
{
	if (t->cb_start_ns) {
		stat_inc(AP_STAT_CB_END_MISSED);
		cb_end(t, tid, now, NULL);
	}
	t->uv_depth = 0;
}

static __always_inline struct ap_thread *py_thread(__u32 *tidp, struct ap_py_proc **pp, __u64 now)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;

	if (!is_target(tgid))
		return NULL;
	*pp = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!*pp)
		return NULL;
	*tidp = tid;
	return thread_get(tid, tgid, now);
}

/*
 * context_run(PyContext *self, PyObject *const *args, Py_ssize_t nargs, kwnames).
 * Nesting is told by the stack pointer: a Context.run called inside a
 * callback enters deeper (lower) than the callback's own, and is part of it;
 * one entering at or above it means the open callback's end was not seen.
 */
static __always_inline int on_context_run(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns(), args = PT_REGS_PARM2(ctx), sp = PT_REGS_SP(ctx);
	struct ap_py_proc *pp;
	struct ap_thread *t;
	__u32 tid;

	t = py_thread(&tid, &pp, now);
	if (!t)
		return 0;
	if (t->cb_start_ns) {
		if (sp < t->cb_sp)
			return 0;
		stat_inc(AP_STAT_CB_END_MISSED);
		cb_end(t, tid, now, NULL);
	}
	t->cb_sp = sp;
	t->cb_end_ns = 0;
	cb_begin(t, tid, rd_ptr(args), &pp->off, now);
	return 0;
}

/*
 * The thread whose open callback's context_run ends here, else NULL (none
 * open, or a nested Context.run's end). The stack pointer is the entry's
 * plus the return address at the return, minus the frame at an end point.
 */
static __always_inline struct ap_thread *
ctx_run_ending(struct pt_regs *ctx, bool at_end, __u32 *tid, struct ap_py_proc **pp, __u64 now)
{
	__u64 sp = PT_REGS_SP(ctx);
	struct ap_thread *t;

	/* the load stays a constant offset into the context, as the verifier wants */
	asm volatile("" : "+r"(sp));
	t = py_thread(tid, pp, now);
	if (!t || !t->cb_start_ns)
		return NULL;
	sp = at_end ? sp + (*pp)->end_sp_off : sp - 8;
	return sp == t->cb_sp ? t : NULL;
}

/* At the return (a uretprobe). */
static __always_inline int on_context_run_ret(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	struct ap_py_proc *pp;
	struct ap_thread *t;
	__u32 tid;

	t = ctx_run_ending(ctx, false, &tid, &pp, now);
	if (!t)
		return 0;
	if (pp->end_mode == AP_END_CHECK && t->cb_end_ns) {
		__sync_fetch_and_add(&pp->end_ok, 1);
		__sync_fetch_and_add(&pp->end_before_ns, t->cb_end_ns - t->cb_start_ns);
		__sync_fetch_and_add(&pp->end_after_ns, now - t->cb_end_ns);
	} else if (pp->end_mode == AP_END_CHECK) {
		__sync_fetch_and_add(&pp->end_missed, 1);
	}
	cb_end(t, tid, now, &pp->off);
	return 0;
}

/* At an end point (a plain uprobe, user/ctxend.h): the callback has returned. */
static __always_inline int on_context_run_end(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	struct ap_py_proc *pp;
	struct ap_thread *t;
	__u32 tid;

	t = ctx_run_ending(ctx, true, &tid, &pp, now);
	if (!t)
		return 0;
	if (pp->end_mode == AP_END_PROBE)
		cb_end(t, tid, now, &pp->off);
	else if (!t->cb_end_ns)
		t->cb_end_ns = now;
	return 0;
}

/*
 * The user callable of a uvloop handle, if obj is one for context ctx. A
 * global function: the register search tries up to seven candidates, and
 * the verifier checks this once instead of seven times. Scalar arguments
 * only (the type offsets, not the offsets table): 5.10 takes no others.
 */
__noinline __u64 uv_callable(__u64 obj, __u64 ctx, __u64 ob_type_off, __u64 tp_name_off);

/*
 * Find the Handle being run: uvloop's Handle._run keeps it in a callee-saved
 * register across the PyContext_Enter call. The register that held it last
 * time is tried first. Registers are copied out first: the verifier allows
 * only constant offsets into the context.
 */
static __always_inline __u64 uv_find_callable(struct pt_regs *regs, struct ap_thread *t, __u64 ctx,
					      const struct ap_py_offsets *o)
{
	__u64 r[8] = {regs->bx, regs->bp, regs->r12, regs->r13, regs->r14, regs->r15};
	__u64 cb;

	if (t->uv_reg) {
		cb = uv_callable(r[(t->uv_reg - 1) & 7], ctx, o->ob_type, o->tp_name);
		if (cb)
			return cb;
	}
	for (__u32 i = 0; i < 6; i++) {
		cb = uv_callable(r[i], ctx, o->ob_type, o->tp_name);
		if (cb) {
			t->uv_reg = i + 1;
			return cb;
		}
	}
	return 0;
}

/* uvloop: a handle starts running (PyContext_Enter). */
static __always_inline int on_ctx_enter(struct pt_regs *regs)
{
	__u64 now = bpf_ktime_get_ns(), ctx, si, cb;
	struct ap_py_proc *pp;
	struct ap_thread *t;
	struct cb_ident ci = {};
	__u32 tid, d;

	t = py_thread(&tid, &pp, now);
	if (!t)
		return 0;
	d = t->uv_depth;
	t->uv_depth = d + 1;
	if (d == 0)
		t->cb_blocked_ns = 0;
	if (d >= 4)
		return 0;
	t->uv_start_ns[d & 3] = now;
	t->uv_task[d & 3] = 0;
	t->uv_id[d & 3] = 0;
	ctx = regs->di;
	si = regs->si;
	/* keep both loads at constant context offsets (no select of the offset) */
	asm volatile("" : "+r"(ctx), "+r"(si));
	if (pp->enter_ctx_rsi)
		ctx = si;
	cb = uv_find_callable(regs, t, ctx, &pp->off);
	if (!cb)
		return 0;
	identify(cb, &pp->off, &ci, true);
	if (ci.task) {
		t->uv_task[d & 3] = ci.task;
		task_get(t->tgid, tid, ci.task, &pp->off, now);
		if (pp->uv_found < AP_CHECK_RUNS)
			__sync_fetch_and_add(&pp->uv_found, 1);
		return 0;
	}
	t->uv_id[d & 3] = ci.id;
	cb_name_once(t->tgid, tid, &ci, &pp->off);
	return 0;
}

/*
 * The task and callback running on t: under uvloop the handle entered
 * last (its task is only copied to cb_task at its exit), else cb_task.
 */
static __always_inline void running_cb(struct ap_thread *t, __u64 *task, __u64 *id)
{
	struct ap_task_stats *st;
	__u32 d = t->uv_depth;
	__u64 tk;

	if (!d || d > 4) {
		*task = t->cb_task;
		*id = t->cb_id;
		return;
	}
	d--;
	tk = t->uv_task[d & 3];
	st = tk ? bpf_map_lookup_elem(&tasks, &tk) : NULL;
	*task = tk;
	*id = tk ? (st ? st->coro_id : 0) : t->uv_id[d & 3];
}

/* _asyncio stepped or woke a task: under uvloop, it names the running handle. */
static __always_inline int on_task_run(__u64 task_or_wrapper, bool wrapper, bool wakeup)
{
	__u64 now = bpf_ktime_get_ns(), task = task_or_wrapper;
	struct ap_py_proc *pp;
	struct ap_thread *t;
	__u32 tid, d;

	t = py_thread(&tid, &pp, now);
	if (!t || !t->uv_depth || t->uv_depth > 4)
		return 0;
	if (wrapper)
		task = rd_ptr(task + (wakeup ? pp->off.wakewrap_task : pp->off.stepwrap_task));
	d = t->uv_depth - 1;
	if (task && !t->uv_task[d & 3]) {
		t->uv_task[d & 3] = task;
		task_get(t->tgid, tid, task, &pp->off, t->uv_start_ns[d & 3]);
		__sync_fetch_and_add(&pp->uv_missed, 1); /* the register search missed it */
	}
	return 0;
}

/* uvloop: the handle ends (PyContext_Exit); uvloop's own handles do not count. */
static __always_inline int on_ctx_exit(void)
{
	__u64 now = bpf_ktime_get_ns(), task;
	struct ap_task_stats *st;
	struct ap_py_proc *pp;
	struct ap_thread *t;
	__u32 tid, d;

	t = py_thread(&tid, &pp, now);
	if (!t || !t->uv_depth)
		return 0;
	d = --t->uv_depth;
	if (d >= 4)
		return 0;
	task = t->uv_task[d & 3];
	if (!task && !t->uv_id[d & 3])
		return 0; /* one of uvloop's own handles */
	st = task ? bpf_map_lookup_elem(&tasks, &task) : NULL;
	t->cb_start_ns = t->uv_start_ns[d & 3];
	t->cb_task = task;
	t->cb_id = task ? (st ? st->coro_id : 0) : t->uv_id[d & 3];
	cb_end(t, tid, now, &pp->off);
	return 0;
}

#endif /* AP_DISPATCH_BPF_H */
