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
#ifndef AP_CPYTHON_BPF_H
#define AP_CPYTHON_BPF_H

#include "common.bpf.h"

const volatile __u32 max_tasks = 16384;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AP_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct ap_py_proc);
} py_procs SEC(".maps");

/* Live tasks; finished ones leave through AP_REC_TASK_END. Sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ap_task_stats);
} tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ap_cb_key);
	__type(value, struct ap_cb_stats);
} callbacks SEC(".maps");

/* What a type (or a PyMethodDef) is, classified once by its name. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} py_kinds SEC(".maps");

/* Names already sent to userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ap_cb_key);
	__type(value, __u8);
} names_seen SEC(".maps");

__u64 live_tasks = 0;

enum py_kind {
	PK_NONE = 0,
	PK_OTHER,
	PK_STEP,   /* TaskStepMethWrapper */
	PK_WAKEUP, /* TaskWakeupMethWrapper (3.8, 3.9) */
	PK_CFUNC,  /* builtin_function_or_method, builtin_method */
	PK_FUNC,
	PK_METHOD,
	PK_PARTIAL,
	PK_ML_WAKEUP, /* PyMethodDef of task_wakeup */
	PK_ML_OTHER,
	PK_UV_HANDLE,  /* uvloop.loop.Handle */
	PK_UV_TIMER,   /* uvloop.loop.TimerHandle */
	PK_AIO_HANDLE, /* asyncio.events.Handle or TimerHandle (light mode) */
};

/*
 * uvloop 0.17's cdef classes (uvloop/cbhandles.pxd): object header, vtable
 * pointer, then the fields in order. A candidate Handle is only used when
 * its context field equals the context being entered, so another layout
 * is never misread, only not recognised.
 */
#define UV_HANDLE_CONTEXT 32
#define UV_HANDLE_CB_TYPE 56
#define UV_HANDLE_ARG1	  72
#define UV_TIMER_CALLBACK 24
#define UV_TIMER_CONTEXT  64

#define PY_TPFLAGS_LONG_SUBCLASS    (1UL << 24)
#define PY_TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
#define TP_FLAGS_OFF		    168
#define TP_NAME_BUF		    32

static __always_inline __u64 rd_ptr(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (const void *)addr);
	return v;
}

static __always_inline __u32 rd_u32(__u64 addr)
{
	__u32 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (const void *)addr);
	return v;
}

/* Bytes [8w, 8w+8) of literal lit (n bytes with its NUL), zero past n; folded at compile time. */
static __always_inline __u64 lit_word(const char *lit, int n, int w)
{
	__u64 v = 0;

	for (int i = 0; i < 8; i++)
		if (w * 8 + i < n)
			v |= (__u64)(__u8)lit[w * 8 + i] << (i * 8);
	return v;
}

/*
 * Is the string in buf lit? buf is 8-aligned and zero past its NUL (read
 * with bpf_probe_read_user_str into zeroed bytes), so comparing whole
 * words is comparing the n bytes: one branch per name instead of one per
 * byte, which the verifier followed byte by byte.
 */
static __always_inline bool str_is(const char *buf, const char *lit, int n)
{
	const __u64 *w = (const __u64 *)buf;
	__u64 diff = 0;

	for (int i = 0; i < TP_NAME_BUF / 8; i++)
		if (i * 8 < n)
			diff |= w[i] ^ lit_word(lit, n, i);
	return !diff;
}

#define STR_IS(buf, lit) str_is(buf, lit, sizeof(lit))

static __always_inline __u32 classify_name(const char *n)
{
	if (STR_IS(n, "TaskStepMethWrapper") || STR_IS(n, "_asyncio.TaskStepMethWrapper"))
		return PK_STEP;
	if (STR_IS(n, "TaskWakeupMethWrapper") || STR_IS(n, "_asyncio.TaskWakeupMethWrapper"))
		return PK_WAKEUP;
	if (STR_IS(n, "builtin_function_or_method") || STR_IS(n, "builtin_method"))
		return PK_CFUNC;
	if (STR_IS(n, "function"))
		return PK_FUNC;
	if (STR_IS(n, "method"))
		return PK_METHOD;
	if (STR_IS(n, "functools.partial"))
		return PK_PARTIAL;
	if (STR_IS(n, "uvloop.loop.Handle"))
		return PK_UV_HANDLE;
	if (STR_IS(n, "uvloop.loop.TimerHandle"))
		return PK_UV_TIMER;
	if (STR_IS(n, "Handle") || STR_IS(n, "TimerHandle"))
		return PK_AIO_HANDLE;
	return PK_OTHER;
}

