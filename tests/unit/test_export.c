// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Exporters (Chrome trace, folded stacks, HTML) over a small report built in
 * memory with hostile names: the Chrome trace is parsed back by Python, the
 * folded lines are matched against their grammar, the HTML is searched for
 * escaped names and for anything a name could have injected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "output.h"
#include "html_escape.h"
#include "model.h"

#define T0	1000000000000ull
#define MS	1000000ull
#define TID	4242
#define HOSTILE "<script>alert(1)</script>"
#define TASK_A	0x7f0000001000ull /* reused: HOSTILE, then "semi;colon\nline" */
#define TASK_B	0x7f0000002000ull

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

static void add_task(struct ap_process *p, uint64_t id, const char *name, uint64_t first,
		     uint64_t fin, const char *state)
{
	struct ap_task *t = AP_VEC_PUSH(p->tasks);

	assert_non_null(t);
	t->id = id;
	t->name = name ? xstrdup(name) : NULL;
	t->coro = xstrdup("coro\"<b>");
	t->loop_tid = TID;
	t->created_ns = AP_NULL_U64;
	t->first_run_ns = first;
	t->last_run_ns = first;
	t->finished_ns = fin;
	t->state = state;
	t->steps = 2;
	t->busy_ns = 5 * MS;
}

static void add_slice(struct ap_process *p, uint64_t start, uint64_t dur, uint64_t task,
		      const char *cb)
{
	struct ap_slice *s = AP_VEC_PUSH(p->slices);

	assert_non_null(s);
	s->tid = TID;
	s->start_ns = start;
	s->duration_ns = dur;
	s->task = task;
	s->callback = cb ? xstrdup(cb) : NULL;
}

static void set_stack(struct ap_stack *st, int n, ...)
{
	va_list ap;

	st->frames = calloc(n, sizeof(char *));
	assert_non_null(st->frames);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		st->frames[i] = xstrdup(va_arg(ap, const char *));
	va_end(ap);
	st->n = n;
}

static void add_blocking(struct ap_process *p, uint64_t start, uint64_t dur, uint64_t task,
			 const char *cb)
{
	struct ap_blocking *b = AP_VEC_PUSH(p->blocking_calls);

	assert_non_null(b);
	b->tid = TID;
	b->start_ns = start;
	b->duration_ns = dur;
	b->syscall = "clock_nanosleep";
	b->kind = "sleep";
	b->task = task;
	b->callback = cb ? xstrdup(cb) : NULL;
}

static void fill_loop(struct ap_process *p)
{
	struct ap_loop *l = AP_VEC_PUSH(p->loops);
	struct ap_lag_point *pt;

	assert_non_null(l);
	l->tid = TID;
	l->kind = "asyncio";
	l->first_ns = T0;
	l->lag.max_ns = 150 * MS;
	for (int i = 0; i < 3; i++) {
		pt = AP_VEC_PUSH(l->lag_series);
		assert_non_null(pt);
		pt->t_ns = T0 + (110 + 10 * i) * MS; /* 110, 120, 130 ms */
		pt->lag_ns = (140 - 10 * i) * MS;
	}
}

/*
 * Window [T0, T0 + 1 s). Task A (HOSTILE) runs at 100 ms for 150 ms, all of
 * it in a blocking sleep; then the same id is "semi;colon\nline", a 120 ms
 * CPU step at 400 ms. Task B (unnamed) fails; a plain callback blocks 60 ms.
 */
