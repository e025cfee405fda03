/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one contract between the BPF programs and the loader: record types
 * sent through the ring buffer, map keys and values. Only __u32/__u64 and
 * fixed-size arrays here, so both sides see the same layout.
 */
#ifndef ASYNCPROF_H
#define ASYNCPROF_H

#define AP_TASK_COMM_LEN 16
#define AP_DETAIL_MAX	 512	/* buffer for path components or a socket address */
#define AP_DETAIL_USE	 256	/* bytes of it used: half, so the verifier can bound writes */
#define AP_NAME_MAX	 128	/* a Python name copied from the target */
#define AP_MAX_TARGETS	 64	/* pids traced at once */
#define AP_NATIVE_DEPTH	 8	/* native (user) frames kept for a blocking call */
#define AP_STACK_DEPTH	 32	/* Python frames kept per stack, at most */
#define AP_POS_START	 0xffff /* frame position: the frame has not started */
#define AP_FRAME_CODE(f) ((f)&0xffffffffffffULL) /* code object address of a packed frame */
#define AP_FRAME_POS(f)	 ((f) >> 48)		 /* its instruction position (pyline.h) */

enum ap_arg_kind { AP_ARG_NONE, AP_ARG_FD0, AP_ARG_PATH0, AP_ARG_PATH1 };

/*
 * Which argument of x86-64 syscall nr names the object it waits on: BPF
 * describes it at the call's exit, userspace for a call still in flight.
 */
static inline __attribute__((always_inline)) enum ap_arg_kind ap_nr_arg_kind(__u32 nr)
{
	switch (nr) {
	case 0 ... 1:	  /* read, write */
	case 5:		  /* fstat */
	case 8:		  /* lseek */
	case 16 ... 20:	  /* ioctl, pread64, pwrite64, readv, writev */
	case 40:	  /* sendfile */
	case 42 ... 48:	  /* connect .. shutdown */
	case 72 ... 75:	  /* fcntl, flock, fsync, fdatasync */
	case 77:	  /* ftruncate */
	case 217:	  /* getdents64 */
	case 275 ... 277: /* splice, tee, sync_file_range */
	case 285:	  /* fallocate */
	case 288:	  /* accept4 */
	case 295 ... 296: /* preadv, pwritev */
	case 299:	  /* recvmmsg */
	case 307:	  /* sendmmsg */
	case 326 ... 328: /* copy_file_range, preadv2, pwritev2 */
		return AP_ARG_FD0;
	case 2:		/* open */
	case 4:		/* stat */
	case 6:		/* lstat */
	case 21:	/* access */
	case 59:	/* execve */
	case 76:	/* truncate */
	case 82 ... 87: /* rename .. unlink */
		return AP_ARG_PATH0;
	case 257 ... 258: /* openat, mkdirat */
	case 262 ... 264: /* newfstatat, unlinkat, renameat */
	case 267:	  /* readlinkat */
	case 269:	  /* faccessat */
	case 316:	  /* renameat2 */
	case 322:	  /* execveat */
	case 332:	  /* statx */
	case 437:	  /* openat2 */
	case 439:	  /* faccessat2 */
		return AP_ARG_PATH1;
	default:
		return AP_ARG_NONE;
	}
}

/* The kind of wait a blocking call is (blocking_calls[].kind; "gil" is decided apart). */
enum ap_kind {
	AP_KIND_OTHER = 0,
	AP_KIND_SLEEP = 1,
	AP_KIND_FILE = 2,
	AP_KIND_NET = 3,
	AP_KIND_PROCESS = 4,
	AP_KIND_LOCK = 5,
	AP_KIND_N = 6,
};

/* The read/write family waits on what its descriptor is (enum ap_fd_type). */
static inline __attribute__((always_inline)) enum ap_kind ap_fd_kind(__u32 fd_type)
{
	switch (fd_type) {
	case 1: /* AP_FD_REG */
	case 4: /* AP_FD_CHR */
		return AP_KIND_FILE;
	case 2: /* AP_FD_SOCK */
		return AP_KIND_NET;
	default: /* a pipe may be a child's output, a log consumer, a self-pipe */
		return AP_KIND_OTHER;
	}
}

/*
 * Kind of x86-64 syscall nr (rules in user/syscalls.h), shared so that BPF
 * splits a loop's busy time by the same kinds the report lists its calls
 * by. fd_type: of args[0] when it is a descriptor; a0, a1: the arguments.
 */