/*
 * Kind of a type not in the cache, from its name (tp_name at tp_name_off);
 * cached. A global function: the verifier checks the name comparisons
 * once per program instead of at every obj_kind (up to nine in a program).
 */
__noinline __u32 type_kind(__u64 type, __u64 tp_name_off)
{
	char name[TP_NAME_BUF] __attribute__((aligned(8))) = {};
	__u32 kind;

	bpf_probe_read_user_str(name, sizeof(name), (const void *)rd_ptr(type + tp_name_off));
	kind = classify_name(name);
	bpf_map_update_elem(&py_kinds, &type, &kind, BPF_ANY);
	return kind;
}

/* Kind of the object at obj, from its type's name; cached per type. */
static __always_inline __u32 obj_kind(__u64 obj, const struct ap_py_offsets *o, __u64 *typep)
{
	__u64 type = rd_ptr(obj + o->ob_type);
	__u32 *k;

	*typep = type;
	if (!type)
		return PK_NONE;
	k = bpf_map_lookup_elem(&py_kinds, &type);
	if (k)
		return *k;
	return type_kind(type, o->tp_name);
}

/*
 * A per-CPU cache in front of py_kinds for the uprobe programs, where a
 * callback's type is looked up once or twice per callback: an array slot is
 * a few instructions, a hash lookup a hundred nanoseconds. Direct-mapped on
 * the type's address. A program can be preempted, and another write the
 * same slot: a slot is cleared before it is written and read as the same
 * type twice around its kind, so a half-written slot is a miss (the kind
 * is a function of the type).
 */
struct kind_slot {
	__u64 type;
	__u64 kind;
};

#define KIND_SLOTS 8

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kind_slot[KIND_SLOTS]);
} kind_cache SEC(".maps");

static __always_inline __u32 obj_kind_fast_at(__u64 obj, __u64 ob_type_off, __u64 tp_name_off,
					      __u64 *typep)
{
	__u64 type = rd_ptr(obj + ob_type_off);
	struct kind_slot *c, *s = NULL;
	__u32 zero = 0, *k, kind;

	*typep = type;
	if (!type)
		return PK_NONE;
	c = bpf_map_lookup_elem(&kind_cache, &zero);
	if (c) {
		s = &c[(type >> 4) & (KIND_SLOTS - 1)];
		if (READ_ONCE(s->type) == type) {
			kind = READ_ONCE(s->kind);
			barrier();
			if (READ_ONCE(s->type) == type)
				return kind;
		}
	}
	k = bpf_map_lookup_elem(&py_kinds, &type);
	kind = k ? *k : type_kind(type, tp_name_off);
	if (s) {
		WRITE_ONCE(s->type, 0);
		barrier();
		WRITE_ONCE(s->kind, kind);
		barrier();
		WRITE_ONCE(s->type, type);
	}
	return kind;
}

static __always_inline __u32 obj_kind_fast(__u64 obj, const struct ap_py_offsets *o, __u64 *typep)
{
	return obj_kind_fast_at(obj, o->ob_type, o->tp_name, typep);
}

/* Is this PyMethodDef task_wakeup's? Cached per PyMethodDef. */
static __always_inline bool ml_is_wakeup(__u64 ml)
{
	char name[TP_NAME_BUF] __attribute__((aligned(8))) = {};
	__u32 *k, kind;

	k = bpf_map_lookup_elem(&py_kinds, &ml);
	if (k)
		return *k == PK_ML_WAKEUP;
	bpf_probe_read_user_str(name, sizeof(name), (const void *)rd_ptr(ml));
	kind = STR_IS(name, "task_wakeup") ? PK_ML_WAKEUP : PK_ML_OTHER;
	bpf_map_update_elem(&py_kinds, &ml, &kind, BPF_ANY);
	return kind == PK_ML_WAKEUP;
}

