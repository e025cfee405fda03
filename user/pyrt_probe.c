// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where in a function's first instructions a uprobe is cheap (pyrt.h,
 * pyrt__pick_probe): x86-64 decoded with Capstone, as ctxend.c decodes
 * context_run for its end points.
 */
#include <stdbool.h>
#include <capstone/capstone.h>
#include "pyrt.h"

enum insn_kind { INSN_BAD, INSN_CHEAP, INSN_OTHER };

/* A 64-bit general register operand, or X86_REG_INVALID. */
static x86_reg reg64(const cs_x86_op *o)
{
	return o->type == X86_OP_REG && o->size == 8 ? o->reg : X86_REG_INVALID;
}

/*
 * What the instruction in is for the probe: one a uprobe on which the kernel
 * emulates or runs out of line cheaply (push, nop, a direct jmp or call), one
 * we may step over (endbr64, a 64-bit register move or load, making stack
 * room), or one we do not follow (a store, anything else). ctx: the registers
 * that still hold the context, updated.
 */
static enum insn_kind insn_kind(const cs_insn *in, bool ctx[X86_REG_ENDING])
{
	const cs_x86 *x = &in->detail->x86;
	x86_reg dst, src;

	switch (in->id) {
	case X86_INS_PUSH:
		return x->op_count == 1 && x->operands[0].type == X86_OP_REG ? INSN_CHEAP
									     : INSN_BAD;
	case X86_INS_NOP:
		return INSN_CHEAP;
	case X86_INS_JMP:
	case X86_INS_CALL:
		return x->op_count == 1 && x->operands[0].type == X86_OP_IMM ? INSN_CHEAP
									     : INSN_BAD;
	case X86_INS_ENDBR64:
		return INSN_OTHER;
	case X86_INS_SUB:
		return x->op_count == 2 && reg64(&x->operands[0]) == X86_REG_RSP &&
				       x->operands[1].type == X86_OP_IMM
			       ? INSN_OTHER
			       : INSN_BAD;
	case X86_INS_MOV:
		dst = x->op_count == 2 ? reg64(&x->operands[0]) : X86_REG_INVALID;
		if (dst == X86_REG_INVALID)
			return INSN_BAD; /* a store, or not 64 bits: leave such functions alone */
		src = reg64(&x->operands[1]);
		if (src == X86_REG_INVALID && x->operands[1].type != X86_OP_MEM)
			return INSN_BAD;
		ctx[dst] = src != X86_REG_INVALID && ctx[src];
		return INSN_OTHER;
	default:
		return INSN_BAD;
	}
}

void pyrt__pick_probe(const uint8_t *code, size_t len, uint64_t *off, enum pyrt_reg *reg)
{
	bool ctx[X86_REG_ENDING] = {[X86_REG_RDI] = true};
	enum insn_kind k = INSN_BAD;
	cs_insn *ins = NULL;
	size_t n = 0, i;
	csh h;

	*off = 0;
	*reg = PYRT_REG_RDI;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(h, code, len, 0, 0, &ins); /* stops at the first undecodable byte */
	for (i = 0; i < n; i++) {
		k = insn_kind(&ins[i], ctx);
		if (k != INSN_OTHER)
			break;
	}
	if (k == INSN_CHEAP && ctx[X86_REG_RDI]) {
		*off = ins[i].address;
	} else if (k == INSN_CHEAP && ctx[X86_REG_RSI]) {
		*off = ins[i].address;
		*reg = PYRT_REG_RSI;
	}
	if (n)
		cs_free(ins, n);
	cs_close(&h);
}