static inline __attribute__((always_inline)) enum ap_kind ap_nr_kind(__u32 nr, __u32 fd_type,
								     __u64 a0, __u64 a1)
{
	switch (nr) {
	case 34 ... 35: /* pause, nanosleep */
	case 230:	/* clock_nanosleep */
		return AP_KIND_SLEEP;
	case 23:  /* select */
	case 270: /* pselect6: CPython 3.8-3.10 sleep with select(0, ...) */
		return a0 == 0 ? AP_KIND_SLEEP : AP_KIND_NET;
	case 7:	  /* poll */
	case 271: /* ppoll */
		return a1 == 0 ? AP_KIND_SLEEP : AP_KIND_NET;
	case 41 ... 55: /* socket .. getsockopt */
	case 232:	/* epoll_wait */
	case 281:	/* epoll_pwait */
	case 288:	/* accept4 */
	case 299:	/* recvmmsg */
	case 307:	/* sendmmsg */
	case 441:	/* epoll_pwait2 */
		return AP_KIND_NET;
	case 73:	  /* flock */
	case 202:	  /* futex */
	case 449:	  /* futex_waitv */
	case 454 ... 456: /* futex_wake, futex_wait, futex_requeue */
		return AP_KIND_LOCK;
	case 72: /* fcntl: F_SETLKW (7) and F_OFD_SETLKW (38) wait for a lock */
		return a1 == 7 || a1 == 38 ? AP_KIND_LOCK : AP_KIND_OTHER;
	case 56 ... 59: /* clone, fork, vfork, execve */
	case 61:	/* wait4 */
	case 247:	/* waitid */
	case 322:	/* execveat */
	case 435:	/* clone3 */
		return AP_KIND_PROCESS;
	case 0 ... 1:	  /* read, write */
	case 17 ... 20:	  /* pread64, pwrite64, readv, writev */
	case 40:	  /* sendfile */
	case 275 ... 276: /* splice, tee */
	case 295 ... 296: /* preadv, pwritev */
	case 326 ... 328: /* copy_file_range, preadv2, pwritev2 */
		return ap_fd_kind(fd_type);
	case 2 ... 6:	  /* open, close, stat, fstat, lstat */
	case 8:		  /* lseek */
	case 21:	  /* access */
	case 74 ... 78:	  /* fsync, fdatasync, truncate, ftruncate, getdents */
	case 82 ... 89:	  /* rename, mkdir, rmdir, creat, link, unlink, symlink, readlink */
	case 162:	  /* sync */
	case 217:	  /* getdents64 */
	case 257 ... 258: /* openat, mkdirat */
	case 262 ... 267: /* newfstatat, unlinkat, renameat, linkat, symlinkat, readlinkat */
	case 269:	  /* faccessat */
	case 277:	  /* sync_file_range */
	case 285:	  /* fallocate */
	case 306:	  /* syncfs */
	case 316:	  /* renameat2 */
	case 332:	  /* statx */
	case 436 ... 437: /* close_range, openat2 */
	case 439:	  /* faccessat2 */
		return AP_KIND_FILE;
	default:
		return AP_KIND_OTHER;
	}
}

/*
 * Where a loop thread's busy time goes (loops[].busy_causes): running
 * (on a CPU outside syscalls), waiting for a CPU, waiting for the GIL,
 * syscalls each shorter than the blocking threshold, and blocking calls
 * by kind (AP_CAUSE_KIND + enum ap_kind). Time waiting for a CPU inside a
 * syscall is run queue, not the syscall's.
 */
enum ap_cause {
	AP_CAUSE_RUNNING = 0,
	AP_CAUSE_RUNQ = 1,
	AP_CAUSE_GIL = 2,
	AP_CAUSE_SHORT = 3,
	AP_CAUSE_KIND = 4,
	AP_CAUSE_N = AP_CAUSE_KIND + AP_KIND_N,
};

/* Kinds of ring-buffer records; every record starts with struct ap_rec_hdr. */
enum ap_rec_type {
	AP_REC_BUSY = 1,     /* a busy interval of a loop thread that covers a lag grid point */
	AP_REC_BLOCKING = 2, /* a syscall on a loop thread, outside its poll call, >= threshold */
	AP_REC_SLOW_CB = 3,  /* a callback that ran >= the slow-callback threshold */
	AP_REC_NAME = 4,     /* a name read from the target, keyed by an object address */
	AP_REC_LOOP = 5,     /* a thread was recognised as an event loop */
	AP_REC_TASK_END = 6, /* an asyncio Task finished; its figures leave the tasks map */
	AP_REC_CB = 7,	     /* one callback run, sent only when a trace is requested */
	AP_REC_SAMPLE = 8,   /* a CPU sample of a loop thread inside a long callback */
	AP_REC_ITER = 9,     /* a loop iteration >= the slow-callback threshold, with its causes */
};

