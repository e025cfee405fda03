// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncprof-bpf: lifecycle only. parse → check → detect → open/load →
 * attach → poll → detach → report → cleanup.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "asyncprof.h"
#include "bpferr.h"
#include "env.h"
#include "kcheck.h"
#include "kfeat.h"
#include "launch.h"
#include "list.h"
#include "log.h"
#include "model.h"
#include "output.h"
#include "preflight.h"
#include "progress.h"
#include "prom.h"
#include "session.h"
#include "strutil.h"
#include "targets.h"
#include "tracer.h"
#include "view.h"

static volatile sig_atomic_t exiting;
static struct launch *launched;	  /* launch mode: the command */
static struct progress *progress; /* the status line while recording to files */

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

/* The command line: this file alone holds it, and hands the others what they need. */
static struct env env;

/*
 * libbpf's warnings go to bpferr, which makes a failed load one line; -v
 * prints them as they come (the verifier's whole log among them).
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *msg = NULL, *line, *save = NULL;

	if (level == LIBBPF_DEBUG && env.verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && env.verbose < 1)
		return 0;
	if (env.verbose)
		return vfprintf(stderr, fmt, args);
	if (vasprintf(&msg, fmt, args) < 0)
		return 0;
	for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		bpferr__feed(line);
	free(msg);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Every --output, then the text summary on stdout unless one went there. */
static int write_report(const struct ap_report *rep)
{
	const struct out_opts opts = {.top_n = env.top};
	int err = 0, e;

	if (!env.noutputs)
		return output__save("-", env.format, rep, &opts);
	for (int i = 0; i < env.noutputs; i++) {
		e = output__save(env.outputs[i].path, env.outputs[i].format, rep, &opts);
		if (e) {
			elog("failed to write %s: %s\n", env.outputs[i].path, strerror(-e));
			err = e;
		}
	}
	if (!env.quiet)
		out_text__write(stdout, rep, &opts);
	return err;
}

/* What BPF counted as lost, for the report's drops. */
static void tracer_drops(const struct tracer *tr, struct session_drops *d)
{
	d->events = tracer__stat(tr, AP_STAT_RB_DROPS);
	d->stacks = tracer__stat(tr, AP_STAT_STACK_DROPS);
	d->tasks = tracer__stat(tr, AP_STAT_TASK_EVICT);
	d->threads = tracer__stat(tr, AP_STAT_THREAD_FULL);
	d->callbacks = tracer__stat(tr, AP_STAT_CB_FULL);
	d->callback_ends = tracer__stat(tr, AP_STAT_CB_END_MISSED);
}

/* Full BPF maps: said once on stderr (the report counts them). */
static void warn_full_maps(const struct ap_report *rep)
{
	if (rep->drops_tasks || rep->drops_threads || rep->drops_callbacks)
		wlog("full maps: %llu tasks past --max-tasks, %llu threads, %llu callbacks not "
		     "tracked in full (counted in the report)\n",
		     (unsigned long long)rep->drops_tasks, (unsigned long long)rep->drops_threads,
		     (unsigned long long)rep->drops_callbacks);
}

static const char *host_name(void)
{
	static char host[256];

	if (!host[0] && gethostname(host, sizeof(host) - 1))
		strcpy(host, "?");
	return host;
}

struct live {
	struct view *view;
	struct prom *prom;
	struct ap_report *prev;
	uint64_t next_ns;
};

static void tracer_maps(const struct tracer *tr, struct session_maps *maps)
{
	maps->threads_fd = tracer__threads_fd(tr);
	maps->tasks_fd = tracer__tasks_fd(tr);
	maps->callbacks_fd = tracer__callbacks_fd(tr);
	maps->runq_unknown = tracer__runq_missing(tr);
}

/* Not gone: kill(pid, 0) fails with ESRCH only for a process that is no more. */
static bool proc_alive(int pid)
{
	return !kill((pid_t)pid, 0) || errno != ESRCH;
}

/* A snapshot of the maps, shown; it becomes the previous one. */
static int live_refresh(struct live *lv, struct session *sess, const struct tracer *tr,
			uint64_t now)
{
	struct view_stats st = {
		.events = session__events(sess),
		.drops = tracer__stat(tr, AP_STAT_RB_DROPS),
	};
	struct session_maps maps;
	struct ap_report *cur;
	int err;

	tracer_maps(tr, &maps);
	err = session__snapshot(sess, &maps, now, st.drops, proc_alive, &cur);
	if (err)
		return err;
	if (lv->prom)
		err = prom__publish(lv->prom, cur);
	if (!err && lv->view)
		err = view__update(lv->view, cur, lv->prev, &st);
	ap_report__free(lv->prev);
	lv->prev = cur;
	return err;
}

