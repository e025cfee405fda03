// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Runtime detection and CPython probe points of a live process, read-only. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "elfsym.h"
#include "procmaps.h"
#include "pyrt.h"

#define PYMETHODDEF_SIZE 32 /* ml_name @0, ml_meth @8, ml_flags @16, ml_doc @24 */
#define MAX_METHODS	 64
#define TP_CALL		 128 /* offsetof(PyTypeObject, tp_call), 3.8-3.13 */

/* Everything one probe needs; the reader state is the ctx of pyrt_read_fn. */
struct pyrt_ctx {
	int pid;
	struct procmaps *pm;
	struct elf_file *ef; /* py_path */
	uint64_t bias;
	bool is_dyn;
	struct pyrt_info *out;
};

static int pyrt__fail(struct pyrt_info *out, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	return err;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* Live memory: process_vm_readv, then /proc/PID/mem. */
static int read_live(int pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	char path[64];
	ssize_t n;
	int fd;

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/*
 * The image as the file initialises it: 8-byte reads at a RELATIVE
 * relocation get its target plus the load bias, so pointer walks work on
 * PIE files too. Right only for data the process has not changed since.
 */
static int read_file(struct pyrt_ctx *c, uint64_t addr, void *buf, size_t len)
{
	uint64_t v;
	int err;

	if (len != sizeof(v) || !c->is_dyn)
		return elf_file__read(c->ef, addr - c->bias, buf, len);
	err = elf_file__read_ptr(c->ef, addr - c->bias, &v);
	if (!err && v)
		v += c->bias;
	memcpy(buf, &v, sizeof(v));
	return err;
}

static int pyrt__read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct pyrt_ctx *c = ctx;

	if (c->pid > 0 && !read_live(c->pid, addr, buf, len))
		return 0;
	return read_file(c, addr, buf, len);
}

static bool read_name_is(pyrt_read_fn read, void *ctx, uint64_t addr, const char *name)
{
	char buf[64];
	size_t len = strlen(name) + 1;

	if (len > sizeof(buf) || read(ctx, addr, buf, len))
		return false;
	return memcmp(buf, name, len) == 0;
}

int pyrt__find_method(pyrt_read_fn read, void *ctx, uint64_t type_addr, __u32 off_tp_methods,
		      const char *name, uint64_t *meth)
{
	uint64_t defs, ml_name;
	int i, err;

	err = read(ctx, type_addr + off_tp_methods, &defs, sizeof(defs));
	if (err)
		return err;
	for (i = 0; defs && i < MAX_METHODS; i++) {
		uint64_t def = defs + (uint64_t)i * PYMETHODDEF_SIZE;

		err = read(ctx, def, &ml_name, sizeof(ml_name));
		if (err)
			return err;
		if (!ml_name)
			break;
		if (read_name_is(read, ctx, ml_name, name))
			return read(ctx, def + 8, meth, sizeof(*meth));
	}
	return -ENOENT;
}

static bool parse_version(const char *s, struct pyrt_info *out)
{
	return sscanf(s, "%d.%d.%d", &out->major, &out->minor, &out->micro) == 3;
}

/* The PY_VERSION string Py_GetVersion passes as 4th argument: lea X(%rip),%rcx. */
static int version_from_getversion(struct elf_file *ef, struct pyrt_info *out)
{
	struct elf_sym sym;
	uint8_t code[96];
	char buf[32];
	int32_t disp;
	size_t i;

	if (elf_file__find_sym(ef, "Py_GetVersion", &sym) ||
	    elf_file__read(ef, sym.value, code, sizeof(code)))
		return -ENOENT;
	for (i = 0; i + 7 <= sizeof(code); i++) {
		if (code[i] != 0x48 || code[i + 1] != 0x8d || code[i + 2] != 0x0d)
			continue;
		memcpy(&disp, code + i + 3, sizeof(disp));
		if (!elf_file__read_str(ef, sym.value + i + 7 + disp, buf, sizeof(buf)) &&
		    parse_version(buf, out))
			return 0;
	}
	return -ENOENT;
}

/* major.minor.micro from Py_Version (3.11+) or the PY_VERSION string. */
static int pyrt__version(struct elf_file *ef, struct pyrt_info *out)
{
	struct elf_sym sym;
	uint32_t hex;

	if (!elf_file__find_sym(ef, "Py_Version", &sym) &&
	    !elf_file__read(ef, sym.value, &hex, sizeof(hex))) {
		out->major = hex >> 24;
		out->minor = (hex >> 16) & 0xff;
		out->micro = (hex >> 8) & 0xff;
	} else if (version_from_getversion(ef, out)) {
		return -ENOENT;
	}
	snprintf(out->version, sizeof(out->version), "%d.%d.%d", out->major, out->minor,
		 out->micro);
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Node.js: the exe is node/nodejs, or libnode is mapped. */
static bool pyrt__is_node(struct pyrt_ctx *c)
{
	const char *b = base_name(c->out->exe);
	const struct procmap *m;

	if (!strcmp(b, "node") || !strcmp(b, "nodejs")) {
		copy_str(c->out->node_path, sizeof(c->out->node_path), c->out->exe);
		return true;
	}
	m = procmaps__find_file(c->pm, "libnode.so*", NULL);
	if (m)
		copy_str(c->out->node_path, sizeof(c->out->node_path), m->path);
	return m != NULL;
}

/*
 * Does procdir's process have another mount namespace? Then the paths in its
 * maps are relative to that namespace's root. (A chroot alone changes
 * nothing: the kernel writes paths relative to the reader's root.)
 */
static bool other_mnt_ns(const char *procdir)
{
	char path[PATH_MAX], ours[64], theirs[64];
	ssize_t n, m;

	snprintf(path, sizeof(path), "%s/ns/mnt", procdir);
	n = readlink(path, theirs, sizeof(theirs) - 1);
	m = readlink("/proc/self/ns/mnt", ours, sizeof(ours) - 1);
	return n > 0 && m > 0 && (n != m || memcmp(ours, theirs, n));
}

/* The file mapped at m (path as the process names it) as we can open it. */
static void open_path(const struct pyrt_ctx *c, const struct procmap *m, const char *path,
		      char *buf, size_t size)
{
	if (c->pid > 0 && m) {
		snprintf(buf, size, "/proc/%d/map_files/%llx-%llx", c->pid,
			 (unsigned long long)m->start, (unsigned long long)m->end);
		if (!access(buf, R_OK))
			return; /* needs CAP_SYS_ADMIN: else the fallbacks below */
	}
	snprintf(buf, size, "%s%s", c->out->root, path);
}

/* The first mapping of the executable file (maps names it as exe does). */
static const struct procmap *exe_map(const struct pyrt_ctx *c)
{
	for (size_t i = 0; i < procmaps__count(c->pm); i++) {
		const struct procmap *m = procmaps__get(c->pm, i);

		if (!strcmp(m->path, c->out->exe))
			return m;
	}
	return NULL;
}

/* The ELF holding the interpreter: a mapped libpython, else the exe if it has one. */
static int pyrt__find_py(struct pyrt_ctx *c)
{
	struct pyrt_info *out = c->out;
	const struct procmap *m;
	struct elf_sym sym;
	int err;

	m = procmaps__find_file(c->pm, "libpython3.*.so*", NULL);
	copy_str(out->py_path, sizeof(out->py_path), m ? m->path : out->exe);
	out->py_is_exe = !m;
	open_path(c, m ? m : exe_map(c), out->py_path, out->py_open, sizeof(out->py_open));
	err = elf_file__open(out->py_open, &c->ef);
	if (err)
		return !out->py_is_exe ? err : -ENOENT; /* an exe we cannot read: no Python */
	if (elf_file__find_sym(c->ef, "_PyRuntime", &sym) &&
	    elf_file__find_sym(c->ef, "Py_GetVersion", &sym))
		return -ENOENT;
	c->is_dyn = elf_file__type(c->ef) == ET_DYN;
	err = procmaps__load_bias(c->pm, out->py_path, c->is_dyn, elf_file__first_load_vaddr(c->ef),
				  &c->bias);
	out->py_bias = c->bias;
	return err;
}

/*
 * The end points of the context_run at vaddr (size 0: unknown). None found
 * is not an error: the callback's end is then taken at the return.
 */
static void pyrt__context_run_end(struct pyrt_ctx *c, uint64_t vaddr, uint64_t size)
{
	struct pyrt_info *out = c->out;
	uint8_t code[1024];
	struct ctxend ce;
	size_t len = size && size < sizeof(code) ? size : sizeof(code);

	/* an unknown size may run past the segment's end: try a shorter read */
	while (elf_file__read(c->ef, vaddr, code, len))
		if ((len /= 2) < 64)
			return;
	if (ctxend__find(code, len, &ce))
		return;
	for (int i = 0; i < ce.n; i++)
		if (elf_file__vaddr_to_off(c->ef, vaddr + ce.at[i], &out->context_run_end_off[i]))
			return;
	out->context_run_end_sp = ce.sp_off;
	out->context_run_n_ends = ce.n;
}

/* context_run from .symtab, else through PyContext_Type.tp_methods ("run"). */
static int pyrt__context_run(struct pyrt_ctx *c)
{
	struct pyrt_info *out = c->out;
	struct elf_sym sym;
	uint64_t meth;
	int err;

	if (!elf_file__find_sym(c->ef, "context_run", &sym) && sym.type == STT_FUNC) {
		out->context_run_from_symtab = true;
		pyrt__context_run_end(c, sym.value, sym.size);
		return elf_file__vaddr_to_off(c->ef, sym.value, &out->context_run_off);
	}
	err = elf_file__find_sym(c->ef, "PyContext_Type", &sym);
	if (err)
		return pyrt__fail(out, err, "no context_run nor PyContext_Type in %s",
				  out->py_path);
	err = pyrt__find_method(pyrt__read, c, sym.value + c->bias, out->off->tp_methods, "run",
				&meth);
	if (!err)
		err = procmaps__addr_to_off(c->pm, meth, &out->context_run_off, NULL);
	if (!err)
		pyrt__context_run_end(c, meth - c->bias, 0);
	if (err)
		return pyrt__fail(out, err, "cannot find Context.run through PyContext_Type in %s",
				  out->py_path);
	return 0;
}

/* A cheap probe point in an exported function, as a file offset. */
static int pyrt__probe_point(struct pyrt_ctx *c, const char *name, uint64_t *off,
			     enum pyrt_reg *reg)
{
	struct elf_sym sym;
	uint8_t code[32];
	uint64_t at;
	int err;

	*off = 0;
	err = elf_file__find_sym(c->ef, name, &sym);
	if (err)
		return err;
	if (elf_file__read(c->ef, sym.value, code, sizeof(code)))
		memset(code, 0, sizeof(code)); /* decodes as bad: offset 0 */
	pyrt__pick_probe(code, sizeof(code), &at, reg);
	return elf_file__vaddr_to_off(c->ef, sym.value + at, off);
}

/*
 * A static function of stripped _asyncio found through relocations: tp_call
 * of the type named tname, or ml_meth of the method mname (3.8-3.11 only,
 * where these live in statically initialised data).
 */
static uint64_t asyncio__find_stripped(struct elf_file *ef, const char *tname, const char *mname)
{
	uint64_t refs[8], fn, off;
	int i, n;

	if (!tname && !mname)
		return 0;
	n = elf_file__string_refs(ef, tname ? tname : mname, refs, 8);
	for (i = 0; i < n && i < 8; i++) {
		uint64_t slot = tname ? refs[i] - 24 + TP_CALL : refs[i] + 8;

		if (!elf_file__read_ptr(ef, slot, &fn) && elf_file__is_text(ef, fn) &&
		    !elf_file__vaddr_to_off(ef, fn, &off))
			return off;
	}
	return 0;
}

#define SPEC_SLOTS   24 /* offsetof(PyType_Spec, slots) */
#define SLOT_TP_CALL 50 /* Py_tp_call (typeslots.h, stable ABI) */
#define SPEC_MAX     64 /* slots looked at before the {0, NULL} that ends them */

/*
 * 3.12+: _asyncio's types are heap types made from a PyType_Spec, whose
 * name is tname ("_asyncio.TaskStepMethWrapper"): tp_call is the function
 * of its Py_tp_call slot. Both live in statically initialised data.
 */
static uint64_t asyncio__find_spec(struct elf_file *ef, const char *tname)
{
	uint64_t refs[8], slots, fn, off;
	int32_t id;
	int n;

	n = elf_file__string_refs(ef, tname, refs, 8);
	for (int i = 0; i < n && i < 8; i++) {
		if (elf_file__read_ptr(ef, refs[i] + SPEC_SLOTS, &slots))
			continue;
		for (int j = 0; j < SPEC_MAX; j++) {
			if (elf_file__read(ef, slots + 16 * j, &id, sizeof(id)) || !id)
				break;
			if (id == SLOT_TP_CALL &&
			    !elf_file__read_ptr(ef, slots + 16 * j + 8, &fn) &&
			    elf_file__is_text(ef, fn) && !elf_file__vaddr_to_off(ef, fn, &off))
				return off;
		}
	}
	return 0;
}

static uint64_t asyncio__find(struct elf_file *ef, const char *sym_name, const char *tname,
			      const char *mname)
{
	struct elf_sym sym;
	uint64_t off;

	if (!elf_file__find_sym(ef, sym_name, &sym) && sym.type == STT_FUNC &&
	    !elf_file__vaddr_to_off(ef, sym.value, &off))
		return off;
	return asyncio__find_stripped(ef, tname, mname);
}

/* TaskStepMethWrapper_call and the wakeup hook of a mapped _asyncio. */
static void pyrt__asyncio(struct pyrt_ctx *c)
{
	struct pyrt_info *out = c->out;
	const struct procmap *m;
	struct elf_file *ef;
	bool old = out->minor <= 9;

	m = procmaps__find_file(c->pm, "_asyncio.cpython-*.so", NULL);
	if (!m)
		m = procmaps__find_file(c->pm, "_asyncio*.so", NULL);
	if (!m)
		return;
	copy_str(out->asyncio_path, sizeof(out->asyncio_path), m->path);
	open_path(c, m, m->path, out->asyncio_open, sizeof(out->asyncio_open));
	if (elf_file__open(out->asyncio_open, &ef)) {
		copy_str(out->asyncio_note, sizeof(out->asyncio_note), "cannot read _asyncio");
		return;
	}
	out->task_step_off = asyncio__find(ef, "TaskStepMethWrapper_call",
					   out->minor <= 11 ? "TaskStepMethWrapper" : NULL, NULL);
	if (!out->task_step_off && out->minor >= 12)
		out->task_step_off = asyncio__find_spec(ef, "_asyncio.TaskStepMethWrapper");
	out->task_wakeup_off =
		asyncio__find(ef, old ? "TaskWakeupMethWrapper_call" : "task_wakeup",
			      old ? "TaskWakeupMethWrapper" : NULL, old ? NULL : "task_wakeup");
	if (!out->task_step_off || !out->task_wakeup_off)
		copy_str(out->asyncio_note, sizeof(out->asyncio_note),
			 out->minor >= 12
				 ? "task hooks not found in _asyncio (3.12+: in its PyType_Spec)"
				 : "task hooks not found in _asyncio");
	elf_file__close(ef);
}

/* The fields of 3.13's _Py_DebugOffsets and the table field each must equal. */
static const struct {
	enum pydebug_field dbg;
	__u16 field; /* offsetof(struct ap_py_offsets, ...) */
} debug_checks[] = {
#define DBG(d, f)                                    \
	{                                            \
		d, offsetof(struct ap_py_offsets, f) \
	}
	DBG(PD_TSTATE_CURRENT_FRAME, tstate_frame),
	DBG(PD_FRAME_PREVIOUS, frame_back),
	DBG(PD_FRAME_EXECUTABLE, frame_code),
	DBG(PD_FRAME_INSTR_PTR, frame_lasti),
	DBG(PD_FRAME_OWNER, frame_owner),
	DBG(PD_CODE_FILENAME, code_filename),
	DBG(PD_CODE_NAME, code_name),
	DBG(PD_CODE_QUALNAME, code_qualname),
	DBG(PD_CODE_LINETABLE, code_linetable),
	DBG(PD_CODE_FIRSTLINENO, code_firstlineno),
	DBG(PD_CODE_ADAPTIVE, code_adaptive),
	DBG(PD_OB_TYPE, ob_type),
	DBG(PD_TP_NAME, tp_name),
	DBG(PD_LONG_LV_TAG, long_size),
	DBG(PD_LONG_DIGIT, long_digits),
	DBG(PD_STR_STATE, str_state),
	DBG(PD_STR_LENGTH, str_length),
	DBG(PD_STR_ASCII_SIZE, str_ascii_data),
#undef DBG
};

/*
 * 3.13+: the interpreter's own _Py_DebugOffsets at _PyRuntime+0, read from
 * the live process and checked (user/pydebug.c). A free-threaded build is
 * refused (-EPROTONOSUPPORT): its objects are laid out differently and it
 * has no GIL to wait for.
 */
static int pyrt__debug_offsets(struct pyrt_ctx *c)
{
	struct pyrt_info *out = c->out;
	unsigned char buf[PYDEBUG_MAX_BYTES];
	int err;

	if (out->major != 3 || out->minor < 13 || !out->runtime_addr || c->pid <= 0)
		return 0;
	if (read_live(c->pid, out->runtime_addr, buf, sizeof(buf)))
		return 0; /* nothing to read it from; a table, where there is one, stands */
	err = pydebug__parse(buf, sizeof(buf), &out->dbg);
	/* a layout not known yet, or no table where no hand-made one is either: the
	 * version is what is unsupported, and the caller says so */
	if (err == -ENOTSUP || (err && !pyrt_offsets__find(out->major, out->minor)))
		return 0;
	if (err)
		return pyrt__fail(out, -ENOTSUP, "%s _Py_DebugOffsets at _PyRuntime %#llx",
				  err == -ENOENT ? "no" : "implausible",
				  (unsigned long long)out->runtime_addr);
	if (out->dbg.major != (unsigned)out->major || out->dbg.minor != (unsigned)out->minor)
		return pyrt__fail(out, -ENOTSUP, "_Py_DebugOffsets of %u.%u in CPython %s",
				  out->dbg.major, out->dbg.minor, out->version);
	out->have_dbg = true;
	if (out->dbg.free_threaded)
		return pyrt__fail(out, -EPROTONOSUPPORT,
				  "free-threaded CPython %s (built without the GIL) is not "
				  "supported",
				  out->version);
	return 0;
}

/*
 * 3.14+: _asyncio's own table (.AsyncioDebug), in its .so once asyncio is
 * imported, or in the interpreter where the module is built in (3.15),
 * read from the live process. Not there yet: no table, not an error.
 */
static void pyrt__asyncio_debug(struct pyrt_ctx *c)
{
	struct pyrt_info *out = c->out;
	unsigned char buf[PYDEBUG_ASYNCIO_BYTES];
	struct elf_file *ef = c->ef, *so = NULL;
	const struct procmap *m;
	uint64_t vaddr, size, bias = c->bias;
	char path[PATH_MAX + 64];

	if (!out->have_dbg || out->minor < 14)
		return;
	m = procmaps__find_file(c->pm, "_asyncio.cpython-*.so", NULL);
	if (m) {
		open_path(c, m, m->path, path, sizeof(path));
		if (elf_file__open(path, &so) ||
		    procmaps__load_bias(c->pm, m->path, elf_file__type(so) == ET_DYN,
					elf_file__first_load_vaddr(so), &bias))
			goto out;
		ef = so;
	}
	if (elf_file__find_section(ef, ".AsyncioDebug", &vaddr, &size) ||
	    size < PYDEBUG_ASYNCIO_BYTES || read_live(c->pid, vaddr + bias, buf, sizeof(buf)))
		goto out;
	out->have_aio_dbg = !pydebug__parse_asyncio(buf, sizeof(buf), &out->aio_dbg);
	out->asyncio_builtin = out->have_aio_dbg && !so;
out:
	elf_file__close(so);
}

/* 3.13: the hand-made table must agree with the interpreter's own. */
static int pyrt__check_debug_offsets(struct pyrt_ctx *c)
{
	struct pyrt_info *out = c->out;
	size_t i;

	if (out->minor != 13 || !out->have_dbg)
		return 0;
	for (i = 0; i < sizeof(debug_checks) / sizeof(debug_checks[0]); i++) {
		__u32 want;
		uint64_t got = out->dbg.off[debug_checks[i].dbg];

		memcpy(&want, (const char *)out->off + debug_checks[i].field, sizeof(want));
		if (got != want)
			return pyrt__fail(out, -ENOTSUP,
					  "offset table disagrees with _Py_DebugOffsets: %s is "
					  "%llu, table has %u",
					  pydebug__name(debug_checks[i].dbg),
					  (unsigned long long)got, want);
	}
	return 0;
}

/*
 * 3.14+: where the stack walker finds a thread's state, from the code of
 * PyGILState_GetThisThreadState; a key is checked in the live process (a
 * created Py_tss_t holding a key the walker can follow).
 */
static int pyrt__tss(struct pyrt_ctx *c, uint64_t rt_vaddr)
{
	struct pyrt_info *out = c->out;
	struct elf_sym sym;
	uint8_t code[64];
	__s32 tss[2];

	if (elf_file__find_sym(c->ef, "PyGILState_GetThisThreadState", &sym) ||
	    elf_file__read(c->ef, sym.value, code, sizeof(code)) ||
	    pyrt__decode_tss(code, sizeof(code), sym.value, rt_vaddr, out->runtime_size, &out->tss))
		return pyrt__fail(out, -ENOTSUP,
				  "cannot tell where CPython %s keeps a thread's state "
				  "(PyGILState_GetThisThreadState)",
				  out->version);
	if (out->tss.kind != PYRT_TSS_KEY)
		return 0;
	if (read_live(c->pid, out->runtime_addr + out->tss.key_off, tss, sizeof(tss)) ||
	    tss[0] != 1 || tss[1] < 0 || tss[1] >= 32)
		return pyrt__fail(out, -ENOTSUP,
				  "CPython %s: no thread-state key at _PyRuntime+%#llx",
				  out->version, (unsigned long long)out->tss.key_off);
	out->own_off.rt_autotss_key = (__u32)out->tss.key_off;
	return 0;
}

/* 3.14+: the offsets from the interpreter's own tables, and full mode's where the build is
 * Debian's. */
static int pyrt__offsets_from_debug(struct pyrt_ctx *c, uint64_t rt_vaddr)
{
	struct pyrt_info *out = c->out;
	bool full;
	int err;

	err = pyrt_offsets__from_debug(&out->dbg, out->have_aio_dbg ? &out->aio_dbg : NULL,
				       &out->own_off, &out->code_flags, &full);
	if (err == -ENOTSUP)
		return 0; /* a version whose public layouts are not known: unsupported */
	if (err)
		return pyrt__fail(out, -ENOTSUP,
				  "the _Py_DebugOffsets of CPython %s lack a field the stack "
				  "walk needs",
				  out->version);
	out->frame_locals = (uint32_t)out->dbg.off[PD_FRAME_LOCALSPLUS];
	err = pyrt__tss(c, rt_vaddr);
	if (err)
		return err;
	out->off = &out->own_off;
	out->light_only = !full;
	return 0;
}

/* Everything CPython-specific, once py_path is known and open. */
static int pyrt__cpython(struct pyrt_ctx *c)
{
	struct pyrt_info *out = c->out;
	struct elf_sym sym;

	int err;

	if (pyrt__version(c->ef, out))
		return pyrt__fail(out, -ENOENT, "cannot read the CPython version of %s",
				  out->py_path);
	if (!elf_file__find_sym(c->ef, "_PyRuntime", &sym)) {
		out->runtime_addr = sym.value + c->bias;
		out->runtime_size = sym.size;
	}
	err = pyrt__debug_offsets(c);
	if (err)
		return err;
	pyrt__asyncio_debug(c);
	out->off = pyrt_offsets__find(out->major, out->minor);
	pyrt_offsets__light(out->minor, &out->code_flags, &out->frame_locals);
	if (!out->off && out->have_dbg && out->runtime_addr) {
		err = pyrt__offsets_from_debug(c, sym.value);
		if (err)
			return err;
	}
	if (!out->off)
		return pyrt__fail(out, -ENOTSUP,
				  "unsupported CPython version %s (supported: 3.8 to 3.15)",
				  out->version);
	out->have_threads =
		!pythread__offsets(out->minor, out->have_dbg ? &out->dbg : NULL, &out->threads);
	/* without it the uprobe backend cannot run; the syscall one still can (error says why) */
	pyrt__context_run(c);
	pyrt__probe_point(c, "PyContext_Enter", &out->ctx_enter_off, &out->enter_ctx_reg);
	pyrt__probe_point(c, "PyContext_Exit", &out->ctx_exit_off, &out->exit_ctx_reg);
	pyrt__asyncio(c);
	return pyrt__check_debug_offsets(c);
}

static int read_exe(const char *procdir, struct pyrt_info *out)
{
	char path[PATH_MAX];
	ssize_t n;
	char *del;

	snprintf(path, sizeof(path), "%s/exe", procdir);
	n = readlink(path, out->exe, sizeof(out->exe) - 1);
	if (n < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	out->exe[n] = 0;
	del = strstr(out->exe, " (deleted)");
	if (del && !del[10])
		*del = 0;
	return 0;
}

int pyrt__probe_dir(const char *procdir, int pid, struct pyrt_info *out)
{
	struct pyrt_ctx c = {.pid = pid, .out = out};
	const struct procmap *m;
	char path[PATH_MAX];
	int err;

	memset(out, 0, sizeof(*out));
	if (other_mnt_ns(procdir))
		snprintf(out->root, sizeof(out->root), "%s/root", procdir);
	err = read_exe(procdir, out);
	if (err)
		return pyrt__fail(out, err, "cannot read %s/exe: %s", procdir, strerror(-err));
	snprintf(path, sizeof(path), "%s/maps", procdir);
	err = procmaps__load(path, &c.pm);
	if (err)
		return pyrt__fail(out, err == -ENOENT ? -ESRCH : err, "cannot read %s: %s", path,
				  strerror(-err));
	if (pyrt__is_node(&c)) {
		out->runtime = PYRT_NODE;
		goto out_free;
	}
	if (pyrt__find_py(&c))
		goto out_free; /* neither Python nor Node: runtime unknown, not an error */
	out->runtime = PYRT_CPYTHON;
	m = procmaps__find_file(c.pm, "uvloop/loop.cpython-*.so", NULL);
	err = pyrt__cpython(&c);
	if (m)
		copy_str(out->uvloop_path, sizeof(out->uvloop_path), m->path);
out_free:
	elf_file__close(c.ef);
	procmaps__free(c.pm);
	return err;
}

int pyrt__probe(int pid, struct pyrt_info *out)
{
	char dir[32];

	if (pid <= 0) {
		memset(out, 0, sizeof(*out));
		return pyrt__fail(out, -ESRCH, "invalid pid %d", pid);
	}
	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	return pyrt__probe_dir(dir, pid, out);
}
