/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the running kernel offers the tracer, probed once at start: which
 * variant of each program loads here, and, where a mode cannot run, the
 * missing feature and the first Linux release that has it.
 */
#ifndef AP_KFEAT_H
#define AP_KFEAT_H

#include <stdbool.h>
#include <stdio.h>

enum kfeat_id {
	KFEAT_BTF,	    /* kernel BTF at /sys/kernel/btf/vmlinux: CO-RE */
	KFEAT_RINGBUF,	    /* BPF ring buffer: every record */
	KFEAT_TP_BTF,	    /* BTF-enabled tracepoints, else raw_tp */
	KFEAT_BPF_LOOP,	    /* bpf_loop, else a bounded loop walks the Python stack */
	KFEAT_UPROBE_PMU,   /* uprobes through perf_event_open, no tracefs */
	KFEAT_PERF_SAMPLE,  /* CPU-clock perf events for BPF: the sampler */
	KFEAT_UPROBE_MULTI, /* not used yet: libbpf 1.1 cannot attach them */
	KFEAT_COOKIE,	    /* bpf_get_attach_cookie: not used */
	KFEAT_TASK_STORAGE, /* task-local storage: not used */
	KFEAT_MAX,
};

struct kfeat {
	bool have[KFEAT_MAX];
	char release[65]; /* uname -r */
};

/*
 * Probe the features; never fails (a failed probe is a missing feature).
 * all: also the slow probes (tp_btf parses the kernel's BTF, uprobe_multi
 * reads kallsyms) and those of features no mode uses yet, for --check; else
 * the tracer finds tp_btf by loading.
 */
void kfeat__probe(struct kfeat *k, bool all);
/* tp_btf programs attach to the tracepoints used (parses the kernel's BTF: slow). */
bool kfeat__tp_btf(void);
/* Short name, the first release that has it, and what replaces it when absent. */
const char *kfeat__name(enum kfeat_id id);
const char *kfeat__since(enum kfeat_id id);
const char *kfeat__fallback(enum kfeat_id id);
/*
 * The first feature that mode needs and this kernel lacks, or -1. light: no
 * uprobes, but CPU samples.
 */
int kfeat__missing(const struct kfeat *k, bool light);
/* What the loader uses for one mode on a kernel with features k. */
struct kfeat_plan {
	int missing;   /* a feature the mode needs and the kernel lacks (enum kfeat_id), or -1 */
	bool tp_btf;   /* BTF tracepoints, else raw_tp (known after kfeat__probe(k, true)) */
	bool bpf_loop; /* the Python stack walk by bpf_loop, else the bounded loop */
	bool samples;  /* CPU samples: slow callbacks' stacks (full mode), everything (light) */
};
void kfeat__plan(const struct kfeat *k, bool light, struct kfeat_plan *p);
struct json_writer;
/* The same as members of the current JSON object: "kernel", "features", "modes". */
void kfeat__json(const struct kfeat *k, struct json_writer *w);
/* The --check report: features, then what each mode uses. 0 if every mode runs. */
int kfeat__print(const struct kfeat *k, FILE *out);

#endif /* AP_KFEAT_H */
