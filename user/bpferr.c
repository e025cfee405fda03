// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One line from a failed load's libbpf output: which program, and why. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "bpferr.h"

static struct {
	char prog[64];	    /* the program the last "prog '...'" message names */
	char reason[256];   /* the best line so far */
	bool in_log;	    /* between BEGIN and END PROG LOAD LOG */
	bool reason_is_log; /* reason came from the verifier: libbpf's lines don't replace it */
} st;

static void copy_trimmed(char *dst, size_t n, const char *src)
{
	size_t len;

	while (*src == ' ' || *src == '\t')
		src++;
	snprintf(dst, n, "%s", src);
	len = strlen(dst);
	while (len && (dst[len - 1] == '\n' || dst[len - 1] == ' ' || dst[len - 1] == '.'))
		dst[--len] = '\0';
}

/* Verifier lines that are the trace or the statistics, not the reason. */
static bool log_noise(const char *l)
{
	static const char *const prefixes[] = {"processed ",   "verification time",
					       "stack depth",  "max_states_per_insn",
					       "from ",	       "func#",
					       "last_idx",     "regs=",
					       "parent ",      "Validating",
					       "safe",	       "propagating",
					       "mark_precise", ";"};

	while (*l == ' ' || *l == '\t')
		l++;
	if (!*l || *l == '\n' || isdigit((unsigned char)*l) || *l == '(' || *l == '-')
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(l, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* "libbpf: prog 'NAME': rest" → NAME into st.prog, returns rest; else NULL. */
static const char *prog_message(const char *l)
{
	const char *p = strstr(l, "prog '"), *q;

	if (!p)
		return NULL;
	p += 6;
	q = strchr(p, '\'');
	if (!q || q[1] != ':')
		return NULL;
	snprintf(st.prog, sizeof(st.prog), "%.*s", (int)(q - p), p);
	return q + 2;
}

void bpferr__reset(void)
{
	memset(&st, 0, sizeof(st));
}

void bpferr__feed(const char *line)
{
	const char *rest;

	if (strstr(line, "-- BEGIN PROG LOAD LOG --")) {
		prog_message(line);
		st.in_log = true;
		st.reason_is_log = false;
		return;
	}
	if (strstr(line, "-- END PROG LOAD LOG --")) {
		st.in_log = false;
		return;
	}
	if (st.in_log) {
		if (!log_noise(line)) {
			copy_trimmed(st.reason, sizeof(st.reason), line);
			st.reason_is_log = true;
		}
		return;
	}
	rest = prog_message(line);
	if (st.reason_is_log)
		return;
	if (!rest && strncmp(line, "libbpf: ", 8))
		return;
	/* the closing summary says less than the line before it */
	if (st.reason[0] && !strncmp(line, "libbpf: failed to load object", 29))
		return;
	copy_trimmed(st.reason, sizeof(st.reason), rest ? rest : line + 8);
}

/*
 * The verifier's reasons a user meets, in plain words: the first pattern
 * found in the reason picks the text. Others are shown as the kernel wrote
 * them.
 */
static const struct {
	const char *pattern;
	const char *plain;
} plain_reasons[] = {
	{"combined stack size", "this kernel's verifier limits a program's call chain to 512 bytes "
				"of stack"},
	{"stack size", "a program uses more stack than this kernel's verifier allows"},
	{"unknown func", "this kernel lacks a BPF helper the program calls"},
	{"invalid func", "this kernel lacks a BPF helper the program calls"},
	{"program is too large", "the program is past this kernel's verifier limit of "
				 "instructions"},
	{"too many states", "the program is past this kernel's verifier limit of states"},
	{"invalid mem access", "this kernel's verifier refused one of its memory reads"},
	{"failed to find kernel BTF type ID", "this kernel has no hook of that name"},
	{"Permission denied", "the kernel denied the load (privilege, or lockdown)"},
	{"Operation not permitted", "the kernel denied the load (privilege, or lockdown)"},
};

const char *bpferr__plain(const char *reason)
{
	for (size_t i = 0; i < sizeof(plain_reasons) / sizeof(plain_reasons[0]); i++)
		if (strstr(reason, plain_reasons[i].pattern))
			return plain_reasons[i].plain;
	return NULL;
}

const char *bpferr__summary(char *buf, size_t n)
{
	const char *plain = bpferr__plain(st.reason);
	char what[96] = "";

	if (!st.reason[0]) {
		snprintf(buf, n, "%s", "");
		return buf;
	}
	if (st.prog[0])
		snprintf(what, sizeof(what), "program %s: ", st.prog);
	if (plain)
		snprintf(buf, n, "%s%s (\"%s\")", what, plain, st.reason);
	else
		snprintf(buf, n, "%s%s", what, st.reason);
	return buf;
}
