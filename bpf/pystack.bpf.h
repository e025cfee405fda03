/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Python stacks from BPF: a bounded walk of the interpreter's frames,
 * driven by the per-version offsets. The thread state comes from the
 * pthread key CPython keeps it under (autoTSSkey), which stays set while
 * the thread has released the GIL, so the walk works inside a blocking
 * syscall on 3.8 to 3.13. Stacks are interned in the stacks map by hash;
 * records carry the hash. Userspace turns (code object, position) into
 * "qualname (file:line)" once per code object.
 */
#ifndef AP_PYSTACK_BPF_H
#define AP_PYSTACK_BPF_H

#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ap_pystack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ap_pystack);
} stack_scratch SEC(".maps");

#define PY_FRAME_OWNED_BY_CSTACK 3

/* The current thread's PyThreadState*, through its pthread key slot. */
static __always_inline __u64 py_tstate(const struct ap_py_proc *pp)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	__u32 key;

	if (!pp->runtime_addr || !fsbase)
		return 0;
	key = rd_u32(pp->runtime_addr + pp->off.rt_autotss_key + 4);
	if (key >= 32) /* beyond glibc's first block of keys */
		return 0;
	return rd_ptr(fsbase + pp->tls_specific + key * 16 + 8);
}

static __always_inline __u64 py_top_frame(const struct ap_py_proc *pp, __u64 tstate)
{
	const struct ap_py_offsets *o = &pp->off;
	__u64 f = rd_ptr(tstate + o->tstate_frame);

	/* 3.11 and 3.12 reach the frame through the _PyCFrame */
	if (o->version_hex >= 0x030b0000 && o->version_hex < 0x030d0000)
		f = f ? rd_ptr(f + o->cframe_current) : 0;
	return f;
}

/* Light mode: what a stack tells about the running task or callback. */
struct light_hit {
	__u64 handle;	 /* the asyncio Handle being run (Handle._run's self), 0: not found */
	__u64 coro_code; /* code object of the outermost coroutine frame, 0: none */
	__u64 cb_code;	 /* uvloop: code object of the running callback's first frame */
};

/*
 * The frames kept and their count are in the stack_scratch entry, not
 * here: a count kept on the stack has exact bounds for the verifier, so
 * each frame count was another state of the callback to check.
 */
struct walk_ctx {
	__u64 f;   /* the next frame */
	__u32 max; /* frames to keep */
	__u32 version;
	__u32 off_code, off_back, off_lasti, off_owner, off_adaptive;
	/* light mode only: the walk goes on past max to find the outermost coroutine */
	struct ap_py_proc *pp; /* NULL: no light search */
	__u32 coro_next;       /* the previous frame was the outermost coroutine so far */
	__u64 prev_code;       /* code object of the previous (inner) frame */
	struct light_hit hit;
};

#define CO_COROUTINE	      0x80
#define CO_ITERABLE_COROUTINE 0x100 /* @types.coroutine generators */
#define AIO_HANDLE_CALLBACK   24    /* asyncio Handle: _callback, the 2nd of its sorted __slots__ */

/*
 * Light mode, one frame: note the outermost coroutine frame. On asyncio
 * the frame that called it is Handle._run, whose self is the Handle being
 * run; its code object is learnt once per process (checked by the type of
 * self), then Handle._run frames are known by code alone. On uvloop,
 * handles run from C: the caller is the frame that runs the loop (e.g.
 * asyncio.Runner.run), learnt the same way, and the frame it calls is the
 * running callback's.
 */
static __always_inline void light_frame(struct walk_ctx *w, __u64 f, __u64 code)
{
	struct ap_py_proc *pp = w->pp;
	__u64 self, type, inner = w->prev_code;
	bool caller = w->coro_next;

	w->prev_code = code;
	if (rd_u32(code + pp->code_flags) & (CO_COROUTINE | CO_ITERABLE_COROUTINE)) {
		w->hit.coro_code = code;
		w->coro_next = 1;
		return;
	}
	w->coro_next = 0;
	if (pp->loop_in_c) {
		if (!pp->loop_entry_code && caller)
			pp->loop_entry_code = code;
		if (code == pp->loop_entry_code && !w->hit.cb_code)
			w->hit.cb_code = inner;
		return;
	}
	if (pp->handle_run_code && code == pp->handle_run_code) {
		if (!w->hit.handle)
			w->hit.handle = rd_ptr(f + pp->frame_locals);
	} else if (caller && !pp->handle_run_code) {
		self = rd_ptr(f + pp->frame_locals);
		if (self && obj_kind(self, &pp->off, &type) == PK_AIO_HANDLE) {
			pp->handle_run_code = code;
			w->hit.handle = self;
		}
	}
}

/* Position of frame f in code: see user/pyline.h for its meaning per version. */
static __always_inline __u64 walk_pos(const struct walk_ctx *w, __u64 f, __u64 code)
{
	__u64 ip, base;
	__s32 lasti;

	if (w->version < 0x030b0000) {
		lasti = (__s32)rd_u32(f + w->off_lasti);
		return lasti < 0 ? AP_POS_START : (__u64)lasti;
	}
	ip = rd_ptr(f + w->off_lasti);
	base = code + w->off_adaptive;
	if (ip < base)
		return AP_POS_START;
	return (ip - base) / 2;
}

