// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Two frames that each fit in 512 bytes and whose chain does not: what a
 * kernel without private BPF stacks refuses. `make test-bpf-stack` checks
 * that tools/bpf_stack.py fails this object over the budget.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

__noinline int deep_inner(__u32 n)
{
	volatile __u64 buf[35]; /* 280 bytes */

	for (int i = 0; i < 35; i++)
		buf[i] = n + i;
	return buf[34] & 1;
}

SEC("raw_tp/sys_enter")
int deep_outer(void *ctx)
{
	volatile __u64 buf[35]; /* 280 bytes */
	__u32 n = bpf_get_prandom_u32();

	for (int i = 0; i < 35; i++)
		buf[i] = n - i;
	return deep_inner(n) + (buf[34] & 1);
}

char LICENSE[] SEC("license") = "GPL";
