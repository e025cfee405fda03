// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Launch mode: fork the command, drop to the invoking user, exec it and
 * follow it with ptrace through its dynamic loader, so a CPython's uprobes
 * go in before its first line of Python runs. ptrace is held only for
 * those few milliseconds (syscall stops of ld.so); then the command runs
 * untouched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "launch.h"
#include "log.h"
#include "procmaps.h"

#define LAUNCH_WRAPPER_WAIT_MS 1000  /* a wrapper (env, a shell script) execs by then */
#define LAUNCH_SCAN_MS	       250   /* descendants are looked for this often */
#define LAUNCH_MAX_CHILDREN    63    /* with the command: AP_MAX_TARGETS */
#define LAUNCH_STOP_GRACE_MS   2000  /* after a stop signal, the command may take this to exit */
#define LAUNCH_PRELOOP_WAIT_MS 10000 /* a CPython starts its loop by then, or is let go */

struct launch {
	char *const *argv;
	pid_t pid;
	int go_fd;  /* write end: one byte lets the child exec */
	int err_fd; /* read end: the child's errno when it could not exec */
	bool reaped;
	int status;	 /* wait status once reaped */
	int exec_status; /* 126/127 when the command could not be executed */
	/* the invoking user, from SUDO_UID/SUDO_GID */
	bool drop;
	uid_t uid;
	gid_t gid;
	char *user, *home, *shell;
	/* descendants found by launch__scan */
	int seen[LAUNCH_MAX_CHILDREN];
	int nseen;
	uint64_t next_scan_ns;
};

/* What the child reports through the close-on-exec pipe before dying. */
struct child_err {
	int stage; /* 0: exec, 1: switching user */
	int err;
};

static volatile sig_atomic_t fwd_pid;
static volatile sig_atomic_t fwd_signals; /* stop signals seen since launch__forward_signals */
static struct sigaction fwd_prev[3];
static const int fwd_sigs[3] = {SIGINT, SIGTERM, SIGHUP};

/* SUDO_UID/SUDO_GID, when root runs us through sudo: the command runs as that user. */
static int launch__user(struct launch *l)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	struct passwd *pw;
	char *end;
	long uid, gid;

	if (!su || !sg || geteuid() != 0)
		return 0;
	uid = strtol(su, &end, 10);
	if (*end || uid < 0 || uid > 0x7fffffff)
		goto out_bad;
	gid = strtol(sg, &end, 10);
	if (*end || gid < 0 || gid > 0x7fffffff)
		goto out_bad;
	if (uid == 0)
		return 0;
	pw = getpwuid((uid_t)uid);
	l->drop = true;
	l->uid = (uid_t)uid;
	l->gid = (gid_t)gid;
	l->user = strdup(pw ? pw->pw_name : su);
	l->home = strdup(pw && pw->pw_dir[0] ? pw->pw_dir : "/");
	l->shell = strdup(pw && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh");
	return l->user && l->home && l->shell ? 0 : -ENOMEM;
out_bad:
	elog("invalid SUDO_UID/SUDO_GID: %s/%s\n", su, sg);
	return -EINVAL;
}

/* In the child: become the invoking user, with that user's groups and home. */
static int child_drop(const struct launch *l)
{
	if (!l->drop)
		return 0;
	if (initgroups(l->user, l->gid) && setgroups(0, NULL))
		return -errno;
	if (setgid(l->gid) || setuid(l->uid))
		return -errno;
	if (setenv("HOME", l->home, 1) || setenv("USER", l->user, 1) ||
	    setenv("LOGNAME", l->user, 1) || setenv("SHELL", l->shell, 1))
		return -errno;
	return 0;
}

