// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The recording status line, redrawn in place with \r and erased at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "progress.h"

#define PROGRESS_PERIOD_NS 250000000ull /* redraws: 4 a second */

struct progress {
	uint64_t start_ns;
	uint64_t next_ns;
	double duration_s;
	bool drawn;
};

struct progress *progress__new(uint64_t start_ns, double duration_s, bool wanted)
{
	struct progress *p;

	if (!wanted || !isatty(STDERR_FILENO))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL; /* a status line is not worth failing for */
	p->start_ns = start_ns;
	p->duration_s = duration_s;
	return p;
}

void progress__update(struct progress *p, uint64_t now_ns, uint64_t events, uint64_t drops)
{
	double el;

	if (!p || now_ns < p->next_ns)
		return;
	p->next_ns = now_ns + PROGRESS_PERIOD_NS;
	el = (double)(now_ns - p->start_ns) / 1e9;
	/* \033[K: erase what a longer line left */
	if (p->duration_s > 0)
		fprintf(stderr, "\rrecording %.1f/%.0f s  %llu events  %llu dropped\033[K", el,
			p->duration_s, (unsigned long long)events, (unsigned long long)drops);
	else
		fprintf(stderr,
			"\rrecording %.1f s (Ctrl-C to stop)  %llu events  %llu dropped\033[K", el,
			(unsigned long long)events, (unsigned long long)drops);
	fflush(stderr);
	p->drawn = true;
}

void progress__free(struct progress *p)
{
	if (!p)
		return;
	if (p->drawn)
		fputs("\r\033[K", stderr);
	free(p);
}
