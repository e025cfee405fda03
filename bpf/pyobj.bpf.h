/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading CPython objects in the target: each process's layout (py_procs),
 * what kind of object a callable is, names sent once, and what a callback
 * is (the Task it steps, or its identity and name). Shared by the dispatch
 * probes (dispatch.bpf.h) and the stack walker (pystack.bpf.h).
 */
#ifndef AP_PYOBJ_BPF_H
#define AP_PYOBJ_BPF_H

#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AP_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct ap_py_proc);
} py_procs __weak SEC(".maps");

/* What a type (or a PyMethodDef) is, classified once by its name. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} py_kinds __weak SEC(".maps");

/* Names already sent to userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ap_cb_key);
	__type(value, __u8);
} names_seen __weak SEC(".maps");

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
__noinline __u32 type_kind(__u64 type, __u64 tp_name_off);

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
} kind_cache __weak SEC(".maps");

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

/*
 * A coroutine's qualname: its own (cr_qualname), or where no table says
 * where that is (3.14+), its code's, through its embedded frame.
 */
static __always_inline __u64 coro_qualname(__u64 coro, const struct ap_py_offsets *o)
{
	__u64 code;

	if (!coro)
		return 0;
	if (o->coro_qualname)
		return rd_ptr(coro + o->coro_qualname);
	if (!o->coro_iframe)
		return 0;
	code = rd_ptr(coro + o->coro_iframe + o->frame_code) & ~3ULL; /* a tagged _PyStackRef */
	return code ? rd_ptr(code + o->code_qualname) : 0;
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

	/* an offset no table gave (0, 3.14+) is not followed */
	if ((kind == PK_PARTIAL && o->partial_fn) || kind == PK_METHOD) {
		inner = rd_ptr(cb + (kind == PK_PARTIAL ? o->partial_fn : o->meth_func));
		if (inner) {
			cb = inner;
			kind = fast ? obj_kind_fast(cb, o, &type) : obj_kind(cb, o, &type);
		}
	}
	switch (kind) {
	case PK_STEP:
		ci->task = o->stepwrap_task ? rd_ptr(cb + o->stepwrap_task) : 0;
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

#endif /* AP_PYOBJ_BPF_H */
