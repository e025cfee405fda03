/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Fuzzing helpers: the fuzzer's bytes as a target's address space (for the
 * read callbacks of pyrt and pystack) or as a file (for the parsers that
 * take a path: a memfd, opened through /proc/self/fd).
 */
#ifndef AP_FUZZ_MEM_H
#define AP_FUZZ_MEM_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_BASE 0x10000ull /* where the fuzzer's bytes appear in "memory" */

struct fuzz_mem {
	const uint8_t *data;
	size_t size;
};

/* Reads inside [FUZZ_BASE, FUZZ_BASE + size) succeed, all others fail as EFAULT does. */
static inline int fuzz_mem__read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct fuzz_mem *m = ctx;

	if (addr < FUZZ_BASE || addr - FUZZ_BASE > m->size || len > m->size - (addr - FUZZ_BASE))
		return -EFAULT;
	memcpy(buf, m->data + (addr - FUZZ_BASE), len);
	return 0;
}

/* A memfd holding data, its path into path; the fd or -errno. */
static inline int fuzz_mem__file(const uint8_t *data, size_t size, char *path, size_t psize)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -EIO;
	}
	snprintf(path, psize, "/proc/self/fd/%d", fd);
	return fd;
}

#endif /* AP_FUZZ_MEM_H */
