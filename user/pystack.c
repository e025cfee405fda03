// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Code object reader and cache for Python stack frames. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "pyline.h"
#include "pystack.h"
#include "strutil.h"

#define CODE_NAME_MAX	256
#define LINETABLE_MAX	65536
#define BYTES_SIZE_OFF	16 /* PyBytesObject.ob_size */
#define BYTES_DATA_OFF	32 /* PyBytesObject.ob_sval */
#define TP_FLAGS_OFF	168
#define TPFLAGS_UNICODE (1UL << 28)

struct code_info {
	uint64_t addr; /* 0: empty slot */
	char *name;
	char *file;
	int firstlineno;
	uint8_t *table;
	size_t table_len;
};

struct pystack {
	int pid;
	unsigned major, minor;
	struct ap_py_offsets off; /* a copy: the caller's may go first (3.14+'s are per target) */
	pystack_read_fn read;
	void *read_ctx;
	struct code_info *codes; /* direct-mapped cache */
	size_t ncodes;		 /* power of two */
};

static int read_proc(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	int pid = (int)(intptr_t)ctx;

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)len)
		return -EFAULT;
	return 0;
}

struct pystack *pystack__new(int pid, unsigned major, unsigned minor,
			     const struct ap_py_offsets *off, size_t max_codes)
{
	struct pystack *ps = calloc(1, sizeof(*ps));
	size_t n = 64;

	if (!ps)
		return NULL;
	while (n < max_codes)
		n <<= 1;
	ps->codes = calloc(n, sizeof(*ps->codes));
	if (!ps->codes) {
		free(ps);
		return NULL;
	}
	ps->ncodes = n;
	ps->pid = pid;
	ps->major = major;
	ps->minor = minor;
	ps->off = *off;
	ps->read = read_proc;
	ps->read_ctx = (void *)(intptr_t)pid;
	return ps;
}

void pystack__set_reader(struct pystack *ps, pystack_read_fn read, void *ctx)
{
	ps->read = read;
	ps->read_ctx = ctx;
}

const struct ap_py_offsets *pystack__offsets(const struct pystack *ps)
{
	return &ps->off;
}

int pystack__read(void *ps, uint64_t addr, void *buf, size_t len)
{
	struct pystack *p = ps;

	return p->read(p->read_ctx, addr, buf, len);
}

static void code_info__clear(struct code_info *ci)
{
	free(ci->name);
	free(ci->file);
	free(ci->table);
	memset(ci, 0, sizeof(*ci));
}

void pystack__free(struct pystack *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->ncodes; i++)
		code_info__clear(&ps->codes[i]);
	free(ps->codes);
	free(ps);
}

static uint64_t rd_ptr(struct pystack *ps, uint64_t addr)
{
	uint64_t v = 0;

	return ps->read(ps->read_ctx, addr, &v, sizeof(v)) ? 0 : v;
}

/* A str object of the target as UTF-8 (NULL when unreadable). */
static char *read_str(struct pystack *ps, uint64_t obj)
{
	const struct ap_py_offsets *o = &ps->off;
	struct ap_rec_name r = {.enc = 0};
	char out[CODE_NAME_MAX * 4];
	uint64_t type, len;
	uint32_t state, kind;

	type = obj ? rd_ptr(ps, obj + o->ob_type) : 0;
	if (!type || !(rd_ptr(ps, type + TP_FLAGS_OFF) & TPFLAGS_UNICODE))
		return NULL;
	if (ps->read(ps->read_ctx, obj + o->str_state, &state, sizeof(state)))
		return NULL;
	len = rd_ptr(ps, obj + o->str_length);
	kind = (state >> 2) & 7;
	if (!(state & 0x20) || (kind != 1 && kind != 2 && kind != 4))
		return NULL;
	r.enc = kind;
	r.len = len * kind > sizeof(r.name) ? sizeof(r.name) : len * kind;
	r.truncated = len * kind > sizeof(r.name);
	if (ps->read(ps->read_ctx, obj + ((state & 0x40) ? o->str_ascii_data : o->str_compact_data),
		     r.name, r.len))
		return NULL;
	if (strutil__decode_name(&r, out, sizeof(out)) < 0)
		return NULL;
	return strdup(out);
}

static int read_table(struct pystack *ps, uint64_t bytes, struct code_info *ci)
{
	uint64_t n = rd_ptr(ps, bytes + BYTES_SIZE_OFF);

	if (!bytes || n > LINETABLE_MAX)
		return -EINVAL;
	ci->table = malloc(n ? n : 1);
	if (!ci->table)
		return -ENOMEM;
	ci->table_len = n;
	return ps->read(ps->read_ctx, bytes + BYTES_DATA_OFF, ci->table, n);
}

