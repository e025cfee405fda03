/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A traced thread's entry in the threads map: made on first sight, filled
 * in place, and when its current busy interval began. Every part that
 * follows a thread (syscalls, dispatch probes, samplers) starts here.
 */
#ifndef AP_THREAD_BPF_H
#define AP_THREAD_BPF_H

#include "common.bpf.h"

static __always_inline __u64 task_start_ns(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, start_time);
}

/*
 * Zeroes for a new threads entry. Global (.bss), never written: a struct
 * ap_thread on the stack was most of the 512 bytes that a whole call
 * chain may use on kernels without private BPF stacks.
 */
struct ap_thread thread_zero __weak = {};

static __always_inline struct ap_thread *thread_get(__u32 tid, __u32 tgid, __u64 now)
{
	struct ap_thread *t = bpf_map_lookup_elem(&threads, &tid);

	if (t)
		return t;
	if (bpf_map_update_elem(&threads, &tid, &thread_zero, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&threads, &tid))
		stat_inc(AP_STAT_THREAD_FULL);
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t || t->tgid)
		return t;
	/* only this thread writes its entry: filled in place, after the insert */
	t->tgid = tgid;
	t->loop_epfd = -1;
	t->cand_epfd = -1;
	/* a thread older than the window was there from its start */
	t->first_ns = task_start_ns() > window_start_ns ? now : window_start_ns;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	return t;
}

/*
 * Start of the current busy interval when it was never observed: the
 * window's start for a thread that was there before it (it may have been
 * in a callback when we attached), now for one started since, or for a
 * command we started: no loop ran before its first poll, so its start-up
 * (the interpreter, imports) is not a stall.
 */
static __always_inline __u64 busy_since(struct ap_thread *t, __u64 now)
{
	if (t->busy_start_ns)
		return t->busy_start_ns;
	if (targ_launch || task_start_ns() > window_start_ns)
		return now;
	return window_start_ns;
}

#endif /* AP_THREAD_BPF_H */
