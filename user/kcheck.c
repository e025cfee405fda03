// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --check: the feature table, then each mode's configuration loaded and freed. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bpferr.h"
#include "json_writer.h"
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

#define NCFGS (sizeof(cfgs) / sizeof(cfgs[0]))

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How one configuration's load went. */
struct kcheck_res {
	enum { KC_OK, KC_FAIL, KC_SKIP, KC_NA } st; /* KC_NA: not listed (see kcheck__run) */
	bool tp_btf, bpf_loop;			    /* KC_OK: the variants loaded */
	unsigned long long ms;
	char why[320]; /* KC_FAIL: the reason */
};

/* Load one configuration into *r. */
static void check_one(const struct kcheck_cfg *c, const struct kfeat *k,
		      const struct tracer_opts *base, struct kcheck_res *r)
{
	int self = getpid();
	struct tracer_opts o = {
		.pids = &self,
		.npids = c->npids,
		.pid_map = c->launch,
		.launched = c->launch,
		.blocking_ns = base->blocking_ns,
		.slow_cb_ns = base->slow_cb_ns,
		.lag_interval_ns = base->lag_interval_ns,
		.max_tasks = base->max_tasks,
		.light = c->light,
		.uprobes = c->uprobes,
		.bpf_loop = k->have[KFEAT_BPF_LOOP] && !c->bounded,
		.raw_tp = c->raw_tp,
	};
	struct tracer *tr = NULL;
	uint64_t t0 = mono_ms();
	int err;

	bpferr__reset();
	err = tracer__new(&o, &tr);
	r->ms = mono_ms() - t0;
	if (err) {
		r->st = KC_FAIL;
		if (!*bpferr__summary(r->why, sizeof(r->why)))
			snprintf(r->why, sizeof(r->why), "%s", strerror(-err));
		return;
	}
	r->st = KC_OK;
	r->tp_btf = tracer__uses_tp_btf(tr);
	r->bpf_loop = tracer__uses_bpf_loop(tr);
	tracer__free(tr);
}

static void print_text(const struct kcheck_res *res, bool bad, FILE *out)
{
	fprintf(out, "loads (every program of each configuration, through the verifier)\n");
	for (size_t i = 0; i < NCFGS; i++) {
		const struct kcheck_res *r = &res[i];

		if (r->st == KC_NA)
			continue;
		if (r->st == KC_SKIP)
			fprintf(out, "  %-20s skip (a feature it needs is missing)\n",
				cfgs[i].name);
		else if (r->st == KC_FAIL)
			fprintf(out, "  %-20s FAIL %s\n", cfgs[i].name, r->why);
		else
			fprintf(out, "  %-20s ok   %s, %s, %llu ms\n", cfgs[i].name,
				r->tp_btf ? "tp_btf" : "raw_tp",
				r->bpf_loop ? "bpf_loop" : "bounded walk", r->ms);
	}
	fprintf(out, "%s\n",
		bad ? "result: some mode cannot run on this kernel"
		    : "result: every mode runs on this kernel");
}

static void print_json(const struct kfeat *k, const struct kcheck_res *res, bool bad, FILE *out)
{
	static const char *const st[] = {"ok", "fail", "skip", "n/a"};
	json_writer_t *w = jsonw_new(out);

	if (!w)
		return;
	jsonw_pretty(w, true);
	jsonw_start_object(w);
	kfeat__json(k, w);
	jsonw_name(w, "loads");
	jsonw_start_array(w);
	for (size_t i = 0; i < NCFGS; i++) {
		const struct kcheck_res *r = &res[i];

		if (r->st == KC_NA)
			continue;
		jsonw_start_object(w);
		jsonw_string_field(w, "config", cfgs[i].name);
		jsonw_string_field(w, "status", st[r->st]);
		jsonw_string_field(w, "tracepoints",
				   r->st == KC_OK ? (r->tp_btf ? "tp_btf" : "raw_tp") : NULL);
		jsonw_string_field(w, "stack_walk",
				   r->st == KC_OK ? (r->bpf_loop ? "bpf_loop" : "bounded") : NULL);
		jsonw_string_field(w, "error", r->st == KC_FAIL ? r->why : NULL);
		jsonw_uint_field(w, "ms", r->ms);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_bool_field(w, "every_mode_runs", !bad);
	jsonw_end_object(w);
	jsonw_destroy(&w);
}

int kcheck__run(FILE *out, bool json, const struct tracer_opts *base)
{
	struct kcheck_res res[NCFGS] = {0};
	struct kfeat k;
	int bad;

	kfeat__probe(&k, true);
	/* the table first: if a load crashes the kernel's verifier, the features are out */
	bad = json ? kfeat__missing(&k, false) >= 0 : kfeat__print(&k, out);
	fflush(out);
	for (size_t i = 0; i < NCFGS; i++) {
		const struct kcheck_cfg *c = &cfgs[i];

		/* bounded: where bpf_loop is missing the plain configurations used it */
		res[i].st = c->bounded && !k.have[KFEAT_BPF_LOOP] ? KC_NA : KC_SKIP;
		if (res[i].st == KC_NA || kfeat__missing(&k, c->light) >= 0)
			continue;
		check_one(c, &k, base, &res[i]);
		bad |= res[i].st == KC_FAIL;
	}
	if (json)
		print_json(&k, res, bad, out);
	else
		print_text(res, bad, out);
	return bad;
}