/* In the child: default signals (we ignore SIGPIPE), wait for the go, exec. */
static void __attribute__((noreturn)) child_run(struct launch *l, int go_rd, int err_wr)
{
	struct child_err ce = {.stage = 1};
	sigset_t none;
	char go;

	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	ce.err = -child_drop(l);
	if (!ce.err) {
		/* the parent loads the tracer for our pid meanwhile; EOF: it gave up */
		if (read(go_rd, &go, 1) != 1)
			_exit(127);
		execvp(l->argv[0], l->argv);
		ce.stage = 0;
		ce.err = errno;
	}
	if (write(err_wr, &ce, sizeof(ce)) != sizeof(ce))
		_exit(127);
	_exit(ce.err == ENOENT ? 127 : 126);
}

int launch__new(char *const *argv, struct launch **out)
{
	struct launch *l = calloc(1, sizeof(*l));
	int go[2] = {-1, -1}, er[2] = {-1, -1};
	int err;

	if (!l)
		return -ENOMEM;
	l->argv = argv;
	l->go_fd = l->err_fd = -1;
	err = launch__user(l);
	if (err)
		goto out_free;
	if (pipe2(go, O_CLOEXEC) || pipe2(er, O_CLOEXEC)) {
		err = -errno;
		elog("cannot start %s: %s\n", argv[0], strerror(-err));
		goto out_close;
	}
	fflush(NULL);
	l->pid = fork();
	if (l->pid < 0) {
		err = -errno;
		elog("cannot start %s: %s\n", argv[0], strerror(-err));
		goto out_close;
	}
	if (l->pid == 0) {
		/* our copies of the other ends: with go[1] open here, EOF never comes */
		close(go[1]);
		close(er[0]);
		child_run(l, go[0], er[1]);
	}
	close(go[0]);
	close(er[1]);
	l->go_fd = go[1];
	l->err_fd = er[0];
	*out = l;
	return 0;
out_close:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
out_free:
	launch__free(l);
	return err;
}

int launch__pid(const struct launch *l)
{
	return l->pid;
}

/* The command died before running: why, from the pipe, as one line. */
static int launch__died(struct launch *l)
{
	struct child_err ce;

	if (read(l->err_fd, &ce, sizeof(ce)) != sizeof(ce))
		return 0; /* it ran (and exited early): not an error of ours */
	if (ce.stage == 1) {
		elog("cannot run %s as user %s: %s\n", l->argv[0], l->user, strerror(ce.err));
		l->exec_status = 126;
		return -ce.err;
	}
	elog("cannot run %s: %s\n", l->argv[0], strerror(ce.err));
	l->exec_status = ce.err == ENOENT ? 127 : 126;
	return -ce.err;
}

/* The executable mappings of the process's dynamic loader: the file-backed r-x
 * ones other than the executable, right after exec. */
