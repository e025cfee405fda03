// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* String helpers for untrusted names, paths and addresses. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "strutil.h"

size_t utf8__seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n, i;
	uint32_t cp;

	if (!len)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0; /* continuation byte, overlong 0xc0/0xc1, or > U+10FFFF */
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff)
		return 0; /* overlong or out of range */
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0; /* surrogate */
	return n;
}

/* Code point of a valid sequence of n bytes. */
static uint32_t utf8_decode(const unsigned char *s, size_t n)
{
	static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	uint32_t cp = s[0] & lead_mask[n];

	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

static bool term_unsafe_cp(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* Append piece to buf if it fits with room for "..." and the NUL. */
static bool term_put(char *buf, size_t size, size_t *pos, const char *piece, size_t n)
{
	if (*pos + n + 4 > size)
		return false;
	memcpy(buf + *pos, piece, n);
	*pos += n;
	return true;
}

static bool term_put_hex(char *buf, size_t size, size_t *pos, const unsigned char *p, size_t n)
{
	char hex[4 * 4 + 1];

	for (size_t i = 0; i < n; i++)
		snprintf(hex + 4 * i, 5, "\\x%02x", p[i]);
	return term_put(buf, size, pos, hex, 4 * n);
}

size_t strutil__escape_term(const char *s, size_t len, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t pos = 0, n;
	bool ok = true;

	if (!size)
		return 0;
	while (ok && p < end) {
		n = utf8__seq_len(p, end - p);
		if (!n || *p < 0x20 || *p == 0x7f) {
			ok = term_put_hex(buf, size, &pos, p, 1);
			n = 1;
		} else if (*p == '\\') {
			ok = term_put(buf, size, &pos, "\\\\", 2);
		} else if (n > 1 && term_unsafe_cp(utf8_decode(p, n))) {
			ok = term_put_hex(buf, size, &pos, p, n);
		} else {
			ok = term_put(buf, size, &pos, (const char *)p, n);
		}
		p += n;
	}
	if (!ok && size >= 4) {
		memcpy(buf + pos, "...", 3);
		pos += 3;
	}
	buf[pos] = '\0';
	return pos;
}

const char *strutil__term(const char *s, char *buf, size_t size)
{
	if (!s)
		s = "-";
	strutil__escape_term(s, strlen(s), buf, size);
	return buf;
}

#define PATH_MAX_COMPONENTS (AP_DETAIL_MAX / 2 + 1)

int strutil__join_path(const void *detail, size_t len, char *buf, size_t size)
{
	const char *d = detail, *comp[PATH_MAX_COMPONENTS];
	size_t clen[PATH_MAX_COMPONENTS], i = 0, ncomp = 0, pos = 0, n;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	if (len > AP_DETAIL_MAX)
		len = AP_DETAIL_MAX;
	while (i < len && ncomp < PATH_MAX_COMPONENTS) {
		n = strnlen(d + i, len - i);
		if (n && !(n == 1 && d[i] == '/')) {
			comp[ncomp] = d + i;
			clen[ncomp++] = n;
		}
		i += n + 1;
	}
	if (!ncomp)
		return -ENOENT;
	while (ncomp--) {
		if (pos + 1 + clen[ncomp] + 1 > size)
			return -ENOSPC;
		buf[pos++] = '/';
		memcpy(buf + pos, comp[ncomp], clen[ncomp]);
		pos += clen[ncomp];
		buf[pos] = '\0';
	}
	return pos;
}

int strutil__format_inet(const struct ap_inet_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (a->family == AF_INET)
		inet_ntop(AF_INET, a->addr, ip, sizeof(ip));
	else if (a->family == AF_INET6)
		inet_ntop(AF_INET6, a->addr, ip, sizeof(ip));
	else
		return -EAFNOSUPPORT;
	if (a->family == AF_INET6)
		n = snprintf(buf, size, "[%s]:%u", ip, a->port);
	else
		n = snprintf(buf, size, "%s:%u", ip, a->port);
	if (n < 0)
		return -EINVAL;
	return (size_t)n < size ? n : -ENOSPC;
}

/* Append cp as UTF-8; false when it does not fit (with the NUL). */
static bool utf8_put(char *buf, size_t size, size_t *pos, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (!cp || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | (cp >> 6);
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | (cp >> 12);
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | (cp >> 18);
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	if (*pos + n + 1 > size)
		return false;
	memcpy(buf + *pos, u, n);
	*pos += n;
	return true;
}

int strutil__decode_name(const struct ap_rec_name *r, char *buf, size_t size)
{
	size_t len = r->len > AP_NAME_MAX ? AP_NAME_MAX : r->len, unit = r->enc, pos = 0;
	uint32_t cp;
	int n;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	if (r->enc == AP_STR_INT) {
		n = snprintf(buf, size, "Task-%llu", (unsigned long long)r->int_value);
		return (size_t)n < size ? n : -ENOSPC;
	}
	if (unit != AP_STR_LATIN1 && unit != AP_STR_UCS2 && unit != AP_STR_UCS4)
		return -EINVAL;
	for (size_t i = 0; i + unit <= len; i += unit) {
		cp = r->name[i];
		if (unit >= 2)
			cp |= (uint32_t)r->name[i + 1] << 8;
		if (unit == 4)
			cp |= (uint32_t)r->name[i + 2] << 16 | (uint32_t)r->name[i + 3] << 24;
		if (!utf8_put(buf, size, &pos, cp)) {
			buf[pos] = '\0';
			return -ENOSPC;
		}
	}
	if (r->truncated) {
		if (pos + 4 > size) {
			buf[pos] = '\0';
			return -ENOSPC;
		}
		memcpy(buf + pos, "...", 3);
		pos += 3;
	}
	buf[pos] = '\0';
	return pos;
}

int strutil__format_ns(uint64_t ns, char *buf, size_t size)
{
	static const struct {
		uint64_t div;
		const char *unit;
	} units[] = {{1000000000ull, "s"}, {1000000ull, "ms"}, {1000ull, "us"}};
	double v;
	int n;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		/* 999.96 ms reads better as "1.00 s" than as "1000.0 ms" */
		if (ns < units[i].div - units[i].div / 20000)
			continue;
		v = (double)ns / units[i].div;
		n = snprintf(buf, size, v < 10 ? "%.2f %s" : "%.1f %s", v, units[i].unit);
		return n >= 0 && (size_t)n < size ? n : -ENOSPC;
	}
	n = snprintf(buf, size, "%llu ns", (unsigned long long)ns);
	return n >= 0 && (size_t)n < size ? n : -ENOSPC;
}

char *strutil__read_small(const char *path)
{
	char buf[64];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	/* only the newline the kernel ends it with: a name may hold others */
	while (n && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return n ? strdup(buf) : NULL;
}

char *strutil__thread_comm(uint32_t pid, uint32_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
	return strutil__read_small(path);
}
