// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ELF symbol, segment, note-free relocation reading of an untrusted file. */
#include <stdlib.h>
#include "elfsym.h"
#include "fuzz_mem.h"

static const char *const names[] = {"_PyRuntime",  "Py_GetVersion",  "Py_Version",
				    "context_run", "PyContext_Type", "TaskStepMethWrapper"};

static void probe(struct elf_file *ef)
{
	uint64_t refs[8], v, off, first = elf_file__first_load_vaddr(ef);
	struct elf_sym sym;
	char buf[256];

	elf_file__type(ef);
	elf_file__has_symtab(ef);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (elf_file__find_sym(ef, names[i], &sym))
			continue;
		elf_file__read(ef, sym.value, buf, sizeof(buf));
		elf_file__read_str(ef, sym.value, buf, sizeof(buf));
		elf_file__read_ptr(ef, sym.value, &v);
		elf_file__is_text(ef, sym.value);
		if (!elf_file__vaddr_to_off(ef, sym.value, &off))
			elf_file__off_to_vaddr(ef, off, &v);
		elf_file__sym_at(ef, sym.value + 1, buf, sizeof(buf), &off);
	}
	elf_file__sym_at(ef, first, buf, sizeof(buf), &off);
	elf_file__read_ptr(ef, first, &v);
	elf_file__string_refs(ef, "TaskStepMethWrapper", refs, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_file *ef;
	char path[64];
	int fd = fuzz_mem__file(data, size, path, sizeof(path));

	if (fd < 0)
		abort();
	if (!elf_file__open(path, &ef)) {
		probe(ef);
		elf_file__close(ef);
	}
	close(fd);
	return 0;
}
