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
#include "pyobj.bpf.h"
#include "thread.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ap_pystack);
} stacks __weak SEC(".maps");

#define PY_FRAME_OWNED_BY_INTERP 3    /* CSTACK in 3.12/3.13, INTERPRETER from 3.14 */
#define PY_TAG_BITS		 3ULL /* 3.14: 1, 3.15: 3; object pointers are 8-aligned */

/*
 * The current thread's PyThreadState*: in 3.15's thread-local, else through
 * its pthread key slot; one whose native_thread_id is another thread's is
 * no answer.
 */
static __always_inline __u64 py_tstate(const struct ap_py_proc *pp)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase), ts;
	__u32 key;

	if (!pp->runtime_addr || !fsbase)
		return 0;
	if (pp->tstate_tls) {
		ts = rd_ptr(fsbase + (__s64)pp->tstate_tls);
	} else {
		key = rd_u32(pp->runtime_addr + pp->off.rt_autotss_key + 4);
		if (key >= 32) /* beyond glibc's first block of keys */
			return 0;
		ts = rd_ptr(fsbase + pp->tls_specific + key * 16 + 8);
	}
	if (ts && pp->tstate_tid &&
	    rd_u32(ts + pp->tstate_tid) != (__u32)bpf_get_current_pid_tgid())
		return 0;
	return ts;
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
static __always_inline void light_frame(struct walk_ctx *w, struct ap_py_proc *pp, __u64 f,
					__u64 code)
{
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
			w->hit.handle = rd_ptr(f + pp->frame_locals) & ~PY_TAG_BITS;
	} else if (caller && !pp->handle_run_code) {
		self = rd_ptr(f + pp->frame_locals) & ~PY_TAG_BITS;
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

/* One frame of the walk; nonzero ends it. pp: the light search, else NULL. */
static __always_inline long walk_frame(struct walk_ctx *w, struct ap_pystack *st,
				       struct ap_py_proc *pp)
{
	__u64 f = w->f, code, pos;
	__u8 owner = 0;
	__u32 n;

	if (!f)
		return 1;
	/* 3.14+: f_executable is a _PyStackRef, tagged in its low bits */
	code = rd_ptr(f + w->off_code) & ~PY_TAG_BITS;
	if (w->version >= 0x030c0000)
		bpf_probe_read_user(&owner, 1, (const void *)(f + w->off_owner));
	w->f = rd_ptr(f + w->off_back);
	/*
	 * Not Python code: 3.12/3.13's C-stack shim frames (owner 3), 3.14's
	 * interpreter-owned base and entry frames (3, 4), 3.13's None executable
	 */
	if (owner >= PY_FRAME_OWNED_BY_INTERP || !code)
		return 0;
	if (pp)
		light_frame(w, pp, f, code);
	n = st->depth;
	if (n >= w->max || n >= AP_STACK_DEPTH) {
		st->truncated = 1;
		return pp ? 0 : 1;
	}
	pos = walk_pos(w, f, code);
	if (pos > AP_POS_START)
		pos = AP_POS_START - 1;
	st->frames[n & (AP_STACK_DEPTH - 1)] = (code & 0xffffffffffffULL) | (pos << 48);
	st->depth = n + 1;
	return 0;
}

/* One frame of the walk kept in slot; nonzero ends it. */
static __always_inline long walk_step_in(__u32 slot)
{
	struct py_scratch *ps = py_scratch_get(slot);
	struct ap_py_proc *pp = NULL;

	if (!ps)
		return 1;
	if (ps->w.light) {
		pp = bpf_map_lookup_elem(&py_procs, &ps->w.tgid);
		if (!pp)
			return 1;
	}
	return walk_frame(&ps->w, &ps->st, pp);
}

/* bpf_loop's callback (arg: the slot): the verifier checks the body once. */
static long walk_one(__u32 i, void *arg)
{
	return walk_step_in(*(__u32 *)arg);
}

/*
 * Kernels before 5.17 have no bpf_loop: a bounded loop over a global
 * function, which the verifier checks once; inlined, the light search's
 * 128 frames were more than its million instructions.
 */
__noinline long walk_step(__u32 slot);

#define LIGHT_WALK_MAX 128 /* frames searched for the outermost coroutine */
#define WALK_MAX       (AP_STACK_DEPTH + 8)

static __always_inline void walk_bounded(__u32 slot, bool light)
{
	int n = light ? LIGHT_WALK_MAX : WALK_MAX;

#pragma clang loop unroll(disable)
	for (int i = 0; i < LIGHT_WALK_MAX; i++)
		if (i >= n || walk_step(slot))
			break;
}

/*
 * Walk the current thread's Python frames into slot's stack; the light
 * search when hit. loop: with bpf_loop (a constant in each program). The
 * walk's state lives in the slot: no stack frame holds it.
 */
static __always_inline void py_walk(__u32 tgid, struct ap_py_proc *pp, __u32 slot,
				    struct light_hit *hit, bool loop)
{
	const struct ap_py_offsets *o = &pp->off;
	struct py_scratch *ps = py_scratch_get(slot);
	__u64 tstate = py_tstate(pp);
	struct walk_ctx *w;
	bool light = hit && pp->code_flags;

	if (!ps)
		return;
	ps->st.depth = 0;
	ps->st.truncated = 0;
	if (!tstate)
		return;
	w = &ps->w;
	__builtin_memset(w, 0, sizeof(*w));
	w->f = py_top_frame(pp, tstate);
	w->max = pp->stack_depth;
	w->slot = slot;
	w->version = o->version_hex;
	w->off_code = o->frame_code;
	w->off_back = o->frame_back;
	w->off_lasti = o->frame_lasti;
	w->off_owner = o->frame_owner;
	w->off_adaptive = o->code_adaptive;
	w->tgid = tgid;
	w->light = light;
	if (loop)
		bpf_loop(light ? LIGHT_WALK_MAX : WALK_MAX, walk_one, &slot, 0);
	else
		walk_bounded(slot, light);
	ps = py_scratch_get(slot);
	if (hit && ps)
		*hit = ps->w.hit;
}

/*
 * Intern the stack in slot; its id (0 when it cannot be kept). A global
 * function: the hash loop is checked once, not once per state the walk
 * ends in.
 */
__noinline __u64 stack_intern(__u32 slot);

/* Walk, intern and return the stack's id (0 when there is none); fills hit if given. */
static __always_inline __u64 py_stack_id(__u32 tgid, struct ap_py_proc *pp, __u32 slot,
					 struct light_hit *hit, bool loop)
{
	struct py_scratch *ps;

	py_walk(tgid, pp, slot, hit, loop);
	ps = py_scratch_get(slot);
	if (!ps || !ps->st.depth)
		return 0;
	return stack_intern(slot);
}

/*
 * Light mode: the task or callback a stack belongs to. Through the Handle
 * (asyncio): its _callback, classified as a dispatched callback is. Without
 * one (uvloop runs handles from C): the outermost coroutine's code object,
 * named by its qualname; the Task itself is not known then.
 */
static __always_inline void light_ident(__u32 tgid, __u32 tid, struct ap_py_proc *pp,
					const struct light_hit *hit, struct py_scratch *ps)
{
	const struct ap_py_offsets *o = &pp->off;
	struct cb_ident ci = {};
	__u64 coro, qual;

	if (hit->handle)
		identify(rd_ptr(hit->handle + AIO_HANDLE_CALLBACK), o, &ci, false);
	if (ci.task) {
		coro = rd_ptr(ci.task + o->task_coro);
		qual = coro_qualname(coro, o);
		/* a freed Task's address comes back: its names are sent every time */
		emit_pyname(tgid, tid, AP_NAME_TASK, ci.task, rd_ptr(ci.task + o->task_name), o);
		emit_pyname(tgid, tid, AP_NAME_TASK_CORO, ci.task, qual, o);
		if (qual && name_is_new(tgid, AP_NAME_CALLBACK, qual))
			emit_pyname(tgid, tid, AP_NAME_CALLBACK, qual, qual, o);
		ps->task = ci.task;
		ps->cb = qual;
		return;
	}
	if (!ci.id && (hit->cb_code || hit->coro_code)) {
		ci.id = hit->cb_code ? hit->cb_code : hit->coro_code;
		ci.name_obj = rd_ptr(ci.id + (o->code_qualname ? o->code_qualname : o->code_name));
	}
	cb_name_once(tgid, tid, &ci, o);
	ps->task = 0;
	ps->cb = ci.id;
}

/*
 * The Python stack of thread tid now, into slot's stack_id (and in light
 * mode its task and callback): for a blocking call and, in light mode, a
 * CPU sample. 0, or -ENOENT for a process that is not a known CPython.
 */
static __always_inline int py_attribute_in(__u32 tgid, __u32 tid, __u32 slot, bool loop)
{
	struct py_scratch *ps = py_scratch_get(slot);
	struct light_hit hit = {};
	struct ap_py_proc *pp;
	__u64 id;

	if (!ps)
		return -EINVAL;
	ps->stack_id = 0;
	ps->task = 0;
	ps->cb = 0;
	pp = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!pp)
		return -ENOENT;
	id = py_stack_id(tgid, pp, slot, light_mode ? &hit : NULL, loop);
	/* the walk used the slot: look it up again rather than keep a pointer over calls */
	ps = py_scratch_get(slot);
	if (!ps)
		return -EINVAL;
	ps->stack_id = id;
	if (light_mode)
		light_ident(tgid, tid, pp, &hit, ps);
	return 0;
}