static int loader_range(pid_t pid, uint64_t *lo, uint64_t *hi)
{
	char path[64], exe[4096];
	const struct procmap *m;
	struct procmaps *pm;
	ssize_t n;
	int err;

	*lo = *hi = 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	err = procmaps__load(path, &pm);
	if (err)
		return err;
	for (size_t i = 0; (m = procmaps__get(pm, i)); i++) {
		if (!(m->prot & 4 /* PROT_EXEC */) || m->path[0] != '/' || !strcmp(m->path, exe))
			continue;
		if (!*lo || m->start < *lo)
			*lo = m->start;
		if (m->end > *hi)
			*hi = m->end;
	}
	procmaps__free(pm);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The next stop or exit of pid; -ETIMEDOUT at deadline_ms (0: none). A
 * ptrace stop raises SIGCHLD, which is blocked during the follow and
 * waited for with a timeout.
 */
static int wait_stop(pid_t pid, int *status, uint64_t deadline_ms)
{
	struct timespec ts;
	sigset_t chld;
	uint64_t now;
	pid_t r;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		r = waitpid(pid, status, __WALL | WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		now = mono_ms();
		if (deadline_ms && now >= deadline_ms)
			return -ETIMEDOUT;
		ts.tv_sec = deadline_ms ? (deadline_ms - now) / 1000 : 1;
		ts.tv_nsec = deadline_ms ? (long)((deadline_ms - now) % 1000) * 1000000 : 0;
		sigtimedwait(&chld, NULL, &ts);
	}
}

enum follow_phase {
	PH_EXEC,    /* until its exec */
	PH_LOADING, /* its dynamic loader runs: syscall stops */
	PH_WRAPPER, /* not a runtime: maybe it execs one (exec stops only) */
	PH_PRELOOP, /* a CPython: syscall stops until its first event loop starts */
};

struct follow {
	enum follow_phase phase;
	uint64_t lo, hi; /* the loader's code */
	uint64_t deadline_ms;
};

/* Is uvloop's extension mapped in pid? */
static bool has_uvloop(pid_t pid)
{
	struct procmaps *pm;
	char path[64];
	bool found;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (procmaps__load(path, &pm))
		return false;
	found = procmaps__find_file(pm, "uvloop/loop.cpython-*.so", NULL) != NULL;
	procmaps__free(pm);
	return found;
}

/*
 * Is the CPython about to start its first event loop? asyncio registers its
 * self-pipe (epoll_ctl) as it creates the loop and polls before any
 * callback; uvloop (libuv) creates its epoll instance once uvloop is
 * imported (selectors creates and closes one at import: not a loop). Only
 * the main thread is followed: a new thread (its loop may run there) is
 * the last moment to attach.
 */
static bool at_first_loop(pid_t pid, const struct __ptrace_syscall_info *si)
{
	switch (si->entry.nr) {
	case 56: /* clone: a thread, not a fork */
		return si->entry.args[0] & CLONE_THREAD;
	case 435: /* clone3: what glibc's pthread_create uses */
		return true;
	case 232: /* epoll_wait */
	case 233: /* epoll_ctl */
	case 281: /* epoll_pwait */
	case 441: /* epoll_pwait2 */
		return true;
	case 213: /* epoll_create */
	case 291: /* epoll_create1 */
		return has_uvloop(pid);
	default:
		return false;
	}
}

/* What ready() said at the end of the loader: the phase that follows, or 1 (let go). */
static int after_loader(struct follow *f, int r)
{
	if (r == LAUNCH_WAIT_LOOP) {
		f->phase = PH_PRELOOP;
		f->deadline_ms = mono_ms() + LAUNCH_PRELOOP_WAIT_MS;
		return 0;
	}
	if (r)
		return r;
	/* env, a shell, a pyenv shim: the next exec may be the real command */
	f->phase = PH_WRAPPER;
	f->deadline_ms = mono_ms() + LAUNCH_WRAPPER_WAIT_MS;
	return 0;
}

/*
 * A syscall stop. While the loader runs, the first syscall made from outside
 * it means the program's own code is starting; a CPython is then followed
 * to the start of its first event loop, when its modules (uvloop, _asyncio)
 * are loaded and no callback has run. 1: let go, 0: go on, -errno.
 */
static int on_syscall(struct launch *l, struct follow *f, launch_ready_fn ready, void *ctx)
{
	struct __ptrace_syscall_info si;

	if (f->phase != PH_LOADING && f->phase != PH_PRELOOP)
		return 0;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, l->pid, sizeof(si), &si) <= 0)
		return -errno;
	if (si.op != PTRACE_SYSCALL_INFO_ENTRY)
		return 0;
	if (f->phase == PH_PRELOOP)
		return at_first_loop(l->pid, &si) ? ready(ctx, l->pid, LAUNCH_LOOP) : 0;
	if (si.instruction_pointer >= f->lo && si.instruction_pointer < f->hi)
		return 0;
	return after_loader(f, ready(ctx, l->pid, LAUNCH_LOADED));
}