struct ap_rec_hdr {
	__u32 type; /* enum ap_rec_type */
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 size; /* bytes of the whole record */
};

/* The thread was busy (outside its poll call) over [start_ns, end_ns). */
struct ap_rec_busy {
	struct ap_rec_hdr hdr;
	__u64 start_ns;
	__u64 end_ns;
};

/* How to read ap_rec_blocking.detail. */
enum ap_detail_kind {
	AP_DETAIL_NONE = 0,
	AP_DETAIL_PATH = 1,   /* detail holds NUL-terminated path components, leaf first */
	AP_DETAIL_INET = 2,   /* struct ap_inet_addr */
	AP_DETAIL_UNIX = 3,   /* a unix socket: detail holds its path, may be empty */
	AP_DETAIL_STRING = 4, /* a string read from the syscall's arguments (a user path) */
	AP_DETAIL_PIPE = 5,   /* a pipe or FIFO */
};

/* Type of the file behind the syscall's first argument, when it is a descriptor. */
enum ap_fd_type {
	AP_FD_NONE = 0,
	AP_FD_REG = 1,
	AP_FD_SOCK = 2,
	AP_FD_PIPE = 3,
	AP_FD_CHR = 4,
	AP_FD_OTHER = 5,
};

struct ap_inet_addr {
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 port;   /* host order */
	__u8 addr[16];
};

struct ap_rec_blocking {
	struct ap_rec_hdr hdr;
	__u64 start_ns;
	__u64 duration_ns;
	__s64 ret;
	__u64 args[3];	  /* first syscall arguments, for classification */
	__u64 task;	  /* Task object address when inside a task step, else 0 */
	__u64 callback;	  /* callback identity (code object address), else 0 */
	__u32 syscall_nr; /* x86-64 syscall number */
	__u32 fd_type;	  /* enum ap_fd_type of args[0] when it is a descriptor */
	__u32 detail_kind;
	__u32 detail_len;
	__u64 stack_id;		       /* key in the stacks map, 0 when none */
	__u64 ustack[AP_NATIVE_DEPTH]; /* native return addresses, innermost first */
	__u32 nustack;
	__u32 gil;	    /* a futex wait on the interpreter's GIL */
	__u32 began_before; /* in flight when tracing began: start_ns is a lower bound */
	__u32 gil_holder;   /* GIL wait: the thread whose wake ended it (it held the GIL), or 0 */
	__u8 detail[AP_DETAIL_MAX];
};

/*
 * A Python stack, innermost frame first. Each frame packs the code object's
 * address (low 48 bits) and the instruction position (high 16 bits).
 */
struct ap_pystack {
	__u32 depth;
	__u32 truncated; /* deeper than AP_STACK_DEPTH or the configured depth */
	__u64 frames[AP_STACK_DEPTH];
};

/* A CPU sample inside a callback that has run for a while. */
struct ap_rec_sample {
	struct ap_rec_hdr hdr;
	__u64 ts_ns;
	__u64 cb_start_ns; /* which callback run (with tid) */
	__u64 task;
	__u64 callback;
	__u64 stack_id;
};

/* A slow loop iteration: busy over [start_ns, start_ns + duration_ns). */
struct ap_rec_iter {
	struct ap_rec_hdr hdr;
	__u64 start_ns;
	__u64 duration_ns;
	__u64 cause_ns[AP_CAUSE_N]; /* enum ap_cause; they sum to duration_ns */
	__u32 gil_holder;	    /* the last thread a GIL wake in it named, 0 when none */
	__u32 pad;
};

struct ap_rec_slow_cb {
	struct ap_rec_hdr hdr;
	__u64 start_ns;
	__u64 duration_ns;
	__u64 task;
	__u64 callback;
	__u64 blocked_ns;
};

/* Where a name came from: userspace keeps one table per kind. */
enum ap_name_kind {
	AP_NAME_TASK = 1,	/* key: Task address; name: Task name (str or "Task-N") */
	AP_NAME_TASK_CORO = 2,	/* key: Task address; name: its coroutine's qualname (light mode) */
	AP_NAME_CALLBACK = 3,	/* key: callback identity; name: its qualname */
	AP_NAME_TASK_ERROR = 4, /* key: Task address; name: its exception's type name */
};