/* One frame per call, from bpf_loop: the verifier sees the body once. */
static long walk_one(__u32 i, void *arg)
{
	struct walk_ctx *w = arg;
	__u32 zero = 0, n;
	struct ap_pystack *st;
	__u64 f = w->f, code, pos;
	__u8 owner = 0;

	if (!f)
		return 1;
	code = rd_ptr(f + w->off_code);
	if (w->version >= 0x030c0000)
		bpf_probe_read_user(&owner, 1, (const void *)(f + w->off_owner));
	w->f = rd_ptr(f + w->off_back);
	/* 3.12+ C-stack shim frames (and 3.13's None executable) are not Python code */
	if (owner == PY_FRAME_OWNED_BY_CSTACK || !code)
		return 0;
	if (w->pp)
		light_frame(w, f, code);
	st = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!st)
		return 1;
	n = st->depth;
	if (n >= w->max || n >= AP_STACK_DEPTH) {
		st->truncated = 1;
		return w->pp ? 0 : 1;
	}
	pos = walk_pos(w, f, code);
	if (pos > AP_POS_START)
		pos = AP_POS_START - 1;
	st->frames[n & (AP_STACK_DEPTH - 1)] = (code & 0xffffffffffffULL) | (pos << 48);
	st->depth = n + 1;
	return 0;
}

#define LIGHT_WALK_MAX 128 /* frames searched for the outermost coroutine */

/* Walk the current thread's Python frames into st; the light search when hit. */
static __always_inline void py_walk(struct ap_py_proc *pp, struct ap_pystack *st,
				    struct light_hit *hit)
{
	const struct ap_py_offsets *o = &pp->off;
	__u64 tstate = py_tstate(pp);
	struct walk_ctx w = {
		.max = pp->stack_depth,
		.version = o->version_hex,
		.off_code = o->frame_code,
		.off_back = o->frame_back,
		.off_lasti = o->frame_lasti,
		.off_owner = o->frame_owner,
		.off_adaptive = o->code_adaptive,
		.pp = hit && pp->code_flags ? pp : NULL,
	};

	st->depth = 0;
	st->truncated = 0;
	if (!tstate)
		return;
	w.f = py_top_frame(pp, tstate);
	bpf_loop(w.pp ? LIGHT_WALK_MAX : AP_STACK_DEPTH + 8, walk_one, &w, 0);
	if (hit)
		*hit = w.hit;
}

/*
 * Intern stack st; its id (0 when it cannot be kept). A global function:
 * the hash loop is checked once, not once per state the walk ends in.
 */
__noinline __u64 stack_intern(struct ap_pystack *st)
{
	__u64 h = 0xcbf29ce484222325ULL;

	if (!st)
		return 0;
	for (int i = 0; i < AP_STACK_DEPTH; i++) {
		if (i >= st->depth)
			break;
		h = (h ^ st->frames[i]) * 0x100000001b3ULL;
	}
	h |= 1;
	if (bpf_map_update_elem(&stacks, &h, st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&stacks, &h)) {
		stat_inc(AP_STAT_STACK_DROPS);
		return 0;
	}
	return h;
}

/* Walk, intern and return the stack's id (0 when there is none); fills hit if given. */
static __always_inline __u64 py_stack_id(struct ap_py_proc *pp, struct light_hit *hit)
{
	__u32 zero = 0;
	struct ap_pystack *st = bpf_map_lookup_elem(&stack_scratch, &zero);

	if (!st)
		return 0;
	py_walk(pp, st, hit);
	if (!st->depth)
		return 0;
	return stack_intern(st);
}

/*
 * Light mode: the task or callback a stack belongs to. Through the Handle
 * (asyncio): its _callback, classified as a dispatched callback is. Without
 * one (uvloop runs handles from C): the outermost coroutine's code object,
 * named by its qualname; the Task itself is not known then.
 */
static __always_inline void light_ident(struct ap_thread *t, __u32 tid, struct ap_py_proc *pp,
					const struct light_hit *hit, __u64 *task, __u64 *cb)
{
	const struct ap_py_offsets *o = &pp->off;
	struct cb_ident ci = {};
	__u64 coro, qual;

	if (hit->handle)
		identify(rd_ptr(hit->handle + AIO_HANDLE_CALLBACK), o, &ci, false);
	if (ci.task) {
		coro = rd_ptr(ci.task + o->task_coro);
		qual = coro ? rd_ptr(coro + o->coro_qualname) : 0;
		/* a freed Task's address comes back: its names are sent every time */
		emit_pyname(t->tgid, tid, AP_NAME_TASK, ci.task, rd_ptr(ci.task + o->task_name), o);
		emit_pyname(t->tgid, tid, AP_NAME_TASK_CORO, ci.task, qual, o);
		if (qual && name_is_new(t->tgid, AP_NAME_CALLBACK, qual))
			emit_pyname(t->tgid, tid, AP_NAME_CALLBACK, qual, qual, o);
		*task = ci.task;
		*cb = qual;
		return;
	}
	if (!ci.id && (hit->cb_code || hit->coro_code)) {
		ci.id = hit->cb_code ? hit->cb_code : hit->coro_code;
		ci.name_obj = rd_ptr(ci.id + (o->code_qualname ? o->code_qualname : o->code_name));
	}
	cb_name_once(t, tid, &ci, o);
	*task = 0;
	*cb = ci.id;
}