/* Launch mode: a process the command started is traced too (its loop is discovered). */
static int trace_descendant(void *tr, int pid)
{
	vlog("tracing pid %d, started by %s\n", pid, env.cmd_argv[0]);
	return tracer__add_target(tr, pid);
}

/* Poll records until the duration ends, a signal arrives, the target exits or q. */
static int run_loop(struct ring_buffer *rb, struct targets *ts, uint64_t start_ns, struct live *lv,
		    struct session *sess, const struct tracer *tr)
{
	uint64_t limit = env.duration_s > 0 ? start_ns + (uint64_t)(env.duration_s * 1e9) : 0;
	uint64_t now;
	int err;

	while (!exiting) {
		/* BPF wakes us only once records pile up (rec_submit): drain on each timeout */
		err = ring_buffer__poll(rb, lv ? 20 : 100);
		if (err >= 0)
			err = ring_buffer__consume(rb);
		if (err == -EINTR)
			continue; /* SIGWINCH too; a stop signal sets exiting */
		if (err < 0) {
			elog("error polling ring buffer: %s\n", strerror(-err));
			return err;
		}
		now = now_ns();
		progress__update(progress, now, session__events(sess),
				 tracer__stat(tr, AP_STAT_RB_DROPS));
		launch__scan(launched, now, trace_descendant, (void *)tr);
		targets__tick(ts);
		if (lv && lv->view && view__wait(lv->view, 30) == VIEW_QUIT)
			break;
		if (lv && now >= lv->next_ns) {
			err = live_refresh(lv, sess, tr, now);
			if (err == -EPIPE) {
				vlog("the live output's reader went away: stopping\n");
				break; /* like a stop signal: detach, then write the report */
			}
			if (err)
				return err;
			lv->next_ns = now + env.interval_ms * 1000000ull;
		}
		if (limit && now >= limit)
			break;
		if (targets__all_exited(ts) || launch__exited(launched)) {
			vlog("the traced processes exited\n");
			break;
		}
	}
	return 0;
}

/* The live view when asked for (or on a terminal); NULL otherwise. */
static int live_open(struct live *lv, uint64_t start)
{
	struct view_opts vo = {
		.batch = env.batch || !isatty(STDOUT_FILENO),
		.out = stdout,
		.interval_ms = env.interval_ms,
	};
	int err;

	memset(lv, 0, sizeof(*lv));
	lv->next_ns = start + env.interval_ms * 1000000ull;
	if (env.prometheus) {
		err = prom__start(env.prometheus, &lv->prom);
		if (err) {
			elog("cannot serve metrics on %s: %s\n", env.prometheus, strerror(-err));
			return err;
		}
		fprintf(stderr, "Serving Prometheus metrics on http://%s%s/metrics\n",
			strchr(env.prometheus, ':') ? "" : "127.0.0.1:", env.prometheus);
		lv->next_ns = start; /* the first scrape should find figures */
	}
	if (!env__live(&env))
		return 0;
	vo.host = host_name();
	err = view__new(&vo, &lv->view);
	if (err)
		elog("failed to start the live view: %s\n", strerror(-err));
	return err;
}

static void setup_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int make_session(uint64_t start_ns, struct session **out)
{
	struct session_opts so = {
		.start_ns = start_ns,
		.blocking_ns = env.blocking_ns,
		.slow_cb_ns = env.slow_cb_ns,
		.stuck_ns = env.stuck_ns,
		.lag_interval_ns = env.lag_interval_ns,
		.tool_version = AP_VERSION,
		.traced = env__wants_trace(&env),
		.host = host_name(),
		.sample_period_ns = 1000000000ull / env.frequency, /* env__parse: >= 1 */
		.light = env.mode == AP_MODE_LIGHT,
	};

	return session__new(&so, out);
}

static void print_tracing(const struct targets *ts)
{
	const char *stop = env.duration_s > 0 ? "" : "Ctrl-C to stop";
	const struct target *tg;
	char comm[128]; /* the target sets its comm: escaped for the terminal */

	if (launched && !targets__count(ts)) {
		fprintf(stderr, "Tracing pid %d (%s) from its first event loop... %s\n",
			launch__pid(launched), env.cmd_argv[0], stop);
		return;
	}
	if (!env.npids) {
		fprintf(stderr, "Tracing every event loop on this host%s%s... %s\n",
			env.comm ? " named " : "", env.comm ? env.comm : "", stop);
		return;
	}
	for (size_t i = 0; (tg = targets__get(ts, i)); i++)
		/* light mode has no uprobes, but a CPython's stacks and tasks are still read */
		fprintf(stderr, "Tracing pid %d (%s, %s%s%s, %s%s)...%s%s\n", tg->proc.pid,
			strutil__term(tg->proc.comm, comm, sizeof(comm)), tg->proc.runtime,
			tg->proc.runtime_version ? " " : "",
			tg->proc.runtime_version ? tg->proc.runtime_version : "",
			tg->light_py ? "light mode: tasks and stacks from CPU samples" : "backend ",
			tg->light_py ? "" : tg->proc.backend,
			i + 1 == targets__count(ts) ? " " : "",
			i + 1 == targets__count(ts) ? stop : "");
}

