// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncprof-bpf's BPF programs. Each hook exists as tp_btf (direct access
 * to arguments) and raw_tp; the programs that walk Python stacks exist
 * with bpf_loop (5.17+) and with a bounded loop (_bounded, older kernels).
 * The loader autoloads one set (user/tracer.c). The logic lives in the
 * headers, one concern each.
 */
#include "common.bpf.h"
#include "loop.bpf.h"
#include "cpython.bpf.h"
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(ap_sys_enter_btf, struct pt_regs *regs, long id)
{
	return on_sys_enter(regs, id, true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ap_sys_exit_btf, struct pt_regs *regs, long ret)
{
	return on_sys_exit(ctx, regs, ret, true, true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ap_sys_exit_btf_bounded, struct pt_regs *regs, long ret)
{
	return on_sys_exit(ctx, regs, ret, true, false);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(ap_sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_sched_switch(preempt, prev, next, true);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ap_exit_btf, struct task_struct *p)
{
	return on_thread_exit();
}

SEC("raw_tp/sys_enter")
int BPF_PROG(ap_sys_enter_raw, struct pt_regs *regs, long id)
{
	return on_sys_enter(regs, id, false);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(ap_sys_exit_raw, struct pt_regs *regs, long ret)
{
	return on_sys_exit(ctx, regs, ret, false, true);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(ap_sys_exit_raw_bounded, struct pt_regs *regs, long ret)
{
	return on_sys_exit(ctx, regs, ret, false, false);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(ap_sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_sched_switch(preempt, prev, next, false);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(ap_exit_raw, struct task_struct *p)
{
	return on_thread_exit();
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

/* CPU-clock perf event, one per CPU: samples inside long callbacks. */
SEC("perf_event")
int ap_sample(struct bpf_perf_event_data *ctx)
{
	return on_sample(true);
}

SEC("perf_event")
int ap_sample_bounded(struct bpf_perf_event_data *ctx)
{
	return on_sample(false);
}

/*
 * Loaded only with ASYNCPROF_SELFTEST=refused: a read through a number,
 * which every verifier refuses. The tests use it to see a real refusal end
 * in one line and exit 1, on any kernel.
 */
SEC("?raw_tp/sys_enter")
int ap_selftest_refused(void *ctx)
{
	return *(volatile int *)(long)bpf_get_prandom_u32();
}
