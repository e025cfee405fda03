// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* argp command line, defaults and validation. */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "env.h"
#include "prom.h"

static const struct env env_defaults = {
	.blocking_ns = 1000000,
	.slow_cb_ns = 100000000,
	.stuck_ns = 10000000000ull,
	.lag_interval_ns = 10000000,
	.backend = AP_BACKEND_AUTO,
	.top = 10,
	.max_tasks = 16384,
	.stack_depth = 32,
	.interval_ms = 1000,
};

const char *argp_program_version = "asyncprof-bpf " AP_VERSION;
const char *argp_program_bug_address = "https://github.com/asyncprof-bpf/asyncprof-bpf/issues";

static const char doc[] =
	"Trace the event loop of a running async process: loop lag, blocking calls\n"
	"and, for CPython asyncio, per-task and per-callback timing.\n"
	"\n"
	"USAGE: asyncprof-bpf [--pid PID]... [--comm NAME] [-d S] [-o [FMT:]FILE]...\n"
	"       asyncprof-bpf [OPTIONS] -- COMMAND [ARGS]...\n"
	"       asyncprof-bpf --list | --check\n"
	"\n"
	"EXAMPLES:\n"
	"    asyncprof-bpf --pid 1234         # live view until q, then a summary\n"
	"    asyncprof-bpf                    # every event loop on the host\n"
	"    asyncprof-bpf -o report.html -- python3 app.py\n"
	"                                     # run app.py, report when it exits\n"
	"    asyncprof-bpf --list             # event-loop processes and backends\n"
	"    asyncprof-bpf --check            # what this kernel supports, per mode\n"
	"    asyncprof-bpf -p 1234 -d 10 -o report.json\n"
	"    asyncprof-bpf -p 1234 --blocking-threshold 5 --slow-callback 50\n"
	"    asyncprof-bpf -p 1234 --batch --interval 2000  # figures as text\n"
	"    asyncprof-bpf -p 1234 -d 30 -o report.html -o chrome:trace.json\n"
	"    asyncprof-bpf --prometheus 9464  # per-host agent for Prometheus\n"
	"\n"
	"Exit status: 0; 1 on a tracing error; 2 on a usage error; with a COMMAND,\n"
	"126 or 127 when it cannot be run (how it ended is printed on stderr).\n"
	"See asyncprof-bpf(8).";

enum {
	OPT_BLOCKING = 0x100,
	OPT_SLOW_CB,
	OPT_STUCK,
	OPT_LAG_INTERVAL,
	OPT_BACKEND,
	OPT_TOP,
	OPT_MAX_TASKS,
	OPT_STACK_DEPTH,
	OPT_FREQUENCY,
	OPT_INTERVAL,
	OPT_BATCH,
	OPT_NO_LIVE,
	OPT_PROMETHEUS,
	OPT_GROUP_BY,
	OPT_MODE,
	OPT_LIST,
	OPT_CHECK,
};

static const struct argp_option opts[] = {
	{"pid", 'p', "PID", 0,
	 "Process to trace (repeatable; default: every event loop on the host)", 0},
	{"comm", 'c', "NAME", 0, "Only processes named NAME (as in /proc/PID/comm)", 0},
	{"duration", 'd', "S", 0, "Stop after S seconds (default: until Ctrl-C)", 0},
	{"format", 'f', "FMT", 0,
	 "text, json, chrome (Perfetto), html or folded (default: text, or from the --output "
	 "name: .json, .trace.json, .html, .folded)",
	 0},
	{"output", 'o', "[FMT:]FILE", 0,
	 "Write the report to FILE (repeatable; FMT as for --format, else from --format or the "
	 "file name); the text summary still goes to stdout",
	 0},
	{"quiet", 'q', NULL, 0, "No text summary on stdout when writing --output files", 0},
	{"max-tasks", OPT_MAX_TASKS, "N", 0, "Live tasks tracked in BPF (default 16384)", 0},
	{"stack-depth", OPT_STACK_DEPTH, "N", 0, "Python frames per stack (default 32, at most 32)",
	 0},
	{"frequency", OPT_FREQUENCY, "HZ", 0,
	 "CPU samples per second (default 199 in full mode, 99 in light mode)", 0},
	{"interval", OPT_INTERVAL, "MS", 0, "Live view refresh period (default 1000)", 0},
	{"batch", OPT_BATCH, NULL, 0, "Live figures as plain text every interval, like top -b", 0},
	{"no-live", OPT_NO_LIVE, NULL, 0, "Only the final report, even on a terminal", 0},
	{"group-by", OPT_GROUP_BY, "task|none", 0,
	 "Folded export: root each stack at its task's name (default none)", 0},
	{"prometheus", OPT_PROMETHEUS, "[ADDR:]PORT", 0,
	 "Serve Prometheus metrics on http://ADDR:PORT/metrics (ADDR defaults to 127.0.0.1)", 0},
	{"blocking-threshold", OPT_BLOCKING, "MS", 0,
	 "Report syscalls blocking the loop this long (default 1)", 0},
	{"slow-callback", OPT_SLOW_CB, "MS", 0, "Report callbacks running this long (default 100)",
	 0},
	{"stuck-after", OPT_STUCK, "S", 0,
	 "Flag a pending task with no step for S seconds as stuck (default 10)", 0},
	{"lag-interval", OPT_LAG_INTERVAL, "MS", 0, "Lag sampling grid (default 10)", 0},
	{"backend", OPT_BACKEND, "B", 0, "auto, uprobe or syscall (default auto)", 0},
	{"mode", OPT_MODE, "full|light", 0,
	 "full: time every callback (default with --pid); light: loop boundaries, blocking "
	 "calls and CPU samples only, no per-callback probes (default system-wide)",
	 0},
	{"list", OPT_LIST, NULL, 0,
	 "List the event-loop processes on the host with runtime, version and backend, then exit",
	 0},
	{"check", OPT_CHECK, NULL, 0,
	 "Print what this kernel supports and what each mode uses, load every mode's programs, "
	 "then exit (1 if a mode cannot run); --format json for scripts",
	 0},
	{"top", OPT_TOP, "N", 0, "Entries per table in the text summary (default 10)", 0},
	{"verbose", 'v', NULL, 0, "Verbose debug output (repeat for libbpf's)", 0},
	{NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0},
	{},
};

