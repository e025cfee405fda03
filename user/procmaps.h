/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parser of /proc/PID/maps. The loader takes a path so the tests can feed
 * recorded maps files. Lookups never allocate; returned mappings point into
 * the procmaps object and live until procmaps__free().
 */
#ifndef AP_PROCMAPS_H
#define AP_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct procmaps;

struct procmap {
	uint64_t start; /* first byte */
	uint64_t end;	/* one past the last byte */
	uint64_t pgoff; /* file offset of start */
	uint64_t inode;
	unsigned int prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;
	const char *path; /* "" for anonymous mappings; "[heap]" etc. kept as is */
};

/* Load a maps file (e.g. "/proc/1234/maps"); 0 or -errno. */
int procmaps__load(const char *path, struct procmaps **out);
void procmaps__free(struct procmaps *pm);

size_t procmaps__count(const struct procmaps *pm);
const struct procmap *procmaps__get(const struct procmaps *pm, size_t i);

/* The mapping that holds addr, or NULL. */
const struct procmap *procmaps__find_addr(const struct procmaps *pm, uint64_t addr);

/*
 * The first mapping at or after index *from (0 when from is NULL; *from is
 * then set past the match) whose path matches the fnmatch() pattern. An
 * absolute pattern matches the whole path; otherwise it matches as many
 * trailing path components as it has, so "libpython3.*.so*" tests the
 * basename and "uvloop/loop.cpython-*.so" the last two components.
 */
const struct procmap *procmaps__find_file(const struct procmaps *pm, const char *pattern,
					  size_t *from);

/*
 * Load bias of the ELF file mapped from path: for ET_DYN (is_dyn) the start
 * of its pgoff-0 mapping minus first_load_vaddr rounded down to the page;
 * 0 for ET_EXEC. -ENOENT when the file has no pgoff-0 mapping.
 */
int procmaps__load_bias(const struct procmaps *pm, const char *path, bool is_dyn,
			uint64_t first_load_vaddr, uint64_t *bias);

/* File offset behind addr (addr - start + pgoff) and its mapping; -ENOENT if unmapped. */
int procmaps__addr_to_off(const struct procmaps *pm, uint64_t addr, uint64_t *off,
			  const struct procmap **map);

#endif /* AP_PROCMAPS_H */