/*
 * Global functions: the verifier checks the walk and the attribution once
 * per program, not once per state of the caller that reaches them. Only
 * scalar arguments, which every supported kernel takes; a map key made
 * from a pointer argument fails on 6.1. The _bounded one walks without
 * bpf_loop, for kernels before 5.17.
 */
__noinline int py_attribute(__u32 tgid, __u32 tid, __u32 slot);

__noinline int py_attribute_bounded(__u32 tgid, __u32 tid, __u32 slot);

static __always_inline int py_attribute_any(__u32 tgid, __u32 tid, __u32 slot, bool loop)
{
	return loop ? py_attribute(tgid, tid, slot) : py_attribute_bounded(tgid, tid, slot);
}

#define NR_FUTEX   202
#define FUTEX_WAKE 1
#define FUTEX_CMD  0x7f /* the op without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME */

/*
 * A futex wake on the GIL: the thread dropping it signals a waiter. Kept
 * for the waiter's exit, which then knows who held the GIL it waited for.
 */
static __always_inline void gil_wake_note(__u32 tgid, __u32 tid, __u64 addr, __u64 op, __u64 now)
{
	struct ap_py_proc *pp;

	if ((op & FUTEX_CMD) != FUTEX_WAKE)
		return;
	pp = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!pp || addr < pp->gil_lo || addr >= pp->gil_hi)
		return;
	pp->gil_waker = tid;
	pp->gil_wake_ns = now;
}
#define GIL_GAP_NS 100000 /* GIL waits this close together are one wait */

