// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel feature probes, the way libbpf-tools and bpftool probe: small
 * loads and the files the kernel exports, never tracefs. A feature a mode
 * needs but this kernel lacks is named with the first release that has it.
 */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "json_writer.h"
#include "kfeat.h"

struct kfeat_info {
	const char *name;
	const char *since;    /* first Linux release that has it */
	const char *fallback; /* used instead when it is absent; NULL: required */
	const char *used_by;  /* what needs it */
};

static const struct kfeat_info info[KFEAT_MAX] = {
	[KFEAT_BTF] = {"kernel BTF", "5.4 (CONFIG_DEBUG_INFO_BTF)", NULL, "every mode (CO-RE)"},
	[KFEAT_RINGBUF] = {"BPF ring buffer", "5.8", NULL, "every mode (events)"},
	[KFEAT_TP_BTF] = {"tp_btf tracepoints", "5.5", "raw_tp tracepoints",
			  "every mode (syscalls, scheduler)"},
	[KFEAT_BPF_LOOP] = {"bpf_loop", "5.17", "a bounded loop (same depth, more verifier time)",
			    "Python stacks"},
	[KFEAT_UPROBE_PMU] = {"uprobe PMU", "4.17", NULL, "full mode (callbacks, tasks)"},
	[KFEAT_PERF_SAMPLE] = {"perf_event programs", "4.9",
			       "no CPU samples (light mode needs them)",
			       "stacks of slow callbacks, light mode"},
	[KFEAT_UPROBE_MULTI] = {"uprobe_multi", "6.6", "one link per uprobe",
				"not used (libbpf 1.1)"},
	[KFEAT_COOKIE] = {"attach cookies", "5.15", "one program per probe kind", "not used"},
	[KFEAT_TASK_STORAGE] = {"task storage", "5.11", "a hash map keyed by tid", "not used"},
};

const char *kfeat__name(enum kfeat_id id)
{
	return id < KFEAT_MAX ? info[id].name : "?";
}

const char *kfeat__since(enum kfeat_id id)
{
	return id < KFEAT_MAX ? info[id].since : "?";
}

const char *kfeat__fallback(enum kfeat_id id)
{
	return id < KFEAT_MAX ? info[id].fallback : NULL;
}

/* Can a BTF-enabled tracepoint program attach to raw tracepoint name? */
static bool probe_tp_btf(const char *name)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int fd, id;

	id = libbpf_find_vmlinux_btf_id(name, BPF_TRACE_RAW_TP);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool kfeat__tp_btf(void)
{
	return probe_tp_btf("sys_enter") && probe_tp_btf("sched_switch");
}

/* Is symbol in the kernel? kallsyms names are readable without privilege. */
static bool ksym_exists(const char *sym)
{
	char line[256], name[200];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %199s", name) == 1 && !strcmp(name, sym);
	fclose(f);
	return found;
}

void kfeat__probe(struct kfeat *k, bool all)
{
	struct utsname u;

	memset(k, 0, sizeof(*k));
	if (!uname(&u))
		snprintf(k->release, sizeof(k->release), "%s", u.release);
	k->have[KFEAT_BTF] = !access("/sys/kernel/btf/vmlinux", R_OK);
	k->have[KFEAT_RINGBUF] = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	k->have[KFEAT_BPF_LOOP] =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, NULL) == 1;
	k->have[KFEAT_UPROBE_PMU] = !access("/sys/bus/event_source/devices/uprobe/type", R_OK);
	k->have[KFEAT_PERF_SAMPLE] =
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_PERF_EVENT, NULL) == 1;
	if (!all)
		return;
	k->have[KFEAT_COOKIE] = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
							BPF_FUNC_get_attach_cookie, NULL) == 1;
	k->have[KFEAT_TP_BTF] = k->have[KFEAT_BTF] && kfeat__tp_btf();
	k->have[KFEAT_TASK_STORAGE] =
		k->have[KFEAT_BTF] &&
		libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1;
	k->have[KFEAT_UPROBE_MULTI] = ksym_exists("bpf_uprobe_multi_link_attach");
}

int kfeat__missing(const struct kfeat *k, bool light)
{
	/* full mode hooks callbacks with uprobes; light mode learns everything from samples */
	static const enum kfeat_id needed[] = {KFEAT_BTF, KFEAT_RINGBUF, KFEAT_UPROBE_PMU,
					       KFEAT_PERF_SAMPLE};

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (light ? needed[i] == KFEAT_UPROBE_PMU : needed[i] == KFEAT_PERF_SAMPLE)
			continue;
		if (!k->have[needed[i]])
			return (int)needed[i];
	}
	return -1;
}

