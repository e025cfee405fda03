// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The callback dispatch probes: asyncio's context_run, uvloop's context enter and exit, _asyncio's
 * task steps (dispatch.bpf.h). */
#include "dispatch.bpf.h"

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

/* CPython asyncio: attached by offset to the target's context_run. */
SEC("uprobe")
int BPF_KPROBE(ap_context_run)
{
	return on_context_run(ctx);
}

SEC("uretprobe")
int BPF_KRETPROBE(ap_context_run_ret)
{
	return on_context_run_ret(ctx);
}

/* ... or at a plain uprobe past the callback's return, cheaper (user/ctxend.h). */
SEC("uprobe")
int BPF_KPROBE(ap_context_run_end)
{
	return on_context_run_end(ctx);
}

/* uvloop: PyContext_Enter/Exit around each handle, at a cheap instruction. */
SEC("uprobe")
int BPF_KPROBE(ap_ctx_enter)
{
	return on_ctx_enter(ctx);
}

SEC("uprobe")
int BPF_KPROBE(ap_ctx_exit)
{
	return on_ctx_exit();
}

/* _asyncio: TaskStepMethWrapper_call(wrapper, ...) */
SEC("uprobe")
int BPF_KPROBE(ap_task_step, void *wrapper)
{
	return on_task_run((__u64)wrapper, true, false);
}

/* _asyncio: TaskWakeupMethWrapper_call(wrapper, ...) (3.8, 3.9) */
SEC("uprobe")
int BPF_KPROBE(ap_task_wakeup_wrap, void *wrapper)
{
	return on_task_run((__u64)wrapper, true, true);
}

/* _asyncio: task_wakeup(TaskObj *task, PyObject *fut) (3.10+) */
SEC("uprobe")
int BPF_KPROBE(ap_task_wakeup, void *task)
{
	return on_task_run((__u64)task, false, false);
}
