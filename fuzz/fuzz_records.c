// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ring buffer's records as a hostile target (or a broken program) could
 * shape them: a stream of records, each a 2-byte length then its bytes, into
 * a session, which is then finished and written as JSON and text.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "output.h"
#include "session.h"

#define FUZZ_PID 4242

static struct session *fuzz_session(void)
{
	struct session_opts o = {
		.start_ns = 1000,
		.blocking_ns = 1000,
		.slow_cb_ns = 100000,
		.lag_interval_ns = 10000000,
		.tool_version = "fuzz",
		.traced = true,
	};
	struct session_proc p = {
		.pid = FUZZ_PID, .runtime = "cpython", .backend = "uprobe", .loop_kind = "asyncio"};
	struct session *s;

	if (session__new(&o, &s))
		return NULL;
	if (session__add_process(s, &p)) {
		session__free(s);
		return NULL;
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rec[65536] __attribute__((aligned(8)));
	struct session_maps maps = {-1, -1, -1};
	struct session *s = fuzz_session();
	const struct out_opts oo = {.top_n = 5};
	struct ap_report *r = NULL;
	size_t at = 0, len;
	FILE *devnull;

	if (!s)
		return 0;
	while (at + 2 <= size) {
		len = data[at] | (size_t)data[at + 1] << 8;
		at += 2;
		if (len > size - at)
			len = size - at;
		/* the ring buffer hands out 8-byte aligned records */
		memcpy(rec, data + at, len);
		at += len;
		if (session__handle_event(s, rec, len))
			break;
	}
	if (!session__finish(s, &maps, 1000000000ull, NULL, &r)) {
		devnull = fopen("/dev/null", "w");
		if (devnull) {
			out_json__write(devnull, r, &oo);
			out_text__write(devnull, r, &oo);
			fclose(devnull);
		}
		ap_report__free(r);
	}
	session__free(s);
	return 0;
}
