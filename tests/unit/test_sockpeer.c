// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A socket's peer by inode, from /proc/PID/net tables written here as the kernel does. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "sockpeer.h"
#include "strutil.h"

static const char tcp[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	"timeout inode\n"
	"   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
	"0 1366 1 000000003ef468e2 100 0 0 10 0\n"
	"   1: 0100007F:A2C4 0100007F:01BB 01 00000000:00000000 00:00000000 00000000     0        "
	"0 4242 1 000000003ef468e2 100 0 0 10 0\n";
static const char tcp6[] =
	"  sl  local_address                         remote_address                        st "
	"tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	"   0: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:0050 01 "
	"00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 20 4 0 10 "
	"-1\n";

static void put(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_sockpeer(void **state)
{
	char dir[] = "/tmp/ap_sockpeer_XXXXXX", buf[64], path[300];
	struct ap_inet_addr a;

	(void)state;
	assert_non_null(mkdtemp(dir));
	put(dir, "tcp", tcp);
	put(dir, "tcp6", tcp6);
	/* IPv4: 127.0.0.1:443 */
	assert_int_equal(sockpeer__find(dir, 4242, &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_true(strutil__format_inet(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "127.0.0.1:443");
	/* IPv6: [::1]:80 */
	assert_int_equal(sockpeer__find(dir, 777, &a), 0);
	assert_true(strutil__format_inet(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "[::1]:80");
	/* a listener has no peer; an inode in no table is not found */
	assert_int_equal(sockpeer__find(dir, 1366, &a), -ENOENT);
	assert_int_equal(sockpeer__find(dir, 9999, &a), -ENOENT);
	assert_int_equal(sockpeer__find("/nonexistent", 4242, &a), -ENOENT);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, i ? "tcp6" : "tcp");
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sockpeer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
