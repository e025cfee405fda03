/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * x86-64 syscalls: names and the kind of wait a blocking call is, for the
 * report's blocking_calls[].kind. Numbers are always x86-64 ones (what the
 * BPF side records), whatever the build host.
 */
#ifndef AP_SYSCALLS_H
#define AP_SYSCALLS_H

#include <stdbool.h>

/* Name of syscall nr ("clock_nanosleep"), or NULL when unknown. */
const char *syscalls__name(unsigned nr);

/*
 * Kind of a blocking call: "sleep", "file", "net", "process", "lock" or
 * "other" (a static string; "gil" is decided by the caller). fd_type is
 * the enum ap_fd_type of args[0] when it is a descriptor; args are the
 * first three arguments. Rules:
 * - sleep: nanosleep, clock_nanosleep, pause; select/pselect6 with nfds
 *   (args[0]) == 0 and poll/ppoll with nfds (args[1]) == 0 (CPython
 *   3.8-3.10 sleep with select(0, ...)).
 * - net: any other select, pselect6, poll, ppoll, epoll_wait*; socket calls
 *   (connect, accept*, send*, recv*, shutdown, socket, bind, listen, ...).
 * - lock: futex*, flock, fcntl(F_SETLKW or F_OFD_SETLKW).
 * - process: wait4, waitid, clone, clone3, fork, vfork, execve, execveat.
 * - read/write family (read, write, pread64, pwrite64, readv, writev,
 *   preadv*, pwritev*, sendfile, splice, tee, copy_file_range) by fd_type:
 *   REG or CHR -> file, SOCK -> net; PIPE, OTHER and NONE -> other (a pipe
 *   may be a child's output, a log consumer or a self-pipe: no safe guess).
 * - file: open*, creat, the stat/access family, fsync, fdatasync, sync*,
 *   sync_file_range, unlink*, rename*, mkdir*, rmdir, link/symlink/readlink,
 *   getdents*, truncate, ftruncate, fallocate, lseek, close, close_range.
 * - anything else: other.
 */
const char *syscalls__kind(unsigned nr, unsigned fd_type, const unsigned long long args[3]);

/* Name of an enum ap_kind ("sleep", ...; "other" when out of range). */
const char *syscalls__kind_name(unsigned kind);

/* Is nr an event loop's poll call: epoll_wait, epoll_pwait, epoll_pwait2? */
bool syscalls__is_poll(unsigned nr);

#endif /* AP_SYSCALLS_H */