/* State of a Task when a step ends (FutureObj.fut_state, plus failed). */
enum ap_task_state {
	AP_TASK_PENDING = 0,
	AP_TASK_CANCELLED = 1,
	AP_TASK_DONE = 2,
	AP_TASK_FAILED = 3,
};

/* Per-Task figures, in the tasks map (key: Task address) while it lives. */
struct ap_task_stats {
	__u64 coro_id; /* identity of its coroutine (qualname object address) */
	__u64 first_run_ns;
	__u64 last_run_ns;
	__u64 finished_ns;
	__u64 steps;
	__u64 busy_ns;
	__u64 max_step_ns;
	__u64 blocked_ns;
	__u32 loop_tid;
	__u32 state; /* enum ap_task_state */
};

struct ap_rec_task_end {
	struct ap_rec_hdr hdr;
	__u64 task;
	struct ap_task_stats st;
};

/* Per-callback-identity figures, in the callbacks map (key: ap_cb_key). */
struct ap_cb_key {
	__u32 tgid;
	__u32 pad;
	__u64 id;
};

struct ap_cb_stats {
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
};

/* How the bytes of a name are encoded in the target (PyUnicode kinds). */
enum ap_str_enc {
	AP_STR_LATIN1 = 1, /* includes pure ASCII */
	AP_STR_UCS2 = 2,
	AP_STR_UCS4 = 4,
	AP_STR_INT = 8, /* a task counter: the name is "Task-<value>" */
};

struct ap_rec_name {
	struct ap_rec_hdr hdr;
	__u64 key;
	__u32 kind; /* enum ap_name_kind */
	__u32 enc;  /* enum ap_str_enc */
	__u32 len;  /* bytes used in name[] */
	__u32 truncated;
	__u64 int_value; /* for AP_STR_INT */
	__u8 name[AP_NAME_MAX];
};

struct ap_rec_loop {
	struct ap_rec_hdr hdr;
	__u64 first_ns;
	__s32 epfd;
	__u32 pad;
};

/*
 * Per-thread state, one entry per thread of a traced process that made a
 * syscall. Only the thread itself writes its entry; userspace reads the
 * entries of loop threads for the per-loop figures.
 */
struct ap_thread {
	__u32 tgid;
	__s32 loop_epfd;  /* the loop's epoll descriptor, -1 until recognised */
	__s32 cand_epfd;  /* epoll descriptor seen in the last poll call */
	__u32 cand_count; /* consecutive poll calls on cand_epfd */
	__u8 is_loop;
	__u8 in_poll; /* inside the loop's poll call */
	__u8 in_sys;  /* inside another syscall (2: one that began before tracing) */
	__u8 exited;
	__u32 sys_nr;
	__u64 sys_start_ns;
	__u64 sys_args[3];
	__u64 first_ns;	     /* first event seen on this thread */
	__u64 busy_start_ns; /* start of the current busy interval, 0 when unknown */
	__u64 poll_start_ns; /* entry into the current poll call */
	/* loop figures, counted once the thread is known to be a loop */
	__u64 iterations;
	__u64 busy_ns;
	__u64 idle_ns;
	__u64 max_busy_ns;
	__u64 blocked_ns;   /* sum of blocking calls (>= threshold) */
	__u64 gil_wait_ns;  /* part of blocked_ns spent waiting for the GIL */
	__u64 gil_start_ns; /* start of the current run of GIL waits */
	__u64 gil_end_ns;   /* end of the last GIL wait */
	__u64 blocking_calls;
	__u64 preempted_ns; /* involuntary off-CPU time while busy */
	__u64 offcpu_start_ns;
	/*
	 * Busy time by cause: the current iteration's so far (syscalls and
	 * GIL waits; running and run queue are filled in at its end), and the
	 * sums over all iterations and over slow ones. The run queue is the
	 * task's sched_info.run_delay, read at the iteration's and each
	 * syscall's boundaries. it_acct: the iteration began in sight.
	 */
	__u64 it_rd_ns;
	__u64 sys_rd_ns;
	__u64 it_cause[AP_CAUSE_N];
	__u64 busy_cause[AP_CAUSE_N];
	__u64 slow_cause[AP_CAUSE_N];
	__u64 slow_iters;
	__u32 it_acct;
	__u32 it_gil_holder; /* the last holder a GIL wait of this iteration named */
	/* CPython backend: the callback running now */
	__u64 cb_start_ns;
	__u64 cb_task;
	__u64 cb_id;
	__u64 cb_blocked_ns;
	__u64 callbacks;
	__u64 cb_sp;	 /* stack pointer at the open callback's context_run entry */
	__u64 cb_end_ns; /* its end point's hit while checking (AP_END_CHECK) */
	__u32 pad_cb;
	__u32 uv_depth; /* uvloop: PyContext_Enter nesting */
	__u64 uv_start_ns[4];
	__u64 uv_task[4];
	__u64 uv_id[4]; /* callback identity of a plain callback handle */
	__u32 uv_reg;	/* register that held the last Handle (cache), +1 */
	__u32 pad2;
	__u8 comm[AP_TASK_COMM_LEN];
};

