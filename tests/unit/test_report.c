// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Report writers: the JSON report checked back by a Python structural check
 * (fixtures/report_check.py), atomic saving, and the text summary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "model.h"
#include "output.h"

#define T0 1000000000000ull

/* Save r in the format called name, as -o name:path does. */
static int save_as(const char *name, const char *path, const struct ap_report *r)
{
	const struct out_format *fmt = output__by_name(name, strlen(name));

	assert_non_null(fmt);
	return output__save(path, fmt, r, NULL);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void fill_loop(struct ap_process *p)
{
	struct ap_loop *l = AP_VEC_PUSH(p->loops);

	assert_non_null(l);
	l->tid = 1234;
	l->kind = "asyncio";
	l->iterations = 500;
	l->busy_ns = 4000000000ull;
	l->idle_ns = 6000000000ull;
	l->callbacks = AP_NULL_U64;
	l->blocked_ns = 2000000000ull;
	l->first_ns = T0;
	l->lag.samples = 1000;
	l->lag.max_ns = 201400000;
	l->lag.mean_ns = 3210000;
	l->lag.p90_ns = 5000000;
	l->lag.p99_ns = 180000000;
	for (int i = 0; i < AP_LAG_BUCKETS; i++)
		l->lag.le_count[i] = 900 + i;
}

static void fill_task_cbs(struct ap_process *p)
{
	struct ap_task *t = AP_VEC_PUSH(p->tasks);
	struct ap_callback *c = AP_VEC_PUSH(p->callbacks);
	struct ap_slow_cb *s = AP_VEC_PUSH(p->slow_callbacks);

	assert_non_null(t);
	t->id = 0x7f0000001000ull;
	t->name = xstrdup("w\"\\\n\xc3\xa9\xff");
	t->coro = xstrdup("worker");
	t->loop_tid = 1234;
	t->created_ns = AP_NULL_U64;
	t->finished_ns = 5;
	t->state = "failed";
	t->error = xstrdup("ValueError");
	t->steps = 7;
	t->busy_ns = 300000000;
	assert_non_null(c);
	c->name = xstrdup("Server._accept_connection");
	c->count = 3;
	assert_non_null(s);
	s->tid = 1234;
	s->start_ns = T0 + 1500000000ull;
	s->duration_ns = 250000000;
	s->task = t->id;
	s->callback = xstrdup("worker");
	s->stack.frames = calloc(2, sizeof(char *));
	assert_non_null(s->stack.frames);
	s->stack.frames[0] = xstrdup("f (a.py:1)");
	s->stack.frames[1] = xstrdup("g (b.py:2)");
	s->stack.n = 2;
}

static void fill_blocking(struct ap_process *p)
{
	struct ap_blocking *b = AP_VEC_PUSH(p->blocking_calls);

	assert_non_null(b);
	b->tid = 1234;
	b->start_ns = T0 + 2000000000ull;
	b->duration_ns = 201400000;
	b->syscall = "clock_nanosleep";
	b->kind = "sleep";
	b->detail = xstrdup("/tmp/<x>");
	b->callback = xstrdup("blocking_io\x1b]0;pwned\x07");
}

/* One process with one of everything, and hostile strings. */
static struct ap_report *fixture_report(void)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p;

	assert_non_null(r);
	r->tool_version = "0.3.0";
	r->start_ns = T0;
	r->end_ns = T0 + 10000000000ull;
	r->slow_callback_ns = 100000000;
	r->blocking_ns = 1000000;
	r->lag_interval_ns = 10000000;
	r->drops_events = 3;
	r->drops_stacks = 1;
	p = AP_VEC_PUSH(r->processes);
	assert_non_null(p);
	p->pid = 1234;
	p->comm = xstrdup("py\x1b[31m<script>");
	p->runtime = "cpython";
	p->runtime_version = xstrdup("3.11.2");
	p->backend = "uprobe";
	fill_loop(p);
	fill_task_cbs(p);
	fill_blocking(p);
	return r;
}

struct tmpdir {
	char path[64];
};

static int setup_dir(void **state)
{
	struct tmpdir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	strcpy(d->path, "/tmp/ap_test_report.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	*state = d;
	return 0;
}

static int teardown_dir(void **state)
{
	struct tmpdir *d = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", d->path, d->path);
	if (system(cmd))
		return -1;
	free(d);
	return 0;
}

static int count_entries(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dp);
	return n;
}

