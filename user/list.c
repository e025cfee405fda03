// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --list: event-loop processes found in /proc, probed like a --pid would be. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "list.h"
#include "log.h"
#include "strutil.h"
#include "target.h"

bool list__has_epoll(int pid)
{
	char path[64], link[64];
	struct dirent *de;
	bool found = false;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%.16s", pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		found = !strcmp(link, "anon_inode:[eventpoll]");
	}
	closedir(d);
	return found;
}

static bool is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* One row; comm and the notes come from the target: escaped for the terminal. */
static void print_row(FILE *out, const struct target *tg)
{
	const struct session_proc *p = &tg->proc;
	char comm[64], ver[48], note[160] = "";

	if (!strcmp(p->runtime, "cpython") && !tg->uprobe && tg->why_syscall)
		strutil__term(tg->why_syscall, note, sizeof(note));
	fprintf(out, "%-8d %-16s %-8s %-9s %-8s %-8s %s\n", p->pid,
		strutil__term(p->comm, comm, sizeof(comm)), p->runtime,
		strutil__term(p->runtime_version, ver, sizeof(ver)), p->loop_kind, p->backend,
		note);
}

int list__print(FILE *out, const struct target_opts *o)
{
	struct target tg;
	struct dirent *de;
	int pid, n = 0, hidden = 0;
	DIR *d = opendir("/proc");

	if (!d) {
		elog("cannot read /proc: %s\n", strerror(errno));
		return -errno;
	}
	fprintf(out, "%-8s %-16s %-8s %-9s %-8s %-8s %s\n", "PID", "COMM", "RUNTIME", "VERSION",
		"LOOP", "BACKEND", "NOTE");
	while ((de = readdir(d))) {
		if (!is_pid_name(de->d_name))
			continue;
		pid = atoi(de->d_name);
		if (pid == getpid())
			continue;
		if (!list__has_epoll(pid)) {
			hidden += geteuid() != 0; /* another user's fds are not ours to read */
			continue;
		}
		memset(&tg, 0, sizeof(tg));
		tg.discovered = true; /* quiet: a process that exits meanwhile is no error */
		if (!target__open(pid, o, &tg) && strcmp(tg.comm, "asyncprof-bpf")) {
			print_row(out, &tg);
			n++;
		}
		target__close(&tg);
	}
	closedir(d);
	fprintf(out, "%d event-loop process%s\n", n, n == 1 ? "" : "es");
	if (hidden)
		fprintf(out, "(not root: processes of other users are not shown)\n");
	return 0;
}
