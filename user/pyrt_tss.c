// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where a thread's PyThreadState lives, read from the code of
 * PyGILState_GetThisThreadState (pyrt.h, pyrt__decode_tss). The BPF stack
 * walker needs a slot that stays set while the thread has released the GIL
 * (inside a blocking call), and neither _Py_DebugOffsets nor a public header
 * says where that is from 3.14 on:
 *
 *   3.8-3.14  the pthread key _PyRuntime.autoTSSkey (a Py_tss_t), whose
 *             address (or key) the function passes to PyThread_tss_get,
 *             PyThread_tss_is_created or pthread_getspecific;
 *   3.15      a static thread-local (mov %fs:DISP,%rax in a static build).
 */
#include <errno.h>
#include <stdbool.h>
#include <capstone/capstone.h>
#include "pyrt.h"

#define TSS_INSNS 12 /* the function is a few instructions; stop looking after these */

/*
 * What a register holds, as far as the few instructions before the call
 * show: an address, the address of _PyRuntime itself (loaded from its GOT
 * slot in a shared libpython), or a 32-bit value loaded from an address
 * (the key, loaded from the Py_tss_t's second member).
 */
enum val_kind { V_NONE, V_ADDR, V_RUNTIME, V_LOADED };

struct val {
	enum val_kind kind;
	uint64_t addr; /* V_ADDR: the address; V_LOADED: where it was loaded from */
};

struct regs {
	struct val r[X86_REG_ENDING];
	uint64_t rt_lo, rt_hi;
};

/* The 64-bit register a register operand is part of (edi: rdi), or itself. */
static x86_reg full_reg(x86_reg r)
{
	switch (r) {
	case X86_REG_EDI:
		return X86_REG_RDI;
	case X86_REG_ESI:
		return X86_REG_RSI;
	case X86_REG_EAX:
		return X86_REG_RAX;
	case X86_REG_EBX:
		return X86_REG_RBX;
	case X86_REG_ECX:
		return X86_REG_RCX;
	case X86_REG_EDX:
		return X86_REG_RDX;
	default:
		return r;
	}
}

/* The address a memory operand names when its base is known; false if not. */
static bool mem_addr(const cs_insn *in, const struct regs *rs, const cs_x86_op *o, uint64_t *addr)
{
	const struct val *b;

	if (o->mem.index != X86_REG_INVALID || o->mem.segment != X86_REG_INVALID)
		return false;
	if (o->mem.base == X86_REG_RIP) {
		*addr = in->address + in->size + (uint64_t)o->mem.disp;
		return true;
	}
	if (o->mem.base == X86_REG_INVALID) {
		*addr = (uint64_t)o->mem.disp;
		return true;
	}
	b = &rs->r[full_reg(o->mem.base)];
	if (b->kind == V_RUNTIME) {
		*addr = rs->rt_lo + (uint64_t)o->mem.disp;
		return true;
	}
	if (b->kind == V_ADDR) {
		*addr = b->addr + (uint64_t)o->mem.disp;
		return true;
	}
	return false;
}

static bool in_runtime(const struct regs *rs, uint64_t a)
{
	return a >= rs->rt_lo && a < rs->rt_hi;
}

/* Update the destination of a mov or lea. */
static void track(const cs_insn *in, struct regs *rs)
{
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_op *d = &x->operands[0], *s = &x->operands[1];
	struct val v = {V_NONE, 0};
	uint64_t a;

	if (x->op_count != 2 || d->type != X86_OP_REG)
		return;
	if (s->type == X86_OP_IMM) {
		v = (struct val){V_ADDR, (uint64_t)s->imm};
	} else if (s->type == X86_OP_REG) {
		v = rs->r[full_reg(s->reg)];
	} else if (s->type == X86_OP_MEM && mem_addr(in, rs, s, &a)) {
		if (in->id == X86_INS_LEA)
			v = (struct val){V_ADDR, a};
		else if (in_runtime(rs, a))
			v = (struct val){V_LOADED, a};
		else if (s->size == 8 && s->mem.base == X86_REG_RIP)
			v = (struct val){V_RUNTIME, 0}; /* a GOT slot: the function's one global */
	}
	rs->r[full_reg(d->reg)] = v;
}

/* The Py_tss_t the first argument names at a call, or 0. */
static uint64_t tss_arg(const struct regs *rs)
{
	const struct val *v = &rs->r[X86_REG_RDI];

	if (v->kind == V_ADDR && in_runtime(rs, v->addr))
		return v->addr;
	if (v->kind == V_LOADED && in_runtime(rs, v->addr - 4))
		return v->addr - 4; /* the key itself: Py_tss_t._key follows _is_initialized */
	return 0;
}

/* A load from %fs:DISP (no base, no index): the static TLS slot at DISP. */
static bool fs_load(const cs_insn *in, int64_t *disp)
{
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_op *o;

	if (in->id != X86_INS_MOV || x->op_count != 2)
		return false;
	o = &x->operands[1];
	if (o->type != X86_OP_MEM || o->mem.segment != X86_REG_FS ||
	    o->mem.base != X86_REG_INVALID || o->mem.index != X86_REG_INVALID || o->size != 8)
		return false;
	*disp = o->mem.disp;
	return true;
}

/* One instruction: 1 when it settles where the thread state is, 0 to go on, -1 to stop. */
static int tss_insn(const cs_insn *in, struct regs *rs, struct pyrt_tss *out)
{
	uint64_t key;
	int64_t disp;

	if (fs_load(in, &disp)) {
		out->kind = PYRT_TSS_TLS;
		out->tls_off = disp;
		return 1;
	}
	switch (in->id) {
	case X86_INS_MOV:
	case X86_INS_LEA:
		track(in, rs);
		return 0;
	case X86_INS_CALL:
	case X86_INS_JMP:
		/* a call with the key as its argument (PyThread_tss_get, _is_created,
		 * pthread_getspecific); a jump with none is a branch, followed as is */
		key = tss_arg(rs);
		if (!key)
			return in->id == X86_INS_CALL ? -1 : 0;
		out->kind = PYRT_TSS_KEY;
		out->key_off = key - rs->rt_lo;
		return 1;
	case X86_INS_RET:
	case X86_INS_UD2:
		return -1;
	default:
		return 0;
	}
}

int pyrt__decode_tss(const uint8_t *code, size_t len, uint64_t vaddr, uint64_t rt_vaddr,
		     uint64_t rt_size, struct pyrt_tss *out)
{
	struct regs rs = {.rt_lo = rt_vaddr, .rt_hi = rt_vaddr + rt_size};
	cs_insn *ins = NULL;
	size_t n, i;
	int r = 0;
	csh h;

	*out = (struct pyrt_tss){.kind = PYRT_TSS_NONE};
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(h, code, len, vaddr, TSS_INSNS, &ins);
	for (i = 0; i < n && !r; i++)
		r = tss_insn(&ins[i], &rs, out);
	if (n)
		cs_free(ins, n);
	cs_close(&h);
	return r == 1 ? 0 : -ENOENT;
}
