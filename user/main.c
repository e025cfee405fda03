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
#include "env.h"
#include "export.h"
#include "log.h"
#include "model.h"
#include "preflight.h"
#include "report_json.h"
#include "report_text.h"
#include "session.h"
#include "target.h"
#include "tracer.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && env.verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && env.verbose < 1)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Has the process behind pidfd exited? A pidfd polls readable then. */
static bool target_exited(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	return pidfd >= 0 && poll(&pfd, 1, 0) > 0;
}

static int write_one(const struct env_output *o, const struct ap_report *rep)
{
	switch (o->format) {
	case AP_FMT_JSON:
		return report_json__save(o->path, rep);
	case AP_FMT_CHROME:
		return export_chrome__save(o->path, rep);
	case AP_FMT_HTML:
		return export_html__save(o->path, rep);
	case AP_FMT_FOLDED:
		return export_folded__save(o->path, rep);
	default:
		return report_text__save(o->path, rep, env.top);
	}
}

/* Every --output, then the text summary on stdout unless one went there. */
static int write_report(const struct ap_report *rep)
{
	int err = 0, e;

	if (!env.noutputs) {
		struct env_output out = {.format = env.format, .path = "-"};

		if (env.format != AP_FMT_TEXT)
			return write_one(&out, rep);
		report_text__print(stdout, rep, env.top);
		return 0;
	}
	for (int i = 0; i < env.noutputs; i++) {
		e = write_one(&env.outputs[i], rep);
		if (e) {
			elog("failed to write %s: %s\n", env.outputs[i].path, strerror(-e));
			err = e;
		}
	}
	if (!env.quiet)
		report_text__print(stdout, rep, env.top);
	return err;
}

/* Poll records until the duration ends, a signal arrives or the target exits. */
static int run_loop(struct ring_buffer *rb, int pidfd, uint64_t start_ns)
{
	uint64_t limit = env.duration_s > 0 ? start_ns + (uint64_t)(env.duration_s * 1e9) : 0;
	int err;

	while (!exiting) {
		err = ring_buffer__poll(rb, 100);
		if (err == -EINTR)
			break;
		if (err < 0) {
			elog("error polling ring buffer: %s\n", strerror(-err));
			return err;
		}
		if (limit && now_ns() >= limit)
			break;
		if (target_exited(pidfd)) {
			vlog("target %d exited\n", env.pid);
			break;
		}
	}
	return 0;
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

static int make_session(const struct target *tg, uint64_t start_ns, struct session **out)
{
	struct session_opts so = {
		.start_ns = start_ns,
		.blocking_ns = env.blocking_ns,
		.slow_cb_ns = env.slow_cb_ns,
		.lag_interval_ns = env.lag_interval_ns,
		.tool_version = AP_VERSION,
		.traced = env__wants_trace(),
	};
	int err;

	err = session__new(&so, out);
	if (err)
		return err;
	return session__add_process(*out, &tg->proc);
}

int main(int argc, char **argv)
{
	struct tracer_opts topts = {};
	struct session_maps maps;
	struct ring_buffer *rb = NULL;
	struct session *sess = NULL;
	struct ap_report *rep = NULL;
	struct tracer *tr = NULL;
	struct target tg = {};
	uint64_t start, end;
	int err, pidfd = -1;

	if (env__parse(argc, argv))
		return 2;
	libbpf_set_print(libbpf_print);
	err = preflight__check();
	if (err)
		return 1;
	err = target__open(env.pid, env.backend, &tg);
	if (err)
		return 1;
	pidfd = (int)syscall(SYS_pidfd_open, env.pid, 0);

	topts.pid = env.pid;
	topts.blocking_ns = env.blocking_ns;
	topts.slow_cb_ns = env.slow_cb_ns;
	topts.lag_interval_ns = env.lag_interval_ns;
	topts.max_tasks = env.max_tasks;
	topts.trace_callbacks = env__wants_trace();
	topts.verbose = env.verbose >= 2;
	err = tracer__new(&topts, &tr);
	if (err) {
		elog("failed to load BPF programs: %s%s\n", strerror(-err),
		     err == -EPERM ? " (need root, or CAP_BPF and CAP_PERFMON)" : "");
		goto cleanup;
	}
	setup_signals();
	start = now_ns();
	err = make_session(&tg, start, &sess);
	if (!err) {
		session__set_stacks_fd(sess, tracer__stacks_fd(tr));
		rb = ring_buffer__new(tracer__events_fd(tr), session__handle_event, sess, NULL);
		err = rb ? 0 : -errno;
	}
	if (!err)
		err = tracer__attach(tr, start);
	if (err) {
		elog("failed to attach probes: %s\n", strerror(-err));
		goto cleanup;
	}
	err = target__attach(&tg, tr);
	if (err)
		goto cleanup;
	fprintf(stderr, "Tracing pid %d (%s, %s%s%s, backend %s)... %s\n", env.pid, tg.proc.comm,
		tg.proc.runtime, tg.proc.runtime_version ? " " : "",
		tg.proc.runtime_version ? tg.proc.runtime_version : "", tg.proc.backend,
		env.duration_s > 0 ? "" : "Ctrl-C to stop");

	err = run_loop(rb, pidfd, start);
	/* detach first, then drain what is in flight: nothing is lost or added */
	tracer__detach(tr);
	end = now_ns();
	ring_buffer__consume(rb);
	if (err)
		goto cleanup;
	maps.threads_fd = tracer__threads_fd(tr);
	maps.tasks_fd = tracer__tasks_fd(tr);
	maps.callbacks_fd = tracer__callbacks_fd(tr);
	err = session__finish(sess, &maps, end, tracer__stat(tr, AP_STAT_RB_DROPS),
			      tracer__stat(tr, AP_STAT_STACK_DROPS), &rep);
	if (err) {
		elog("failed to build the report: %s\n", strerror(-err));
		goto cleanup;
	}
	if (rep->drops_events)
		wlog("%llu events lost to a full ring buffer (counted in the report)\n",
		     (unsigned long long)rep->drops_events);
	err = write_report(rep);
cleanup:
	ring_buffer__free(rb);
	tracer__free(tr);
	session__free(sess);
	ap_report__free(rep);
	target__close(&tg);
	if (pidfd >= 0)
		close(pidfd);
	return err ? 1 : 0;
}
