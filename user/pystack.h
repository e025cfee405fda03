/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Turns the frames of a BPF Python stack (code object address and
 * instruction position) into "qualname (file:line)". Code objects are read
 * from the target once (name, file, first line, line table) and cached;
 * the line comes from user/pyline.c.
 */
#ifndef AP_PYSTACK_H
#define AP_PYSTACK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "model.h"

struct pystack;

/* Read memory of the target: 0 or -errno. Tests pass their own. */
typedef int (*pystack_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

struct pystack *pystack__new(int pid, unsigned major, unsigned minor,
			     const struct ap_py_offsets *off, size_t max_codes);
/* Use read(ctx, ...) instead of the process's memory (fixtures). */
void pystack__set_reader(struct pystack *ps, pystack_read_fn read, void *ctx);
/* The offsets ps reads the target with. */
const struct ap_py_offsets *pystack__offsets(const struct pystack *ps);
/* Read the target's memory as ps does: a pystack_read_fn whose ctx is the struct pystack. */
int pystack__read(void *ps, uint64_t addr, void *buf, size_t len);
void pystack__free(struct pystack *ps);

/* "qualname (file:line)" of one packed frame into buf; 0 or -errno. */
int pystack__frame(struct pystack *ps, uint64_t frame, char *buf, size_t size);
/* All frames of st into out (owned strings); 0 or -ENOMEM. */
int pystack__resolve(struct pystack *ps, const struct ap_pystack *st, struct ap_stack *out);
/*
 * The qualname of the callback asyncio's Handle._run runs in resolved stack
 * st (the frame just inside its innermost Handle._run frame), malloc'd; NULL
 * when st has none (uvloop runs handles from C). Light mode names a plain
 * callback so before BPF has learnt Handle._run's code object.
 */
char *pystack__handle_callback(const struct ap_stack *st);
/*
 * "qualname (file:line)" of coroutine coro's frame where it is suspended
 * (the await it waits at), read from the target; 0 or -errno.
 */
int pystack__coro_frame(struct pystack *ps, uint64_t coro, char *buf, size_t size);

#endif /* AP_PYSTACK_H */
