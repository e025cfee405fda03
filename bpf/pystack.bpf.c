// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The stack walker's global functions, each checked once by the verifier
 * (pystack.bpf.h): a walk step, the interning of a stack, and the walk with
 * the attribution of what it found, with bpf_loop and bounded.
 */
#include "pystack.bpf.h"

__noinline long walk_step(__u32 slot)
{
	return walk_step_in(slot);
}

__noinline __u64 stack_intern(__u32 slot)
{
	struct py_scratch *ps = py_scratch_get(slot);
	__u64 h = 0xcbf29ce484222325ULL;

	if (!ps)
		return 0;
	for (int i = 0; i < AP_STACK_DEPTH; i++) {
		if (i >= ps->st.depth)
			break;
		h = (h ^ ps->st.frames[i]) * 0x100000001b3ULL;
	}
	h |= 1;
	if (bpf_map_update_elem(&stacks, &h, &ps->st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&stacks, &h)) {
		stat_inc(AP_STAT_STACK_DROPS);
		return 0;
	}
	return h;
}

__noinline int py_attribute(__u32 tgid, __u32 tid, __u32 slot)
{
	return py_attribute_in(tgid, tid, slot, true);
}

__noinline int py_attribute_bounded(__u32 tgid, __u32 tid, __u32 slot)
{
	return py_attribute_in(tgid, tid, slot, false);
}