static const char *checker(void)
{
	if (!access("fixtures/report_check.py", R_OK))
		return "fixtures/report_check.py";
	return "tests/unit/fixtures/report_check.py";
}

static void test_report_json_schema(void **state)
{
	struct tmpdir *d = *state;
	struct ap_report *r = fixture_report();
	char path[128], cmd[512];

	snprintf(path, sizeof(path), "%s/report.json", d->path);
	assert_int_equal(save_as("json", path, r), 0);
	assert_int_equal(count_entries(d->path), 1);
	if (system("python3 -c 'import json' 2>/dev/null")) {
		ap_report__free(r);
		skip();
	}
	snprintf(cmd, sizeof(cmd), "python3 %s %s", checker(), path);
	assert_int_equal(system(cmd), 0);
	ap_report__free(r);
}

/* Writers of render's output */
enum { R_JSON = 1, R_TEXT = 2, R_HTML = 4, R_CHROME = 8 };

/* What the writers in which make of r, one after the other, in one string. */
static char *render(const struct ap_report *r, unsigned which, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (which & R_JSON)
		assert_int_equal(out_json__write(f, r, &(struct out_opts){0}), 0);
	if (which & R_TEXT)
		out_text__write(f, r, &(struct out_opts){.top_n = 5});
	if (which & R_HTML)
		assert_int_equal(out_html__write(f, r, &(struct out_opts){0}), 0);
	if (which & R_CHROME)
		assert_int_equal(out_chrome__write(f, r, &(struct out_opts){0}), 0);
	fclose(f);
	if (lenp)
		*lenp = len;
	return buf;
}

static void test_report_json_pretty(void **state)
{
	struct ap_report *r = fixture_report();
	size_t len;
	char *buf = render(r, R_JSON, &len);

	(void)state;
	assert_non_null(strstr(buf, "{\n  \"schema\": \"asyncprof-bpf/report/v1\",\n"));
	assert_non_null(strstr(buf, "\n    \"events\": 3,\n"));
	assert_non_null(strstr(buf, "\"le_ns\": null"));
	assert_non_null(strstr(buf, "\"callbacks\": null"));
	assert_non_null(strstr(buf, "\"id\": \"0x7f0000001000\""));
	/* in the tool's PID namespace, ns_pid is pid */
	assert_non_null(strstr(buf, "\"pid\": 1234,\n      \"ns_pid\": 1234,\n"));
	assert_int_equal(buf[len - 1], '\n');
	free(buf);
	ap_report__free(r);
}

/* A call still in flight at the end: every output says so. */
static void test_report_in_progress(void **state)
{
	struct ap_report *r = fixture_report();
	char *buf;

	(void)state;
	r->processes.v[0].blocking_calls.v[0].in_progress = true;
	buf = render(r, R_JSON | R_TEXT | R_HTML | R_CHROME, NULL);
	assert_non_null(strstr(buf, "\"in_progress\": true"));
	assert_non_null(strstr(buf, "[still in progress when tracing ended]"));
	assert_non_null(strstr(buf, " (in progress)</td>"));
	assert_non_null(strstr(buf, "[syscall] clock_nanosleep (in progress)"));
	assert_null(strstr(buf, "no loop iteration seen"));
	free(buf);
	/* listed, stuck since before the window: said in the loop's line and the JSON */
	r->processes.v[0].loops.v[0].stuck_before = true;
	buf = render(r, R_JSON | R_TEXT, NULL);
	assert_non_null(strstr(buf, "\"stuck_before_window\": true"));
	assert_non_null(strstr(buf, "): no loop iteration seen: its loop is stuck since before "
				    "tracing began (below, in progress)"));
	free(buf);
	r->processes.v[0].loops.v[0].stuck_before = false;
	/* a loop stuck since before tracing: no iteration, but the call names it */
	r->processes.v[0].loops.n = 0;
	buf = render(r, R_TEXT, NULL);
	assert_non_null(strstr(buf, "no loop iteration seen: its loop is stuck since before "
				    "tracing began (below, in progress)"));
	assert_null(strstr(buf, "no event loop seen"));
	free(buf);
	r->processes.v[0].blocking_calls.v[0].in_progress = false;
	buf = render(r, R_TEXT, NULL);
	assert_non_null(strstr(buf, "no event loop seen"));
	free(buf);
	r->processes.v[0].loops.n = 1; /* freed with the report */
	ap_report__free(r);
}

