/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The peer of a socket a call is blocked on right now, from the tables
 * its network namespace shows in /proc/PID/net (tcp, tcp6, udp, udp6), by
 * the socket's inode (/proc/PID/fd/N -> "socket:[INODE]"). BPF gives the
 * peer of a call at its exit; this is for a call still in flight.
 */
#ifndef AP_SOCKPEER_H
#define AP_SOCKPEER_H

#include <linux/types.h>
#include "asyncprof.h"

/*
 * The remote address of the socket with this inode, from the tables in
 * directory netdir (e.g. "/proc/1234/net"). 0, -ENOENT when not there or
 * not connected, or -errno.
 */
int sockpeer__find(const char *netdir, unsigned long inode, struct ap_inet_addr *out);

#endif /* AP_SOCKPEER_H */
