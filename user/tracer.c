// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Skeleton lifecycle: open → configure → load → attach → detach → destroy. */
#include <errno.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "asyncprof.h"
#include "asyncprof.skel.h"
#include "kfeat.h"
#include "log.h"
#include "tracer.h"

#define TRACER_MAX_LINKS 512 /* system-wide: up to 7 uprobes per process, one event per CPU */

struct tracer {
	struct asyncprof_bpf *skel;
	bool tp_btf;
	bool bpf_loop; /* the stack-walking programs use bpf_loop, else a bounded loop */
	struct bpf_link *links[TRACER_MAX_LINKS]; /* uprobes, attached by hand */
	int nlinks;
};

static struct bpf_program *uprobe_prog(struct tracer *t, enum tracer_uprobe which, bool *ret);

/*
 * Load one flavour of each hook: tp_btf, or raw_tp for kernels without it;
 * and for the programs that walk Python stacks, the bpf_loop variant or,
 * before 5.17, the bounded one.
 */
static void choose_flavour(struct tracer *t, bool btf, bool loop)
{
	struct asyncprof_bpf *s = t->skel;

	t->tp_btf = btf;
	t->bpf_loop = loop;
	bpf_program__set_autoload(s->progs.ap_sys_enter_btf, btf);
	bpf_program__set_autoload(s->progs.ap_sys_exit_btf, btf && loop);
	bpf_program__set_autoload(s->progs.ap_sys_exit_btf_bounded, btf && !loop);
	bpf_program__set_autoload(s->progs.ap_sched_switch_btf, btf);
	bpf_program__set_autoload(s->progs.ap_exit_btf, btf);
	bpf_program__set_autoload(s->progs.ap_sys_enter_raw, !btf);
	bpf_program__set_autoload(s->progs.ap_sys_exit_raw, !btf && loop);
	bpf_program__set_autoload(s->progs.ap_sys_exit_raw_bounded, !btf && !loop);
	bpf_program__set_autoload(s->progs.ap_sched_switch_raw, !btf);
	bpf_program__set_autoload(s->progs.ap_exit_raw, !btf);
	bpf_program__set_autoload(s->progs.ap_sample, loop);
	bpf_program__set_autoload(s->progs.ap_sample_bounded, !loop);
	vlog("using %s tracepoints, Python stacks by %s\n", btf ? "tp_btf" : "raw_tp",
	     loop ? "bpf_loop" : "a bounded loop");
}

/*
 * Load only the uprobe programs some target will attach (none in light
 * mode): the kernel's verifier is most of the time to attach.
 */
static void choose_uprobes(struct tracer *t, unsigned int mask)
{
	bool ret;

	for (int i = 0; i < TRACER_UP_MAX; i++)
		bpf_program__set_autoload(uprobe_prog(t, (enum tracer_uprobe)i, &ret),
					  mask & (1u << i));
}

/* Open the skeleton, configure it from opts, load one flavour of the hooks. */
static int tracer_load(struct tracer *t, const struct tracer_opts *opts, bool btf)
{
	t->skel = asyncprof_bpf__open();
	if (!t->skel)
		return -errno;
	/* one pid: a compare; several: the targets map; none: every loop but ours */
	if (opts->npids == 1 && !opts->pid_map)
		t->skel->rodata->targ_tgid = opts->pids[0];
	t->skel->rodata->targ_use_map = opts->npids > 1 || opts->pid_map;
	t->skel->rodata->targ_all = opts->npids == 0;
	t->skel->rodata->targ_launch = opts->launched;
	t->skel->rodata->self_tgid = getpid();
	t->skel->rodata->blocking_ns = opts->blocking_ns;
	t->skel->rodata->slow_cb_ns = opts->slow_cb_ns;
	t->skel->rodata->lag_interval_ns = opts->lag_interval_ns;
	t->skel->rodata->verbose = opts->verbose;
	t->skel->rodata->trace_callbacks = opts->trace_callbacks;
	/* samples count from a quarter of the slow-callback threshold */
	t->skel->rodata->min_sample_ns = opts->slow_cb_ns / 4;
	if (opts->max_tasks) {
		t->skel->rodata->max_tasks = opts->max_tasks;
		bpf_map__set_max_entries(t->skel->maps.tasks, opts->max_tasks);
	}
	t->skel->rodata->light_mode = opts->light;
	choose_flavour(t, btf, opts->bpf_loop);
	bpf_program__set_autoload(t->skel->progs.ap_selftest_refused, opts->refused);
	choose_uprobes(t, opts->light ? 0 : opts->uprobes);
	return asyncprof_bpf__load(t->skel);
}

int tracer__new(const struct tracer_opts *opts, struct tracer **out)
{
	struct tracer *t;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/*
	 * tp_btf first, and probe for it only when that load fails: the probe
	 * parses the kernel's BTF twice (tens of ms each, as much as the
	 * verifier now takes), and every kernel with bpf_loop has tp_btf.
	 * opts->raw_tp takes the raw_tp flavour (its test here).
	 */
	err = opts->raw_tp ? -ENOTSUP : tracer_load(t, opts, true);
	if (err && (opts->raw_tp || (t->skel && !kfeat__tp_btf()))) {
		asyncprof_bpf__destroy(t->skel);
		err = tracer_load(t, opts, false);
	}
	if (err)
		goto err_free;
	for (int i = 0; t->skel->rodata->targ_use_map && i < opts->npids && !err; i++)
		err = tracer__add_target(t, opts->pids[i]);
	if (err)
		goto err_free;
	*out = t;
	return 0;
err_free:
	tracer__free(t);
	return err < 0 ? err : -EINVAL;
}

