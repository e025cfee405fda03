/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report's output formats: one table (name, file name ending, writer)
 * that the command line and the saving both read, and the atomic file save
 * every format goes through. Each writer lives in its own out_<name>.c and
 * includes no other writer.
 */
#ifndef AP_OUTPUT_H
#define AP_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "model.h"

/* What a writer is told besides the report. */
struct out_opts {
	int top_n; /* text: entries per table (<= 0: 10) */
};

/* Writes r to f; 0, -EIO when the stream failed (the saver names the cause), -ENOMEM. */
typedef int (*out_write_fn)(FILE *f, const struct ap_report *r, const struct out_opts *o);

struct out_format {
	const char *name;   /* --format NAME, -o NAME:FILE */
	const char *ext;    /* the file name ending that implies this format */
	out_write_fn write; /* out_<name>.c */
	bool timeline;	    /* draws every callback run: the session must record them */
};

/* One output asked for: a format and where it goes. */
struct out_file {
	const struct out_format *format;
	const char *path; /* "-" for stdout */
};

/* The format called name[0..len), or NULL. */
const struct out_format *output__by_name(const char *name, size_t len);
/* The format a file name's ending implies (the longest match), else text. */
const struct out_format *output__by_path(const char *path);
/* The default: the text summary. */
const struct out_format *output__text(void);
/* Every format's name, for messages: "text, json, chrome, html or folded". */
const char *output__names(void);

/*
 * Write r in format fmt to path, atomically: a temporary file in the same
 * directory (mkstemp, mode 0644), fflush + fsync, then rename over path. On
 * any error the temporary file is removed and path is left as it was. "-"
 * writes to stdout instead (flushed, not synced); a device or FIFO is written
 * in place. o may be NULL. 0 or -errno.
 */
int output__save(const char *path, const struct out_format *fmt, const struct ap_report *r,
		 const struct out_opts *o);

/* The same save for any writer: write_fn(f, ctx) writes the content. 0 or -errno. */
typedef int (*output_write_fn)(FILE *f, const void *ctx);
int output__save_with(const char *path, output_write_fn write_fn, const void *ctx);

/*
 * Can output__save write path? Checked before tracing, so a typo costs no
 * trace: -EISDIR for a directory, else what creating the temporary file next
 * to it (or opening a device for writing) fails with. 0 or -errno.
 */
int output__check(const char *path);

/* The writers of the table, one file each. */
int out_text__write(FILE *f, const struct ap_report *r, const struct out_opts *o);
int out_json__write(FILE *f, const struct ap_report *r, const struct out_opts *o);
int out_chrome__write(FILE *f, const struct ap_report *r, const struct out_opts *o);
int out_html__write(FILE *f, const struct ap_report *r, const struct out_opts *o);
int out_folded__write(FILE *f, const struct ap_report *r, const struct out_opts *o);

#endif /* AP_OUTPUT_H */
