// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A failed load's libbpf output, as the kernel and libbpf write it, made one line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "bpferr.h"

static void feed_all(const char *const *lines)
{
	bpferr__reset();
	for (; *lines; lines++)
		bpferr__feed(*lines);
}

/* Debian 12's 6.1 and this project's 6.18 without private stacks, verbatim. */
static void test_bpferr_combined_stack(void **state)
{
	static const char *const log[] = {
		"libbpf: prog 'deep_outer': BPF program load failed: Permission denied",
		"libbpf: prog 'deep_outer': -- BEGIN PROG LOAD LOG --",
		"Func#1 ('deep_inner') is safe for any args that match its prototype",
		"combined stack size of 2 calls is 576. Too large",
		"processed 649 insns (limit 1000000) max_states_per_insn 4 total_states 12 "
		"peak_states 12 mark_read 0",
		"-- END PROG LOAD LOG --",
		"libbpf: prog 'deep_outer': failed to load: -13",
		"libbpf: failed to load object 'asyncprof_bpf'",
		NULL,
	};
	char buf[320];

	(void)state;
	feed_all(log);
	assert_string_equal(bpferr__summary(buf, sizeof(buf)),
			    "program deep_outer: this kernel's verifier limits a program's call "
			    "chain to 512 bytes of stack (\"combined stack size of 2 calls is 576. "
			    "Too large\")");
}

/* 5.10: a helper it does not have; the trace before the reason is not the reason. */
static void test_bpferr_unknown_helper(void **state)
{
	static const char *const log[] = {
		"libbpf: prog 'ap_sample': BPF program load failed: Invalid argument",
		"libbpf: prog 'ap_sample': -- BEGIN PROG LOAD LOG --",
		"0: R1=ctx(id=0,off=0,imm=0) R10=fp0",
		"; int ap_sample(struct bpf_perf_event_data *ctx)",
		"0: (85) call bpf_get_current_pid_tgid#14",
		"1: R0_w=inv(id=0)",
		"unknown func bpf_loop#181",
		"processed 40 insns (limit 1000000) max_states_per_insn 0 total_states 2",
		"-- END PROG LOAD LOG --",
		"libbpf: prog 'ap_sample': failed to load: -22",
		NULL,
	};
	char buf[320];

	(void)state;
	feed_all(log);
	assert_string_equal(bpferr__summary(buf, sizeof(buf)),
			    "program ap_sample: this kernel lacks a BPF helper the program calls "
			    "(\"unknown func bpf_loop#181\")");
}

/* No verifier log (a map the kernel refuses): libbpf's own last word. */
static void test_bpferr_no_log(void **state)
{
	static const char *const log[] = {
		"libbpf: map 'tasks': failed to create: Argument list too long(-7)",
		"libbpf: failed to load object 'asyncprof_bpf'",
		NULL,
	};
	static const char *const none[] = {NULL};
	char buf[320];

	(void)state;
	feed_all(log);
	assert_string_equal(bpferr__summary(buf, sizeof(buf)),
			    "map 'tasks': failed to create: Argument list too long(-7)");
	feed_all(none);
	assert_string_equal(bpferr__summary(buf, sizeof(buf)), "");
	assert_null(bpferr__plain("some reason nobody wrote down"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bpferr_combined_stack),
		cmocka_unit_test(test_bpferr_unknown_helper),
		cmocka_unit_test(test_bpferr_no_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
