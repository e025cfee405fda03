// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --check: the feature table, then each mode's configuration loaded and freed. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bpferr.h"
#include "env.h"
#include "kcheck.h"
#include "kfeat.h"
#include "tracer.h"

/* One configuration the loader can pick: what tracer__new() is given. */
struct kcheck_cfg {
	const char *name;
	int npids; /* 0: system-wide, else this process stands in for the target */
	bool launch;
	bool light;
	unsigned int uprobes;
	bool raw_tp;
	bool bounded; /* the bounded stack walk even where bpf_loop exists */
};

#define UP_UVLOOP ((1u << TRACER_UP_CTX_ENTER) | (1u << TRACER_UP_CTX_EXIT))

static const struct kcheck_cfg cfgs[] = {
	{"full", 1, false, false, TRACER_UP_ALL & ~UP_UVLOOP, false, false},
	{"light", 1, false, true, 0, false, false},
	{"system-wide", 0, false, true, 0, false, false},
	{"system-wide full", 0, false, false, TRACER_UP_ALL, false, false},
	{"launch", 1, true, false, TRACER_UP_ALL, false, false},
	{"uvloop", 1, false, false, UP_UVLOOP, false, false},
	{"full, raw_tp", 1, false, false, TRACER_UP_ALL, true, false},
	{"light, raw_tp", 0, false, true, 0, true, false},
	{"full, bounded walk", 1, false, false, TRACER_UP_ALL, false, true},
	{"light, bounded walk", 0, false, true, 0, false, true},
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Load one configuration; print ok with what it used, or the reason. */
static int check_one(const struct kcheck_cfg *c, const struct kfeat *k, FILE *out)
{
	int self = getpid();
	struct tracer_opts o = {
		.pids = &self,
		.npids = c->npids,
		.pid_map = c->launch,
		.launched = c->launch,
		.blocking_ns = env.blocking_ns,
		.slow_cb_ns = env.slow_cb_ns,
		.lag_interval_ns = env.lag_interval_ns,
		.max_tasks = env.max_tasks,
		.light = c->light,
		.uprobes = c->uprobes,
		.bpf_loop = k->have[KFEAT_BPF_LOOP] && !c->bounded,
		.raw_tp = c->raw_tp,
	};
	struct tracer *tr = NULL;
	char why[320];
	uint64_t t0 = mono_ms();
	int err;

	bpferr__reset();
	err = tracer__new(&o, &tr);
	if (err) {
		fprintf(out, "  %-20s FAIL %s\n", c->name,
			*bpferr__summary(why, sizeof(why)) ? why : strerror(-err));
		return 1;
	}
	fprintf(out, "  %-20s ok   %s, %s, %llu ms\n", c->name,
		tracer__uses_tp_btf(tr) ? "tp_btf" : "raw_tp",
		tracer__uses_bpf_loop(tr) ? "bpf_loop" : "bounded walk",
		(unsigned long long)(mono_ms() - t0));
	tracer__free(tr);
	return 0;
}

int kcheck__run(FILE *out)
{
	struct kfeat k;
	int bad = 0;

	kfeat__probe(&k, true);
	bad = kfeat__print(&k, out);
	fprintf(out, "loads (every program of each configuration, through the verifier)\n");
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		const struct kcheck_cfg *c = &cfgs[i];

		if (c->bounded && !k.have[KFEAT_BPF_LOOP])
			continue; /* the plain configurations already used it */
		if (kfeat__missing(&k, c->light) >= 0) {
			fprintf(out, "  %-20s skip (a feature it needs is missing)\n", c->name);
			continue;
		}
		fflush(out);
		bad |= check_one(c, &k, out);
	}
	fprintf(out, "%s\n",
		bad ? "result: some mode cannot run on this kernel"
		    : "result: every mode runs on this kernel");
	return bad;
}
