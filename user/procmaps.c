// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/PID/maps parser: mappings, files, load bias, address to file offset. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "procmaps.h"

struct procmaps {
	struct procmap *maps; /* sorted by start, as the kernel prints them */
	size_t len;
	size_t cap;
};

static int procmaps__push(struct procmaps *pm, const struct procmap *m)
{
	struct procmap *n;

	if (pm->len == pm->cap) {
		size_t cap = pm->cap ? pm->cap * 2 : 64;

		n = realloc(pm->maps, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		pm->maps = n;
		pm->cap = cap;
	}
	pm->maps[pm->len++] = *m;
	return 0;
}

/* One maps line: "start-end perms pgoff dev inode   path". */
static int procmap__parse(const char *line, struct procmap *m)
{
	char perms[8];
	int n = 0;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*x:%*x %" SCNu64 " %n",
		   &m->start, &m->end, perms, &m->pgoff, &m->inode, &n) < 5 ||
	    !n)
		return -EINVAL;
	if (strlen(perms) < 4 || m->end < m->start)
		return -EINVAL;
	m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	m->shared = perms[3] == 's';
	line += n;
	m->path = strndup(line, strcspn(line, "\n"));
	return m->path ? 0 : -ENOMEM;
}

int procmaps__load(const char *path, struct procmaps **out)
{
	struct procmaps *pm;
	struct procmap m;
	char *line = NULL;
	size_t cap = 0;
	int err = 0;
	FILE *f;

	*out = NULL;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	pm = calloc(1, sizeof(*pm));
	if (!pm) {
		fclose(f);
		return -ENOMEM;
	}
	while (!err && getline(&line, &cap, f) > 0) {
		err = procmap__parse(line, &m);
		if (!err) {
			err = procmaps__push(pm, &m);
			if (err)
				free((char *)m.path);
		}
	}
	free(line);
	fclose(f);
	if (!err && !pm->len)
		err = -ENOENT; /* an empty maps file: the process is a zombie or gone */
	if (err) {
		procmaps__free(pm);
		return err;
	}
	*out = pm;
	return 0;
}

void procmaps__free(struct procmaps *pm)
{
	size_t i;

	if (!pm)
		return;
	for (i = 0; i < pm->len; i++)
		free((char *)pm->maps[i].path);
	free(pm->maps);
	free(pm);
}

size_t procmaps__count(const struct procmaps *pm)
{
	return pm->len;
}

const struct procmap *procmaps__get(const struct procmaps *pm, size_t i)
{
	return i < pm->len ? &pm->maps[i] : NULL;
}

const struct procmap *procmaps__find_addr(const struct procmaps *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct procmap *m = &pm->maps[mid];

		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

/* The tail of path with as many components as pattern has. */
static const char *path_tail(const char *path, const char *pattern)
{
	int comps = 1;
	const char *p;

	if (pattern[0] == '/')
		return path;
	for (p = pattern; *p; p++)
		comps += *p == '/';
	for (p = path + strlen(path); p > path; p--) {
		if (p[-1] == '/' && --comps == 0)
			return p;
	}
	return path;
}

const struct procmap *procmaps__find_file(const struct procmaps *pm, const char *pattern,
					  size_t *from)
{
	size_t i;

	for (i = from ? *from : 0; i < pm->len; i++) {
		const char *path = pm->maps[i].path;

		if (path[0] != '/')
			continue;
		if (fnmatch(pattern, path_tail(path, pattern), 0) == 0) {
			if (from)
				*from = i + 1;
			return &pm->maps[i];
		}
	}
	return NULL;
}

int procmaps__load_bias(const struct procmaps *pm, const char *path, bool is_dyn,
			uint64_t first_load_vaddr, uint64_t *bias)
{
	size_t i;

	*bias = 0;
	for (i = 0; i < pm->len; i++) {
		const struct procmap *m = &pm->maps[i];

		if (m->pgoff || strcmp(m->path, path))
			continue;
		if (is_dyn)
			*bias = m->start - (first_load_vaddr & ~(uint64_t)0xfff);
		return 0;
	}
	return -ENOENT;
}

int procmaps__addr_to_off(const struct procmaps *pm, uint64_t addr, uint64_t *off,
			  const struct procmap **map)
{
	const struct procmap *m = procmaps__find_addr(pm, addr);

	if (map)
		*map = m;
	if (!m || !m->path[0] || m->path[0] == '[')
		return -ENOENT;
	*off = addr - m->start + m->pgoff;
	return 0;
}