static bool env_is(const char *name, const char *value)
{
	const char *e = getenv(name);

	return e && !strcmp(e, value);
}

/* --check: each mode's load with the thresholds and sizes of this command line. */
static int run_check(void)
{
	const struct tracer_opts base = {
		.blocking_ns = env.blocking_ns,
		.slow_cb_ns = env.slow_cb_ns,
		.lag_interval_ns = env.lag_interval_ns,
		.max_tasks = env.max_tasks,
	};

	return kcheck__run(stdout, !strcmp(env.format->name, "json"), &base);
}

static int load_tracer(const struct targets *ts, const struct kfeat *kf,
		       const struct kfeat_plan *plan, struct tracer **tr)
{
	struct tracer_opts topts = {
		.pids = env.pids,
		.npids = env.npids,
		.pid_map = launched != NULL, /* its descendants join later */
		.launched = launched != NULL,
		.blocking_ns = env.blocking_ns,
		.slow_cb_ns = env.slow_cb_ns,
		.lag_interval_ns = env.lag_interval_ns,
		.max_tasks = env.max_tasks,
		.trace_callbacks = env__wants_trace(&env),
		.light = env.mode == AP_MODE_LIGHT,
		/* only --pid knows every target before loading; others are found later */
		.uprobes = env.npids && !launched ? targets__uprobes(ts) : TRACER_UP_ALL,
		.verbose = env.verbose >= 2,
		.bpf_loop = plan->bpf_loop && !env_is("ASYNCPROF_STACK_WALK", "bounded"),
		.raw_tp = env_is("ASYNCPROF_TRACEPOINTS", "raw"),
		.refused = env_is("ASYNCPROF_SELFTEST", "refused"),
	};
	char why[320];
	int err;

	bpferr__reset();
	err = tracer__new(&topts, tr);
	if (!err)
		return 0;
	if (*bpferr__summary(why, sizeof(why)))
		elog("this kernel (%s) refused %s mode's BPF programs: %s; %s-v prints the "
		     "verifier's log, --check what this kernel supports\n",
		     kf->release, env.mode == AP_MODE_LIGHT ? "light" : "full", why,
		     env.mode == AP_MODE_LIGHT ? "" : "--mode light loads fewer programs; ");
	else
		elog("failed to load BPF programs: %s%s\n", strerror(-err),
		     err == -EPERM ? " (need root, or CAP_BPF and CAP_PERFMON)" : "");
	return err;
}

/* A mode this kernel cannot run: one line naming what it lacks, before any child starts. */
static int kernel_supports(struct kfeat *kf, struct kfeat_plan *plan)
{
	kfeat__probe(kf, false);
	kfeat__plan(kf, env.mode == AP_MODE_LIGHT, plan);
	if (plan->missing < 0)
		return 0;
	elog("this kernel (%s) lacks %s, which %s mode needs (Linux %s or later; "
	     "--check lists what it has)\n",
	     kf->release, kfeat__name(plan->missing), env.mode == AP_MODE_LIGHT ? "light" : "full",
	     kfeat__since(plan->missing));
	return -ENOTSUP;
}

/* Attach: tracepoints, the sampler, then each target's uprobes. */
static int start_tracing(struct tracer *tr, struct targets *ts, struct session *sess,
			 uint64_t start)
{
	int err = tracer__attach(tr, start);

	if (err) {
		elog("failed to attach probes: %s\n", strerror(-err));
		return err;
	}
	err = tracer__attach_sampler(tr, env.frequency);
	if (err)
		wlog("no CPU sampling (slow callbacks without syscalls get no stack): %s\n",
		     strerror(-err));
	session__set_discover(sess, targets__discover, ts);
	err = targets__start(ts, tr, sess);
	if (!err && launched)
		err = launch__exec(launched, targets__launched, ts);
	return err;
}

/* Launch mode: the command, forked and waiting for its exec, is the pid traced. */
static int launch_start(void)
{
	int err = launch__new(env.cmd_argv, &launched);

	if (!err) {
		env.pid = env.pids[0] = launch__pid(launched);
		env.npids = 1;
	}
	return err;
}

