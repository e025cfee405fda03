/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Python line numbers from a code object's line table, as read from the
 * target: co_lnotab (3.6-3.9), the 3.10 co_linetable, and the 3.11+
 * location table in co_linetable (CPython's Objects/locations.md). The
 * result is what CPython's PyCode_Addr2Line() gives for the frame, i.e.
 * what frame.f_lineno and tracebacks show.
 *
 * The table comes from another process: decoding never reads past len,
 * and every loop consumes at least one byte or stops at pos.
 */
#ifndef AP_PYLINE_H
#define AP_PYLINE_H

#include <stddef.h>
#include <stdint.h>

/*
 * pos of a frame that has not executed an instruction yet (f_lasti == -1,
 * or prev_instr one code unit before the code on 3.11/3.12). Computing
 * (u32)(s32)lasti or the u64 (prev_instr - code) / 2 of the 3.11 doc both
 * give this value. The answer is co_firstlineno, as in CPython.
 */
#define PYLINE_POS_START UINT32_MAX

/*
 * Line number of the instruction at pos in a code object of CPython
 * major.minor whose co_firstlineno is firstlineno and whose line table is
 * table[0..len) (co_lnotab up to 3.9, co_linetable from 3.10).
 *
 * pos is the frame's own position field, unadjusted, the value CPython
 * itself uses for frame.f_lineno (_PyInterpreterFrame_LASTI):
 *
 *   3.6-3.9  PyFrameObject.f_lasti, a BYTE offset into co_code (the
 *            instruction being executed; co_lnotab is in bytes).
 *   3.10     PyFrameObject.f_lasti as stored in 3.10, in CODE UNITS
 *            (2-byte words; CPython calls PyCode_Addr2Line(co, f_lasti*2)).
 *   3.11,    the code-unit index of the instruction being executed:
 *   3.12     (prev_instr - (code + co_code_adaptive)) / 2. prev_instr points
 *            AT the current instruction (the interpreter sets it as each
 *            instruction starts); in a caller frame it is the CALL.
 *   3.13     (instr_ptr - (code + co_code_adaptive)) / 2, no -1: instr_ptr
 *            is the instruction being executed, the CALL in a caller frame,
 *            and in a suspended generator/coroutine the instruction it will
 *            resume at (the RESUME after YIELD_VALUE). CPython derives the
 *            line from exactly this index, so pass it as is.
 *
 * Cache entries (3.11+) and EXTENDED_ARG units are covered by the table, so
 * any pos inside the code resolves.
 *
 * Returns the line (>= 0), or:
 *   -ENODATA     pos lies in a range with no line: 3.10 line delta -128,
 *                3.11+ code 15 "no location" (PyCode_Addr2Line returns -1
 *                there; show co_firstlineno or "?" as you see fit)
 *   -ENOENT      pos is past the end of the table (3.10+; before 3.10 the
 *                last line extends to the end, as in CPython)
 *   -EINVAL      malformed table (bad entry byte, truncated or oversized
 *                varint, NULL table with len > 0)
 *   -ERANGE      the computed line is negative or beyond INT_MAX
 *   -EOPNOTSUPP  a version other than 3.6-3.13
 * pos == PYLINE_POS_START returns firstlineno for every supported version.
 */
int pyline__line(unsigned major, unsigned minor, const uint8_t *table, size_t len, int firstlineno,
		 uint32_t pos);

#endif /* AP_PYLINE_H */
