// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A real interpreter's thread, off CPU in time.sleep, walked from outside
 * (user/pythread.c): every installed CPython this project traces (pyenv
 * 3.8-3.13, Debian 12's stripped 3.11, Debian sid's 3.14 and 3.15 in the
 * root of tests/roots/mkroot.py when it was made), each a child of this test. Its
 * stack must name the sleeping function and its callers, by file and line.
 * An interpreter that is not installed is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "pyrt.h"
#include "pystack.h"
#include "pythread.h"

/* Prints "ready" once inside sleeper(), then sleeps; line numbers are checked. */
static const char script[] = "import sys, time\n"		/* 1 */
			     "def sleeper():\n"			/* 2 */
			     "    print('ready', flush=True)\n" /* 3 */
			     "    time.sleep(60)\n"		/* 4 */
			     "def outer():\n"			/* 5 */
			     "    sleeper()\n"			/* 6 */
			     "outer()\n";			/* 7 */

static int read_pid(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)addr, len};

	return process_vm_readv(*(pid_t *)ctx, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EIO;
}

#define SID_ROOT "/var/cache/asyncprof-roots/sid" /* tests/roots/mkroot.py's, when made */

/* Start py on the script (chrooted in root, if not NULL); its pid once it printed "ready", or -1.
 */
static pid_t start(const char *root, const char *py)
{
	int out[2];
	char buf[16] = "";
	pid_t pid;
	FILE *f;

	if (pipe(out))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		if (root)
			execlp("chroot", "chroot", root, py, "-c", script, (char *)NULL);
		else
			execl(py, py, "-c", script, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	if (!f || !fgets(buf, sizeof(buf), f) || strncmp(buf, "ready", 5)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	if (f)
		fclose(f);
	return pid;
}

static void walk(const char *root, const char *py)
{
	static const char *const want[] = {"sleeper (<string>:4)", "outer (<string>:6)",
					   "<module> (<string>:7)"};
	struct pythread_offsets to;
	struct pyrt_info *pi = calloc(1, sizeof(*pi));
	struct ap_pystack st;
	struct ap_stack out = {0};
	struct pystack *ps;
	pid_t pid;

	assert_non_null(pi);
	pid = start(root, py);
	assert_true(pid > 0);
	usleep(50000); /* from print to the sleep: the thread is in the syscall */
	assert_int_equal(pyrt__probe(pid, pi), 0);
	assert_non_null(pi->off);
	assert_int_equal(pythread__offsets(pi->minor, pi->have_dbg ? &pi->dbg : NULL, &to), 0);
	assert_int_equal(pythread__stack(read_pid, &pid, pi->runtime_addr, pi->off, &to,
					 (uint32_t)pid, AP_STACK_DEPTH, &st),
			 0);
	ps = pystack__new(pid, 3, pi->minor, pi->off, 64);
	assert_non_null(ps);
	assert_int_equal(pystack__resolve(ps, &st, &out), 0);
	assert_true(out.n >= 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(out.frames[i], want[i]);
	/* no thread of that tid */
	assert_int_equal(pythread__stack(read_pid, &pid, pi->runtime_addr, pi->off, &to, 1,
					 AP_STACK_DEPTH, &st),
			 -ESRCH);
	ap_stack__free(&out);
	pystack__free(ps);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(pi);
}

static void test_pythread_installed(void **state)
{
	const char *pats[] = {"/root/.pyenv/versions/3.8.*/bin/python3",
			      "/root/.pyenv/versions/3.9.*/bin/python3",
			      "/root/.pyenv/versions/3.1[0-3].*/bin/python3",
			      "/usr/bin/python3.11"};
	int walked = 0;

	(void)state;
	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		glob_t g;

		if (glob(pats[p], 0, NULL, &g))
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++) {
			print_message("  %s\n", g.gl_pathv[i]);
			walk(NULL, g.gl_pathv[i]);
			walked++;
		}
		globfree(&g);
	}
	/* Debian sid's 3.14 and 3.15, where its root was made */
	for (int minor = 14; minor <= 15; minor++) {
		char py[64], path[128];

		snprintf(py, sizeof(py), "/usr/bin/python3.%d", minor);
		snprintf(path, sizeof(path), "%s%s", SID_ROOT, py);
		if (access(path, X_OK))
			continue;
		print_message("  %s (chroot %s)\n", py, SID_ROOT);
		walk(SID_ROOT, py);
		walked++;
	}
	if (!walked)
		skip();
}

static void test_pythread_offsets(void **state)
{
	struct pythread_offsets to;

	(void)state;
	assert_int_equal(pythread__offsets(11, NULL, &to), 0);
	assert_int_equal(to.tstate_native_id, 160);
	assert_int_equal(pythread__offsets(9, NULL, &to), 0);
	assert_int_equal(to.tstate_native_id, 0);		      /* through the pthread */
	assert_int_equal(pythread__offsets(13, NULL, &to), -ENOTSUP); /* its table is needed */
	assert_int_equal(pythread__offsets(7, NULL, &to), -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pythread_offsets),
		cmocka_unit_test(test_pythread_installed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
