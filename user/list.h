/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --list: the processes on this host that hold an epoll instance (the
 * event loops asyncprof-bpf can trace), each with its runtime, version,
 * loop kind and the backend --pid would use. Reads /proc only, no BPF.
 */
#ifndef AP_LIST_H
#define AP_LIST_H

#include <stdio.h>
#include "target.h"

/* Does /proc/PID/fd hold an epoll descriptor? */
bool list__has_epoll(int pid);
/* Print the table to out, each backend as target__open picks it with o; 0, or -errno
 * when /proc cannot be read. */
int list__print(FILE *out, const struct target_opts *o);

#endif /* AP_LIST_H */
