// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Python frame decoding from target memory: code objects, their str
 * objects (LATIN1/UCS2/UCS4), line tables of every supported version, and
 * name records as BPF sends them, path details of blocking calls.
 */
#include <stdlib.h>
#include "fuzz_mem.h"
#include "pyline.h"
#include "pyrt.h"
#include "pystack.h"
#include "strutil.h"

static void names(const uint8_t *data, size_t size)
{
	struct ap_rec_name r = {};
	char out[AP_NAME_MAX * 4 + 8], term[512];

	r.enc = data[0] & 7;
	r.len = data[1] | (uint32_t)data[2] << 8; /* may exceed name[]: BPF is not trusted */
	r.truncated = data[3] & 1;
	memcpy(r.name, data, size < sizeof(r.name) ? size : sizeof(r.name));
	if (strutil__decode_name(&r, out, 1 + data[4] % sizeof(out)) >= 0)
		strutil__term(out, term, 1 + data[5] % sizeof(term));
	strutil__escape_term((const char *)data, size, term, sizeof(term));
	/* a blocking call's path detail: file names are the target's choice */
	strutil__join_path(data, size, term, 1 + data[6] % sizeof(term));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_mem mem = {data, size};
	const struct ap_py_offsets *off;
	struct ap_pystack st = {};
	struct ap_stack out = {};
	struct pystack *ps;
	unsigned minor;

	if (size < 16)
		return 0;
	names(data, size);
	minor = 8 + data[0] % 6;
	pyline__line(3, minor, data + 8, size - 8, data[1], data[2] | (uint32_t)data[3] << 8);
	off = pyrt_offsets__find(3, (int)minor);
	ps = off ? pystack__new(0, 3, minor, off, 64) : NULL;
	if (!ps)
		return 0;
	pystack__set_reader(ps, fuzz_mem__read, &mem);
	/* frames: code objects at offsets the input names, positions from it too */
	st.depth = 1 + data[4] % 4;
	for (uint32_t i = 0; i < st.depth; i++) {
		uint64_t code = FUZZ_BASE + ((data[5 + i] | (uint64_t)data[6 + i] << 8) % size);

		st.frames[i] = code | (uint64_t)(data[10 + i] == 0xff ? AP_POS_START : data[10 + i])
					      << 48;
	}
	if (!pystack__resolve(ps, &st, &out))
		ap_stack__free(&out);
	pystack__free(ps);
	return 0;
}
