// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * _Py_DebugOffsets, read by layout: the table is a run of uint64_t words,
 * struct after struct, each struct starting with its own size (but the
 * header and 3.15's err_stackitem). The word positions below are those of
 * CPython's Include/internal/pycore_debug_offsets.h of each version, as
 * Debian installs it (3.14.10, 3.15.2) and as 3.13.0 has it; the unit test
 * reads the tables of real interpreters (tests/unit/fixtures/pydebug_*.txt).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "pydebug.h"

#define PYDEBUG_COOKIE "xdebugpy"

/* Word position of a field and of the size of the struct it belongs to; 0: absent. */
struct pd_pos {
	unsigned char at, size;
};

struct pd_layout {
	unsigned minor;
	unsigned words;
	struct pd_pos f[PD__N];
};

/* 3.13.0: runtime 3, interpreter 6, thread 19, frame 28, code 34, object 44, type 46,
 * long 61, unicode 67 (73 words). */
static const struct pd_layout py313 = {
	.minor = 13,
	.words = 73,
	.f =
		{
			[PD_INTERPRETERS_HEAD] = {5, 3},  [PD_THREADS_HEAD] = {9, 6},
			[PD_GIL_LOCKED] = {17, 6},	  [PD_GIL_HOLDER] = {18, 6},
			[PD_TSTATE_NEXT] = {21, 19},	  [PD_TSTATE_CURRENT_FRAME] = {23, 19},
			[PD_TSTATE_THREAD_ID] = {24, 19}, [PD_TSTATE_NATIVE_THREAD_ID] = {25, 19},
			[PD_FRAME_PREVIOUS] = {29, 28},	  [PD_FRAME_EXECUTABLE] = {30, 28},
			[PD_FRAME_INSTR_PTR] = {31, 28},  [PD_FRAME_LOCALSPLUS] = {32, 28},
			[PD_FRAME_OWNER] = {33, 28},	  [PD_CODE_FILENAME] = {35, 34},
			[PD_CODE_NAME] = {36, 34},	  [PD_CODE_QUALNAME] = {37, 34},
			[PD_CODE_LINETABLE] = {38, 34},	  [PD_CODE_FIRSTLINENO] = {39, 34},
			[PD_CODE_ADAPTIVE] = {43, 34},	  [PD_OB_TYPE] = {45, 44},
			[PD_TP_NAME] = {47, 46},	  [PD_TP_FLAGS] = {49, 46},
			[PD_LONG_LV_TAG] = {62, 61},	  [PD_LONG_DIGIT] = {63, 61},
			[PD_STR_STATE] = {68, 67},	  [PD_STR_LENGTH] = {69, 67},
			[PD_STR_ASCII_SIZE] = {70, 67},
		},
};

/* 3.14: threads.main and the tlbc fields, stackpointer, sets, generators, debugger support:
 * runtime 3, interpreter 6, thread 22, frame 31, code 39, object 50, type 52, long 71,
 * unicode 77, generator 83 (95 words). */
static const struct pd_layout py314 = {
	.minor = 14,
	.words = 95,
	.f =
		{
			[PD_INTERPRETERS_HEAD] = {5, 3},
			[PD_THREADS_HEAD] = {9, 6},
			[PD_THREADS_MAIN] = {10, 6},
			[PD_GIL_LOCKED] = {18, 6},
			[PD_GIL_HOLDER] = {19, 6},
			[PD_TSTATE_NEXT] = {24, 22},
			[PD_TSTATE_CURRENT_FRAME] = {26, 22},
			[PD_TSTATE_THREAD_ID] = {27, 22},
			[PD_TSTATE_NATIVE_THREAD_ID] = {28, 22},
			[PD_FRAME_PREVIOUS] = {32, 31},
			[PD_FRAME_EXECUTABLE] = {33, 31},
			[PD_FRAME_INSTR_PTR] = {34, 31},
			[PD_FRAME_LOCALSPLUS] = {35, 31},
			[PD_FRAME_OWNER] = {36, 31},
			[PD_FRAME_STACKPOINTER] = {37, 31},
			[PD_CODE_FILENAME] = {40, 39},
			[PD_CODE_NAME] = {41, 39},
			[PD_CODE_QUALNAME] = {42, 39},
			[PD_CODE_LINETABLE] = {43, 39},
			[PD_CODE_FIRSTLINENO] = {44, 39},
			[PD_CODE_ADAPTIVE] = {48, 39},
			[PD_OB_TYPE] = {51, 50},
			[PD_TP_NAME] = {53, 52},
			[PD_TP_FLAGS] = {55, 52},
			[PD_LONG_LV_TAG] = {72, 71},
			[PD_LONG_DIGIT] = {73, 71},
			[PD_STR_STATE] = {78, 77},
			[PD_STR_LENGTH] = {79, 77},
			[PD_STR_ASCII_SIZE] = {80, 77},
			[PD_GEN_NAME] = {84, 83},
			[PD_GEN_IFRAME] = {85, 83},
			[PD_GEN_FRAME_STATE] = {86, 83},
		},
};

/* 3.15: a longer thread state, err_stackitem, heap types, more type, unicode and gc
 * fields: runtime 3, interpreter 6, thread 22, frame 39, code 47, object 58, type 60,
 * long 83, unicode 89, generator 99 (111 words). */
static const struct pd_layout py315 = {
	.minor = 15,
	.words = 111,
	.f =
		{
			[PD_INTERPRETERS_HEAD] = {5, 3},
			[PD_THREADS_HEAD] = {9, 6},
			[PD_THREADS_MAIN] = {10, 6},
			[PD_GIL_LOCKED] = {18, 6},
			[PD_GIL_HOLDER] = {19, 6},
			[PD_TSTATE_NEXT] = {24, 22},
			[PD_TSTATE_CURRENT_FRAME] = {26, 22},
			[PD_TSTATE_THREAD_ID] = {30, 22},
			[PD_TSTATE_NATIVE_THREAD_ID] = {31, 22},
			[PD_FRAME_PREVIOUS] = {40, 39},
			[PD_FRAME_EXECUTABLE] = {41, 39},
			[PD_FRAME_INSTR_PTR] = {42, 39},
			[PD_FRAME_LOCALSPLUS] = {43, 39},
			[PD_FRAME_OWNER] = {44, 39},
			[PD_FRAME_STACKPOINTER] = {45, 39},
			[PD_CODE_FILENAME] = {48, 47},
			[PD_CODE_NAME] = {49, 47},
			[PD_CODE_QUALNAME] = {50, 47},
			[PD_CODE_LINETABLE] = {51, 47},
			[PD_CODE_FIRSTLINENO] = {52, 47},
			[PD_CODE_ADAPTIVE] = {56, 47},
			[PD_OB_TYPE] = {59, 58},
			[PD_TP_NAME] = {61, 60},
			[PD_TP_FLAGS] = {63, 60},
			[PD_LONG_LV_TAG] = {84, 83},
			[PD_LONG_DIGIT] = {85, 83},
			[PD_STR_STATE] = {90, 89},
			[PD_STR_LENGTH] = {91, 89},
			[PD_STR_ASCII_SIZE] = {92, 89},
			[PD_GEN_NAME] = {100, 99},
			[PD_GEN_IFRAME] = {101, 99},
			[PD_GEN_FRAME_STATE] = {102, 99},
		},
};

static const struct pd_layout *const layouts[] = {&py313, &py314, &py315};

static const char *const names[PD__N] = {
	[PD_INTERPRETERS_HEAD] = "runtime_state.interpreters_head",
	[PD_THREADS_HEAD] = "interpreter_state.threads_head",
	[PD_THREADS_MAIN] = "interpreter_state.threads_main",
	[PD_GIL_LOCKED] = "interpreter_state.gil_runtime_state_locked",
	[PD_GIL_HOLDER] = "interpreter_state.gil_runtime_state_holder",
	[PD_TSTATE_NEXT] = "thread_state.next",
	[PD_TSTATE_CURRENT_FRAME] = "thread_state.current_frame",
	[PD_TSTATE_THREAD_ID] = "thread_state.thread_id",
	[PD_TSTATE_NATIVE_THREAD_ID] = "thread_state.native_thread_id",
	[PD_FRAME_PREVIOUS] = "interpreter_frame.previous",
	[PD_FRAME_EXECUTABLE] = "interpreter_frame.executable",
	[PD_FRAME_INSTR_PTR] = "interpreter_frame.instr_ptr",
	[PD_FRAME_LOCALSPLUS] = "interpreter_frame.localsplus",
	[PD_FRAME_OWNER] = "interpreter_frame.owner",
	[PD_FRAME_STACKPOINTER] = "interpreter_frame.stackpointer",
	[PD_CODE_FILENAME] = "code_object.filename",
	[PD_CODE_NAME] = "code_object.name",
	[PD_CODE_QUALNAME] = "code_object.qualname",
	[PD_CODE_LINETABLE] = "code_object.linetable",
	[PD_CODE_FIRSTLINENO] = "code_object.firstlineno",
	[PD_CODE_ADAPTIVE] = "code_object.co_code_adaptive",
	[PD_OB_TYPE] = "pyobject.ob_type",
	[PD_TP_NAME] = "type_object.tp_name",
	[PD_TP_FLAGS] = "type_object.tp_flags",
	[PD_LONG_LV_TAG] = "long_object.lv_tag",
	[PD_LONG_DIGIT] = "long_object.ob_digit",
	[PD_STR_STATE] = "unicode_object.state",
	[PD_STR_LENGTH] = "unicode_object.length",
	[PD_STR_ASCII_SIZE] = "unicode_object.asciiobject_size",
	[PD_GEN_NAME] = "gen_object.gi_name",
	[PD_GEN_IFRAME] = "gen_object.gi_iframe",
	[PD_GEN_FRAME_STATE] = "gen_object.gi_frame_state",
};

const char *pydebug__name(enum pydebug_field f)
{
	return f < PD__N ? names[f] : "?";
}

static uint64_t word(const void *buf, unsigned i)
{
	uint64_t v;

	memcpy(&v, (const char *)buf + 8 * (size_t)i, sizeof(v));
	return v;
}

/*
 * Every field inside its struct (the size of a PyASCIIObject may equal the
 * unicode struct's), and a PyObject the 16 bytes of a 64-bit build.
 */
static int pd_check(const void *buf, const struct pd_layout *l, struct pydebug *out)
{
	for (int f = 0; f < PD__N; f++) {
		const struct pd_pos *p = &l->f[f];
		uint64_t v, size;

		if (!p->at)
			continue;
		v = word(buf, p->at);
		size = word(buf, p->size);
		if (size > (1u << 20) || (f == PD_STR_ASCII_SIZE ? v > size : v >= size))
			return -EINVAL;
		out->off[f] = v;
		out->present |= 1ull << f;
	}
	return out->off[PD_OB_TYPE] == 8 && word(buf, l->f[PD_OB_TYPE].size) == 16 ? 0 : -EINVAL;
}

int pydebug__parse(const void *buf, size_t len, struct pydebug *out)
{
	const struct pd_layout *l = NULL;
	uint64_t v, ft;

	memset(out, 0, sizeof(*out));
	if (len < 24 || memcmp(buf, PYDEBUG_COOKIE, 8))
		return -ENOENT;
	v = word(buf, 1);
	ft = word(buf, 2);
	out->version_hex = v;
	out->major = v >> 24 & 0xff;
	out->minor = v >> 16 & 0xff;
	out->micro = v >> 8 & 0xff;
	if (ft > 1)
		return -EINVAL;
	out->free_threaded = ft;
	for (size_t i = 0; out->major == 3 && i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i]->minor == out->minor)
			l = layouts[i];
	if (!l)
		return -ENOTSUP;
	if (len < 8 * (size_t)l->words)
		return -EINVAL;
	return pd_check(buf, l, out);
}

