/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Launch mode, "asyncprof-bpf -- COMMAND ARGS": the command is forked
 * stopped before its exec (as SUDO_UID/SUDO_GID when those are set), so
 * the tracer can be loaded for its pid first; then it is followed with
 * ptrace (syscall stops) through its dynamic loader and, for a CPython, up
 * to the start of its first event loop, so that the probes are attached
 * before its first callback runs, and let go.
 */
#ifndef AP_LAUNCH_H
#define AP_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>

struct launch;

enum launch_stage {
	LAUNCH_LOADED, /* after its loader: libraries mapped, none of its code ran */
	LAUNCH_LOOP,   /* its first event loop starts: modules imported, no callback ran */
};

/* What a launch_ready_fn returns (or -errno: stop, the command is killed). */
enum launch_ready {
	LAUNCH_OTHER = 0,     /* not a runtime (a wrapper?): follow its next exec */
	LAUNCH_ATTACHED = 1,  /* probes attached: let it go */
	LAUNCH_WAIT_LOOP = 2, /* at LAUNCH_LOADED: call again at LAUNCH_LOOP */
};

/* Called with the command stopped at stage; returns an enum launch_ready. */
typedef int (*launch_ready_fn)(void *ctx, int pid, enum launch_stage stage);

/* Fork argv stopped before its exec. 0, or -errno after one line on stderr. */
int launch__new(char *const *argv, struct launch **out);
int launch__pid(const struct launch *l);
/*
 * Let the command exec and follow it until ready() takes it. 0, or -errno
 * after one line on stderr: -ENOENT/-EACCES when it cannot be executed.
 */
int launch__exec(struct launch *l, launch_ready_fn ready, void *ctx);
/*
 * SIGINT/SIGTERM/SIGHUP sent to asyncprof-bpf (not typed on its terminal,
 * which reaches the command anyway) go to the command too; the handlers
 * installed before still run.
 */
void launch__forward_signals(struct launch *l);
/* A new descendant of the command: 0, or -errno (it is not asked again). */
typedef int (*launch_child_fn)(void *ctx, int pid);
/*
 * Every LAUNCH_SCAN_MS (now_ns on CLOCK_MONOTONIC), look for processes the
 * command started (children, theirs, ...) and call fn once for each new
 * one. NULL l is ignored.
 */
void launch__scan(struct launch *l, uint64_t now_ns, launch_child_fn fn, void *ctx);
/* Has the command exited? Reaps it; never blocks. */
bool launch__exited(struct launch *l);
/* Wait for the command to exit; returns early when a stop signal arrives. */
void launch__wait(struct launch *l);
/* One line on stderr: how the command ended, or that it still runs. */
void launch__print_status(const struct launch *l);
/* The exit status for a command that could not be executed (126, 127), else 0. */
int launch__exec_status(const struct launch *l);
/* Frees the state; a command still running is left running. */
void launch__free(struct launch *l);

#endif /* AP_LAUNCH_H */