static struct ap_report *make_report(void)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	struct ap_process *p;
	struct ap_slow_cb *s;

	assert_non_null(r);
	r->tool_version = "test";
	r->start_ns = T0;
	r->end_ns = T0 + 1000 * MS;
	r->slow_callback_ns = 100 * MS;
	r->blocking_ns = MS;
	r->lag_interval_ns = 10 * MS;
	r->drops_events = 7;
	r->traced = true;
	p = AP_VEC_PUSH(r->processes);
	assert_non_null(p);
	p->pid = TID;
	p->comm = xstrdup("py</title><b>");
	p->runtime = "cpython";
	p->backend = "uprobe";
	fill_loop(p);
	add_task(p, TASK_A, HOSTILE, T0 + 100 * MS, T0 + 250 * MS, "done");
	add_task(p, TASK_A, "semi;colon\nline", T0 + 400 * MS, T0 + 520 * MS, "done");
	add_task(p, TASK_B, NULL, T0 + 600 * MS, T0 + 610 * MS, "failed");
	add_slice(p, T0 + 100 * MS, 150 * MS, TASK_A, "sleeper");
	add_slice(p, T0 + 400 * MS, 120 * MS, TASK_A, "burner");
	add_slice(p, T0 + 600 * MS, MS, TASK_B, "failer");
	add_slice(p, T0 + 700 * MS, 60 * MS, 0, "evil;</pre>\n<b>cb");
	add_slice(p, T0 + 800 * MS, MS, 0, NULL);
	add_blocking(p, T0 + 100 * MS, 150 * MS, TASK_A, "sleeper");
	add_blocking(p, T0 + 700 * MS, 60 * MS, 0, "evil;</pre>\n<b>cb");
	set_stack(&p->blocking_calls.v[1].stack, 2, "evil_cb (x.py:3)", "<module> (x.py:9)");
	s = AP_VEC_PUSH(p->slow_callbacks);
	assert_non_null(s);
	s->tid = TID;
	s->start_ns = T0 + 100 * MS;
	s->duration_ns = 150 * MS;
	s->task = TASK_A;
	s->callback = xstrdup("sleeper");
	s = AP_VEC_PUSH(p->slow_callbacks);
	assert_non_null(s);
	s->tid = TID;
	s->start_ns = T0 + 400 * MS;
	s->duration_ns = 120 * MS;
	s->task = TASK_A;
	s->callback = xstrdup("burner");
	return r;
}

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/test_export.XXXXXX");

	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	free(*state);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), n);
	fclose(f);
	return buf;
}

/* The Python check of the trace: parses it and asserts on its events. */
static const char chrome_check[] =
	"import json,sys\n"
	"t=json.load(open(sys.argv[1]))\n"
	"ev=t['traceEvents']\n"
	"assert t['displayTimeUnit']=='ms' and t['metadata']['drops']['events']==7\n"
	"M={e['name']:e['args']['name'] for e in ev if e['ph']=='M'}\n"
	"assert M=={'process_name':'py</title><b> (4242)','thread_name':'loop 4242'},M\n"
	"X=[e for e in ev if e['ph']=='X']\n"
	"assert len(X)==7,len(X)\n"
	"b=[e for e in X if e.get('cat')=='blocking']\n"
	"assert len(b)==2 and b[0]['name']=='[syscall] clock_nanosleep'\n"
	"assert b[0]['ts']==100000 and b[0]['dur']==150000 and b[0]['tid']==4242\n"
	"assert b[0]['args']['task']=='0x7f0000001000' and b[0]['args']['stack']==[]\n"
	"assert b[1]['args']['stack']==['evil_cb (x.py:3)','<module> (x.py:9)']\n"
	"n=[e['name'] for e in X if e.get('cat')!='blocking']\n"
	"assert n==['task <script>alert(1)</script>','task semi;colon\\nline',"
	"'failer','evil;</pre>\\n<b>cb','callback'],n\n"
	"assert X[0]['args']=={'task':'0x7f0000001000','coro':'coro\"<b>','callback':'sleeper'}\n"
	"a=[(e['ph'],e['id'],e['ts']) for e in ev if e['ph'] in 'be']\n"
	"assert a[:2]==[('b','0x7f0000001000',100000),('e','0x7f0000001000',250000)],a\n"
	"assert len(a)==6 and all(e['cat']=='task' for e in ev if e['ph'] in 'be')\n"
	"C=[(e['ts'],e['args']['lag_ms']) for e in ev if e['ph']=='C']\n"
	"assert all(e['name']=='loop lag 4242' for e in ev if e['ph']=='C')\n"
	"assert C==[(0,0),(100000,0),(110000,140),(120000,130),(130000,120),(140000,0),"
	"(1000000,0)],C\n";

static void test_chrome_structure(void **state)
{
	struct ap_report *r = make_report();
	char path[256], cmd[1024];

	snprintf(path, sizeof(path), "%s/out.trace.json", (char *)*state);
	assert_int_equal(save_as("chrome", path, r), 0);
	snprintf(cmd, sizeof(cmd), "%s/check.py", (char *)*state);
	FILE *f = fopen(cmd, "w");
	assert_non_null(f);
	fputs(chrome_check, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s/check.py %s", (char *)*state, path);
	assert_int_equal(system(cmd), 0);
	ap_report__free(r);
}

/* Every line: frames (no ';' inside, none empty) then a space and a positive count. */
static void assert_folded_grammar(const char *text)
{
	regex_t rx;
	char *copy = xstrdup(text), *save = NULL, *line;
	int lines = 0;

	assert_int_equal(regcomp(&rx, "^[^;\n]+(;[^;\n]+)* [1-9][0-9]*$", REG_EXTENDED), 0);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&rx, line, 0, NULL, 0))
			fail_msg("bad folded line: %s", line);
		lines++;
	}
	assert_true(lines > 0);
	regfree(&rx);
	free(copy);
}