int tracer__attach(struct tracer *t, uint64_t window_start_ns)
{
	t->skel->bss->window_start_ns = window_start_ns;
	return asyncprof_bpf__attach(t->skel);
}

static struct bpf_program *uprobe_prog(struct tracer *t, enum tracer_uprobe which, bool *ret)
{
	struct asyncprof_bpf *s = t->skel;

	*ret = which == TRACER_UP_CONTEXT_RUN_RET;
	switch (which) {
	case TRACER_UP_CONTEXT_RUN:
		return s->progs.ap_context_run;
	case TRACER_UP_CONTEXT_RUN_RET:
		return s->progs.ap_context_run_ret;
	case TRACER_UP_CONTEXT_RUN_END:
		return s->progs.ap_context_run_end;
	case TRACER_UP_CTX_ENTER:
		return s->progs.ap_ctx_enter;
	case TRACER_UP_CTX_EXIT:
		return s->progs.ap_ctx_exit;
	case TRACER_UP_TASK_STEP:
		return s->progs.ap_task_step;
	case TRACER_UP_TASK_WAKEUP:
		return s->progs.ap_task_wakeup;
	case TRACER_UP_TASK_WAKEUP_WRAP:
		return s->progs.ap_task_wakeup_wrap;
	default:
		return NULL;
	}
}

int tracer__attach_uprobe(struct tracer *t, enum tracer_uprobe which, int pid, const char *path,
			  uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_program *prog;
	struct bpf_link *link;

	prog = uprobe_prog(t, which, &opts.retprobe);
	if (!prog || t->nlinks >= TRACER_MAX_LINKS)
		return -EINVAL;
	link = bpf_program__attach_uprobe_opts(prog, pid, path, off, &opts);
	if (!link)
		return -errno;
	vlog("uprobe %s at %s+0x%llx\n", bpf_program__name(prog), path, (unsigned long long)off);
	t->links[t->nlinks] = link;
	return t->nlinks++;
}

void tracer__detach_link(struct tracer *t, int id)
{
	if (id < 0 || id >= t->nlinks)
		return;
	bpf_link__destroy(t->links[id]);
	t->links[id] = NULL; /* tracer__detach skips it */
}

int tracer__add_target(struct tracer *t, int pid)
{
	__u32 key = pid;
	__u8 one = 1;

	if (bpf_map__update_elem(t->skel->maps.targets, &key, sizeof(key), &one, sizeof(one),
				 BPF_ANY))
		return -errno;
	return 0;
}

int tracer__set_py_proc(struct tracer *t, int pid, const struct ap_py_proc *pp)
{
	__u32 key = pid;

	if (bpf_map__update_elem(t->skel->maps.py_procs, &key, sizeof(key), pp, sizeof(*pp),
				 BPF_ANY))
		return -errno;
	return 0;
}

int tracer__get_py_proc(const struct tracer *t, int pid, struct ap_py_proc *pp)
{
	__u32 key = pid;

	if (bpf_map__lookup_elem(t->skel->maps.py_procs, &key, sizeof(key), pp, sizeof(*pp), 0))
		return -errno;
	return 0;
}

/* One CPU-clock perf event per CPU, each running the sampler. */
int tracer__attach_sampler(struct tracer *t, unsigned int freq)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.freq = 1,
		.sample_freq = freq,
	};
	struct bpf_program *sampler =
		t->bpf_loop ? t->skel->progs.ap_sample : t->skel->progs.ap_sample_bounded;
	int ncpu = libbpf_num_possible_cpus(), fd;
	struct bpf_link *link;

	for (int cpu = 0; cpu < ncpu && t->nlinks < TRACER_MAX_LINKS; cpu++) {
		fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			if (errno == ENODEV) /* possible but not online */
				continue;
			return -errno;
		}
		link = bpf_program__attach_perf_event(sampler, fd);
		if (!link) {
			close(fd);
			return -errno;
		}
		t->links[t->nlinks++] = link; /* the link owns fd from now on */
	}
	return 0;
}

bool tracer__runq_missing(const struct tracer *t)
{
	return t && t->skel && t->skel->bss && t->skel->bss->runq_missing;
}

void tracer__detach(struct tracer *t)
{
	if (!t)
		return;
	/* calls already made still end; none begins while the probes go (syscalls.bpf.h) */
	if (t->skel && t->skel->bss)
		t->skel->bss->tracing_stopped = 1;
	/*
	 * Last attached, first detached: the probes that start a callback go
	 * in after those that end it (target.c), so they go first, and a
	 * callback running meanwhile still has its end.
	 */
	for (int i = t->nlinks - 1; i >= 0; i--)
		bpf_link__destroy(t->links[i]);
	t->nlinks = 0;
	if (t->skel)
		asyncprof_bpf__detach(t->skel);
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	tracer__detach(t);
	asyncprof_bpf__destroy(t->skel);
	free(t);
}

int tracer__events_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.events);
}

int tracer__threads_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.threads);
}

int tracer__tasks_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.tasks);
}

int tracer__stacks_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.stacks);
}

int tracer__callbacks_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.callbacks);
}

uint64_t tracer__stat(const struct tracer *t, unsigned int which)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0, *vals;

	if (ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.stats), &which, vals))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

bool tracer__uses_tp_btf(const struct tracer *t)
{
	return t->tp_btf;
}

bool tracer__uses_bpf_loop(const struct tracer *t)
{
	return t->bpf_loop;
}
