// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Empty programs: what a uprobe costs before the program does anything. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("uprobe")
int floor_entry(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int floor_ret(void *ctx)
{
	return 0;
}

SEC("uprobe")
int floor_end(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
