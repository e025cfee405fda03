// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Print what pyrt finds in live processes: pyrt_probe_main PID... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pyrt.h"

static const char *const runtimes[] = {"unknown", "cpython", "node"};

static void print_info(int pid, int err, const struct pyrt_info *pi)
{
	printf("pid %d: err %d (%s) runtime %s exe %s\n", pid, err, err ? strerror(-err) : "ok",
	       runtimes[pi->runtime], pi->exe);
	if (pi->error[0])
		printf("  error: %s\n", pi->error);
	if (pi->runtime == PYRT_NODE)
		printf("  node %s\n", pi->node_path);
	if (pi->runtime != PYRT_CPYTHON)
		return;
	printf("  version %s py_path %s is_exe %d bias %#lx _PyRuntime %#lx off %p\n", pi->version,
	       pi->py_path, pi->py_is_exe, pi->py_bias, pi->runtime_addr, (const void *)pi->off);
	printf("  context_run %#lx (%s) enter %#lx reg %d exit %#lx reg %d\n", pi->context_run_off,
	       pi->context_run_from_symtab ? "symtab" : "tp_methods", pi->ctx_enter_off,
	       pi->enter_ctx_reg, pi->ctx_exit_off, pi->exit_ctx_reg);
	printf("  asyncio %s step %#lx wakeup %#lx %s\n", pi->asyncio_path, pi->task_step_off,
	       pi->task_wakeup_off, pi->asyncio_note);
	printf("  uvloop %s\n", pi->uvloop_path[0] ? pi->uvloop_path : "-");
}

int main(int argc, char **argv)
{
	static struct pyrt_info pi;
	int i, err, ret = 0;

	for (i = 1; i < argc; i++) {
		err = pyrt__probe(atoi(argv[i]), &pi);
		print_info(atoi(argv[i]), err, &pi);
		ret |= err != 0;
	}
	return ret;
}
