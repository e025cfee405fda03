// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ELF files through libelf: symbols, PT_LOAD translation, RELATIVE relocations. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"

#define MAX_LOADS 16

struct elf_reloc {
	uint64_t where;	 /* r_offset */
	uint64_t addend; /* the target, before load bias */
};

struct elf_file {
	int fd;
	Elf *elf;
	int type;
	bool has_symtab;
	size_t nloads;
	GElf_Phdr loads[MAX_LOADS];
	struct elf_reloc *relocs; /* R_X86_64_RELATIVE, sorted by where */
	size_t nrelocs;
};

static int reloc_cmp(const void *a, const void *b)
{
	const struct elf_reloc *x = a, *y = b;

	return x->where < y->where ? -1 : x->where > y->where;
}

/* Collect the RELATIVE relocations of one SHT_RELA section. */
static int elf_file__add_relocs(struct elf_file *ef, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	struct elf_reloc *r;
	GElf_Rela rela;
	size_t i, n;

	/* entries the section's data really holds: sh_size of a hostile file may lie */
	n = data && sh->sh_entsize ? data->d_size / sh->sh_entsize : 0;
	if (!n)
		return 0;
	r = realloc(ef->relocs, (ef->nrelocs + n) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	ef->relocs = r;
	for (i = 0; i < n; i++) {
		if (!gelf_getrela(data, i, &rela) || GELF_R_TYPE(rela.r_info) != R_X86_64_RELATIVE)
			continue;
		r[ef->nrelocs].where = rela.r_offset;
		r[ef->nrelocs++].addend = rela.r_addend;
	}
	return 0;
}

static int elf_file__scan(struct elf_file *ef)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Phdr ph;
	size_t i, n;
	int err;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n && ef->nloads < MAX_LOADS; i++) {
		if (gelf_getphdr(ef->elf, i, &ph) && ph.p_type == PT_LOAD)
			ef->loads[ef->nloads++] = ph;
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			ef->has_symtab = true;
		if (sh.sh_type == SHT_RELA) {
			err = elf_file__add_relocs(ef, scn, &sh);
			if (err)
				return err;
		}
	}
	if (ef->nrelocs)
		qsort(ef->relocs, ef->nrelocs, sizeof(*ef->relocs), reloc_cmp);
	return 0;
}

int elf_file__find_section(const struct elf_file *ef, const char *name, uint64_t *vaddr,
			   uint64_t *size)
{
	Elf_Scn *scn = NULL;
	const char *sname;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		return -ENOENT;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
			continue;
		sname = elf_strptr(ef->elf, shstrndx, sh.sh_name);
		if (sname && !strcmp(sname, name)) {
			*vaddr = sh.sh_addr;
			*size = sh.sh_size;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_file__open(const char *path, struct elf_file **out)
{
	struct elf_file *ef;
	GElf_Ehdr eh;
	int err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return -ENOMEM;
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		err = -errno;
		free(ef);
		return err;
	}
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	err = -ENOEXEC;
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || gelf_getclass(ef->elf) != ELFCLASS64 ||
	    !gelf_getehdr(ef->elf, &eh))
		goto out_close;
	ef->type = eh.e_type;
	err = elf_file__scan(ef);
	if (err)
		goto out_close;
	*out = ef;
	return 0;
out_close:
	elf_file__close(ef);
	return err;
}

void elf_file__close(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	close(ef->fd);
	free(ef->relocs);
	free(ef);
}

int elf_file__type(const struct elf_file *ef)
{
	return ef->type;
}

bool elf_file__has_symtab(const struct elf_file *ef)
{
	return ef->has_symtab;
}

uint64_t elf_file__first_load_vaddr(const struct elf_file *ef)
{
	return ef->nloads ? ef->loads[0].p_vaddr : 0;
}

/*
 * Call match(sym, name, ctx) for each defined symbol of the table of type
 * shtype until it returns true; 0 then, -ENOENT when none matched.
 */
static int elf_file__each_sym(const struct elf_file *ef, Elf64_Word shtype,
			      bool (*match)(const GElf_Sym *s, const char *name, void *ctx),
			      void *ctx)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym s;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != shtype || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		n = data ? data->d_size / sh.sh_entsize : 0; /* not sh_size: it may lie */
		for (i = 0; data && i < n; i++) {
			const char *sname;

			if (!gelf_getsym(data, i, &s) || s.st_shndx == SHN_UNDEF)
				continue;
			sname = elf_strptr(ef->elf, sh.sh_link, s.st_name);
			if (sname && match(&s, sname, ctx))
				return 0;
		}
	}
	return -ENOENT;
}

struct by_name {
	const char *name;
	struct elf_sym *sym;
};

static bool match_name(const GElf_Sym *s, const char *name, void *ctx)
{
	struct by_name *q = ctx;

	if (strcmp(name, q->name))
		return false;
	q->sym->value = s->st_value;
	q->sym->size = s->st_size;
	q->sym->type = GELF_ST_TYPE(s->st_info);
	q->sym->local = GELF_ST_BIND(s->st_info) == STB_LOCAL;
	return true;
}