/* 3.14's Py_AsyncioModuleDebugOffsets: task 0-6, interpreter 7-8, thread 9-12 (words). */
int pydebug__parse_asyncio(const void *buf, size_t len, struct pydebug_asyncio *out)
{
	static const struct {
		unsigned char at, size;
		size_t field; /* offsetof(struct pydebug_asyncio, ...) */
	} map[] = {
		{0, 0, offsetof(struct pydebug_asyncio, task_size)},
		{1, 0, offsetof(struct pydebug_asyncio, task_name)},
		{2, 0, offsetof(struct pydebug_asyncio, task_awaited_by)},
		{3, 0, offsetof(struct pydebug_asyncio, task_is_task)},
		{5, 0, offsetof(struct pydebug_asyncio, task_coro)},
		{6, 0, offsetof(struct pydebug_asyncio, task_node)},
		{8, 7, offsetof(struct pydebug_asyncio, interp_tasks_head)},
		{10, 9, offsetof(struct pydebug_asyncio, tstate_running_loop)},
		{11, 9, offsetof(struct pydebug_asyncio, tstate_running_task)},
		{12, 9, offsetof(struct pydebug_asyncio, tstate_tasks_head)},
	};

	memset(out, 0, sizeof(*out));
	if (len < PYDEBUG_ASYNCIO_BYTES)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		uint64_t v = word(buf, map[i].at), size = word(buf, map[i].size);

		/* the task's size bounds itself: at most a page of fields */
		if (!size || size > (1u << 20) || (i && v >= size) || (!i && v > 4096))
			return -EINVAL;
		memcpy((char *)out + map[i].field, &v, sizeof(v));
	}
	return 0;
}
