/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --list: the processes on this host that hold an epoll instance (the
 * event loops asyncprof-bpf can trace), each with its runtime, version,
 * loop kind and the backend --pid would use. Reads /proc only, no BPF.
 */
#ifndef AP_LIST_H
#define AP_LIST_H

#include <stdio.h>
#include "env.h"

/* Does /proc/PID/fd hold an epoll descriptor? */
bool list__has_epoll(int pid);
/* Print the table to out; 0, or -errno when /proc cannot be read. */
int list__print(FILE *out, enum ap_backend backend);

#endif /* AP_LIST_H */
