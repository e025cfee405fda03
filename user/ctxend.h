/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where an asyncio callback ends inside CPython's context_run, for a plain
 * uprobe instead of a uretprobe (x86-64 machine code, decoded with
 * Capstone).
 *
 * A uretprobe costs a second trap plus, on Linux 6.11+, the uretprobe
 * syscall; a plain uprobe on a call or jmp is emulated by the kernel. Once
 * the callback has returned, context_run's call paths meet at one direct
 * call (_Py_CheckFunctionResult, PyContext_Exit or an outlined
 * _PyContext_Exit: the last direct call before the first ret), except the
 * tp_call path of 3.10+ builds, which jumps back just past it: that jmp is
 * an end point too. The callback and its Task are still alive there
 * (Handle._run holds them), so task state can be read as at the return.
 */
#ifndef AP_CTXEND_H
#define AP_CTXEND_H

#include <stddef.h>
#include <stdint.h>

#define CTXEND_MAX 4

struct ctxend {
	uint64_t at[CTXEND_MAX]; /* end points, byte offsets from the function's entry */
	int n;
	/* entry stack pointer minus the stack pointer at every end point */
	uint32_t sp_off;
};

/*
 * Find the end points in code, the first len bytes of context_run (more
 * than the function is fine: decoding stops at an undecodable byte).
 * 0, -ENOENT when there is no such point, -EINVAL when the stack pointer
 * cannot be followed, -ENOMEM.
 */
int ctxend__find(const uint8_t *code, size_t len, struct ctxend *out);

#endif /* AP_CTXEND_H */