/* Launch mode, the report written: wait for the command and say how it ended. */
static void launch_finish(void)
{
	if (!launched || launch__exec_status(launched))
		return;
	fflush(stdout); /* the summary first, then how the command ended */
	if (!launch__exited(launched)) {
		fprintf(stderr, "Waiting for %s (pid %d) to exit...\n", env.cmd_argv[0],
			launch__pid(launched));
		launch__wait(launched);
	}
	launch__print_status(launched);
}

int main(int argc, char **argv)
{
	struct session_drops drops;
	struct session_maps maps;
	struct live live = {};
	struct ring_buffer *rb = NULL;
	struct session *sess = NULL;
	struct ap_report *rep = NULL;
	struct targets *ts = NULL;
	struct tracer *tr = NULL;
	struct kfeat_plan plan;
	struct target_opts tgopts;
	struct kfeat kf;
	uint64_t start, end;
	int err;

	if (env__parse(argc, argv, &env))
		return 2;
	log_verbosity = env.verbose;
	tgopts = (struct target_opts){env.backend, env.mode, env.stack_depth, env.comm};
	if (env.list) {
		/* the backend --pid would use: full mode unless --mode says otherwise */
		tgopts.mode = env.mode_set ? env.mode : AP_MODE_FULL;
		return list__print(stdout, &tgopts) ? 1 : 0;
	}
	libbpf_set_print(libbpf_print);
	if (env.check)
		return preflight__privilege() ? 1 : run_check();
	err = preflight__check();
	if (!err)
		err = kernel_supports(&kf, &plan);
	if (!err)
		err = preflight__outputs(env.outputs, env.noutputs);
	if (!err)
		err = targets__new(&tgopts, &ts);
	if (!err && env.cmd_argv)
		err = launch_start();
	else if (!err)
		err = targets__open_pids(ts, env.pids, env.npids);
	if (!err)
		err = load_tracer(ts, &kf, &plan, &tr);
	if (err)
		goto cleanup;
	setup_signals();
	if (launched)
		launch__forward_signals(launched);
	start = now_ns();
	err = make_session(start, &sess);
	if (!err) {
		session__set_stacks_fd(sess, tracer__stacks_fd(tr));
		rb = ring_buffer__new(tracer__events_fd(tr), session__handle_event, sess, NULL);
		err = rb ? 0 : -errno;
	}
	if (!err)
		err = start_tracing(tr, ts, sess, start);
	if (err)
		goto cleanup;
	print_tracing(ts);

	err = live_open(&live, start);
	if (err)
		goto cleanup;
	progress = progress__new(start, env.duration_s, env.noutputs && !live.view);
	err = run_loop(rb, ts, start, live.view || live.prom ? &live : NULL, sess, tr);
	progress__free(progress);
	view__free(live.view);
	live.view = NULL;
	prom__stop(live.prom);
	live.prom = NULL;
	/* detach first, then drain what is in flight: nothing is lost or added */
	tracer__detach(tr);
	end = now_ns();
	ring_buffer__consume(rb);
	if (err)
		goto cleanup;
	tracer_maps(tr, &maps);
	tracer_drops(tr, &drops);
	err = session__finish(sess, &maps, end, &drops, &rep);
	if (err) {
		elog("failed to build the report: %s\n", strerror(-err));
		goto cleanup;
	}
	if (rep->drops_events)
		wlog("%llu events lost to a full ring buffer (counted in the report)\n",
		     (unsigned long long)rep->drops_events);
	warn_full_maps(rep);
	for (size_t i = 0; i < rep->processes.n; i++)
		if (rep->processes.v[i].slices_omitted)
			wlog("pid %u: %llu fast callback runs past the first million not in the "
			     "trace "
			     "(counted in the report)\n",
			     rep->processes.v[i].pid,
			     (unsigned long long)rep->processes.v[i].slices_omitted);
	rep->group_by_task = env.group_by_task;
	rep->kernel = kf.release;
	rep->tracepoints = tracer__uses_tp_btf(tr) ? "tp_btf" : "raw_tp";
	rep->stack_walk = tracer__uses_bpf_loop(tr) ? "bpf_loop" : "bounded";
	err = write_report(rep);
	launch_finish();
cleanup:
	view__free(live.view);
	prom__stop(live.prom);
	ap_report__free(live.prev);
	ring_buffer__free(rb);
	tracer__free(tr);
	session__free(sess);
	ap_report__free(rep);
	targets__free(ts);
	if (launch__exec_status(launched))
		err = launch__exec_status(launched);
	launch__free(launched);
	return err ? (err > 0 ? err : 1) : 0;
}