static void test_folded_lines(void **state)
{
	struct ap_report *r = make_report();
	char path[256], *text;

	snprintf(path, sizeof(path), "%s/out.folded", (char *)*state);
	r->group_by_task = true;
	assert_int_equal(save_as("folded", path, r), 0);
	text = slurp(path);
	assert_folded_grammar(text);
	/* sorted, the reused id resolved by time, the callback self time excluding its sleep */
	assert_string_equal(text,
			    "<module> (x.py:9);evil_cb (x.py:3);[syscall] clock_nanosleep 60000\n"
			    "task <script>alert(1)</script>;sleeper;[syscall] clock_nanosleep "
			    "150000\n"
			    "task semi:colon?line;burner 120000\n");
	free(text);
	/* without --group-by task: no task roots */
	r->group_by_task = false;
	assert_int_equal(save_as("folded", path, r), 0);
	text = slurp(path);
	assert_folded_grammar(text);
	assert_null(strstr(text, "task "));
	assert_non_null(strstr(text, "sleeper;[syscall] clock_nanosleep 150000\n"));
	free(text);
	ap_report__free(r);
}

static void test_folded_empty(void **state)
{
	struct ap_report *r = calloc(1, sizeof(*r));
	char path[256], *text;

	assert_non_null(r);
	snprintf(path, sizeof(path), "%s/empty.folded", (char *)*state);
	assert_int_equal(save_as("folded", path, r), 0);
	text = slurp(path);
	assert_string_equal(text, "");
	free(text);
	ap_report__free(r);
}

static void test_html_escaped(void **state)
{
	struct ap_report *r = make_report();
	char path[256], *html;

	snprintf(path, sizeof(path), "%s/out.html", (char *)*state);
	assert_int_equal(save_as("html", path, r), 0);
	html = slurp(path);
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "evil;&lt;/pre&gt;\n&lt;b&gt;cb"));
	assert_non_null(strstr(html, "py&lt;/title&gt;&lt;b&gt; (pid 4242)"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<b>cb"));
	assert_null(strstr(html, "</title><b>"));
	assert_null(strstr(html, "http"));
	free(html);
	ap_report__free(r);
}

static void test_html_parts(void **state)
{
	struct ap_report *r = make_report();
	const char *want[] = {
		"id=\"card-tasks\"><div class=\"v\">3</div>",
		"id=\"card-done\"><div class=\"v\">2</div>",
		"id=\"card-failed\"><div class=\"v\">1</div>",
		"id=\"card-blocking\"><div class=\"v\">2</div>",
		"id=\"card-slow\"><div class=\"v\">2</div>",
		"id=\"card-lag\"><div class=\"v\">150.0 ms</div>",
		"<svg class=\"lag\" id=\"lag-4242\"",
		"class=\"bar wait\"",
		"class=\"bar run\"",
		"class=\"bar blk\"",
		"class=\"bar end st-failed\"",
		"id=\"slow\"",
		"id=\"blocking\"",
		"<pre>evil_cb (x.py:3)\n&lt;module&gt; (x.py:9)\n</pre>",
		"id=\"drops\"",
	};
	char path[256], *html;

	snprintf(path, sizeof(path), "%s/parts.html", (char *)*state);
	assert_int_equal(save_as("html", path, r), 0);
	html = slurp(path);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(html, want[i]))
			fail_msg("html lacks %s", want[i]);
	free(html);
	ap_report__free(r);
}

static void test_html_escape_bytes(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	html__escape_len(f, "a&<>\"'\x01\x7f\xc3\xa9\xff|", 12);
	html__escape(f, NULL, "-");
	fclose(f);
	assert_string_equal(buf, "a&amp;&lt;&gt;&quot;&#39;\\x01\\x7f\xc3\xa9\xef\xbf\xbd|-");
	free(buf);
}

static void test_export_unwritable(void **state)
{
	struct ap_report *r = make_report();

	(void)state;
	assert_true(save_as("chrome", "/nonexistent/dir/a.trace.json", r) < 0);
	assert_true(save_as("html", "/nonexistent/dir/a.html", r) < 0);
	assert_true(save_as("folded", "/nonexistent/dir/a.folded", r) < 0);
	ap_report__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chrome_structure, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_folded_lines, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_folded_empty, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_html_escaped, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_html_parts, setup_dir, teardown_dir),
		cmocka_unit_test(test_html_escape_bytes),
		cmocka_unit_test(test_export_unwritable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
