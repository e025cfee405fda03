/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Read-only view of an ELF file on disk through libelf: symbols, PT_LOAD
 * address translation, bytes at a virtual address, and the
 * R_X86_64_RELATIVE relocations that hold the pointers of statically
 * initialised data in position-independent files. Addresses are the
 * file's own virtual addresses (st_value), before any load bias.
 */
#ifndef AP_ELFSYM_H
#define AP_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

struct elf_sym {
	uint64_t value; /* st_value: a virtual address */
	uint64_t size;
	int type;     /* STT_FUNC, STT_OBJECT, ... */
	bool local;   /* STB_LOCAL, e.g. a static function in .symtab */
	bool dynamic; /* found in .dynsym rather than .symtab */
};

/* Open path; 0 or -errno (-ENOEXEC when it is not a 64-bit ELF file). */
int elf_file__open(const char *path, struct elf_file **out);
void elf_file__close(struct elf_file *ef);

int elf_file__type(const struct elf_file *ef); /* e_type: ET_EXEC, ET_DYN */
bool elf_file__has_symtab(const struct elf_file *ef);
/* p_vaddr of the first PT_LOAD, for procmaps__load_bias(). */
uint64_t elf_file__first_load_vaddr(const struct elf_file *ef);

/*
 * An allocated section by name (".PyRuntime", ".AsyncioDebug"): its address
 * and size; -ENOENT if absent.
 */
int elf_file__find_section(const struct elf_file *ef, const char *name, uint64_t *vaddr,
			   uint64_t *size);

/* A defined symbol by exact name, from .symtab then .dynsym; -ENOENT if absent. */
int elf_file__find_sym(const struct elf_file *ef, const char *name, struct elf_sym *sym);

/*
 * The function symbol (.symtab, then .dynsym) that holds vaddr: its name
 * into buf and vaddr's offset in it; -ENOENT when none does.
 */
int elf_file__sym_at(const struct elf_file *ef, uint64_t vaddr, char *buf, size_t size,
		     uint64_t *off);

/* Translate through PT_LOAD; -ENOENT outside every segment's file bytes. */
int elf_file__vaddr_to_off(const struct elf_file *ef, uint64_t vaddr, uint64_t *off);
int elf_file__off_to_vaddr(const struct elf_file *ef, uint64_t off, uint64_t *vaddr);
/* True when vaddr is in an executable PT_LOAD. */
bool elf_file__is_text(const struct elf_file *ef, uint64_t vaddr);

/* len bytes at vaddr, from the file; -ENOENT when not all are file-backed. */
int elf_file__read(const struct elf_file *ef, uint64_t vaddr, void *buf, size_t len);
/* A NUL-terminated string at vaddr (truncated to size - 1); 0 or -errno. */
int elf_file__read_str(const struct elf_file *ef, uint64_t vaddr, char *buf, size_t size);
/*
 * The pointer stored at vaddr as the loaded image would see it before load
 * bias: the addend of an R_X86_64_RELATIVE relocation at vaddr if there is
 * one, else the 8 bytes in the file (right for ET_EXEC).
 */
int elf_file__read_ptr(const struct elf_file *ef, uint64_t vaddr, uint64_t *val);

/*
 * Addresses of the R_X86_64_RELATIVE relocations whose target is a string
 * equal to s (a pointer to s in initialised data). Fills up to max entries
 * of refs, returns how many were found (may exceed max) or -errno.
 */
int elf_file__string_refs(const struct elf_file *ef, const char *s, uint64_t *refs, size_t max);

#endif /* AP_ELFSYM_H */
