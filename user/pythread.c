// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A CPython thread's stack from outside (see pythread.h). */
#include <errno.h>
#include <stdbool.h>
#include "pythread.h"

#define GLIBC_PTHREAD_TID 0x2d0 /* offsetof(struct pthread, tid), glibc 2.36-2.43 x86-64 */
#define MAX_INTERPS	  8	/* interpreters looked at (subinterpreters are rare) */
#define MAX_THREADS	  1024	/* thread states looked at per interpreter */
#define MAX_FRAMES	  256	/* frames followed, kept or not, against a cycle */

/* Measured with gdb on the pyenv builds' DWARF (tools/gen_offsets.py's method). */
static const struct {
	int minor;
	struct pythread_offsets o;
} tables[] = {
	{8, {32, 8, 8, 176, 0}},     {9, {32, 8, 8, 176, 0}},	  {10, {32, 8, 8, 176, 0}},
	{11, {40, 16, 8, 152, 160}}, {12, {40, 72, 8, 136, 144}},
};

int pythread__offsets(int minor, const struct pydebug *dbg, struct pythread_offsets *out)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (tables[i].minor == minor) {
			*out = tables[i].o;
			return 0;
		}
	}
	if (!dbg || !pydebug__has(dbg, PD_INTERPRETERS_HEAD) ||
	    !pydebug__has(dbg, PD_THREADS_HEAD) || !pydebug__has(dbg, PD_TSTATE_NEXT) ||
	    !pydebug__has(dbg, PD_TSTATE_NATIVE_THREAD_ID))
		return -ENOTSUP;
	*out = (struct pythread_offsets){
		.interp_head = (uint32_t)dbg->off[PD_INTERPRETERS_HEAD],
		.threads_head = (uint32_t)dbg->off[PD_THREADS_HEAD],
		.tstate_next = (uint32_t)dbg->off[PD_TSTATE_NEXT],
		.tstate_thread_id = pydebug__has(dbg, PD_TSTATE_THREAD_ID)
					    ? (uint32_t)dbg->off[PD_TSTATE_THREAD_ID]
					    : 0,
		.tstate_native_id = (uint32_t)dbg->off[PD_TSTATE_NATIVE_THREAD_ID],
	};
	return 0;
}

struct reader {
	pystack_read_fn read;
	void *ctx;
	int err;
};

static uint64_t rd_ptr(struct reader *r, uint64_t addr)
{
	uint64_t v = 0;

	if (!addr || r->read(r->ctx, addr, &v, sizeof(v))) {
		r->err = -EIO;
		return 0;
	}
	return v;
}

/* Is ts thread tid's state? */
static bool tstate_is(struct reader *r, uint64_t ts, const struct pythread_offsets *to,
		      uint32_t tid)
{
	uint64_t pt;
	int32_t t = 0;

	if (to->tstate_native_id)
		return (uint32_t)rd_ptr(r, ts + to->tstate_native_id) == tid;
	/* before 3.11: through the pthread, which holds the kernel's tid */
	pt = rd_ptr(r, ts + to->tstate_thread_id);
	return pt && !r->read(r->ctx, pt + GLIBC_PTHREAD_TID, &t, sizeof(t)) && (uint32_t)t == tid;
}

static uint64_t find_tstate(struct reader *r, uint64_t runtime, const struct pythread_offsets *to,
			    uint32_t tid)
{
	uint64_t interp = rd_ptr(r, runtime + to->interp_head);

	for (int i = 0; interp && i < MAX_INTERPS; i++) {
		uint64_t ts = rd_ptr(r, interp + to->threads_head);

		for (int j = 0; ts && j < MAX_THREADS; j++) {
			if (tstate_is(r, ts, to, tid))
				return ts;
			ts = rd_ptr(r, ts + to->tstate_next);
		}
		interp = rd_ptr(r, interp); /* PyInterpreterState.next is its first member */
	}
	return 0;
}

/* The frame's position in its code, as walk_pos (bpf/pystack.bpf.h) packs it. */
static uint64_t frame_pos(struct reader *r, const struct ap_py_offsets *o, uint64_t f,
			  uint64_t code)
{
	uint64_t ip, base;
	int32_t lasti = 0;

	if (o->version_hex < 0x030b0000) {
		if (r->read(r->ctx, f + o->frame_lasti, &lasti, sizeof(lasti)) || lasti < 0)
			return AP_POS_START;
		return (uint64_t)lasti;
	}
	ip = rd_ptr(r, f + o->frame_lasti);
	base = code + o->code_adaptive;
	return ip < base ? AP_POS_START : (ip - base) / 2;
}

int pythread__stack(pystack_read_fn read, void *ctx, uint64_t runtime,
		    const struct ap_py_offsets *o, const struct pythread_offsets *to, uint32_t tid,
		    uint32_t depth, struct ap_pystack *st)
{
	struct reader r = {.read = read, .ctx = ctx};
	uint64_t ts, f;

	st->depth = 0;
	st->truncated = 0;
	ts = find_tstate(&r, runtime, to, tid);
	if (!ts)
		return r.err ? r.err : -ESRCH;
	f = rd_ptr(&r, ts + o->tstate_frame);
	if (o->version_hex >= 0x030b0000 && o->version_hex < 0x030d0000)
		f = rd_ptr(&r, f + o->cframe_current); /* 3.11/3.12: through the _PyCFrame */
	if (depth > AP_STACK_DEPTH)
		depth = AP_STACK_DEPTH;
	for (int i = 0; f && i < MAX_FRAMES; i++) {
		uint64_t cur = f, code = rd_ptr(&r, f + o->frame_code) & ~3ULL, pos;
		uint8_t owner = 0;

		if (o->version_hex >= 0x030c0000 && read(ctx, f + o->frame_owner, &owner, 1))
			break;
		f = rd_ptr(&r, f + o->frame_back);
		if (owner >= 3 || !code) /* not Python code (see walk_frame) */
			continue;
		if (st->depth >= depth) {
			st->truncated = 1;
			break;
		}
		pos = frame_pos(&r, o, cur, code);
		st->frames[st->depth++] = (code & 0xffffffffffffULL) |
					  ((pos > AP_POS_START ? AP_POS_START - 1 : pos) << 48);
	}
	return 0;
}
