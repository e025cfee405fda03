// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * context_run's end points (user/ctxend.c) on hand-assembled x86-64 code
 * shaped like the builds we trace: pyenv's (a tp_call path that jumps back
 * past the end call), Debian's (outlined enter, call and exit) and Debian
 * 3.14+'s frame-pointer builds (leave), and code the finder must refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <cmocka.h>
#include "ctxend.h"

#define CALL_REL 0xe8, 0x00, 0x00, 0x00, 0x00 /* call next insn: a direct call */
#define CALL_RAX 0xff, 0xd0

/* The tables keep one instruction a line. */
/* clang-format off */
/* pyenv 3.10-3.12 shape: end call at 0x0c, the tp_call path rejoins with a jmp at 0x24. */
static const uint8_t pyenv_like[] = {
	0x41, 0x55,		/* 00 push r13 */
	0x41, 0x54,		/* 02 push r12 */
	0x55,			/* 04 push rbp */
	0x53,			/* 05 push rbx */
	0x48, 0x83, 0xec, 0x18, /* 06 sub rsp, 0x18 */
	CALL_RAX,		/* 0a call rax: the callback */
	CALL_REL,		/* 0c call _Py_CheckFunctionResult: the end point */
	0x48, 0x89, 0xc3,	/* 11 mov rbx, rax */
	0x48, 0x83, 0xc4, 0x18, /* 14 add rsp, 0x18 */
	0x5b,			/* 18 pop rbx */
	0x5d,			/* 19 pop rbp */
	0x41, 0x5c,		/* 1a pop r12 */
	0x41, 0x5d,		/* 1c pop r13 */
	0xc3,			/* 1e ret */
	CALL_REL,		/* 1f call _PyObject_MakeTpCall */
	0xeb, 0xeb,		/* 24 jmp 0x11: rejoins past the end call, an end point */
	0xeb, 0xf0,		/* 26 jmp 0x18: an error path to the epilogue, not one */
	0xcc, 0xcc,
};

/* Debian 3.11 shape: outlined _PyContext_Enter, vectorcall, _PyContext_Exit. */
static const uint8_t debian_like[] = {
	0x41, 0x56, /* 00 push r14 */
	0x55,	    /* 02 push rbp */
	0x53,	    /* 03 push rbx */
	CALL_REL,   /* 04 enter: no call before it, so not an end */
	CALL_REL,   /* 09 the callback, through an outlined vectorcall */
	CALL_REL,   /* 0e exit: the end point */
	0x5b,	    /* 13 pop rbx */
	0x5d,	    /* 14 pop rbp */
	0x41, 0x5e, /* 15 pop r14 */
	0xc3,	    /* 17 ret */
};
/* Debian 3.14+ shape: a frame-pointer build that ends with leave (3.15's context_run). */
static const uint8_t debian_fp_like[] = {
	0x55,		  /* 00 push rbp */
	0x48, 0x89, 0xe5, /* 01 mov rbp, rsp */
	0x48, 0x83, 0xec, 0x30, /* 04 sub rsp, 0x30 */
	CALL_REL,	  /* 08 _PyContext_Enter */
	CALL_RAX,	  /* 0d the callback's vectorcall */
	CALL_REL,	  /* 0f _Py_CheckFunctionResult */
	CALL_REL,	  /* 14 _PyContext_Exit: the end point, the last call */
	0xc9,		  /* 19 leave */
	0xc3,		  /* 1a ret */
};
/* clang-format on */

static void test_ctxend_frame_pointer(void **state)
{
	struct ctxend ce;

	(void)state;
	assert_int_equal(ctxend__find(debian_fp_like, sizeof(debian_fp_like), &ce), 0);
	assert_int_equal(ce.n, 1);
	assert_int_equal(ce.at[0], 0x14);
	assert_int_equal(ce.sp_off, 8 + 0x30);
}

static void test_ctxend_pyenv_shape(void **state)
{
	struct ctxend ce;

	(void)state;
	assert_int_equal(ctxend__find(pyenv_like, sizeof(pyenv_like), &ce), 0);
	assert_int_equal(ce.n, 2);
	assert_int_equal(ce.at[0], 0x0c);
	assert_int_equal(ce.at[1], 0x24);
	assert_int_equal(ce.sp_off, 4 * 8 + 0x18);
}

static void test_ctxend_debian_shape(void **state)
{
	struct ctxend ce;

	(void)state;
	assert_int_equal(ctxend__find(debian_like, sizeof(debian_like), &ce), 0);
	assert_int_equal(ce.n, 1);
	assert_int_equal(ce.at[0], 0x0e);
	assert_int_equal(ce.sp_off, 3 * 8);
}

/* The decoded length bounds the search: cut before the ret, nothing is found. */
static void test_ctxend_truncated(void **state)
{
	struct ctxend ce;

	(void)state;
	assert_int_equal(ctxend__find(debian_like, 0x17, &ce), -ENOENT);
	assert_int_equal(ce.n, 0);
	assert_int_equal(ctxend__find(debian_like, 0, &ce), -ENOENT);
}

static void test_ctxend_refused(void **state)
{
	/* one call only: no call after the callback's */
	static const uint8_t one_call[] = {0x55, CALL_REL, 0x5d, 0xc3};
	/* unbalanced: the stack at ret is not the entry's */
	static const uint8_t unbalanced[] = {0x55, CALL_RAX, CALL_REL, 0xc3};
	/* leave with no frame pointer set: rsp is not followed */
	static const uint8_t leave[] = {
		0x55,	  0x48,	    0x83, 0xec, 0x10, /* push rbp; sub rsp, 0x10 */
		CALL_RAX, CALL_REL, 0xc9, 0xc3,	      /* call rax; call; leave; ret */
	};
	/* the frame pointer overwritten before leave (mov rbp, rax) */
	static const uint8_t rbp_lost[] = {
		0x55,	  0x48,	    0x89, 0xe5,	      /* push rbp; mov rbp, rsp */
		CALL_RAX, CALL_REL, 0x48, 0x89, 0xc5, /* call rax; call; mov rbp, rax */
		0xc9,	  0xc3,			      /* leave; ret */
	};
	/* garbage: 0x06 (push es) is invalid in 64-bit mode */
	static const uint8_t bad[] = {0x06, 0x06, 0x06, 0xc3};
	struct ctxend ce;

	(void)state;
	assert_int_equal(ctxend__find(one_call, sizeof(one_call), &ce), -ENOENT);
	assert_int_equal(ctxend__find(unbalanced, sizeof(unbalanced), &ce), -EINVAL);
	assert_int_equal(ctxend__find(leave, sizeof(leave), &ce), -EINVAL);
	assert_int_equal(ctxend__find(rbp_lost, sizeof(rbp_lost), &ce), -EINVAL);
	assert_int_equal(ctxend__find(bad, sizeof(bad), &ce), -ENOENT);
	assert_int_equal(ce.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctxend_pyenv_shape),
		cmocka_unit_test(test_ctxend_debian_shape),
		cmocka_unit_test(test_ctxend_frame_pointer),
		cmocka_unit_test(test_ctxend_truncated),
		cmocka_unit_test(test_ctxend_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
