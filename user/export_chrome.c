// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* placeholder until the exporter is written */
#include <errno.h>
#include "export.h"

int export_chrome__save(const char *path, const struct ap_report *r)
{
	(void)path;
	(void)r;
	return -ENOTSUP;
}