void kfeat__plan(const struct kfeat *k, bool light, struct kfeat_plan *p)
{
	p->missing = kfeat__missing(k, light);
	p->tp_btf = k->have[KFEAT_TP_BTF];
	p->bpf_loop = k->have[KFEAT_BPF_LOOP];
	p->samples = k->have[KFEAT_PERF_SAMPLE];
}

static void print_mode(const struct kfeat *k, FILE *out, const char *mode, bool light, bool uvloop)
{
	struct kfeat_plan p;

	kfeat__plan(k, light, &p);
	if (p.missing >= 0) {
		fprintf(out, "  %-12s no: needs %s (Linux %s)\n", mode, kfeat__name(p.missing),
			kfeat__since(p.missing));
		return;
	}
	fprintf(out, "  %-12s yes: %s tracepoints, stacks by %s%s%s\n", mode,
		p.tp_btf ? "tp_btf" : "raw_tp", p.bpf_loop ? "bpf_loop" : "bounded loop",
		light ? ""
		      : (uvloop ? ", uprobes on PyContext_Enter/Exit" : ", uprobes on context_run"),
		p.samples ? ", CPU samples" : "");
}

/* yes, or what replaces the feature, or that a mode needs it. */
static const char *feat_status(const struct kfeat *k, int i, char *buf, size_t n)
{
	if (k->have[i])
		return "yes";
	if (info[i].fallback)
		snprintf(buf, n, "no, instead %s", info[i].fallback);
	else
		snprintf(buf, n, "%s",
			 strncmp(info[i].used_by, "not used", 8) ? "NO, required" : "no");
	return buf;
}

int kfeat__print(const struct kfeat *k, FILE *out)
{
	char buf[128];

	fprintf(out, "kernel %s\n", k->release);
	fprintf(out, "  %-20s %-32s %s\n", "feature", "since Linux", "used for: here");
	for (int i = 0; i < KFEAT_MAX; i++)
		fprintf(out, "  %-20s %-32s %s: %s\n", info[i].name, info[i].since, info[i].used_by,
			feat_status(k, i, buf, sizeof(buf)));
	fprintf(out, "modes\n");
	print_mode(k, out, "full", false, false);
	print_mode(k, out, "light", true, false);
	print_mode(k, out, "system-wide", false, false);
	print_mode(k, out, "launch", false, false);
	print_mode(k, out, "uvloop", false, true);
	return kfeat__missing(k, false) >= 0 ? 1 : 0;
}

static void json_mode(const struct kfeat *k, json_writer_t *w, const char *mode, bool light,
		      bool uvloop)
{
	struct kfeat_plan p;

	kfeat__plan(k, light, &p);
	jsonw_name(w, mode);
	jsonw_start_object(w);
	jsonw_bool_field(w, "runs", p.missing < 0);
	jsonw_string_field(w, "missing", p.missing < 0 ? NULL : kfeat__name(p.missing));
	jsonw_string_field(w, "missing_since", p.missing < 0 ? NULL : kfeat__since(p.missing));
	jsonw_string_field(w, "tracepoints", p.tp_btf ? "tp_btf" : "raw_tp");
	jsonw_string_field(w, "stack_walk", p.bpf_loop ? "bpf_loop" : "bounded");
	jsonw_string_field(w, "uprobes",
			   light ? NULL : (uvloop ? "PyContext_Enter/Exit" : "context_run"));
	jsonw_bool_field(w, "cpu_samples", p.samples);
	jsonw_end_object(w);
}

void kfeat__json(const struct kfeat *k, json_writer_t *w)
{
	jsonw_string_field(w, "kernel", k->release);
	jsonw_name(w, "features");
	jsonw_start_object(w);
	for (int i = 0; i < KFEAT_MAX; i++) {
		jsonw_name(w, info[i].name);
		jsonw_start_object(w);
		jsonw_bool_field(w, "present", k->have[i]);
		jsonw_string_field(w, "since", info[i].since);
		jsonw_string_field(w, "used_for", info[i].used_by);
		jsonw_string_field(w, "fallback", info[i].fallback);
		jsonw_end_object(w);
	}
	jsonw_end_object(w);
	jsonw_name(w, "modes");
	jsonw_start_object(w);
	json_mode(k, w, "full", false, false);
	json_mode(k, w, "light", true, false);
	json_mode(k, w, "system-wide", false, false);
	json_mode(k, w, "launch", false, false);
	json_mode(k, w, "uvloop", false, true);
	jsonw_end_object(w);
}