/* A process in a container: its own namespace's pid beside the host's. */
static void test_report_ns_pid(void **state)
{
	struct ap_report *r = fixture_report();
	char *buf;

	(void)state;
	r->processes.v[0].ns_pid = 7;
	buf = render(r, R_JSON | R_TEXT, NULL);
	assert_non_null(strstr(buf, "\"pid\": 1234,\n      \"ns_pid\": 7,\n"));
	assert_non_null(strstr(buf, "process 1234 (pid 7 in its PID namespace) py"));
	free(buf);
	ap_report__free(r);
}

static int write_half_then_fail(FILE *f, const void *ctx)
{
	(void)ctx;
	fputs("{\"half\":", f);
	return -EIO;
}

static int write_new(FILE *f, const void *ctx)
{
	(void)ctx;
	fputs("new\n", f);
	return 0;
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_report_save_no_clobber(void **state)
{
	struct tmpdir *d = *state;
	char path[128], buf[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/out.json", d->path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("old\n", f);
	fclose(f);
	/* the writer fails half-way: old file intact, no temporary left */
	assert_int_equal(output__save_with(path, write_half_then_fail, NULL), -EIO);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "old\n");
	assert_int_equal(count_entries(d->path), 1);
	/* rename fails (the path is a directory): temporary removed */
	snprintf(path, sizeof(path), "%s/adir", d->path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(output__save_with(path, write_new, NULL) < 0);
	assert_int_equal(count_entries(d->path), 2);
	/* a directory that does not exist */
	snprintf(path, sizeof(path), "%s/nodir/out.json", d->path);
	assert_int_equal(output__save_with(path, write_new, NULL), -ENOENT);
	/* success replaces */
	snprintf(path, sizeof(path), "%s/out.json", d->path);
	assert_int_equal(output__save_with(path, write_new, NULL), 0);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "new\n");
	assert_int_equal(count_entries(d->path), 2);
}

/* Checked before tracing: a directory, a missing directory, a device, a fine path. */
static void test_report_file_check(void **state)
{
	struct tmpdir *d = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/adir", d->path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(output__check(path), -EISDIR);
	snprintf(path, sizeof(path), "%s/nodir/out.json", d->path);
	assert_int_equal(output__check(path), -ENOENT);
	assert_int_equal(output__check("/dev/null"), 0);
	assert_int_equal(output__check("-"), 0);
	snprintf(path, sizeof(path), "%s/out.json", d->path);
	assert_int_equal(output__check(path), 0);
	/* the probe file is gone and the report not created */
	assert_int_equal(count_entries(d->path), 1);
	assert_int_equal(access(path, F_OK), -1);
}

/* A writer failing on a full stream reports the stream's cause, not EIO. */
static int write_to_full(FILE *f, const void *ctx)
{
	(void)ctx;
	for (int i = 0; i < 4096; i++)
		fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

static void test_report_save_enospc(void **state)
{
	(void)state;
	if (access("/dev/full", W_OK)) {
		print_message("skipped: no /dev/full\n");
		skip();
	}
	/* /dev/full is a device: written in place, and every write fails with ENOSPC */
	assert_int_equal(output__save_with("/dev/full", write_to_full, NULL), -ENOSPC);
}

static void test_report_save_unwritable_dir(void **state)
{
	struct tmpdir *d = *state;
	struct ap_report *r;
	char path[128], buf[64];
	FILE *f;

	r = fixture_report();
	if (geteuid() == 0) {
		/* root writes in a 0555 directory anyway: use one nobody can create in */
		assert_true(save_as("json", "/proc/asyncprof_test_report.json", r) < 0);
		assert_int_equal(access("/proc/asyncprof_test_report.json", F_OK), -1);
		ap_report__free(r);
		return;
	}
	snprintf(path, sizeof(path), "%s/report.json", d->path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("old\n", f);
	fclose(f);
	assert_int_equal(chmod(d->path, 0555), 0);
	assert_int_equal(save_as("json", path, r), -EACCES);
	assert_int_equal(chmod(d->path, 0755), 0);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "old\n");
	assert_int_equal(count_entries(d->path), 1);
	ap_report__free(r);
}

static void test_report_text_summary(void **state)
{
	struct ap_report *r = fixture_report();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	out_text__write(f, r, &(struct out_opts){.top_n = 5});
	fclose(f);
	assert_non_null(strstr(buf, "10.0 s window"));
	assert_non_null(strstr(buf, "WARNING: data lost to full buffers: 3 events, 1 stacks"));
	assert_non_null(strstr(buf, "process 1234 py\\x1b[31m<script>: cpython 3.11.2, "
				    "backend uprobe"));
	assert_non_null(strstr(buf, "500 iterations, busy 40.0%, blocked 20.0%"));
	assert_non_null(strstr(buf, "lag ms: max 201.40  mean 3.21  p50 0.00  p90 5.00  "
				    "p99 180.00  (1000 samples)"));
	assert_non_null(strstr(buf, "sleep    clock_nanosleep             1     201.4 ms"));
	assert_non_null(strstr(buf, "+2.00 s     tid 1234      201.4 ms  clock_nanosleep (sleep) "
				    "/tmp/<x> in blocking_io\\x1b]0;pwned\\x07"));
	assert_non_null(strstr(buf, "task w\"\\\\\\x0a\xc3\xa9\\xff (0x7f0000001000) in worker"));
	assert_non_null(strstr(buf, "        at f (a.py:1)\n"));
	assert_non_null(strstr(buf, "tasks by busy time: 1"));
	assert_null(strchr(buf, '\x1b'));
	assert_null(strchr(buf, '\x07'));
	free(buf);
	ap_report__free(r);
}

static void test_report_text_save(void **state)
{
	struct tmpdir *d = *state;
	struct ap_report *r = fixture_report();
	char path[128], buf[64];

	snprintf(path, sizeof(path), "%s/summary.txt", d->path);
	assert_int_equal(output__save(path, output__text(), r, &(struct out_opts){.top_n = 3}), 0);
	read_file(path, buf, sizeof(buf));
	assert_memory_equal(buf, "asyncprof-bpf 0.3.0:", 20);
	assert_int_equal(count_entries(d->path), 1);
	ap_report__free(r);
}

/* A device (here /dev/null) is written in place, never replaced by a rename. */
static void test_report_save_to_device(void **state)
{
	struct ap_report *r = fixture_report();
	struct stat st;

	(void)state;
	assert_int_equal(save_as("json", "/dev/null", r), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	ap_report__free(r);
}

static void test_report_empty_and_free_null(void **state)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(r);
	assert_int_equal(out_json__write(f, r, &(struct out_opts){0}), 0);
	out_text__write(f, r, &(struct out_opts){.top_n = 0});
	fclose(f);
	assert_non_null(strstr(buf, "\"processes\": []"));
	assert_non_null(strstr(buf, "\"version\": null"));
	assert_non_null(strstr(buf, "no process traced"));
	free(buf);
	ap_report__free(r);
	ap_report__free(NULL);
	ap_stack__free(NULL);
}

/* The one format table: names, file name endings (the longest wins), what needs a timeline. */
static void test_output_formats(void **state)
{
	(void)state;
	assert_string_equal(output__by_name("json:x", 4)->name, "json");
	assert_null(output__by_name("jso", 3));
	assert_null(output__by_name("svg", 3));
	assert_string_equal(output__by_path("out/run.trace.json")->name, "chrome");
	assert_string_equal(output__by_path("run.json")->name, "json");
	assert_string_equal(output__by_path("a.folded")->name, "folded");
	assert_string_equal(output__by_path("a.html")->name, "html");
	assert_ptr_equal(output__by_path("report"), output__text());
	assert_ptr_equal(output__by_path(".json"), output__text());
	assert_true(output__by_name("chrome", 6)->timeline);
	assert_true(output__by_name("html", 4)->timeline);
	assert_false(output__text()->timeline);
	assert_string_equal(output__names(), "text, json, chrome, html or folded");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report_json_schema, setup_dir, teardown_dir),
		cmocka_unit_test(test_report_json_pretty),
		cmocka_unit_test(test_report_ns_pid),
		cmocka_unit_test(test_report_in_progress),
		cmocka_unit_test_setup_teardown(test_report_save_no_clobber, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_report_file_check, setup_dir, teardown_dir),
		cmocka_unit_test(test_report_save_enospc),
		cmocka_unit_test_setup_teardown(test_report_save_unwritable_dir, setup_dir,
						teardown_dir),
		cmocka_unit_test(test_report_text_summary),
		cmocka_unit_test_setup_teardown(test_report_text_save, setup_dir, teardown_dir),
		cmocka_unit_test(test_report_save_to_device),
		cmocka_unit_test(test_report_empty_and_free_null),
		cmocka_unit_test(test_output_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
