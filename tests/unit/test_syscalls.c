// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Syscall names and the classification of blocking calls, rule by rule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <linux/types.h>
#include <cmocka.h>
#include "asyncprof.h"
#include "syscalls.h"

/* The number of a syscall by name, through the table (checks it too). */
static unsigned nr_of(const char *name)
{
	for (unsigned nr = 0; nr < 1024; nr++) {
		const char *n = syscalls__name(nr);

		if (n && !strcmp(n, name))
			return nr;
	}
	fail_msg("no syscall %s", name);
	return 0;
}

static const char *kind3(const char *name, unsigned fd_type, unsigned long long a0,
			 unsigned long long a1)
{
	unsigned long long args[3] = {a0, a1, 0};

	return syscalls__kind(nr_of(name), fd_type, args);
}

static const char *kind(const char *name)
{
	return kind3(name, AP_FD_NONE, 3, 3);
}

static void test_syscalls_names(void **state)
{
	(void)state;
	assert_string_equal(syscalls__name(0), "read");
	assert_string_equal(syscalls__name(35), "nanosleep");
	assert_string_equal(syscalls__name(202), "futex");
	assert_string_equal(syscalls__name(230), "clock_nanosleep");
	assert_string_equal(syscalls__name(232), "epoll_wait");
	assert_string_equal(syscalls__name(281), "epoll_pwait");
	assert_string_equal(syscalls__name(441), "epoll_pwait2");
	assert_string_equal(syscalls__name(435), "clone3");
	assert_string_equal(syscalls__name(460), "lsm_set_self_attr");
	assert_string_equal(syscalls__name(335), "uretprobe");
	assert_null(syscalls__name(337)); /* the hole before 424 */
	assert_null(syscalls__name(5000));
	assert_null(syscalls__name(~0u));
}

static void test_syscalls_sleep(void **state)
{
	(void)state;
	assert_string_equal(kind("nanosleep"), "sleep");
	assert_string_equal(kind("clock_nanosleep"), "sleep");
	assert_string_equal(kind("pause"), "sleep");
	/* select(0, ...) and poll(fds, 0, t) sleep */
	assert_string_equal(kind3("select", AP_FD_NONE, 0, 0), "sleep");
	assert_string_equal(kind3("pselect6", AP_FD_NONE, 0, 0), "sleep");
	assert_string_equal(kind3("poll", AP_FD_NONE, 0x7fff0000, 0), "sleep");
	assert_string_equal(kind3("ppoll", AP_FD_NONE, 0x7fff0000, 0), "sleep");
}

static void test_syscalls_net(void **state)
{
	(void)state;
	assert_string_equal(kind3("select", AP_FD_NONE, 5, 0), "net");
	assert_string_equal(kind3("pselect6", AP_FD_NONE, 5, 0), "net");
	assert_string_equal(kind3("poll", AP_FD_NONE, 0x7fff0000, 1), "net");
	assert_string_equal(kind3("ppoll", AP_FD_NONE, 0x7fff0000, 2), "net");
	assert_string_equal(kind("epoll_wait"), "net");
	assert_string_equal(kind("epoll_pwait"), "net");
	assert_string_equal(kind("epoll_pwait2"), "net");
	assert_string_equal(kind("connect"), "net");
	assert_string_equal(kind("accept"), "net");
	assert_string_equal(kind("accept4"), "net");
	assert_string_equal(kind("sendto"), "net");
	assert_string_equal(kind("recvfrom"), "net");
	assert_string_equal(kind("sendmsg"), "net");
	assert_string_equal(kind("recvmsg"), "net");
	assert_string_equal(kind("sendmmsg"), "net");
	assert_string_equal(kind("recvmmsg"), "net");
	assert_string_equal(kind("shutdown"), "net");
}

static void test_syscalls_lock(void **state)
{
	(void)state;
	assert_string_equal(kind("futex"), "lock");
	assert_string_equal(kind("futex_waitv"), "lock");
	assert_string_equal(kind("flock"), "lock");
	assert_string_equal(kind3("fcntl", AP_FD_REG, 3, 7), "lock");  /* F_SETLKW */
	assert_string_equal(kind3("fcntl", AP_FD_REG, 3, 38), "lock"); /* F_OFD_SETLKW */
	assert_string_equal(kind3("fcntl", AP_FD_REG, 3, 6), "other"); /* F_SETLK */
}

static void test_syscalls_process(void **state)
{
	(void)state;
	assert_string_equal(kind("wait4"), "process");
	assert_string_equal(kind("waitid"), "process");
	assert_string_equal(kind("clone"), "process");
	assert_string_equal(kind("clone3"), "process");
	assert_string_equal(kind("fork"), "process");
	assert_string_equal(kind("vfork"), "process");
	assert_string_equal(kind("execve"), "process");
}

static void test_syscalls_io_by_fd_type(void **state)
{
	static const char *const io[] = {"read",   "write",  "pread64", "pwrite64", "readv",
					 "writev", "preadv", "pwritev", "sendfile"};

	(void)state;
	for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		assert_string_equal(kind3(io[i], AP_FD_REG, 3, 0), "file");
		assert_string_equal(kind3(io[i], AP_FD_CHR, 3, 0), "file");
		assert_string_equal(kind3(io[i], AP_FD_SOCK, 3, 0), "net");
		assert_string_equal(kind3(io[i], AP_FD_PIPE, 3, 0), "other");
		assert_string_equal(kind3(io[i], AP_FD_OTHER, 3, 0), "other");
		assert_string_equal(kind3(io[i], AP_FD_NONE, 3, 0), "other");
	}
}

static void test_syscalls_file_and_other(void **state)
{
	static const char *const file[] = {
		"open",	      "openat",	   "openat2",	      "stat",	"newfstatat", "statx",
		"fsync",      "fdatasync", "sync_file_range", "unlink", "rename",     "mkdir",
		"getdents64", "ftruncate", "fallocate",	      "close"};

	(void)state;
	for (size_t i = 0; i < sizeof(file) / sizeof(file[0]); i++)
		assert_string_equal(kind3(file[i], AP_FD_NONE, 3, 0), "file");
	assert_string_equal(kind("mmap"), "other");
	assert_string_equal(kind("getpid"), "other");
	assert_string_equal(syscalls__kind(9999, AP_FD_REG, (unsigned long long[3]){0}), "other");
}

static void test_syscalls_is_poll(void **state)
{
	(void)state;
	assert_true(syscalls__is_poll(nr_of("epoll_wait")));
	assert_true(syscalls__is_poll(nr_of("epoll_pwait")));
	assert_true(syscalls__is_poll(nr_of("epoll_pwait2")));
	assert_false(syscalls__is_poll(nr_of("poll")));
	assert_false(syscalls__is_poll(nr_of("select")));
	assert_false(syscalls__is_poll(nr_of("epoll_ctl")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscalls_names),
		cmocka_unit_test(test_syscalls_sleep),
		cmocka_unit_test(test_syscalls_net),
		cmocka_unit_test(test_syscalls_lock),
		cmocka_unit_test(test_syscalls_process),
		cmocka_unit_test(test_syscalls_io_by_fd_type),
		cmocka_unit_test(test_syscalls_file_and_other),
		cmocka_unit_test(test_syscalls_is_poll),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