/* Fill ci from the code object at addr. */
static int code_info__load(struct pystack *ps, uint64_t addr, struct code_info *ci)
{
	const struct ap_py_offsets *o = &ps->off;
	uint32_t first = 0;
	int err;

	ci->addr = addr;
	ci->name = read_str(
		ps, rd_ptr(ps, addr + (o->code_qualname ? o->code_qualname : o->code_name)));
	ci->file = read_str(ps, rd_ptr(ps, addr + o->code_filename));
	err = ps->read(ps->read_ctx, addr + o->code_firstlineno, &first, sizeof(first));
	ci->firstlineno = err ? -1 : (int)first;
	if (read_table(ps, rd_ptr(ps, addr + o->code_linetable), ci)) {
		free(ci->table);
		ci->table = NULL;
		ci->table_len = 0;
	}
	return ci->name || ci->file ? 0 : -EFAULT;
}

static struct code_info *code_get(struct pystack *ps, uint64_t addr)
{
	struct code_info *ci = &ps->codes[(addr >> 4) & (ps->ncodes - 1)];

	if (ci->addr == addr)
		return ci;
	/* direct-mapped: a new code object evicts the one in its slot */
	code_info__clear(ci);
	code_info__load(ps, addr, ci);
	return ci;
}

int pystack__frame(struct pystack *ps, uint64_t frame, char *buf, size_t size)
{
	uint64_t addr = AP_FRAME_CODE(frame), pos = AP_FRAME_POS(frame);
	struct code_info *ci = code_get(ps, addr);
	int line = -1;

	if (!ci->name && !ci->file) {
		snprintf(buf, size, "[unknown] (code 0x%llx)", (unsigned long long)addr);
		return -EFAULT;
	}
	if (pos == AP_POS_START)
		line = ci->firstlineno;
	else if (ci->table)
		line = pyline__line(ps->major, ps->minor, ci->table, ci->table_len, ci->firstlineno,
				    (uint32_t)pos);
	if (line < 0)
		line = ci->firstlineno;
	snprintf(buf, size, "%s (%s:%d)", ci->name ? ci->name : "[unknown]",
		 ci->file ? ci->file : "[unknown]", line);
	return 0;
}

int pystack__resolve(struct pystack *ps, const struct ap_pystack *st, struct ap_stack *out)
{
	uint32_t n = st->depth > AP_STACK_DEPTH ? AP_STACK_DEPTH : st->depth;
	char buf[1024];

	out->frames = calloc(n ? n : 1, sizeof(*out->frames));
	if (!out->frames)
		return -ENOMEM;
	out->n = 0;
	for (uint32_t i = 0; i < n; i++) {
		pystack__frame(ps, st->frames[i], buf, sizeof(buf));
		out->frames[i] = strdup(buf);
		if (!out->frames[i])
			return -ENOMEM;
		out->n++;
	}
	return 0;
}

char *pystack__handle_callback(const struct ap_stack *st)
{
	static const char run[] = "Handle._run (";
	const char *f, *end;

	for (size_t i = 1; i < st->n; i++) {
		f = st->frames[i];
		if (!f || strncmp(f, run, sizeof(run) - 1) || !strstr(f, "asyncio/events.py:"))
			continue;
		f = st->frames[i - 1];
		end = f ? strstr(f, " (") : NULL;
		return end && end > f ? strndup(f, end - f) : NULL;
	}
	return NULL;
}

int pystack__coro_frame(struct pystack *ps, uint64_t coro, char *buf, size_t size)
{
	const struct ap_py_offsets *o = &ps->off;
	uint64_t f, code, ip, base, pos = AP_POS_START;
	int32_t lasti;

	if (o->coro_iframe) {
		/* 3.11+: the frame is inside the coroutine; 3.14 tags f_executable */
		f = coro + o->coro_iframe;
		code = rd_ptr(ps, f + o->frame_code) & ~3ull;
		ip = rd_ptr(ps, f + o->frame_lasti);
		base = code + o->code_adaptive;
		if (code && ip >= base)
			pos = (ip - base) / 2;
	} else {
		f = rd_ptr(ps, coro + o->coro_frame);
		code = f ? rd_ptr(ps, f + o->frame_code) : 0;
		if (code && !ps->read(ps->read_ctx, f + o->frame_lasti, &lasti, sizeof(lasti)) &&
		    lasti >= 0)
			pos = (uint64_t)lasti;
	}
	if (!code || pos > AP_POS_START)
		return -ENOENT;
	return pystack__frame(ps, AP_FRAME_CODE(code) | pos << 48, buf, size);
}
