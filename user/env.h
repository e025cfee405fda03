/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line and configuration of one run. */
#ifndef AP_ENV_H
#define AP_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include "output.h"
#include "target.h"

#define AP_VERSION "0.3.0"

#define AP_MAX_OUTPUTS	   8
#define AP_FULL_FREQUENCY  199 /* default --frequency, Hz */
#define AP_LIGHT_FREQUENCY 99

struct env {
	int pid;      /* the first --pid; 0 system-wide */
	int pids[64]; /* every --pid */
	int npids;
	const char *comm;		 /* --comm: only processes with this name */
	double duration_s;		 /* 0: until Ctrl-C or the target exits */
	const struct out_format *format; /* NULL until parsed: text */
	bool format_set;
	struct out_file outputs[AP_MAX_OUTPUTS]; /* -o [FORMAT:]FILE, repeatable */
	int noutputs;
	bool quiet; /* no text summary on stdout besides the outputs */
	uint32_t max_tasks;
	uint32_t stack_depth; /* Python frames per stack */
	uint32_t frequency;   /* CPU samples per second; 0 until parsed: the mode's default */
	uint32_t interval_ms; /* live view refresh */
	bool interval_set;
	bool batch;		/* live figures as plain text every interval */
	bool no_live;		/* --no-live: never open the live view */
	const char *prometheus; /* --prometheus [ADDR:]PORT: serve /metrics */
	bool group_by_task;	/* --group-by task: folded stacks rooted at the task */
	uint64_t blocking_ns;
	uint64_t slow_cb_ns;
	uint64_t stuck_ns; /* --stuck-after */
	uint64_t lag_interval_ns;
	enum ap_backend backend;
	enum ap_mode mode; /* --mode; default full with --pid, light system-wide */
	bool mode_set;
	bool list;	 /* --list: the event-loop processes on the host, then exit */
	bool check;	 /* --check: this kernel's features and each mode's load, then exit */
	char **cmd_argv; /* the command after "--" (NULL-terminated), or NULL */
	int cmd_argc;
	int verbose;
	int top; /* entries per table in the text summary */
};

/* Should the live view (or batch text) run? Decided from options and the tty. */
bool env__live(const struct env *env);

/* Does any output need every callback run (a timeline)? */
bool env__wants_trace(const struct env *env);

/*
 * Parse argv into env (the defaults first); returns 0, or non-zero after
 * printing a one-line error. The command line's settings reach the other
 * modules as parameters, from main.c, the one file that holds an env.
 */
int env__parse(int argc, char **argv, struct env *env);

#endif /* AP_ENV_H */
