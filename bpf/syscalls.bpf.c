// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The syscall and scheduler tracepoints: loop boundaries, blocking calls,
 * preemption, thread exits (syscalls.bpf.h). Each exists as tp_btf and as
 * raw_tp; sys_exit also with the bounded stack walk (kernels before 5.17).
 * The loader autoloads one set (user/tracer.c).
 *
 * bpf/ is compiled one .bpf.c at a time and linked into one object
 * (bpftool gen object): the maps and settings the parts share are weak
 * definitions in the headers, one in the linked object; each global
 * function is defined in one .bpf.c and declared in its header.
 */
#include "syscalls.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__noinline int blocking_detail(void)
{
	struct ap_rec_blocking *r = blocking_rec();
	const char *path = NULL;
	long n;

	if (!r)
		return 0;
	switch (ap_nr_arg_kind(r->syscall_nr)) {
	case AP_ARG_FD0:
		fd_describe((int)r->args[0], r);
		return 0;
	case AP_ARG_PATH0:
		path = (const char *)r->args[0];
		break;
	case AP_ARG_PATH1:
		path = (const char *)r->args[1];
		break;
	default:
		return 0;
	}
	n = bpf_probe_read_user_str(r->detail, AP_DETAIL_USE, path);
	if (n > 0) {
		r->detail_kind = AP_DETAIL_STRING;
		r->detail_len = n;
	}
	return 0;
}

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