/* Send a name once per (tgid, kind, key). */
static __always_inline bool name_is_new(__u32 tgid, __u32 kind, __u64 key)
{
	struct ap_cb_key k = {.tgid = tgid, .pad = kind, .id = key};
	__u8 one = 1;

	return !bpf_map_update_elem(&names_seen, &k, &one, BPF_NOEXIST);
}

static __always_inline void name_forget(__u32 tgid, __u32 kind, __u64 key)
{
	struct ap_cb_key k = {.tgid = tgid, .pad = kind, .id = key};

	bpf_map_delete_elem(&names_seen, &k);
}

/* Read n < AP_NAME_MAX bytes; the mask is done in asm so the verifier sees it. */
static __always_inline void read_bounded(__u8 *dst, __u64 n, __u64 src)
{
	asm volatile("%[n] &= %[m]" : [n] "+r"(n) : [m] "i"(AP_NAME_MAX - 1));
	bpf_probe_read_user(dst, n, (const void *)src);
}

/* Copy a Python str or int object into r (bounded; userspace decodes). */
static __always_inline void read_pyobj_name(struct ap_rec_name *r, __u64 obj,
					    const struct ap_py_offsets *o)
{
	__u64 type = rd_ptr(obj + o->ob_type), flags = rd_ptr(type + TP_FLAGS_OFF);
	__u32 state, len, kind;
	__u64 data, n;
	__s64 size;

	if (flags & PY_TPFLAGS_LONG_SUBCLASS) {
		size = (__s64)rd_ptr(obj + o->long_size);
		if (o->long_lv_tag)
			size = size >> 3;
		r->enc = AP_STR_INT;
		r->int_value = rd_u32(obj + o->long_digits);
		if (size > 1)
			r->int_value |= (__u64)rd_u32(obj + o->long_digits + 4) << 30;
		return;
	}
	if (!(flags & PY_TPFLAGS_UNICODE_SUBCLASS))
		return;
	state = rd_u32(obj + o->str_state);
	len = (__u32)rd_ptr(obj + o->str_length);
	if (!(state & 0x20)) /* not compact: a legacy string, not worth reading */
		return;
	kind = (state >> 2) & 7;
	if (kind != 1 && kind != 2 && kind != 4)
		return;
	data = obj + ((state & 0x40) ? o->str_ascii_data : o->str_compact_data);
	n = len * kind;
	if (n > AP_NAME_MAX - 1) {
		n = AP_NAME_MAX - 1;
		r->truncated = 1;
	}
	r->enc = kind;
	r->len = n;
	read_bounded(r->name, n, data);
}

static __always_inline void emit_pyname(__u32 tgid, __u32 tid, __u32 kind, __u64 key, __u64 obj,
					const struct ap_py_offsets *o)
{
	struct ap_rec_name *r = rec_reserve(struct ap_rec_name, AP_REC_NAME, tgid, tid);

	if (!r) {
		name_forget(tgid, kind, key);
		return;
	}
	__builtin_memset(&r->key, 0, sizeof(*r) - sizeof(r->hdr));
	r->key = key;
	r->kind = kind;
	if (obj)
		read_pyobj_name(r, obj, o);
	rec_submit(r);
}

static __always_inline void emit_cname(__u32 tgid, __u32 tid, __u32 kind, __u64 key, __u64 str)
{
	struct ap_rec_name *r = rec_reserve(struct ap_rec_name, AP_REC_NAME, tgid, tid);
	long n;

	if (!r) {
		name_forget(tgid, kind, key);
		return;
	}
	__builtin_memset(&r->key, 0, sizeof(*r) - sizeof(r->hdr));
	r->key = key;
	r->kind = kind;
	r->enc = AP_STR_LATIN1;
	n = bpf_probe_read_user_str(r->name, AP_NAME_MAX, (const void *)str);
	r->len = n > 1 ? n - 1 : 0;
	rec_submit(r);
}