/*
 * CPython layout for one traced process: struct offsets of its version
 * (user/pyrt_offsets.c), and addresses in the process. Stored in the
 * py_procs hash map, keyed by tgid. 0 marks a field the version lacks.
 */
struct ap_py_offsets {
	__u32 version_hex; /* PY_VERSION_HEX of major.minor, e.g. 0x030b0000 */
	/* objects and types */
	__u32 ob_type; /* PyObject.ob_type */
	__u32 tp_name; /* PyTypeObject.tp_name */
	__u32 tp_methods;
	/* callables */
	__u32 func_code; /* PyFunctionObject */
	__u32 func_name;
	__u32 func_qualname;
	__u32 meth_func;  /* PyMethodObject.im_func */
	__u32 meth_self;  /* PyMethodObject.im_self */
	__u32 cfunc_ml;	  /* PyCFunctionObject.m_ml */
	__u32 cfunc_self; /* PyCFunctionObject.m_self */
	__u32 partial_fn; /* functools.partial's fn */
	/* asyncio C Task */
	__u32 stepwrap_task;  /* TaskStepMethWrapper.sw_task */
	__u32 wakewrap_task;  /* TaskWakeupMethWrapper.ww_task (3.8/3.9), else 0 */
	__u32 task_state;     /* FutureObj.fut_state (int: 0 pending, 1 cancelled, 2 finished) */
	__u32 task_result;    /* FutureObj.fut_result */
	__u32 task_exception; /* FutureObj.fut_exception */
	__u32 task_fut_waiter;
	__u32 task_coro;
	__u32 task_name;
	__u32 task_context;
	/* coroutines and code */
	__u32 coro_name;     /* PyCoroObject.cr_name */
	__u32 coro_qualname; /* PyCoroObject.cr_qualname */
	__u32 coro_code;     /* cr_code (<= 3.11), 0 when absent */
	__u32 coro_iframe;   /* embedded _PyInterpreterFrame (3.11+), 0 when absent */
	__u32 coro_frame;    /* PyFrameObject* cr_frame (<= 3.10) */
	__u32 code_filename;
	__u32 code_name;
	__u32 code_qualname; /* 0 before 3.11 */
	__u32 code_firstlineno;
	__u32 code_linetable; /* co_lnotab (<= 3.9) or co_linetable */
	__u32 code_adaptive;  /* co_code_adaptive (3.11+) */
	/* str and int */
	__u32 str_length;	/* PyASCIIObject.length */
	__u32 str_state;	/* PyASCIIObject.state */
	__u32 str_ascii_data;	/* sizeof(PyASCIIObject) */
	__u32 str_compact_data; /* sizeof(PyCompactUnicodeObject) */
	__u32 long_size;	/* ob_size or lv_tag */
	__u32 long_digits;	/* ob_digit */
	__u32 long_lv_tag;	/* 1 when long_size is 3.12's lv_tag */
	/* runtime, threads and frames (stack walker) */
	__u32 rt_autotss_key;	 /* _PyRuntime offset of autoTSSkey (Py_tss_t) */
	__u32 rt_tstate_current; /* _PyRuntime.gilstate.tstate_current, 0 on 3.12+ */
	__u32 tstate_frame; /* PyThreadState.frame (<= 3.10) or cframe (3.11/3.12) or current_frame
			       (3.13) */
	__u32 cframe_current; /* _PyCFrame.current_frame (3.11/3.12), 0 when unused */
	__u32 frame_code;     /* f_code / f_executable */
	__u32 frame_back;     /* f_back / previous */
	__u32 frame_lasti;    /* f_lasti (<= 3.10) or prev_instr/instr_ptr (3.11+) */
	__u32 frame_owner;    /* _PyInterpreterFrame.owner (3.12+), is_entry on 3.11 */
	__u32 gil_locked;     /* for the GIL detector: address offsets, 0 when unknown */
};

