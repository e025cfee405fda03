// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Native frame symbolisation with libelf (user/elfsym.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elfsym.h"
#include "natsym.h"
#include "procmaps.h"

#define NATSYM_FILES 64 /* ELF files kept open */

struct nat_file {
	char *path;
	uint64_t inode;
	struct elf_file *ef; /* NULL: could not be opened */
};

struct natsym {
	char *maps_path;
	char *procdir; /* "/proc/PID": its map_files open what it mapped, whatever its root */
	struct procmaps *pm;
	struct nat_file files[NATSYM_FILES];
	size_t nfiles, next; /* next: the slot reused when full */
};

struct natsym *natsym__new(const char *procdir)
{
	struct natsym *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	if (asprintf(&ns->maps_path, "%s/maps", procdir) < 0)
		ns->maps_path = NULL;
	ns->procdir = strdup(procdir);
	if (!ns->maps_path || !ns->procdir) {
		natsym__free(ns);
		return NULL;
	}
	return ns;
}

static void nat_file__clear(struct nat_file *f)
{
	free(f->path);
	elf_file__close(f->ef);
	memset(f, 0, sizeof(*f));
}

void natsym__free(struct natsym *ns)
{
	if (!ns)
		return;
	for (size_t i = 0; i < ns->nfiles; i++)
		nat_file__clear(&ns->files[i]);
	procmaps__free(ns->pm);
	free(ns->maps_path);
	free(ns->procdir);
	free(ns);
}

/* The mapping of addr, re-reading the maps once when it is not known yet. */
static const struct procmap *find_map(struct natsym *ns, uint64_t addr)
{
	const struct procmap *m = ns->pm ? procmaps__find_addr(ns->pm, addr) : NULL;
	struct procmaps *fresh;

	if (m || procmaps__load(ns->maps_path, &fresh))
		return m;
	procmaps__free(ns->pm);
	ns->pm = fresh;
	return procmaps__find_addr(ns->pm, addr);
}

static struct elf_file *get_elf(struct natsym *ns, const struct procmap *m)
{
	char open_as[PATH_MAX + 64];
	struct nat_file *f;

	for (size_t i = 0; i < ns->nfiles; i++)
		if (ns->files[i].inode == m->inode && !strcmp(ns->files[i].path, m->path))
			return ns->files[i].ef;
	if (ns->nfiles < NATSYM_FILES) {
		f = &ns->files[ns->nfiles++];
	} else {
		f = &ns->files[ns->next];
		ns->next = (ns->next + 1) % NATSYM_FILES;
		nat_file__clear(f);
	}
	f->path = strdup(m->path);
	f->inode = m->inode;
	/*
	 * The mapping itself (map_files, for root): in a chroot or another mount
	 * namespace the path maps shows may name another file on this host, or none.
	 */
	snprintf(open_as, sizeof(open_as), "%s/map_files/%llx-%llx", ns->procdir,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	if (!f->path || (elf_file__open(open_as, &f->ef) && elf_file__open(m->path, &f->ef)))
		f->ef = NULL;
	return f->ef;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int natsym__frame(struct natsym *ns, uint64_t addr, char *buf, size_t size)
{
	const struct procmap *m = find_map(ns, addr);
	struct elf_file *ef;
	uint64_t vaddr, off;
	char name[256];

	if (!m || !m->path[0] || m->path[0] == '[') {
		snprintf(buf, size, "[unknown]%s%s%s", m && m->path[0] ? " (" : "",
			 m && m->path[0] ? m->path : "", m && m->path[0] ? ")" : "");
		return -ENOENT;
	}
	ef = get_elf(ns, m);
	/* a return address points after the call: look up the byte before it */
	if (!ef || elf_file__off_to_vaddr(ef, addr - m->start + m->pgoff, &vaddr) ||
	    elf_file__sym_at(ef, vaddr - 1, name, sizeof(name), &off)) {
		snprintf(buf, size, "[unknown] (%s)", base_name(m->path));
		return -ENOENT;
	}
	snprintf(buf, size, "%s+0x%llx (%s)", name, (unsigned long long)off + 1,
		 base_name(m->path));
	return 0;
}

int natsym__resolve(struct natsym *ns, const uint64_t *ips, size_t n, struct ap_stack *out)
{
	char buf[512];

	out->n = 0;
	out->frames = n ? calloc(n, sizeof(*out->frames)) : NULL;
	if (n && !out->frames)
		return -ENOMEM;
	for (size_t i = 0; i < n && ips[i]; i++) {
		const struct procmap *m = find_map(ns, ips[i]);

		/* without frame pointers the chain runs into the stack or the heap: stop */
		if (i && (!m || !m->path[0] || m->path[0] == '['))
			break;
		natsym__frame(ns, ips[i], buf, sizeof(buf));
		out->frames[out->n] = strdup(buf);
		if (!out->frames[out->n])
			return -ENOMEM;
		out->n++;
	}
	return 0;
}
