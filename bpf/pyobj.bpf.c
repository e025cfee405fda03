// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What kind of object a type is, checked once by the verifier (pyobj.bpf.h). */
#include "pyobj.bpf.h"

__noinline __u32 type_kind(__u64 type, __u64 tp_name_off)
{
	char name[TP_NAME_BUF] __attribute__((aligned(8))) = {};
	__u32 kind;

	bpf_probe_read_user_str(name, sizeof(name), (const void *)rd_ptr(type + tp_name_off));
	kind = classify_name(name);
	bpf_map_update_elem(&py_kinds, &type, &kind, BPF_ANY);
	return kind;
}
