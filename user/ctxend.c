// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The end points of context_run for a plain uprobe (see ctxend.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <capstone/capstone.h>
#include "ctxend.h"

/* context_run is a few hundred bytes; a larger frame means a misread. */
#define MAX_FRAME 4096

static bool writes_reg(csh h, cs_insn *in, x86_reg reg)
{
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0;

	if (cs_regs_access(h, in, rd, &nrd, wr, &nwr))
		return true; /* cannot tell: assume it does */
	for (int i = 0; i < nwr; i++)
		if (wr[i] == reg)
			return true;
	return false;
}

static bool writes_rsp(csh h, cs_insn *in)
{
	return writes_reg(h, in, X86_REG_RSP);
}

/*
 * The stack pointer followed along a path, relative to the entry's, and
 * what rbp holds when it is a frame pointer (mov %rsp,%rbp), for the
 * leave of a frame-pointer build (Debian's 3.14+).
 */
struct sp_state {
	int64_t sp;
	int64_t rbp; /* the sp that rbp holds, when rbp_set */
	bool rbp_set;
};

/* mov %rsp,%rbp */
static bool is_frame_setup(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	return in->id == X86_INS_MOV && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	       x->operands[0].reg == X86_REG_RBP && x->operands[1].type == X86_OP_REG &&
	       x->operands[1].reg == X86_REG_RSP;
}

static bool is_rsp_imm(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	return x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	       x->operands[0].reg == X86_REG_RSP && x->operands[1].type == X86_OP_IMM;
}

/* Direct call or jmp: its target; 0 for an indirect one. */
static uint64_t direct_target(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	return x->op_count == 1 && x->operands[0].type == X86_OP_IMM ? (uint64_t)x->operands[0].imm
								     : 0;
}

/*
 * Stack pointer change of in, relative to the entry's, into st. false when
 * it moves the stack pointer in a way not followed (lea, mov, and; a leave
 * without a known frame pointer).
 */
static bool follow_sp(csh h, cs_insn *in, struct sp_state *st)
{
	if (is_frame_setup(in)) {
		st->rbp = st->sp;
		st->rbp_set = true;
		return true;
	}
	if (in->id != X86_INS_LEAVE && writes_reg(h, in, X86_REG_RBP) && in->id != X86_INS_POP)
		st->rbp_set = false;
	switch (in->id) {
	case X86_INS_PUSH:
		st->sp -= 8;
		return true;
	case X86_INS_POP:
		if (in->detail->x86.op_count == 1 &&
		    in->detail->x86.operands[0].type == X86_OP_REG &&
		    in->detail->x86.operands[0].reg == X86_REG_RBP)
			st->rbp_set = false;
		st->sp += 8;
		return true;
	case X86_INS_LEAVE: /* mov %rbp,%rsp; pop %rbp */
		if (!st->rbp_set)
			return false;
		st->sp = st->rbp + 8;
		st->rbp_set = false;
		return true;
	case X86_INS_CALL:
	case X86_INS_RET:
		return true; /* balanced by the callee; ret ends the path */
	case X86_INS_SUB:
	case X86_INS_ADD:
		if (is_rsp_imm(in)) {
			int64_t imm = in->detail->x86.operands[1].imm;

			st->sp += in->id == X86_INS_SUB ? -imm : imm;
			return true;
		}
		break;
	default:
		break;
	}
	return !writes_rsp(h, in);
}

static bool is_branch(csh h, cs_insn *in)
{
	return cs_insn_group(h, in, CS_GRP_JUMP) || cs_insn_group(h, in, CS_GRP_CALL) ||
	       cs_insn_group(h, in, CS_GRP_RET) || cs_insn_group(h, in, CS_GRP_INT);
}

/*
 * The main path: entry to the first ret, in address order. Sets *ret to
 * its index and *end to the last direct call made inside the frame after
 * another call (the callback's), or -1.
 */
static int main_path(csh h, cs_insn *ins, size_t n, size_t *ret, int *end, int64_t *end_sp)
{
	struct sp_state st = {0};
	int calls = 0;

	*end = -1;
	for (size_t i = 0; i < n; i++) {
		if (ins[i].id == X86_INS_RET) {
			*ret = i;
			return st.sp == 0 ? 0 : -EINVAL;
		}
		if (ins[i].id == X86_INS_CALL) {
			if (direct_target(&ins[i]) && calls && st.sp < 0) {
				*end = (int)i;
				*end_sp = st.sp;
			}
			calls++;
		}
		if (!follow_sp(h, &ins[i], &st) || st.sp > 0 || st.sp < -MAX_FRAME)
			return -EINVAL;
	}
	return -ENOENT;
}

/* jmps after the main path that land just past the end call, skipping it. */
static void rejoins(csh h, cs_insn *ins, size_t n, size_t ret, int end, struct ctxend *out)
{
	uint64_t lo = ins[end].address, hi = lo;

	for (size_t i = end + 1; i < ret; i++) {
		hi = ins[i].address;
		if (is_branch(h, &ins[i]) || writes_rsp(h, &ins[i]))
			break;
	}
	for (size_t i = ret + 1; i < n && out->n < CTXEND_MAX; i++) {
		uint64_t t = ins[i].id == X86_INS_JMP ? direct_target(&ins[i]) : 0;

		if (t > lo && t <= hi)
			out->at[out->n++] = ins[i].address;
	}
}

int ctxend__find(const uint8_t *code, size_t len, struct ctxend *out)
{
	cs_insn *ins = NULL;
	size_t n, ret = 0;
	int64_t sp = 0;
	int end, err;
	csh h;

	memset(out, 0, sizeof(*out));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(h, code, len, 0, 0, &ins);
	err = main_path(h, ins, n, &ret, &end, &sp);
	if (!err && end < 0)
		err = -ENOENT;
	if (err)
		goto cleanup;
	out->at[out->n++] = ins[end].address;
	out->sp_off = (uint32_t)-sp;
	rejoins(h, ins, n, ret, end, out);
cleanup:
	if (ins)
		cs_free(ins, n);
	cs_close(&h);
	return err;
}
