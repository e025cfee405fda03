// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which runtime a process runs, read from /proc; picks the backend. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "pyrt.h"
#include "strutil.h"
#include "target.h"
#include "tracer.h"

/* Discovered targets are quiet: their problems are not the user's input errors. */
#define tlog(tg, ...)                      \
	do {                               \
		if (!(tg)->discovered)     \
			elog(__VA_ARGS__); \
		else                       \
			vlog(__VA_ARGS__); \
	} while (0)

static char *read_comm(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	return strutil__read_small(path);
}

/* Its pid in the innermost PID namespace it is in (the last of NSpid); 0 when unknown. */
static int read_ns_pid(int pid)
{
	char path[64], line[256];
	int ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (long v = strtol(p, &end, 10); end != p; v = strtol(p, &end, 10)) {
			ns = (int)v;
			p = end;
		}
		break;
	}
	fclose(f);
	return ns;
}

static char *read_exe(int pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

/* Can the uprobe backend hook this interpreter's callback dispatch? */
static bool uprobe_possible(const struct pyrt_info *pi, const char **why)
{
	if (pi->runtime != PYRT_CPYTHON) {
		*why = "the runtime is not CPython";
		return false;
	}
	if (!pi->off) {
		*why = pi->error[0] ? pi->error : "unsupported CPython version";
		return false;
	}
	if (pi->light_only) {
		*why = "full mode needs this CPython build's Task layout, which its tables do not "
		       "give and which is known for Debian's builds only; --mode light gives its "
		       "stacks and tasks";
		return false;
	}
	if (pi->uvloop_path[0] && !(pi->ctx_enter_off && pi->ctx_exit_off && pi->task_step_off)) {
		*why = pi->asyncio_note[0] ? pi->asyncio_note : "uvloop hooks not found";
		return false;
	}
	if (!pi->uvloop_path[0] && !pi->context_run_off) {
		*why = pi->error[0] ? pi->error : "context_run not found";
		return false;
	}
	return true;
}

/* Light mode's backend for tg: "syscall", with Python stacks where CPython is known. */
static int light_pick(struct target *tg, const struct pyrt_info *pi, enum ap_backend backend)
{
	struct session_proc *p = &tg->proc;

	tg->uprobe = false;
	/* the stack walker needs the version's offsets and _PyRuntime */
	tg->light_py = backend != AP_BACKEND_SYSCALL && pi->runtime == PYRT_CPYTHON && pi->off &&
		       pi->runtime_addr;
	p->backend = "syscall";
	if (tg->light_py) {
		p->py_off = pi->off;
		p->py_major = pi->major;
		p->py_minor = pi->minor;
		p->py_runtime = pi->runtime_addr;
		p->py_runtime_size = pi->runtime_size;
		p->py_threads = pi->have_threads ? &pi->threads : NULL;
	}
	return 0;
}

/* Runtime and backend from what pyrt found. */
static int pick_backend(struct target *tg, const struct pyrt_info *pi, enum ap_backend backend)
{
	struct session_proc *p = &tg->proc;
	const char *why = NULL;

	p->runtime = pi->runtime == PYRT_CPYTHON ? "cpython"
		     : pi->runtime == PYRT_NODE	 ? "node"
						 : "unknown";
	p->loop_kind = pi->runtime == PYRT_NODE	     ? "libuv"
		       : pi->uvloop_path[0]	     ? "uvloop"
		       : pi->runtime == PYRT_CPYTHON ? "asyncio"
						     : "epoll";
	if (pi->runtime == PYRT_UNKNOWN && backend != AP_BACKEND_SYSCALL && !tg->discovered) {
		tlog(tg,
		     "pid %d (%s) is not a Python or Node.js process; use --backend syscall to "
		     "trace any epoll loop\n",
		     p->pid, p->comm);
		return -ENOTSUP;
	}
	if (tg->opts.mode == AP_MODE_LIGHT)
		return light_pick(tg, pi, backend);
	tg->uprobe = backend != AP_BACKEND_SYSCALL && uprobe_possible(pi, &why);
	tg->why_syscall = backend == AP_BACKEND_SYSCALL ? "--backend syscall" : why;
	if (backend == AP_BACKEND_UPROBE && !tg->uprobe) {
		tlog(tg, "backend uprobe is not available for pid %d (%s): %s\n", p->pid, p->comm,
		     why);
		return -ENOTSUP;
	}
	if (backend == AP_BACKEND_AUTO && !tg->uprobe && pi->runtime == PYRT_CPYTHON &&
	    !tg->discovered)
		wlog("%s; falling back to the syscall backend (loop lag and blocking calls only)\n",
		     why);
	p->backend = tg->uprobe ? "uprobe" : "syscall";
	if (tg->uprobe && !pi->asyncio_path[0] && !pi->asyncio_builtin && !tg->discovered &&
	    !tg->early)
		wlog("pid %d (%s): the _asyncio C module is not loaded (a Python without it, or "
		     "asyncio's pure-Python Task): tasks are not tracked, but callbacks, "
		     "blocking calls and lag still are\n",
		     p->pid, p->comm);
	if (tg->uprobe) {
		p->py_off = pi->off;
		p->py_major = pi->major;
		p->py_minor = pi->minor;
		p->py_runtime = pi->runtime_addr;
		p->py_runtime_size = pi->runtime_size;
		p->py_threads = pi->have_threads ? &pi->threads : NULL;
	}
	return 0;
}

#define PF_KTHREAD 0x00200000 /* task flag of kernel threads, /proc/PID/stat field 9 */

/* State letter and flags from /proc/PID/stat; 0 or -errno. */
static int read_stat(int pid, char *state, unsigned long *flags)
{
	char path[64], buf[512];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", state, flags) != 2)
		return -EINVAL;
	return 0;
}

/* Processes that exist but can never be traced: one line saying why. */
static int target__check_kind(struct target *tg, int pid)
{
	unsigned long flags = 0;
	char state = 0;
	int err;

	if (pid == getpid()) {
		tlog(tg, "pid %d is asyncprof-bpf itself\n", pid);
		return -EINVAL;
	}
	err = read_stat(pid, &state, &flags);
	if (err) {
		tlog(tg, "no process with pid %d\n", pid);
		return -ESRCH;
	}
	if (flags & PF_KTHREAD) {
		tlog(tg, "pid %d is a kernel thread: it has no user-space event loop\n", pid);
		return -EINVAL;
	}
	if (state == 'Z' || state == 'X') {
		tlog(tg, "pid %d has exited (a zombie not yet reaped by its parent)\n", pid);
		return -ESRCH;
	}
	return 0;
}

int target__open(int pid, const struct target_opts *o, struct target *tg)
{
	int err;

	tg->opts = *o;
	err = target__check_kind(tg, pid);
	if (err)
		return err;
	tg->proc.pid = pid;
	tg->comm = read_comm(pid);
	tg->exe = read_exe(pid);
	if (!tg->comm || !tg->exe) {
		tlog(tg, "cannot read process %d: %s\n", pid,
		     errno == ENOENT ? "it exited" : strerror(errno));
		return -ESRCH;
	}
	tg->proc.comm = tg->comm;
	tg->proc.exe = tg->exe;
	tg->proc.ns_pid = read_ns_pid(pid);
	tg->py = calloc(1, sizeof(*tg->py));
	if (!tg->py)
		return -ENOMEM;
	err = pyrt__probe(pid, tg->py);
	if (err == -ESRCH) {
		tlog(tg, "no process with pid %d (it exited)\n", pid);
		return err;
	}
	if (err && err != -ENOTSUP) {
		tlog(tg, "cannot inspect process %d: %s\n", pid,
		     tg->py->error[0] ? tg->py->error : strerror(-err));
		return err;
	}
	if (tg->py->version[0])
		tg->version = strdup(tg->py->version);
	tg->proc.runtime_version = tg->version;
	if (tg->py->have_dbg)
		vlog("pid %d: _Py_DebugOffsets of CPython %u.%u.%u read and checked\n", pid,
		     tg->py->dbg.major, tg->py->dbg.minor, tg->py->dbg.micro);
	if (tg->py->have_aio_dbg)
		vlog("pid %d: _asyncio's debug offsets read and checked (Task name at +%llu, "
		     "coroutine at +%llu)\n",
		     pid, (unsigned long long)tg->py->aio_dbg.task_name,
		     (unsigned long long)tg->py->aio_dbg.task_coro);
	return pick_backend(tg, tg->py, o->backend);
}

/* One uprobe; a failure names the probe and the file. */
/* Attach one uprobe; the link's id, or -errno. */
static int attach_one(struct target *tg, struct tracer *tr, enum tracer_uprobe which,
		      const char *path, uint64_t off)
{
	const struct pyrt_info *pi = tg->py;
	int id;

	/* the file as we reach it (pyrt.h): the kernel resolves the path in our namespace */
	id = tracer__attach_uprobe(tr, which, tg->proc.pid,
				   path == pi->py_path ? pi->py_open : pi->asyncio_open, off);

	if (id < 0)
		tlog(tg, "failed to attach uprobe at %s+0x%llx: %s\n", path,
		     (unsigned long long)off, strerror(-id));
	return id;
}

/* glibc 2.36 x86-64: offsetof(struct pthread, specific_1stblock) */
#define GLIBC_PTHREAD_SPECIFIC 0x310

static int set_py_proc(struct target *tg, struct tracer *tr)
{
	const struct pyrt_info *pi = tg->py;
	struct ap_py_proc pp = {
		.enabled = 1,
		.enter_ctx_rsi = pi->enter_ctx_reg == PYRT_REG_RSI,
		.runtime_addr = pi->runtime_addr,
		/* the GIL's mutex and condition variable live inside _PyRuntime */
		.gil_lo = pi->runtime_addr,
		.gil_hi = pi->runtime_addr + pi->runtime_size,
		.tls_specific = GLIBC_PTHREAD_SPECIFIC,
		.stack_depth = tg->opts.stack_depth,
		.off = *pi->off,
		.end_sp_off = pi->context_run_end_sp,
		.end_mode = tg->end_mode,
	};

	pp.code_flags = pi->code_flags;
	pp.frame_locals = pi->frame_locals;
	if (pi->tss.kind == PYRT_TSS_TLS)
		pp.tstate_tls = (__s32)pi->tss.tls_off;
	/* its tid is the namespace's own: comparable to the kernel's in ours only (NSpid read
	 * at open: the pid is the same there) */
	if (pi->have_dbg && pydebug__has(&pi->dbg, PD_TSTATE_NATIVE_THREAD_ID) &&
	    tg->proc.ns_pid == tg->proc.pid)
		pp.tstate_tid = (__u32)pi->dbg.off[PD_TSTATE_NATIVE_THREAD_ID];
	pp.loop_in_c = pi->uvloop_path[0] != 0;
	return tracer__set_py_proc(tr, tg->proc.pid, &pp);
}

/*
 * How callbacks will end (user/ctxend.h): at the end points once checked
 * against the return, by default. ASYNCPROF_CTX_END=ret keeps the
 * uretprobe (to compare the two, or to work around a misfit); =probe uses
 * the end points from the first callback, unchecked (tests).
 */
static enum ap_end_mode first_end_mode(const struct pyrt_info *pi)
{
	const char *e = getenv("ASYNCPROF_CTX_END");

	if (!pi->context_run_off || !pi->context_run_n_ends || (e && !strcmp(e, "ret")))
		return AP_END_RET;
	return e && !strcmp(e, "probe") ? AP_END_PROBE : AP_END_CHECK;
}

unsigned int target__uprobes(const struct target *tg)
{
	const struct pyrt_info *pi = tg->py;
	unsigned int m = 0;

	if (!tg->uprobe)
		return 0;
	if (pi->context_run_off)
		m |= 1u << TRACER_UP_CONTEXT_RUN | 1u << TRACER_UP_CONTEXT_RUN_RET;
	if (first_end_mode(pi) != AP_END_RET)
		m |= 1u << TRACER_UP_CONTEXT_RUN_END;
	if (pi->uvloop_path[0])
		m |= 1u << TRACER_UP_CTX_ENTER | 1u << TRACER_UP_CTX_EXIT |
		     1u << TRACER_UP_TASK_STEP | 1u << TRACER_UP_TASK_WAKEUP |
		     1u << TRACER_UP_TASK_WAKEUP_WRAP;
	return m;
}

/*
 * context_run: the end points and the return, then the entry: a callback
 * running as they go in has no start and its end is ignored, where the
 * other order would leave a started callback without an end.
 */
static int attach_context_run(struct target *tg, struct tracer *tr)
{
	const struct pyrt_info *pi = tg->py;
	int id = 0, i;

	tg->ret_link = -1;
	tg->n_end_links = 0;
	for (i = 0; id >= 0 && tg->end_mode != AP_END_RET && i < pi->context_run_n_ends; i++) {
		id = attach_one(tg, tr, TRACER_UP_CONTEXT_RUN_END, pi->py_path,
				pi->context_run_end_off[i]);
		if (id >= 0)
			tg->end_links[tg->n_end_links++] = id;
	}
	if (id >= 0 && tg->end_mode != AP_END_PROBE)
		id = tg->ret_link = attach_one(tg, tr, TRACER_UP_CONTEXT_RUN_RET, pi->py_path,
					       pi->context_run_off);
	if (id >= 0)
		id = attach_one(tg, tr, TRACER_UP_CONTEXT_RUN, pi->py_path, pi->context_run_off);
	return id < 0 ? id : 0;
}

/* Switch how callbacks end; the counters BPF keeps meanwhile may lose a count. */
static int set_end_mode(struct target *tg, struct tracer *tr, enum ap_end_mode mode)
{
	struct ap_py_proc pp;
	int err = tracer__get_py_proc(tr, tg->proc.pid, &pp);

	if (err)
		return err;
	pp.end_mode = mode;
	tg->end_mode = mode;
	return tracer__set_py_proc(tr, tg->proc.pid, &pp);
}

/*
 * uvloop: PyContext_Enter/Exit, and _asyncio's task step and wakeup, which
 * name the task of a handle the register search at PyContext_Enter missed;
 * they stay only until the search is seen to find them all (target__tick).
 */
static int attach_uvloop(struct target *tg, struct tracer *tr)
{
	const struct pyrt_info *pi = tg->py;
	const char *e = getenv("ASYNCPROF_UV_TASK_PROBES");
	int id;

	tg->n_task_links = 0;
	/* exit before enter, as for context_run (attach_context_run) */
	id = attach_one(tg, tr, TRACER_UP_CTX_EXIT, pi->py_path, pi->ctx_exit_off);
	if (id >= 0)
		id = attach_one(tg, tr, TRACER_UP_CTX_ENTER, pi->py_path, pi->ctx_enter_off);
	if (e && !strcmp(e, "none"))
		return id < 0 ? id : 0; /* tests: the register search alone */
	if (id >= 0)
		id = tg->task_links[tg->n_task_links++] = attach_one(
			tg, tr, TRACER_UP_TASK_STEP, pi->asyncio_path, pi->task_step_off);
	if (id >= 0 && pi->task_wakeup_off)
		id = tg->task_links[tg->n_task_links++] = attach_one(
			tg, tr,
			pi->minor >= 10 ? TRACER_UP_TASK_WAKEUP : TRACER_UP_TASK_WAKEUP_WRAP,
			pi->asyncio_path, pi->task_wakeup_off);
	tg->uv_checking = id >= 0 && !(e && !strcmp(e, "keep"));
	return id < 0 ? id : 0;
}

int target__attach(struct target *tg, struct tracer *tr)
{
	const struct pyrt_info *pi = tg->py;
	int err;

	if (tg->light_py)
		return set_py_proc(tg, tr);
	if (!tg->uprobe)
		return 0;
	tg->end_mode = first_end_mode(pi); /* in BPF before the probes it needs */
	err = set_py_proc(tg, tr);
	if (!err && pi->context_run_off)
		err = attach_context_run(tg, tr);
	if (err || !pi->uvloop_path[0])
		return err;
	return attach_uvloop(tg, tr);
}

/*
 * The end points are kept once AP_CHECK_RUNS callbacks hit one before their
 * return, none returned without, and less time passed from the end points
 * to the returns than from the entries to the end points. A point hit
 * before the callback ran (a misread build) fails the last test.
 */
#define RET_DETACH_DELAY_NS (100 * 1000000ull)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void end_check(struct target *tg, struct tracer *tr, const struct ap_py_proc *pp)
{
	bool keep;
	int i;

	if (pp->end_ok + pp->end_missed < AP_CHECK_RUNS)
		return;
	keep = !pp->end_missed && pp->end_after_ns < pp->end_before_ns;
	vlog("pid %d: context_run: %s its %d end point(s): %llu callbacks hit one, %llu did not, "
	     "%.2f us from entry to end point, %.2f us to the return\n",
	     tg->proc.pid, keep ? "callbacks end at" : "rejected", tg->n_end_links,
	     (unsigned long long)pp->end_ok, (unsigned long long)pp->end_missed,
	     pp->end_ok ? pp->end_before_ns / 1e3 / pp->end_ok : 0.0,
	     pp->end_ok ? pp->end_after_ns / 1e3 / pp->end_ok : 0.0);
	if (set_end_mode(tg, tr, keep ? AP_END_PROBE : AP_END_RET))
		return;
	if (keep) {
		/*
		 * A callback past its end point under the check ends at its
		 * return: the uretprobe goes a little later (ret_detach_ns).
		 */
		tg->ret_detach_ns = now_ns() + RET_DETACH_DELAY_NS;
		return;
	}
	for (i = 0; i < tg->n_end_links; i++)
		tracer__detach_link(tr, tg->end_links[i]);
}

/*
 * uvloop: the task probes go once the register search found AP_CHECK_RUNS
 * task steps and the probes none it missed: a trap less per task step.
 * ASYNCPROF_UV_TASK_PROBES=keep keeps them, =none attaches none (tests).
 */
static void uv_check(struct target *tg, struct tracer *tr, const struct ap_py_proc *pp)
{
	if (pp->uv_found + pp->uv_missed < AP_CHECK_RUNS)
		return;
	tg->uv_checking = false;
	vlog("pid %d: uvloop: %s the task probes: the register search found %llu task steps, "
	     "missed %llu\n",
	     tg->proc.pid, pp->uv_missed ? "keeping" : "detaching",
	     (unsigned long long)pp->uv_found, (unsigned long long)pp->uv_missed);
	for (int i = 0; !pp->uv_missed && i < tg->n_task_links; i++)
		tracer__detach_link(tr, tg->task_links[i]);
}

void target__tick(struct target *tg, struct tracer *tr)
{
	struct ap_py_proc pp;

	if (tg->ret_detach_ns && now_ns() >= tg->ret_detach_ns) {
		tracer__detach_link(tr, tg->ret_link);
		tg->ret_detach_ns = 0;
	}
	if (tg->end_mode != AP_END_CHECK && !tg->uv_checking)
		return;
	if (tracer__get_py_proc(tr, tg->proc.pid, &pp))
		return;
	if (tg->end_mode == AP_END_CHECK)
		end_check(tg, tr, &pp);
	if (tg->uv_checking)
		uv_check(tg, tr, &pp);
}

void target__close(struct target *tg)
{
	free(tg->comm);
	free(tg->exe);
	free(tg->version);
	free(tg->py);
	memset(tg, 0, sizeof(*tg));
}
