/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Launch mode, "asyncprof-bpf -- COMMAND ARGS": the command is forked
 * stopped before its exec (as SUDO_UID/SUDO_GID when those are set), so
 * the tracer can be loaded for its pid first; then it is followed with
 * ptrace through its dynamic loader only, so that a CPython's probes are
 * attached before any of its own code runs, and let go.
 */
#ifndef AP_LAUNCH_H
#define AP_LAUNCH_H

#include <stdbool.h>

struct launch;

/*
 * Called with the command stopped after its loader: its interpreter and
 * libraries are mapped, none of its code ran. Return 1 when its probes are
 * attached (it is let go), 0 to keep following its execs (a wrapper such as
 * env), or -errno to stop (the command is killed).
 */
typedef int (*launch_ready_fn)(void *ctx, int pid);

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