/* Look name up in the one symbol table of type shtype. */
static int elf_file__find_in(const struct elf_file *ef, Elf64_Word shtype, const char *name,
			     struct elf_sym *sym)
{
	struct by_name q = {name, sym};

	sym->dynamic = shtype == SHT_DYNSYM;
	return elf_file__each_sym(ef, shtype, match_name, &q);
}

struct by_addr {
	uint64_t vaddr;
	char *buf;
	size_t size;
	uint64_t *off;
};

static bool match_addr(const GElf_Sym *s, const char *name, void *ctx)
{
	struct by_addr *q = ctx;

	if (GELF_ST_TYPE(s->st_info) != STT_FUNC || !*name || q->vaddr < s->st_value ||
	    q->vaddr >= s->st_value + (s->st_size ? s->st_size : 1))
		return false;
	snprintf(q->buf, q->size, "%s", name);
	*q->off = q->vaddr - s->st_value;
	return true;
}

int elf_file__sym_at(const struct elf_file *ef, uint64_t vaddr, char *buf, size_t size,
		     uint64_t *off)
{
	struct by_addr q = {vaddr, buf, size, off};

	if (!elf_file__each_sym(ef, SHT_SYMTAB, match_addr, &q))
		return 0;
	return elf_file__each_sym(ef, SHT_DYNSYM, match_addr, &q);
}

int elf_file__find_sym(const struct elf_file *ef, const char *name, struct elf_sym *sym)
{
	memset(sym, 0, sizeof(*sym));
	if (!elf_file__find_in(ef, SHT_SYMTAB, name, sym))
		return 0;
	return elf_file__find_in(ef, SHT_DYNSYM, name, sym);
}

int elf_file__vaddr_to_off(const struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	size_t i;

	for (i = 0; i < ef->nloads; i++) {
		const GElf_Phdr *p = &ef->loads[i];

		if (vaddr >= p->p_vaddr && vaddr < p->p_vaddr + p->p_filesz) {
			*off = vaddr - p->p_vaddr + p->p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_file__off_to_vaddr(const struct elf_file *ef, uint64_t off, uint64_t *vaddr)
{
	size_t i;

	for (i = 0; i < ef->nloads; i++) {
		const GElf_Phdr *p = &ef->loads[i];

		if (off >= p->p_offset && off < p->p_offset + p->p_filesz) {
			*vaddr = off - p->p_offset + p->p_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

bool elf_file__is_text(const struct elf_file *ef, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < ef->nloads; i++) {
		const GElf_Phdr *p = &ef->loads[i];

		if ((p->p_flags & PF_X) && vaddr >= p->p_vaddr && vaddr < p->p_vaddr + p->p_memsz)
			return true;
	}
	return false;
}

int elf_file__read(const struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	uint64_t off, end;
	ssize_t n;

	if (!len)
		return 0;
	if (elf_file__vaddr_to_off(ef, vaddr, &off) ||
	    elf_file__vaddr_to_off(ef, vaddr + len - 1, &end) || end - off != len - 1)
		return -ENOENT;
	n = pread(ef->fd, buf, len, off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int elf_file__read_str(const struct elf_file *ef, uint64_t vaddr, char *buf, size_t size)
{
	size_t i;

	if (!size)
		return -EINVAL;
	for (i = 0; i + 1 < size; i++) {
		if (elf_file__read(ef, vaddr + i, &buf[i], 1)) {
			buf[i] = 0;
			return -ENOENT;
		}
		if (!buf[i])
			return 0;
	}
	buf[i] = 0;
	return 0;
}

static const struct elf_reloc *elf_file__reloc_at(const struct elf_file *ef, uint64_t vaddr)
{
	struct elf_reloc key = {.where = vaddr};

	if (!ef->nrelocs)
		return NULL;
	return bsearch(&key, ef->relocs, ef->nrelocs, sizeof(key), reloc_cmp);
}

int elf_file__read_ptr(const struct elf_file *ef, uint64_t vaddr, uint64_t *val)
{
	const struct elf_reloc *r = elf_file__reloc_at(ef, vaddr);

	if (r) {
		*val = r->addend;
		return 0;
	}
	return elf_file__read(ef, vaddr, val, sizeof(*val));
}

/* Does a string equal to s (with its NUL) start at vaddr? */
static bool elf_file__str_at(const struct elf_file *ef, uint64_t vaddr, const char *s)
{
	char buf[256];
	size_t len = strlen(s) + 1;

	if (len > sizeof(buf) || elf_file__read(ef, vaddr, buf, len))
		return false;
	return memcmp(buf, s, len) == 0;
}

int elf_file__string_refs(const struct elf_file *ef, const char *s, uint64_t *refs, size_t max)
{
	size_t i, found = 0;

	/* a handful of thousand relocations: testing each target is cheap enough */
	for (i = 0; i < ef->nrelocs; i++) {
		if (!elf_file__str_at(ef, ef->relocs[i].addend, s))
			continue;
		if (found < max)
			refs[found] = ef->relocs[i].where;
		found++;
	}
	return found;
}