/* One ptrace stop; 1 when the command is to be let go. */
static int on_stop(struct launch *l, struct follow *f, int status, launch_ready_fn ready, void *ctx)
{
	int sig = WSTOPSIG(status), event = status >> 16, r = 0, err;
	bool step;

	if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
		err = loader_range(l->pid, &f->lo, &f->hi);
		if (err)
			return err;
		f->phase = PH_LOADING;
		f->deadline_ms = 0;
		sig = 0;
	} else if (sig == (SIGTRAP | 0x80)) {
		r = on_syscall(l, f, ready, ctx);
		sig = 0;
	} else if (event == PTRACE_EVENT_STOP) {
		sig = 0; /* a group stop (SIGSTOP): resume like a SIGCONT would */
	}
	if (r)
		return r;
	/* a signal the command received is delivered as it would have been */
	step = f->phase == PH_LOADING || f->phase == PH_PRELOOP;
	if (ptrace(step ? PTRACE_SYSCALL : PTRACE_CONT, l->pid, 0, (void *)(long)sig))
		return -errno;
	return 0;
}

/* Follow the command from its exec until ready() takes it. */
static int launch__follow(struct launch *l, launch_ready_fn ready, void *ctx)
{
	struct follow f = {.phase = PH_EXEC};
	int status, err, r = 0;

	for (;;) {
		err = wait_stop(l->pid, &status, f.deadline_ms);
		if (err == -ETIMEDOUT) {
			/* a wrapper that stays: trace it; a CPython slow to start: now */
			if (f.phase == PH_PRELOOP)
				r = ready(ctx, l->pid, LAUNCH_LOOP);
			break;
		}
		if (err)
			return err;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			l->reaped = true;
			l->status = status;
			return launch__died(l);
		}
		r = on_stop(l, &f, status, ready, ctx);
		if (r)
			break;
	}
	if (r < 0)
		return r;
	/* its code starts now, probes in place; from here on it runs untouched */
	if (ptrace(PTRACE_DETACH, l->pid, 0, 0))
		vlog("ptrace detach of pid %d: %s\n", l->pid, strerror(errno));
	return 0;
}

int launch__exec(struct launch *l, launch_ready_fn ready, void *ctx)
{
	long opts = PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;
	bool traced = !ptrace(PTRACE_SEIZE, l->pid, 0, (void *)opts);
	int err;

	if (!traced)
		wlog("cannot follow %s with ptrace (%s): it is traced from its first event loop, "
		     "its first callbacks may be missed\n",
		     l->argv[0], strerror(errno));
	if (write(l->go_fd, "g", 1) != 1) {
		err = -errno;
		elog("cannot start %s: %s\n", l->argv[0], strerror(-err));
		return err;
	}
	close(l->go_fd);
	l->go_fd = -1;
	if (traced) {
		sigset_t chld, old;

		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_BLOCK, &chld, &old);
		err = launch__follow(l, ready, ctx);
		sigprocmask(SIG_SETMASK, &old, NULL);
	} else {
		err = 0;
	}
	if (err && !l->reaped) {
		kill(l->pid, SIGKILL); /* it never ran its own code */
		waitpid(l->pid, &l->status, 0);
		l->reaped = true;
	}
	return err;
}

static void fwd_handler(int sig, siginfo_t *info, void *uctx)
{
	size_t i;

	for (i = 0; i < 3 && fwd_sigs[i] != sig; i++)
		;
	if (i == 3)
		return;
	fwd_signals++;
	/* typed on the terminal (SI_KERNEL): the command's process group got it too */
	if (info->si_code != SI_KERNEL && fwd_pid > 0)
		kill(fwd_pid, sig);
	if (fwd_prev[i].sa_flags & SA_SIGINFO)
		fwd_prev[i].sa_sigaction(sig, info, uctx);
	else if (fwd_prev[i].sa_handler != SIG_DFL && fwd_prev[i].sa_handler != SIG_IGN)
		fwd_prev[i].sa_handler(sig);
}

