// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * probe_floor: attach empty BPF programs to one function of a running
 * process, to measure what the uprobe mechanism alone costs a call.
 *
 *   probe_floor --pid PID --path FILE --entry OFF [--ret] [--end OFF]...
 *
 * OFF are file offsets in FILE. --entry: an empty uprobe there; --ret: an
 * empty uretprobe on the same function; --end OFF: an empty plain uprobe
 * at OFF (e.g. the last call of each path before the function returns; up
 * to MAX_ENDS of them). Prints
 * "attached" once every probe is in place, then waits for SIGINT or
 * SIGTERM and detaches. bench/probe_floor/run.py drives it.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

#define MAX_ENDS 4

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static int attach(struct bpf_program *prog, struct bpf_link **link, int pid, const char *path,
		  long off, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret);

	*link = bpf_program__attach_uprobe_opts(prog, pid, path, off, &opts);
	if (!*link) {
		fprintf(stderr, "probe_floor: attach %s at %s+%#lx: %s\n", bpf_program__name(prog),
			path, off, strerror(errno));
		return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *end_links[MAX_ENDS] = {};
	long entry = -1, ends[MAX_ENDS];
	int pid = -1, err, nends = 0;
	const char *path = NULL;
	struct floor_bpf *skel;
	bool ret = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ret"))
			ret = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--pid"))
			pid = atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--path"))
			path = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--entry"))
			entry = strtol(argv[++i], NULL, 0);
		else if (i + 1 < argc && nends < MAX_ENDS && !strcmp(argv[i], "--end"))
			ends[nends++] = strtol(argv[++i], NULL, 0);
		else
			goto usage;
	}
	if (pid <= 0 || !path || entry < 0)
		goto usage;

	skel = floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "probe_floor: load: %s\n", strerror(errno));
		return 1;
	}
	err = attach(skel->progs.floor_entry, &skel->links.floor_entry, pid, path, entry, false);
	if (!err && ret)
		err = attach(skel->progs.floor_ret, &skel->links.floor_ret, pid, path, entry, true);
	for (int i = 0; !err && i < nends; i++)
		err = attach(skel->progs.floor_end, &end_links[i], pid, path, ends[i], false);
	if (err)
		goto cleanup;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached\n");
	fflush(stdout);
	while (!exiting)
		sleep(1); /* a signal ends it early */
cleanup:
	for (int i = 0; i < nends; i++)
		bpf_link__destroy(end_links[i]); /* NULL-safe */
	floor_bpf__destroy(skel);		 /* detaches the other links */
	return err ? 1 : 0;
usage:
	fprintf(stderr,
		"usage: probe_floor --pid PID --path FILE --entry OFF [--ret] [--end OFF]...\n");
	return 2;
}