/* Parse a positive number of milliseconds (fractions allowed) into ns. */
static int parse_ms(const char *arg, uint64_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v <= 0 || v > 3.6e6)
		return -EINVAL;
	*out = (uint64_t)(v * 1e6);
	return 0;
}

static int parse_opt_value(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;
	char *end;
	long v;

	switch (key) {
	case 'p':
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v <= 0 || v > 0x3fffffff)
			argp_error(state, "invalid pid: %s", arg);
		if (env->npids >= (int)(sizeof(env->pids) / sizeof(env->pids[0])))
			argp_error(state, "too many --pid options");
		env->pids[env->npids++] = (int)v;
		if (!env->pid)
			env->pid = (int)v;
		return 0;
	case 'd':
		env->duration_s = strtod(arg, &end);
		if (*end || !isfinite(env->duration_s) || env->duration_s <= 0)
			argp_error(state, "invalid duration: %s", arg);
		return 0;
	case OPT_TOP:
		v = strtol(arg, &end, 10);
		if (*end || v <= 0 || v > 10000)
			argp_error(state, "invalid --top: %s", arg);
		env->top = (int)v;
		return 0;
	case OPT_INTERVAL:
		v = strtol(arg, &end, 10);
		if (*end || v < 100 || v > 3600000)
			argp_error(state, "invalid --interval: %s (100 to 3600000 ms)", arg);
		env->interval_ms = (uint32_t)v;
		env->interval_set = true;
		return 0;
	case OPT_BATCH:
		env->batch = true;
		return 0;
	case OPT_NO_LIVE:
		env->no_live = true;
		return 0;
	case OPT_GROUP_BY:
		if (strcmp(arg, "task") && strcmp(arg, "none"))
			argp_error(state, "invalid --group-by: %s (task or none)", arg);
		env->group_by_task = !strcmp(arg, "task");
		return 0;
	case OPT_PROMETHEUS:
		if (!prom__addr_valid(arg))
			argp_error(state, "invalid --prometheus address: %s ([ADDR:]PORT)", arg);
		env->prometheus = arg;
		return 0;
	case OPT_STACK_DEPTH:
		v = strtol(arg, &end, 10);
		if (*end || v < 1 || v > 32)
			argp_error(state, "invalid --stack-depth: %s (1 to 32)", arg);
		env->stack_depth = (uint32_t)v;
		return 0;
	case OPT_FREQUENCY:
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < 1 || v > 10000)
			argp_error(state, "invalid --frequency: %s (1 to 10000)", arg);
		env->frequency = (uint32_t)v;
		return 0;
	case OPT_MAX_TASKS:
		v = strtol(arg, &end, 10);
		if (*end || v < 16 || v > 1 << 22)
			argp_error(state, "invalid --max-tasks: %s (16 to 4194304)", arg);
		env->max_tasks = (uint32_t)v;
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;

	switch (key) {
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case 'v':
		env->verbose++;
		break;
	case 'f':
		env->format_set = true;
		env->format = output__by_name(arg, strlen(arg));
		if (!env->format)
			argp_error(state, "unknown format: %s (%s)", arg, output__names());
		break;
	case 'o':
		if (env->noutputs >= AP_MAX_OUTPUTS)
			argp_error(state, "too many --output options");
		env->outputs[env->noutputs++].path = arg;
		break;
	case 'q':
		env->quiet = true;
		break;
	case OPT_BLOCKING:
		if (parse_ms(arg, &env->blocking_ns))
			argp_error(state, "invalid --blocking-threshold: %s", arg);
		break;
	case OPT_SLOW_CB:
		if (parse_ms(arg, &env->slow_cb_ns))
			argp_error(state, "invalid --slow-callback: %s", arg);
		break;
	case OPT_STUCK:
		if (parse_ms(arg, &env->stuck_ns) || env->stuck_ns > UINT64_MAX / 1000)
			argp_error(state, "invalid --stuck-after: %s", arg);
		env->stuck_ns *= 1000; /* seconds, not milliseconds */
		break;
	case OPT_LAG_INTERVAL:
		if (parse_ms(arg, &env->lag_interval_ns))
			argp_error(state, "invalid --lag-interval: %s", arg);
		break;
	case OPT_BACKEND:
		if (!strcmp(arg, "auto"))
			env->backend = AP_BACKEND_AUTO;
		else if (!strcmp(arg, "uprobe"))
			env->backend = AP_BACKEND_UPROBE;
		else if (!strcmp(arg, "syscall"))
			env->backend = AP_BACKEND_SYSCALL;
		else
			argp_error(state, "unknown backend: %s (auto, uprobe or syscall)", arg);
		break;
	case OPT_MODE:
		if (strcmp(arg, "full") && strcmp(arg, "light"))
			argp_error(state, "invalid --mode: %s (full or light)", arg);
		env->mode = !strcmp(arg, "light") ? AP_MODE_LIGHT : AP_MODE_FULL;
		env->mode_set = true;
		break;
	case OPT_LIST:
		env->list = true;
		break;
	case OPT_CHECK:
		env->check = true;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument: %s (a command to run goes after --)", arg);
		break;
	case 'c':
		if (!*arg || strlen(arg) > 15)
			argp_error(state, "invalid --comm: %s (1 to 15 characters)", arg);
		env->comm = arg;
		break;
	default:
		return parse_opt_value(key, arg, state);
	}
	return 0;
}