void launch__forward_signals(struct launch *l)
{
	struct sigaction sa = {.sa_sigaction = fwd_handler, .sa_flags = SA_SIGINFO};

	sigemptyset(&sa.sa_mask);
	fwd_pid = l->pid;
	for (int i = 0; i < 3; i++)
		sigaction(fwd_sigs[i], &sa, &fwd_prev[i]);
}

static bool seen_before(struct launch *l, int pid)
{
	for (int i = 0; i < l->nseen; i++)
		if (l->seen[i] == pid)
			return true;
	return false;
}

/* The children of every thread of pid, each once, then theirs (depth first). */
static void scan_children(struct launch *l, int pid, int depth, launch_child_fn fn, void *ctx)
{
	char path[64];
	struct dirent *de;
	FILE *f;
	DIR *d;
	int child;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && l->nseen < LAUNCH_MAX_CHILDREN) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fscanf(f, "%d", &child) == 1 && l->nseen < LAUNCH_MAX_CHILDREN) {
			if (!seen_before(l, child)) {
				l->seen[l->nseen++] = child;
				if (fn(ctx, child))
					vlog("cannot trace pid %d, started by %s\n", child,
					     l->argv[0]);
			}
			if (depth < 8)
				scan_children(l, child, depth + 1, fn, ctx);
		}
		fclose(f);
	}
	closedir(d);
}

void launch__scan(struct launch *l, uint64_t now_ns, launch_child_fn fn, void *ctx)
{
	if (!l || now_ns < l->next_scan_ns || l->reaped)
		return;
	l->next_scan_ns = now_ns + LAUNCH_SCAN_MS * 1000000ull;
	scan_children(l, l->pid, 0, fn, ctx);
}

bool launch__exited(struct launch *l)
{
	if (!l)
		return false;
	if (!l->reaped && waitpid(l->pid, &l->status, WNOHANG) == l->pid)
		l->reaped = true;
	return l->reaped;
}

void launch__wait(struct launch *l)
{
	sig_atomic_t seen = fwd_signals;
	uint64_t deadline;

	while (!l->reaped && fwd_signals == seen) {
		if (waitpid(l->pid, &l->status, 0) == l->pid)
			l->reaped = true;
		else if (errno != EINTR)
			return;
	}
	/* a stop signal: the command got it too; give it a moment to exit */
	deadline = mono_ms() + LAUNCH_STOP_GRACE_MS;
	while (!l->reaped && mono_ms() < deadline) {
		if (waitpid(l->pid, &l->status, WNOHANG) == l->pid)
			l->reaped = true;
		else
			usleep(10000);
	}
}

void launch__print_status(const struct launch *l)
{
	const char *cmd = l->argv[0];

	if (!l->reaped)
		elog("%s (pid %d) is still running\n", cmd, l->pid);
	else if (WIFEXITED(l->status))
		elog("%s (pid %d) exited with status %d\n", cmd, l->pid, WEXITSTATUS(l->status));
	else if (WIFSIGNALED(l->status))
		elog("%s (pid %d) was killed by signal %d (%s)\n", cmd, l->pid, WTERMSIG(l->status),
		     strsignal(WTERMSIG(l->status)));
}

int launch__exec_status(const struct launch *l)
{
	return l ? l->exec_status : 0;
}

void launch__free(struct launch *l)
{
	if (!l)
		return;
	if (fwd_pid == l->pid)
		fwd_pid = 0;
	if (l->go_fd >= 0) {
		/* never let go (the tracer failed): it ran none of its code, so end it now */
		close(l->go_fd);
		if (l->pid > 0 && !l->reaped) {
			kill(l->pid, SIGKILL);
			waitpid(l->pid, &l->status, 0);
			l->reaped = true;
		}
	}
	if (l->err_fd >= 0)
		close(l->err_fd);
	free(l->user);
	free(l->home);
	free(l->shell);
	free(l);
}
