/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report as the loader holds it in memory once tracing stops: what the
 * JSON writer and the text summary print. Field meanings follow
 * docs/report-v1.md. Strings are owned (malloc'd) and may be NULL
 * where the spec says null. Counts that the spec allows to be null use
 * AP_NULL_U64.
 */
#ifndef AP_MODEL_H
#define AP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_NULL_U64    UINT64_MAX
#define AP_LAG_BUCKETS 16 /* finite buckets; +Inf is implicit */

/* Finite bucket bounds of the lag histogram, in ns (cumulative "le"). */
extern const uint64_t ap_lag_bucket_le[AP_LAG_BUCKETS];

struct ap_lag {
	uint64_t samples;
	uint64_t max_ns;
	uint64_t mean_ns;
	uint64_t p50_ns;
	uint64_t p90_ns;
	uint64_t p99_ns;
	uint64_t le_count[AP_LAG_BUCKETS]; /* cumulative: samples with lag <= le */
};

/* A growable array of T: items, count, capacity. */
#define AP_VEC(T)              \
	struct {               \
		T *v;          \
		size_t n, cap; \
	}

/* A non-zero lag sample: at grid instant t_ns the loop was busy for lag_ns more. */
struct ap_lag_point {
	uint64_t t_ns;
	uint64_t lag_ns;
};

struct ap_stack {
	char **frames; /* innermost first */
	size_t n;
};

/* A CPU sample of a loop thread inside a long callback, with its Python stack. */
struct ap_sample {
	uint32_t tid;
	uint64_t ts_ns;
	uint64_t task;	/* 0: not a task step */
	char *callback; /* qualname, NULL when unknown */
	struct ap_stack stack;
};

/* One callback run (a task step or a plain callback), when a trace is requested. */
struct ap_slice {
	uint32_t tid;
	uint64_t start_ns;
	uint64_t duration_ns;
	uint64_t task;	/* 0: not a task step */
	char *callback; /* qualname, NULL when unknown */
};
/*
 * Where busy time went, indexed by enum ap_cause (asyncprof.h): running,
 * run queue, GIL, short syscalls, then blocking calls by enum ap_kind.
 */
#define AP_NCAUSES 10
extern const char *const ap_cause_names[AP_NCAUSES];  /* "running", "run_queue", ... */
extern const char *const ap_cause_labels[AP_NCAUSES]; /* for people: "run queue", "GIL", ... */
/*
 * The causes of ns (AP_NULL_U64 counts as 0) by time, most first, into
 * order; returns how many have time.
 */
int ap_causes__order(const uint64_t ns[AP_NCAUSES], int order[AP_NCAUSES]);

/* The callback most of one cause's time went to (callback NULL: none known). */
struct ap_culprit {
	char *callback; /* qualname of the callback or the task's coroutine */
	uint64_t task;	/* 0: not a task step, or several */
	uint64_t ns;
	uint32_t holder;   /* the GIL's: the thread that held it, 0 when unknown */
	char *holder_comm; /* its name (/proc/PID/task/TID/comm), NULL when gone */
};

/* A loop iteration as long as a slow callback, and where its time went. */
struct ap_iteration {
	uint32_t tid;
	uint64_t start_ns;
	uint64_t duration_ns;
	uint64_t cause_ns[AP_NCAUSES]; /* they sum to duration_ns */
	struct ap_culprit culprits[AP_NCAUSES];
	bool in_progress;      /* still running when tracing ended: duration_ns is so far */
	uint32_t gil_holder;   /* the last thread a GIL wait in it named as holder, 0: none */
	char *gil_holder_comm; /* its name when the iteration was reported */
};

struct ap_loop {
	uint32_t tid;
	const char *kind; /* static string: "asyncio", "uvloop", "libuv", "epoll" */
	uint64_t iterations;
	uint64_t busy_ns;
	uint64_t idle_ns;
	uint64_t callbacks; /* AP_NULL_U64 for the syscall backend */
	uint64_t blocked_ns;
	uint64_t gil_wait_ns; /* part of blocked_ns waiting for the GIL; AP_NULL_U64 if unknown */
	uint64_t preempted_ns;
	uint64_t first_ns;
	uint64_t slow_callbacks; /* slow callbacks of this thread so far */
	/* busy time by cause: over iterations that began in the window, and slow ones */
	uint64_t busy_causes[AP_NCAUSES];
	uint64_t slow_iterations;
	uint64_t slow_causes[AP_NCAUSES];
	struct ap_culprit slow_culprits[AP_NCAUSES]; /* over its slow iterations */
	bool stuck_before; /* no iteration seen: busy (stuck) since before the window */
	struct ap_lag lag;
	AP_VEC(struct ap_lag_point) lag_series; /* non-zero samples, by time; others are 0 */
};

struct ap_task {
	uint64_t id;
	char *name;
	char *coro;
	uint32_t loop_tid;
	uint64_t parent;     /* 0: null */
	uint64_t created_ns; /* AP_NULL_U64: null */
	uint64_t first_run_ns;
	uint64_t last_run_ns;
	uint64_t finished_ns; /* AP_NULL_U64: null */
	const char *state;    /* static string or NULL */
	char *error;
	uint64_t steps;
	uint64_t busy_ns;
	uint64_t max_step_ns;
	uint64_t blocked_ns;
	/*
	 * A pending task at the end: the future it awaits (its fut_waiter; 0:
	 * none, i.e. running or scheduled to run), that object's type name,
	 * and whether it is a task of the report (then it is that task's id).
	 */
	uint64_t awaits;
	char *awaits_type;
	char *awaits_at;   /* its coroutine's frame where it waits: "qualname (file:line)" */
	bool awaits_known; /* awaits was read (a live CPython target) */
};

struct ap_callback {
	char *name;
	uint64_t count;
	uint64_t total_ns;
	uint64_t max_ns;
};

struct ap_slow_cb {
	uint32_t tid;
	uint64_t start_ns;
	uint64_t duration_ns;
	uint64_t task; /* 0: null */
	char *callback;
	struct ap_stack stack;
	uint64_t blocked_ns;
	bool began_before; /* running when tracing began: start_ns is the window's start */
	bool in_progress;  /* still running when tracing ended: duration_ns is so far */
};

struct ap_blocking {
	uint32_t tid;
	uint64_t start_ns;
	uint64_t duration_ns;
	const char *syscall; /* static string */
	const char *kind;    /* static string */
	char *detail;
	uint64_t task; /* 0: null */
	char *callback;
	struct ap_stack stack;
	struct ap_stack native_stack; /* native frames, innermost first (may be empty) */
	bool began_before;   /* in flight when tracing began: start_ns is the window's start (or the
			      * thread's), duration_ns a lower bound */
	bool in_progress;    /* still in flight when tracing ended: duration_ns is so far */
	uint32_t gil_holder; /* a GIL wait: the thread that held the GIL (woke it), 0: unknown */
	char *gil_holder_comm; /* its name when the wait was reported, NULL when unknown */
};

/* Blocking calls of one thread, kind and syscall, summed (for counters). */
struct ap_blocking_sum {
	uint32_t tid;
	const char *kind;    /* static */
	const char *syscall; /* static */
	uint64_t count;
	uint64_t total_ns;
};

/*
 * A warning about a task or callback, as tokio-console gives them. kind:
 * "stuck" (pending with no step for config.stuck_ns), "deadlock" (tasks
 * awaiting each other), "never_yields" (a step past the slow threshold),
 * "busy_poll" (a task that wakes itself again and again), "blocking" (a
 * blocking call of a known kind from the loop thread).
 */
struct ap_lint {
	const char *kind; /* static */
	uint32_t tid;	  /* the loop thread */
	uint64_t task;	  /* 0: not a task */
	char *name;	  /* the task's name, or the callback's qualname */
	char *coro;	  /* the task's coroutine, NULL when none */
	char *message;	  /* one line for people */
	const char *fix;  /* the asyncio-native alternative, NULL when none (static) */
	uint64_t ns;	  /* how long: pending, the step, the calls' total */
	uint64_t count;	  /* calls, steps, tasks in the cycle */
	struct ap_stack stack;
};

struct ap_process {
	uint32_t pid;
	uint32_t ns_pid; /* its pid in its own PID namespace (a container's), else pid */
	char *comm;
	char *exe;
	const char *runtime; /* "cpython", "node", "unknown" */
	char *runtime_version;
	const char *backend; /* "uprobe" or "syscall" */
	AP_VEC(struct ap_loop) loops;
	AP_VEC(struct ap_task) tasks;
	AP_VEC(struct ap_callback) callbacks;
	AP_VEC(struct ap_slow_cb) slow_callbacks;
	AP_VEC(struct ap_blocking) blocking_calls;
	AP_VEC(struct ap_slice) slices;		      /* every callback run, only when traced */
	AP_VEC(struct ap_sample) samples;	      /* CPU samples inside long callbacks */
	AP_VEC(struct ap_blocking_sum) blocking_sums; /* every blocking call, summed */
	AP_VEC(struct ap_iteration) iterations;	      /* slow loop iterations, by start */
	AP_VEC(struct ap_lint) lints;
	bool steps_exact; /* false in light mode: tasks and callbacks estimated from samples */
	/* finished tasks left out: only the busiest are kept (light mode: tasks seen
	 * once its table was full) */
	uint64_t tasks_omitted;
	uint64_t slices_omitted; /* callback runs not kept for the trace (past the first million) */
};

struct ap_report {
	const char *tool_version;
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t slow_callback_ns;
	uint64_t blocking_ns;
	uint64_t lag_interval_ns;
	uint64_t drops_events;
	uint64_t drops_stacks;
	uint64_t drops_tasks;	   /* tasks past --max-tasks: tracked without a slot (partial) */
	uint64_t drops_threads;	   /* threads the full thread map could not take */
	uint64_t drops_callbacks;  /* callbacks the full callback map could not count */
	uint64_t callback_ends;	   /* callbacks whose end was not seen (closed at the next one) */
	bool traced;		   /* per-callback slices were recorded (a trace was requested) */
	uint64_t sample_period_ns; /* CPU sampling period, 0 when sampling was off */
	bool group_by_task;	   /* folded export: stacks rooted at the task name */
	const char *mode;	   /* "full" or "light" (static) */
	/* the kernel (uname -r) and the program variants loaded there; NULL: not known */
	const char *kernel;	 /* owned by the caller */
	const char *tracepoints; /* "tp_btf" or "raw_tp" (static) */
	const char *stack_walk;	 /* "bpf_loop" or "bounded" (static) */
	const char *host;	 /* static or owned by the caller; NULL when unknown */
	bool runq_unknown;	 /* the kernel keeps no run queue delay: run_queue is null */
	uint64_t stuck_ns;	 /* a pending task with no step this long is stuck */
	AP_VEC(struct ap_process) processes;
};

/* Grow a vector by one zeroed element; returns it or NULL on ENOMEM. */
void *ap_vec__push(void *vec_base, size_t elem_size);
#define AP_VEC_PUSH(vec) ((__typeof__((vec).v))ap_vec__push(&(vec), sizeof(*(vec).v)))

/* Free the frames and the array; leaves st empty. NULL is fine. */
void ap_stack__free(struct ap_stack *st);
/* Deep copies (strings duplicated); 0 or -ENOMEM, dst then freed by the owner. */
int ap_stack__copy(struct ap_stack *dst, const struct ap_stack *src);
int ap_task__copy(struct ap_task *dst, const struct ap_task *src);

/* Free what t owns and zero it. */
void ap_task__free(struct ap_task *t);
int ap_blocking__copy(struct ap_blocking *dst, const struct ap_blocking *src);
int ap_slow_cb__copy(struct ap_slow_cb *dst, const struct ap_slow_cb *src);
/* Free the culprits' names and zero them. */
void ap_culprits__free(struct ap_culprit c[AP_NCAUSES]);
/* Free every owned string and vector of r, then r itself (heap-allocated). NULL is fine. */
void ap_report__free(struct ap_report *r);

/* Queries shared by the writers and the view. */
/* When a task began to exist: its creation if seen, else its first run. */
uint64_t ap_task__start(const struct ap_task *t);
/* The task with this id in p (the first listed), or NULL; NULL p or id 0 is none. */
const struct ap_task *ap_process__find_task(const struct ap_process *p, uint64_t id);

/* p's tasks ordered by (id, start), to find the task of an id at a time. */
struct ap_task_index {
	const struct ap_process *p;
	size_t *by_id; /* indices into p->tasks */
	size_t n;
};
/* Build ix over p's tasks (ix->p = p); 0 or -ENOMEM. Free with ap_task_index__free(). */
int ap_task_index__build(struct ap_task_index *ix, const struct ap_process *p);
void ap_task_index__free(struct ap_task_index *ix);
/*
 * The task with this id that existed at t_ns, or NULL for none (id 0 is none).
 * Ids are object addresses, which CPython reuses once a task is freed: of the
 * tasks with this id, the last one that started at or before t_ns, else the
 * first to start.
 */
const struct ap_task *ap_task_index__at(const struct ap_task_index *ix, uint64_t id, uint64_t t_ns);

#endif /* AP_MODEL_H */
