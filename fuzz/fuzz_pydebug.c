// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* _Py_DebugOffsets and _asyncio's table as a target could shape them: any bytes. */
#include <stdint.h>
#include <stddef.h>
#include "pydebug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pydebug_asyncio a;
	struct pydebug d;

	if (!pydebug__parse(data, size, &d))
		for (int f = 0; f < PD__N; f++)
			if (pydebug__has(&d, f) && d.off[f] > (1u << 20))
				__builtin_trap(); /* an offset past the biggest struct got through */
	if (!pydebug__parse_asyncio(data, size, &a) && a.task_name >= a.task_size)
		__builtin_trap(); /* a Task field past the Task got through */
	return 0;
}
