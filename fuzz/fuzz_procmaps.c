// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/PID/maps parsing and lookups on untrusted text. */
#include <stdlib.h>
#include "fuzz_mem.h"
#include "procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct procmap *m;
	struct procmaps *pm;
	uint64_t bias, off;
	char path[64];
	size_t from = 0;
	int fd = fuzz_mem__file(data, size, path, sizeof(path));

	if (fd < 0)
		abort();
	if (!procmaps__load(path, &pm)) {
		for (size_t i = 0; i < procmaps__count(pm); i++) {
			m = procmaps__get(pm, i);
			procmaps__find_addr(pm, m->start);
			procmaps__addr_to_off(pm, m->end - 1, &off, NULL);
			procmaps__load_bias(pm, m->path, true, 0x1000, &bias);
		}
		while (procmaps__find_file(pm, "libpython3.*.so*", &from))
			;
		procmaps__find_file(pm, "uvloop/loop.cpython-*.so", NULL);
		procmaps__find_file(pm, "/usr/bin/python3*", NULL);
		procmaps__addr_to_off(pm, 0x7f0000001234ull, &off, &m);
		procmaps__free(pm);
	}
	close(fd);
	return 0;
}
