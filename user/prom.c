// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus text exposition and its HTTP endpoint (libmicrohttpd). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"
#include "strutil.h"

struct prom {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	char *text; /* the latest exposition */
	size_t len;
};

/* Terminal controls a label must not carry: C1 controls, bidirectional overrides. */
static bool is_control_seq(const unsigned char *s, size_t n)
{
	uint32_t cp = n == 2   ? (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu)
		      : n == 3 ? (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu)
			       : 0;

	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * A label value: backslash, double quote and newline escaped as the format
 * wants; other controls and invalid UTF-8 (a comm is any bytes) become
 * U+FFFD, since the format has no other escape and a scrape may reach a
 * terminal.
 */
static void put_label(FILE *f, const char *name, const char *v)
{
	const unsigned char *s = (const unsigned char *)(v ? v : "");
	size_t left = strlen((const char *)s), n;

	fprintf(f, "%s=\"", name);
	while (left) {
		n = *s < 0x80 ? 1 : utf8__seq_len(s, left);
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (!n || *s < 0x20 || *s == 0x7f || is_control_seq(s, n))
			fputs("\xef\xbf\xbd", f);
		else
			fwrite(s, 1, n, f);
		n = n ? n : 1;
		s += n;
		left -= n;
	}
	fputc('"', f);
}

static void put_loop_labels(FILE *f, const struct ap_process *p, const struct ap_loop *l)
{
	fprintf(f, "pid=\"%u\",", p->pid);
	put_label(f, "comm", p->comm);
	fprintf(f, ",tid=\"%u\"", l->tid);
}

static void help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* Visit every exported loop (bounded), calling fn. */
#define FOR_LOOPS(r, p, l, n)                                                                    \
	for (size_t __i = 0, n = 0; __i < (r)->processes.n; __i++)                               \
		for (const struct ap_process *p = &(r)->processes.v[__i]; p; p = NULL)           \
			for (size_t __j = 0; __j < p->loops.n && n < PROM_MAX_LOOPS; __j++, n++) \
				for (const struct ap_loop *l = &p->loops.v[__j]; l; l = NULL)

static void lag_histogram(FILE *f, const struct ap_report *r)
{
	help(f, "asyncprof_loop_lag_seconds", "histogram",
	     "Loop lag sampled every lag interval: time until the loop next polls");
	FOR_LOOPS(r, p, l, n)
	{
		for (int b = 0; b < AP_LAG_BUCKETS; b++) {
			fputs("asyncprof_loop_lag_seconds_bucket{", f);
			put_loop_labels(f, p, l);
			fprintf(f, ",le=\"%g\"} %" PRIu64 "\n", ap_lag_bucket_le[b] / 1e9,
				l->lag.le_count[b]);
		}
		fputs("asyncprof_loop_lag_seconds_bucket{", f);
		put_loop_labels(f, p, l);
		fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", l->lag.samples);
		fputs("asyncprof_loop_lag_seconds_sum{", f);
		put_loop_labels(f, p, l);
		fprintf(f, "} %.9f\n", (double)l->lag.mean_ns * l->lag.samples / 1e9);
		fputs("asyncprof_loop_lag_seconds_count{", f);
		put_loop_labels(f, p, l);
		fprintf(f, "} %" PRIu64 "\n", l->lag.samples);
	}
}

/* One sample per loop of a value computed from the loop. */
#define LOOP_METRIC(f, r, name, type, text, fmt, expr, cond) \
	do {                                                 \
		help(f, name, type, text);                   \
		FOR_LOOPS(r, p, l, n)                        \
		{                                            \
			if (!(cond))                         \
				continue;                    \
			fprintf(f, "%s{", name);             \
			put_loop_labels(f, p, l);            \
			fprintf(f, "} " fmt "\n", expr);     \
		}                                            \
	} while (0)

static double ratio(uint64_t a, uint64_t b)
{
	return a + b ? (double)a / (double)(a + b) : 0;
}

/* Syscall label: the first PROM_MAX_SYSCALLS names of a loop keep theirs. */
static const char *syscall_label(const struct ap_process *p, const struct ap_blocking_sum *s)
{
	size_t seen = 0;

	for (size_t i = 0; i < p->blocking_sums.n; i++) {
		const struct ap_blocking_sum *x = &p->blocking_sums.v[i];

		if (x == s)
			return seen < PROM_MAX_SYSCALLS ? s->syscall : "other";
		seen += x->tid == s->tid;
	}
	return "other";
}

/* Seconds per (thread, kind): the first sum of each pair totals the others. */
static void blocking_seconds(FILE *f, const struct ap_process *p)
{
	for (size_t j = 0; j < p->blocking_sums.n; j++) {
		const struct ap_blocking_sum *s = &p->blocking_sums.v[j];
		uint64_t total = 0;
		bool first = true;

		for (size_t k = 0; k < p->blocking_sums.n; k++) {
			const struct ap_blocking_sum *x = &p->blocking_sums.v[k];

			if (x->tid != s->tid || strcmp(x->kind, s->kind))
				continue;
			if (k < j)
				first = false;
			total += x->total_ns;
		}
		if (!first)
			continue;
		fprintf(f, "asyncprof_blocking_seconds_total{pid=\"%u\",", p->pid);
		put_label(f, "comm", p->comm);
		fprintf(f, ",tid=\"%u\",kind=\"%s\"} %.9f\n", s->tid, s->kind, total / 1e9);
	}
}

/* Busy seconds per (loop, cause): a run queue the kernel does not keep has no sample. */
static void busy_cause_metrics(FILE *f, const struct ap_report *r)
{
	help(f, "asyncprof_busy_seconds_total", "counter",
	     "Time the loop thread was busy (outside its poll call), by cause");
	FOR_LOOPS(r, p, l, n)
	{
		for (int c = 0; c < AP_NCAUSES; c++) {
			if (l->busy_causes[c] == AP_NULL_U64)
				continue;
			fprintf(f, "asyncprof_busy_seconds_total{");
			put_loop_labels(f, p, l);
			fprintf(f, ",cause=\"%s\"} %.9f\n", ap_cause_names[c],
				l->busy_causes[c] / 1e9);
		}
	}
}

static void blocking_metrics(FILE *f, const struct ap_report *r)
{
	help(f, "asyncprof_blocking_calls_total", "counter",
	     "Syscalls that blocked a loop thread past the threshold");
	for (size_t i = 0; i < r->processes.n; i++) {
		const struct ap_process *p = &r->processes.v[i];

		for (size_t j = 0; j < p->blocking_sums.n; j++) {
			const struct ap_blocking_sum *s = &p->blocking_sums.v[j];

			fprintf(f, "asyncprof_blocking_calls_total{pid=\"%u\",", p->pid);
			put_label(f, "comm", p->comm);
			fprintf(f, ",tid=\"%u\",kind=\"%s\",", s->tid, s->kind);
			put_label(f, "syscall", syscall_label(p, s));
			fprintf(f, "} %" PRIu64 "\n", s->count);
		}
	}
	help(f, "asyncprof_blocking_seconds_total", "counter",
	     "Time loop threads spent in blocking calls, by kind");
	for (size_t i = 0; i < r->processes.n; i++)
		blocking_seconds(f, &r->processes.v[i]);
}

int prom__format(FILE *f, const struct ap_report *r)
{
	lag_histogram(f, r);
	LOOP_METRIC(f, r, "asyncprof_loop_busy_ratio", "gauge",
		    "Share of time the loop thread spent outside its poll call", "%.6f",
		    ratio(l->busy_ns, l->idle_ns), 1);
	LOOP_METRIC(f, r, "asyncprof_callbacks_total", "counter",
		    "Callbacks dispatched by the loop (uprobe backend)", "%" PRIu64, l->callbacks,
		    l->callbacks != AP_NULL_U64);
	LOOP_METRIC(f, r, "asyncprof_slow_callbacks_total", "counter",
		    "Callbacks that ran past the slow-callback threshold", "%" PRIu64,
		    l->slow_callbacks, 1);
	LOOP_METRIC(f, r, "asyncprof_gil_wait_seconds_total", "counter",
		    "Time the loop thread waited for the GIL", "%.9f", l->gil_wait_ns / 1e9,
		    l->gil_wait_ns != AP_NULL_U64);
	busy_cause_metrics(f, r);
	blocking_metrics(f, r);
	help(f, "asyncprof_dropped_events_total", "counter", "Events lost to a full ring buffer");
	fprintf(f, "asyncprof_dropped_events_total %" PRIu64 "\n", r->drops_events);
	return ferror(f) ? -EIO : 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_len, void **req)
{
	struct prom *p = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status = MHD_HTTP_OK;
	const char *body = "";
	size_t len = 0;

	(void)version, (void)data, (void)data_len, (void)req;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	pthread_mutex_lock(&p->lock);
	if (strcmp(url, "/metrics")) {
		status = MHD_HTTP_NOT_FOUND;
		body = "not found: asyncprof-bpf serves /metrics\n";
		len = strlen(body);
	} else if (p->text) {
		body = p->text;
		len = p->len;
	}
	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	pthread_mutex_unlock(&p->lock);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* "[ADDR:]PORT" into a socket address; default 127.0.0.1. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, unsigned int *flags)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[64] = "127.0.0.1";
	const char *colon = strrchr(s, ':'), *port = colon ? colon + 1 : s;
	char *end;
	long v = strtol(port, &end, 10);

	if (*end || v <= 0 || v > 65535)
		return -EINVAL;
	if (colon) {
		size_t n = colon - s;

		if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
			s++, n -= 2;
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)v);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)v);
		*flags |= MHD_USE_IPv6;
		return 0;
	}
	return -EINVAL;
}

bool prom__addr_valid(const char *addr)
{
	struct sockaddr_storage ss;
	unsigned int flags = 0;

	return !parse_addr(addr, &ss, &flags);
}

int prom__start(const char *addr, struct prom **out)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;
	struct sockaddr_storage ss;
	struct prom *p;
	int err = parse_addr(addr, &ss, &flags);

	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, p, MHD_OPTION_SOCK_ADDR, &ss,
				  MHD_OPTION_END);
	if (!p->mhd) {
		err = errno ? -errno : -EADDRINUSE;
		pthread_mutex_destroy(&p->lock);
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

int prom__publish(struct prom *p, const struct ap_report *r)
{
	char *buf = NULL, *old;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return -errno;
	err = prom__format(f, r);
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		free(buf);
		return err;
	}
	pthread_mutex_lock(&p->lock);
	old = p->text;
	p->text = buf;
	p->len = len;
	pthread_mutex_unlock(&p->lock);
	free(old);
	return 0;
}

void prom__stop(struct prom *p)
{
	if (!p)
		return;
	MHD_stop_daemon(p->mhd);
	pthread_mutex_destroy(&p->lock);
	free(p->text);
	free(p);
}
