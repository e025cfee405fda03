/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps, configuration and small helpers shared by every BPF part. */
#ifndef AP_COMMON_BPF_H
#define AP_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "asyncprof.h"

/* Error numbers the global (verified once) functions return; vmlinux.h has none. */
/* Plain loads and stores the compiler keeps, in order (shared per-CPU slots). */
#define READ_ONCE(x)	 (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#define barrier()	 asm volatile("" ::: "memory")

#define ENOENT 2
#define EINVAL 22

/* Configuration, set by the loader before load. */
const volatile __u32 targ_tgid __weak = 0;	 /* the one traced pid, 0: see targ_use_map */
const volatile bool targ_use_map __weak = false; /* trace the tgids in the targets map */
const volatile bool targ_launch __weak = false;	 /* the targets are a command we started */
const volatile bool targ_all __weak = false;	 /* system-wide: every process with a loop */
const volatile __u32 self_tgid __weak = 0; /* asyncprof-bpf itself polls too: never a target */
const volatile __u64 blocking_ns __weak = 1000000;
const volatile __u64 slow_cb_ns __weak = 100000000;
const volatile __u64 lag_interval_ns __weak = 10000000;
const volatile bool verbose __weak = false;
const volatile bool trace_callbacks __weak = false;   /* send every callback run (AP_REC_CB) */
const volatile __u64 min_sample_ns __weak = 25000000; /* keep CPU samples in callbacks this old */
const volatile bool light_mode __weak =
	false; /* no uprobes: tasks and callbacks from CPU samples */

/* Set after load, before attach: the start of the lag sampling grid. */
__u64 window_start_ns __weak = 0;
/*
 * Set as detaching begins: no new syscall is followed, so a call made once
 * the callback probes are gone is not reported without its task.
 */
__u32 tracing_stopped __weak = 0;
/* Set when the kernel keeps no run queue delay (no CONFIG_SCHED_INFO). */
__u32 runq_missing __weak = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AP_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} targets __weak SEC(".maps");

/* Threads of traced processes; loop threads stay after they exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ap_thread);
} threads __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats __weak SEC(".maps");

/*
 * Per-CPU scratch for what no stack frame can hold: without private BPF
 * stacks (most kernels) a whole call chain has 512 bytes. One slot for
 * the tracepoint and uprobe programs, one for the CPU sampler, which can
 * interrupt them on the same CPU. Global functions find their slot by
 * index: 5.10's verifier takes only scalars as their arguments.
 */
enum ap_slot {
	AP_SLOT_TP = 0,
	AP_SLOT_SAMPLE = 1,
	AP_SLOTS = 2,
};

/* Light mode: what a stack tells about the running task or callback. */
struct light_hit {
	__u64 handle;	 /* the asyncio Handle being run (Handle._run's self), 0: not found */
	__u64 coro_code; /* code object of the outermost coroutine frame, 0: none */
	__u64 cb_code;	 /* uvloop: code object of the running callback's first frame */
};

/*
 * A stack walk in progress. In the scratch slot, not on the stack: a
 * count kept on the stack has exact bounds for the verifier, so each frame
 * count was another state of the walk to check; and the step is a global
 * function, which can only be given the slot.
 */
struct walk_ctx {
	__u64 f;    /* the next frame */
	__u32 max;  /* frames to keep */
	__u32 slot; /* enum ap_slot: where the frames go */
	__u32 version;
	__u32 off_code, off_back, off_lasti, off_owner, off_adaptive;
	__u32 tgid;	 /* whose py_procs entry the light search updates */
	__u32 light;	 /* the walk goes on past max to find the outermost coroutine */
	__u32 coro_next; /* the previous frame was the outermost coroutine so far */
	__u64 prev_code; /* code object of the previous (inner) frame */
	struct light_hit hit;
};

struct py_scratch {
	struct walk_ctx w;
	struct ap_pystack st; /* the stack walked last */
	__u64 stack_id;	      /* its id in the stacks map, 0: none */
	__u64 task;	      /* light mode: the task and callback found from it */
	__u64 cb;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AP_SLOTS);
	__type(key, __u32);
	__type(value, struct py_scratch);
} py_scratch __weak SEC(".maps");

static __always_inline struct py_scratch *py_scratch_get(__u32 slot)
{
	return bpf_map_lookup_elem(&py_scratch, &slot);
}

#define vlog(fmt, ...)                                  \
	({                                              \
		if (verbose)                            \
			bpf_printk(fmt, ##__VA_ARGS__); \
	})

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

/* Is this tgid traced? The single-pid case costs one compare. */
static __always_inline bool is_target(__u32 tgid)
{
	if (targ_tgid)
		return tgid == targ_tgid;
	if (targ_all)
		return tgid != 0 && tgid != self_tgid;
	if (targ_use_map)
		return bpf_map_lookup_elem(&targets, &tgid) != NULL;
	return false;
}

/*
 * Submit a record without waking the tracer until a good part of the ring
 * buffer is filled: it drains the buffer at least every 100 ms anyway
 * (user/main.c). A wakeup per record cost the tracer a context switch per
 * record: 12 % of a core at 7,000 HTTP requests a second. For the
 * frequent records (names, task ends, busy intervals, trace slices).
 */
#define AP_RB_WAKEUP_BYTES (512 * 1024)

static __always_inline void rec_submit(void *r)
{
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(r,
			   queued >= AP_RB_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/*
 * Submit a rare record the tracer must see at once: a new loop (system-wide,
 * its probes go in then) and records with a stack, which the tracer resolves
 * by reading the target's memory, gone once a short-lived target exits.
 */
static __always_inline void rec_submit_now(void *r)
{
	bpf_ringbuf_submit(r, 0);
}

/* Reserve a ring-buffer record of type T and fill its header; counts drops. */
#define rec_reserve(T, type_, tgid_, tid_)                           \
	({                                                           \
		T *__r = bpf_ringbuf_reserve(&events, sizeof(T), 0); \
		if (__r) {                                           \
			__r->hdr.type = (type_);                     \
			__r->hdr.pid = (tgid_);                      \
			__r->hdr.tid = (tid_);                       \
			__r->hdr.size = sizeof(T);                   \
		} else {                                             \
			stat_inc(AP_STAT_RB_DROPS);                  \
		}                                                    \
		__r;                                                 \
	})

#endif /* AP_COMMON_BPF_H */
