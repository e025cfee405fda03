/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * String helpers for data read from the target: UTF-8 validation, escaping
 * for the terminal, Python name decoding, path and address formatting,
 * human-friendly durations. Functions writing into buf always NUL-terminate
 * it (when size > 0) and return the length written or a negative errno.
 */
#ifndef AP_STRUTIL_H
#define AP_STRUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "asyncprof.h"

/*
 * Length (1-4) of the well-formed UTF-8 sequence at s, reading at most len
 * bytes, or 0 if it is not one (bad lead byte, bad or missing continuation,
 * overlong form, surrogate, beyond U+10FFFF).
 */
size_t utf8__seq_len(const unsigned char *s, size_t len);

/*
 * Escape s[0..len) for a terminal: printable ASCII and valid UTF-8 pass
 * through, except '\\' which doubles; control characters (ESC included),
 * DEL, C1 controls (U+0080-U+009F), bidirectional overrides (U+202A-U+202E,
 * U+2066-U+2069) and invalid UTF-8 bytes become \xNN per byte. An escape
 * is never split: when buf is too small the output ends with "...".
 * Returns the length written.
 */
size_t strutil__escape_term(const char *s, size_t len, char *buf, size_t size);
/* strutil__escape_term of a C string; NULL becomes "-". Returns buf. */
const char *strutil__term(const char *s, char *buf, size_t size);

/*
 * Join AP_DETAIL_PATH components (NUL-terminated, leaf first; the last may
 * be unterminated) into "/a/b/leaf". Empty and "/" components are skipped.
 * -ENOENT when there is no component, -ENOSPC when buf is too small.
 */
int strutil__join_path(const void *detail, size_t len, char *buf, size_t size);

/* "127.0.0.1:8080" or "[::1]:8080". -EAFNOSUPPORT for another family. */
int strutil__format_inet(const struct ap_inet_addr *a, char *buf, size_t size);

/*
 * Decode a name record to UTF-8: LATIN1/UCS2/UCS4 code units (little
 * endian, as x86-64 stores them) to UTF-8, U+0000, lone surrogates and
 * values beyond U+10FFFF as U+FFFD, a trailing partial code unit dropped;
 * AP_STR_INT as "Task-<int_value>". A name BPF truncated gets "..." appended.
 * -EINVAL for an unknown encoding, -ENOSPC when buf is too small (it then
 * holds a valid UTF-8 prefix).
 */
int strutil__decode_name(const struct ap_rec_name *r, char *buf, size_t size);

/*
 * A duration for humans, 3-4 significant digits: "850 ns", "12.3 us",
 * "1.23 ms", "201.4 ms", "2.01 s", "75.0 s".
 */
int strutil__format_ns(uint64_t ns, char *buf, size_t size);

/*
 * The contents (at most 63 bytes, its trailing newlines cut) of a small
 * file such as /proc/PID/comm, malloc'd; NULL when it cannot be read or is
 * empty. A newline inside is kept: a thread may name itself with one.
 */
char *strutil__read_small(const char *path);
/* strutil__read_small of /proc/PID/task/TID/comm: a thread's name now. */
char *strutil__thread_comm(uint32_t pid, uint32_t tid);

#endif /* AP_STRUTIL_H */