/*
 * A futex inside _PyRuntime is on the GIL's mutex or condition variable.
 * CPython waits for the GIL in slices of the switch interval (5 ms), so a
 * run of waits with no gap is one wait: it is reported (and re-reported
 * as it grows, userspace keeps the last) from the start of the run.
 */
static __always_inline bool gil_wait(struct ap_thread *t, __u64 now, __u64 *start, __u64 *dur,
				     __u32 *holder)
{
	struct ap_py_proc *pp;
	__u64 addr = t->sys_args[0];

	if (t->sys_nr != NR_FUTEX)
		return false;
	pp = bpf_map_lookup_elem(&py_procs, &t->tgid);
	if (!pp || addr < pp->gil_lo || addr >= pp->gil_hi)
		return false;
	/* a wait (not this thread's own wake) that another thread's wake ended */
	if ((t->sys_args[1] & FUTEX_CMD) != FUTEX_WAKE && pp->gil_wake_ns >= t->sys_start_ns)
		*holder = pp->gil_waker;
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
static __always_inline int light_sample(struct ap_thread *t, __u32 tgid, __u32 tid, __u64 now,
					bool loop)
{
	struct ap_rec_sample *r;
	struct py_scratch *ps;
	__u64 start;

	if (t->in_poll)
		return 0;
	start = busy_since(t, now);
	/* t->tgid is tgid: the entry was made by this process */
	if (py_attribute_any(tgid, tid, AP_SLOT_SAMPLE, loop))
		return 0;
	ps = py_scratch_get(AP_SLOT_SAMPLE);
	if (!ps)
		return 0;
	r = rec_reserve(struct ap_rec_sample, AP_REC_SAMPLE, tgid, tid);
	if (!r)
		return 0;
	r->ts_ns = now;
	r->cb_start_ns = start;
	r->task = ps->task;
	r->callback = ps->cb;
	r->stack_id = ps->stack_id;
	rec_submit_now(r);
	return 0;
}

/*
 * CPU-clock sample on any CPU: keep it when a traced loop thread runs a
 * callback that has lasted at least min_sample_ns (a fraction of the
 * slow-callback threshold), so slow callbacks get a stack even when they
 * make no syscall. Light mode keeps every sample of a busy loop thread.
 */
static __always_inline int on_sample(bool loop)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct ap_rec_sample *r;
	struct py_scratch *ps;
	struct ap_thread *t;
	__u64 start, task, cb;

	if (!is_target(tgid))
		return 0;
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t || !t->is_loop)
		return 0;
	if (light_mode)
		return light_sample(t, tgid, tid, bpf_ktime_get_ns(), loop);
	start = t->cb_start_ns;
	if (!start && t->uv_depth && t->uv_depth <= 4)
		start = t->uv_start_ns[0];
	now = bpf_ktime_get_ns();
	if (!start || now - start < min_sample_ns)
		return 0;
	task = t->cb_task ? t->cb_task : t->uv_task[0];
	cb = t->cb_id ? t->cb_id : t->uv_id[0];
	if (py_attribute_any(tgid, tid, AP_SLOT_SAMPLE, loop))
		return 0;
	ps = py_scratch_get(AP_SLOT_SAMPLE);
	if (!ps)
		return 0;
	r = rec_reserve(struct ap_rec_sample, AP_REC_SAMPLE, tgid, tid);
	if (!r)
		return 0;
	r->ts_ns = now;
	r->cb_start_ns = start;
	r->task = task;
	r->callback = cb;
	r->stack_id = ps->stack_id;
	rec_submit_now(r);
	return 0;
}

#endif /* AP_PYSTACK_BPF_H */