/* What a callback is: the Task it steps, or its identity and a name source. */
struct cb_ident {
	__u64 task;
	__u64 id;	/* callback identity */
	__u64 name_obj; /* a Python str to read the name from, or 0 */
	__u64 name_c;	/* a C string to read the name from, or 0 */
};

static __always_inline void ident_func(__u64 fn, const struct ap_py_offsets *o, struct cb_ident *ci)
{
	ci->id = rd_ptr(fn + o->func_code);
	ci->name_obj = rd_ptr(fn + o->func_qualname);
}

/*
 * Classify callable cb; follows one level of bound method or partial.
 * fast: in a uprobe program (obj_kind_fast's cache).
 */
static __always_inline void identify(__u64 cb, const struct ap_py_offsets *o, struct cb_ident *ci,
				     bool fast)
{
	__u64 type, inner, ml;
	__u32 kind = fast ? obj_kind_fast(cb, o, &type) : obj_kind(cb, o, &type);

	if (kind == PK_PARTIAL || kind == PK_METHOD) {
		inner = rd_ptr(cb + (kind == PK_PARTIAL ? o->partial_fn : o->meth_func));
		if (inner) {
			cb = inner;
			kind = fast ? obj_kind_fast(cb, o, &type) : obj_kind(cb, o, &type);
		}
	}
	switch (kind) {
	case PK_STEP:
		ci->task = rd_ptr(cb + o->stepwrap_task);
		return;
	case PK_WAKEUP:
		ci->task = rd_ptr(cb + o->wakewrap_task);
		return;
	case PK_CFUNC:
		ml = rd_ptr(cb + o->cfunc_ml);
		if (ml_is_wakeup(ml)) {
			ci->task = rd_ptr(cb + o->cfunc_self);
			return;
		}
		ci->id = ml;
		ci->name_c = rd_ptr(ml); /* ml_name */
		return;
	case PK_FUNC:
		ident_func(cb, o, ci);
		return;
	case PK_METHOD: /* a bound method of something that is not a function */
	default:
		ci->id = type;
		ci->name_c = rd_ptr(type + o->tp_name);
		return;
	}
}

/* A task seen for the first time: make its entry, send its names. */
static __always_inline struct ap_task_stats *task_get(__u32 tgid, __u32 tid, __u64 task,
						      const struct ap_py_offsets *o, __u64 now)
{
	struct ap_task_stats *st = bpf_map_lookup_elem(&tasks, &task), init = {};
	__u64 coro, qual;

	if (st)
		return st;
	coro = rd_ptr(task + o->task_coro);
	qual = coro ? rd_ptr(coro + o->coro_qualname) : 0;
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

/* Send the name of a plain callback the first time it is seen. */
static __always_inline void cb_name_once(__u32 tgid, __u32 tid, const struct cb_ident *ci,
					 const struct ap_py_offsets *o)
{
	if (!ci->id || !name_is_new(tgid, AP_NAME_CALLBACK, ci->id))
		return;
	if (ci->name_obj)
		emit_pyname(tgid, tid, AP_NAME_CALLBACK, ci->id, ci->name_obj, o);
	else
		emit_cname(tgid, tid, AP_NAME_CALLBACK, ci->id, ci->name_c);
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
__noinline __u64 uv_callable(__u64 obj, __u64 ctx, __u64 ob_type_off, __u64 tp_name_off)
{
	__u64 type;
	__u32 kind;

	if (!obj || obj & 7)
		return 0;
	kind = obj_kind_fast_at(obj, ob_type_off, tp_name_off, &type);
	if (kind == PK_UV_HANDLE && rd_ptr(obj + UV_HANDLE_CONTEXT) == ctx)
		/* cb_type 1 is a Python callable; others are uvloop's own methods */
		return rd_u32(obj + UV_HANDLE_CB_TYPE) == 1 ? rd_ptr(obj + UV_HANDLE_ARG1) : 0;
	if (kind == PK_UV_TIMER && rd_ptr(obj + UV_TIMER_CONTEXT) == ctx)
		return rd_ptr(obj + UV_TIMER_CALLBACK);
	return 0;
}

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

#endif /* AP_CPYTHON_BPF_H */