/* One callback run, for the timeline; layout shared with AP_REC_SLOW_CB. */
struct ap_rec_cb {
	struct ap_rec_hdr hdr;
	__u64 start_ns;
	__u64 duration_ns;
	__u64 task;
	__u64 callback;
};

/* Per-process CPython configuration, in the py_procs map (key: tgid). */
struct ap_py_proc {
	__u32 enabled;
	__u32 enter_ctx_rsi; /* at the PyContext_Enter probe the context is in rsi, not rdi */
	__u64 runtime_addr;  /* _PyRuntime in the process */
	__u64 gil_lo;	     /* futexes in [gil_lo, gil_hi) are the GIL's (inside _PyRuntime) */
	__u64 gil_hi;
	__u32 tls_specific; /* glibc: offset of pthread specific_1stblock in struct pthread */
	__u32 stack_depth;  /* frames to walk, <= AP_STACK_DEPTH */
	/*
	 * The thread state: at the thread pointer + tstate_tls (3.15's static
	 * thread-local) when nonzero, else under the pthread key autoTSSkey.
	 * tstate_tid: PyThreadState.native_thread_id, checked against the
	 * thread (0: not checked, e.g. another PID namespace).
	 */
	__s32 tstate_tls;
	__u32 tstate_tid;
	struct ap_py_offsets off;
	/* light mode (user/light.c): finding the running task from a stack */
	__u32 code_flags;      /* PyCodeObject.co_flags */
	__u32 frame_locals;    /* first local (self) of a frame: f_localsplus / localsplus */
	__u64 handle_run_code; /* Handle._run's code object, learnt by BPF; 0 until then */
	__u32 loop_in_c;       /* uvloop: handles run from C, no Handle._run frame */
	__u32 pad_light;
	__u64 loop_entry_code; /* uvloop: code of the frame that runs the loop, learnt by BPF */
	/*
	 * asyncio: where a callback ends (user/ctxend.h). The end points are
	 * checked against the return for a while (AP_END_CHECK) before they
	 * alone are used; the counters below are that check's.
	 */
	__u32 end_mode;	     /* enum ap_end_mode */
	__u32 end_sp_off;    /* entry sp minus sp at the end points */
	__u64 end_ok;	     /* returns that followed an end point's hit */
	__u64 end_missed;    /* returns with no end point hit before them */
	__u64 end_before_ns; /* sum of entry-to-end-point times of end_ok */
	__u64 end_after_ns;  /* sum of end-point-to-return times of end_ok */
	/*
	 * uvloop: task steps found by the register search at PyContext_Enter,
	 * and those only the _asyncio task probes found (user/target.c drops
	 * the task probes once the search is seen to find them all). Counted
	 * up to AP_CHECK_RUNS: past it, an atomic add per handle is a waste.
	 */
	__u64 uv_found;
	__u64 uv_missed;
	/*
	 * The last futex wake on the GIL (drop_gil signalling a waiter): who
	 * and when. A GIL wait that a wake ended was on that thread's hold.
	 */
	__u64 gil_wake_ns;
	__u32 gil_waker;
	__u32 pad_gil;
};

/* Callbacks (task steps) watched by the end-point and uvloop checks */
#define AP_CHECK_RUNS 200

enum ap_end_mode {
	AP_END_RET = 0,	  /* the uretprobe ends callbacks; no end points */
	AP_END_CHECK = 1, /* the uretprobe ends them; end points are checked against it */
	AP_END_PROBE = 2, /* the end points end them; the uretprobe is gone */
};

/* Counters of what was lost; index into the stats array map. */
enum ap_stat {
	AP_STAT_RB_DROPS = 0,	   /* ring buffer full */
	AP_STAT_THREAD_FULL = 1,   /* thread map full */
	AP_STAT_TASK_EVICT = 2,	   /* task map full */
	AP_STAT_CB_FULL = 3,	   /* callback map full */
	AP_STAT_STACK_DROPS = 4,   /* stack map full */
	AP_STAT_CB_END_MISSED = 5, /* a callback's end not seen: closed at the next one or poll */
	AP_STAT_MAX = 8,
};

#endif /* ASYNCPROF_H */