/* Split "[FMT:]FILE" and pick the format: a prefix, --format, or the name. */
static int resolve_output(const struct env *env, struct out_file *o)
{
	const char *colon = strchr(o->path, ':');
	const struct out_format *fmt = colon ? output__by_name(o->path, colon - o->path) : NULL;

	if (fmt) {
		o->format = fmt;
		o->path = colon + 1;
	} else if (env->format_set) {
		o->format = env->format;
	} else {
		o->format = output__by_path(o->path);
	}
	if (!*o->path) {
		fprintf(stderr, "asyncprof-bpf: empty output file name\n");
		return -EINVAL;
	}
	return 0;
}

bool env__live(const struct env *env)
{
	if (env->no_live)
		return false;
	if (env->batch)
		return true;
	if (env->cmd_argv)
		return false; /* the command has the terminal: no screen unless --batch */
	if (env->prometheus)
		return false; /* an agent: no screen unless --batch */
	/* the screen view replaces the text summary on a terminal */
	return !env->noutputs && env->format == output__text() && isatty(STDOUT_FILENO) &&
	       isatty(STDIN_FILENO);
}

bool env__wants_trace(const struct env *env)
{
	for (int i = 0; i < env->noutputs; i++)
		if (env->outputs[i].format->timeline)
			return true;
	return !env->noutputs && env->format->timeline;
}

int env__parse(int argc, char **argv, struct env *env)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = doc,
	};
	int err, i;

	*env = env_defaults;
	env->format = output__text();
	/* "-- CMD ARGS": the command to start and trace; argp sees what precedes */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			env->cmd_argv = argv + i + 1;
			env->cmd_argc = argc - i - 1;
			argc = i;
			break;
		}
	}
	err = argp_parse(&argp, argc, argv, 0, NULL, env);
	if (err)
		return err;
	if (env->cmd_argv && !env->cmd_argc) {
		fprintf(stderr, "asyncprof-bpf: no command after --\n");
		return -EINVAL;
	}
	if (env->check && env->format != output__text() && strcmp(env->format->name, "json")) {
		fprintf(stderr, "asyncprof-bpf: --check prints text or json (--format)\n");
		return -EINVAL;
	}
	if (env->cmd_argv && env->npids) {
		fprintf(stderr,
			"asyncprof-bpf: --pid and a command (after --) exclude each other\n");
		return -EINVAL;
	}
	if (!env->mode_set)
		env->mode = env->npids || env->cmd_argv || env->backend == AP_BACKEND_UPROBE
				    ? AP_MODE_FULL
				    : AP_MODE_LIGHT;
	/*
	 * Light mode samples every busy moment of a loop, each sample a Python
	 * stack walk in the target (docs/performance.md): half the rate halves
	 * that cost and still gives some 100 samples per busy CPU second.
	 */
	if (!env->frequency)
		env->frequency =
			env->mode == AP_MODE_LIGHT ? AP_LIGHT_FREQUENCY : AP_FULL_FREQUENCY;
	if (env->mode == AP_MODE_LIGHT && env->backend == AP_BACKEND_UPROBE) {
		fprintf(stderr, "asyncprof-bpf: --mode light attaches no uprobe; "
				"--backend uprobe needs --mode full\n");
		return -EINVAL;
	}
	for (int i = 0; i < env->noutputs; i++) {
		err = resolve_output(env, &env->outputs[i]);
		if (err)
			return err;
		if (!strcmp(env->outputs[i].path, "-"))
			env->quiet = true;
	}
	return 0;
}
