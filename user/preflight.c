// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Privilege and BTF checks, so failures read as causes, not as libbpf noise. */
#include <errno.h>
#include <string.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "log.h"
#include "preflight.h"
#include "output.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/*
 * CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON (+ CAP_SYS_PTRACE to read the
 * target). The capabilities, not the uid: root with them dropped
 * (capsh --drop, a container) cannot load programs either.
 */
static bool privileged(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return false;
	if (has_cap(d, CAP_SYS_ADMIN))
		return true;
	return has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON) && has_cap(d, CAP_SYS_PTRACE);
}

/* include/linux/proc_ns.h: the inode of the initial pid namespace, fixed */
#define PROC_PID_INIT_INO 0xEFFFFFFCu

/* BPF sees pids of the initial namespace: in a nested one no pid would match. */
static bool nested_pidns(void)
{
	struct stat st;

	return !stat("/proc/self/ns/pid", &st) && st.st_ino != PROC_PID_INIT_INO;
}

int preflight__privilege(void)
{
	if (privileged())
		return 0;
	elog("permission denied: run as root, or with CAP_BPF, CAP_PERFMON and "
	     "CAP_SYS_PTRACE\n");
	return -EPERM;
}

int preflight__check(void)
{
	if (preflight__privilege())
		return -EPERM;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		elog("kernel BTF not found at /sys/kernel/btf/vmlinux: this kernel lacks "
		     "CONFIG_DEBUG_INFO_BTF, which CO-RE programs need\n");
		return -ENOENT;
	}
	if (nested_pidns()) {
		elog("running in a nested pid namespace (a container?): BPF sees the host's pids; "
		     "run asyncprof-bpf on the host or in the host's pid namespace (docker run "
		     "--pid=host)\n");
		return -EINVAL;
	}
	return 0;
}

int preflight__outputs(const struct out_file *outs, int n)
{
	int err;

	for (int i = 0; i < n; i++) {
		err = output__check(outs[i].path);
		if (err) {
			elog("cannot write %s: %s\n", outs[i].path, strerror(-err));
			return err;
		}
	}
	return 0;
}
