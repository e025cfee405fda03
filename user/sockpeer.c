// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A socket's peer by inode, from /proc/PID/net/{tcp,tcp6,udp,udp6}. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "sockpeer.h"

/*
 * "0100007F:1F90" (IPv4) or 32 hex digits (IPv6) and a port: the kernel
 * prints each 32-bit word of the address as a host-order number.
 */
static int parse_addr(const char *s, struct ap_inet_addr *a)
{
	unsigned words[4], port;
	size_t hex = strcspn(s, ":");

	memset(a, 0, sizeof(*a));
	if (hex == 8 && sscanf(s, "%8x:%x", &words[0], &port) == 2) {
		a->family = AF_INET;
		memcpy(a->addr, &words[0], 4);
	} else if (hex == 32 && sscanf(s, "%8x%8x%8x%8x:%x", &words[0], &words[1], &words[2],
				       &words[3], &port) == 5) {
		a->family = AF_INET6;
		memcpy(a->addr, words, 16);
	} else {
		return -EINVAL;
	}
	a->port = (__u16)port;
	return 0;
}

/* One table: 0 and *out when the inode is there with a peer, else -ENOENT. */
static int find_in(const char *path, unsigned long inode, struct ap_inet_addr *out)
{
	char line[512], rem[64];
	unsigned long ino;
	int err = -ENOENT;
	FILE *f = fopen(path, "re");

	if (!f)
		return -ENOENT;
	while (err == -ENOENT && fgets(line, sizeof(line), f)) {
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %*s %63s %*s %*s %*s %*s %*s %*s %lu", rem, &ino) != 2 ||
		    ino != inode)
			continue;
		err = parse_addr(rem, out);
		if (!err && !out->port)
			err = -ENOENT; /* not connected: no peer */
	}
	fclose(f);
	return err;
}

int sockpeer__find(const char *netdir, unsigned long inode, struct ap_inet_addr *out)
{
	static const char *const tables[] = {"tcp", "tcp6", "udp", "udp6"};
	char path[256];
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && err == -ENOENT; i++) {
		snprintf(path, sizeof(path), "%s/%s", netdir, tables[i]);
		err = find_in(path, inode, out);
	}
	return err;
}