/*
 * The Python stack of thread t now (and in light mode its task and
 * callback): for a blocking call and, in light mode, a CPU sample. A
 * global function: the verifier checks the walk and the attribution once
 * per program, not once per state of the caller that reaches them.
 */
__noinline int py_attribute(struct ap_thread *t, __u32 tid, __u64 *stack, __u64 *task, __u64 *cb)
{
	struct ap_py_proc *pp;
	struct light_hit hit = {};

	if (!t || !stack || !task || !cb)
		return -EINVAL;
	pp = bpf_map_lookup_elem(&py_procs, &t->tgid);
	if (!pp)
		return -ENOENT;
	if (!light_mode) {
		*stack = py_stack_id(pp, NULL);
		return 0;
	}
	*stack = py_stack_id(pp, &hit);
	light_ident(t, tid, pp, &hit, task, cb);
	return 0;
}

#define NR_FUTEX   202
#define GIL_GAP_NS 100000 /* GIL waits this close together are one wait */

/*
 * A futex inside _PyRuntime is on the GIL's mutex or condition variable.
 * CPython waits for the GIL in slices of the switch interval (5 ms), so a
 * run of waits with no gap is one wait: it is reported (and re-reported
 * as it grows, userspace keeps the last) from the start of the run.
 */
static __always_inline bool gil_wait(struct ap_thread *t, __u64 now, __u64 *start, __u64 *dur)
{
	struct ap_py_proc *pp;
	__u64 addr = t->sys_args[0];

	if (t->sys_nr != NR_FUTEX)
		return false;
	pp = bpf_map_lookup_elem(&py_procs, &t->tgid);
	if (!pp || addr < pp->gil_lo || addr >= pp->gil_hi)
		return false;
	if (!t->gil_start_ns || t->sys_start_ns - t->gil_end_ns > GIL_GAP_NS) {
		t->gil_start_ns = t->sys_start_ns;
		t->gil_wait_ns += now - t->sys_start_ns;
	} else {
		/* the run goes on: its gap counts as waiting, as in the merged call */
		t->gil_wait_ns += now - t->gil_end_ns;
	}
	t->gil_end_ns = now;
	*start = t->gil_start_ns;
	*dur = now - t->gil_start_ns;
	return true;
}

/*
 * Light mode: every sample of a busy loop thread counts, with the task or
 * callback its stack belongs to, found before the record is reserved so
 * that the names it sends come first. cb_start_ns is the start of the busy
 * interval, which is how a slow iteration finds its samples.
 */
static __always_inline int light_sample(struct ap_thread *t, __u32 tgid, __u32 tid, __u64 now)
{
	__u64 stack = 0, task = 0, cb = 0;
	struct ap_rec_sample *r;

	if (t->in_poll)
		return 0;
	/* t->tgid is tgid: the entry was made by this process */
	if (py_attribute(t, tid, &stack, &task, &cb))
		return 0;
	r = rec_reserve(struct ap_rec_sample, AP_REC_SAMPLE, tgid, tid);
	if (!r)
		return 0;
	r->ts_ns = now;
	r->cb_start_ns = busy_since(t, now);
	r->task = task;
	r->callback = cb;
	r->stack_id = stack;
	rec_submit_now(r);
	return 0;
}

/*
 * CPU-clock sample on any CPU: keep it when a traced loop thread runs a
 * callback that has lasted at least min_sample_ns (a fraction of the
 * slow-callback threshold), so slow callbacks get a stack even when they
 * make no syscall. Light mode keeps every sample of a busy loop thread.
 */
static __always_inline int on_sample(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct ap_rec_sample *r;
	struct ap_py_proc *pp;
	struct ap_thread *t;
	__u64 start;

	if (!is_target(tgid))
		return 0;
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t || !t->is_loop)
		return 0;
	if (light_mode)
		return light_sample(t, tgid, tid, bpf_ktime_get_ns());
	start = t->cb_start_ns;
	if (!start && t->uv_depth && t->uv_depth <= 4)
		start = t->uv_start_ns[0];
	now = bpf_ktime_get_ns();
	if (!start || now - start < min_sample_ns)
		return 0;
	pp = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!pp)
		return 0;
	r = rec_reserve(struct ap_rec_sample, AP_REC_SAMPLE, tgid, tid);
	if (!r)
		return 0;
	r->ts_ns = now;
	r->cb_start_ns = start;
	r->task = t->cb_task ? t->cb_task : t->uv_task[0];
	r->callback = t->cb_id ? t->cb_id : t->uv_id[0];
	r->stack_id = py_stack_id(pp, NULL);
	rec_submit_now(r);
	return 0;
}

#endif /* AP_PYSTACK_BPF_H */
