// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* _Py_DebugOffsets as a target could shape them: any bytes at _PyRuntime. */
#include <stdint.h>
#include <stddef.h>
#include "pydebug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pydebug d;

	if (!pydebug__parse(data, size, &d))
		for (int f = 0; f < PD__N; f++)
			if (pydebug__has(&d, f) && d.off[f] > (1u << 20))
				__builtin_trap(); /* an offset past the biggest struct got through */
	return 0;
}
