// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hardening target: a process that looks like a CPython runtime to the
 * tool (exported _PyRuntime and Py_Version) but is not one, with an epoll
 * loop. Built by tests/integration/test_hardening.py, stripped (-s), with
 * PY_HEX the version it claims: 3.14 (unsupported) or 3.11 (supported, but
 * context_run and PyContext_Type, which the uprobe backend needs, are
 * absent). Prints "ready <pid>", then waits in epoll_wait 100 ms at a time
 * and blocks in nanosleep for 150 ms every 500 ms, until SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#ifndef PY_HEX
#define PY_HEX 0x030e00f0
#endif

__attribute__((used, visibility("default"))) const unsigned int Py_Version = PY_HEX;
__attribute__((used, visibility("default"))) char _PyRuntime[4096];

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	struct timespec block = {0, 150 * 1000000L};
	struct epoll_event ev;
	int ep = epoll_create1(0), i = 0;

	signal(SIGTERM, on_term);
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (!stop) {
		epoll_wait(ep, &ev, 1, 100);
		if (++i % 5 == 0)
			nanosleep(&block, NULL);
	}
	return 0;
}
