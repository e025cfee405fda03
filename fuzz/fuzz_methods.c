// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The PyMethodDef walk of a type object in target memory, and the probe
 * point decoder on untrusted machine code.
 */
#include "fuzz_mem.h"
#include "pyrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_mem mem = {data, size};
	enum pyrt_reg reg;
	uint64_t meth, off;
	uint32_t tp_methods;

	if (size < 4)
		return 0;
	/* the first bytes choose tp_methods' offset; all of it is memory */
	tp_methods = (data[0] | (uint32_t)data[1] << 8) & 0x3ff;
	pyrt__find_method(fuzz_mem__read, &mem, FUZZ_BASE + data[2], tp_methods, "run", &meth);
	pyrt__pick_probe(data, size < 64 ? size : 64, &off, &reg);
	if (off >= (size < 64 ? size : 64) && off)
		__builtin_trap(); /* a probe point outside the code it was picked from */
	return 0;
}
