// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The table of output formats, the atomic file save every one goes through, and its check. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "output.h"

/* "<dir of path>/.<name of path>.XXXXXX" */
static char *tmp_name_for(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path + 1) : 0;
	char *tmp;

	if (asprintf(&tmp, "%.*s.%s.XXXXXX", (int)dlen, path, path + dlen) < 0)
		return NULL;
	return tmp;
}

/* fflush, fsync and fclose f; f is closed whatever happens. */
static int close_synced(FILE *f)
{
	int err = 0;

	if (fflush(f) || ferror(f) || fsync(fileno(f)))
		err = errno ? -errno : -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* Make the rename durable: fsync the directory, best effort. */
static void sync_dir_of(const char *tmp)
{
	char *dir = strdup(tmp), *slash;
	int fd;

	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* An existing path that is not a regular file: a device, a FIFO, a socket. */
static bool is_special(const char *path)
{
	struct stat st;

	return !stat(path, &st) && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

/*
 * /dev/null, /dev/stdout or a FIFO: written in place, since renaming a
 * temporary file over it would replace the device node itself.
 */
static int write_special(const char *path, output_write_fn write_fn, const void *ctx)
{
	FILE *f = fopen(path, "we");
	int err;

	if (!f)
		return -errno;
	err = write_fn(f, ctx);
	if (err == -EIO && ferror(f) && errno)
		err = -errno; /* name the cause, as output__save_with does */
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

int output__save_with(const char *path, output_write_fn write_fn, const void *ctx)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd, err;

	if (!strcmp(path, "-")) {
		err = write_fn(stdout, ctx);
		return err ? err : (fflush(stdout) ? -errno : 0);
	}
	if (is_special(path))
		return write_special(path, write_fn, ctx);
	tmp = tmp_name_for(path);
	if (!tmp)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto out_unlink;
	}
	err = fchmod(fd, 0644) ? -errno : 0;
	if (!err)
		err = write_fn(f, ctx);
	if (err == -EIO && ferror(f) && errno)
		err = -errno; /* the writers see a stream error: name its cause (ENOSPC) */
	if (err) {
		fclose(f);
		goto out_unlink;
	}
	err = close_synced(f);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		goto out_unlink;
	sync_dir_of(tmp);
	free(tmp);
	return 0;
out_unlink:
	unlink(tmp);
	free(tmp);
	return err;
}

int output__check(const char *path)
{
	struct stat st;
	char *tmp;
	int fd;

	if (!strcmp(path, "-"))
		return 0;
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (is_special(path))
		return access(path, W_OK) ? -errno : 0;
	/* the one way to know the directory takes a file: make the temporary one */
	tmp = tmp_name_for(path);
	if (!tmp)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		fd = -errno;
		free(tmp);
		return fd;
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return 0;
}

static const struct out_format formats[] = {
	{"text", ".txt", out_text__write, false},
	{"json", ".json", out_json__write, false},
	{"chrome", ".trace.json", out_chrome__write, true},
	{"html", ".html", out_html__write, true},
	{"folded", ".folded", out_folded__write, false},
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

const struct out_format *output__by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (strlen(formats[i].name) == len && !strncmp(formats[i].name, name, len))
			return &formats[i];
	return NULL;
}

const struct out_format *output__by_path(const char *path)
{
	const struct out_format *fmt = output__text();
	size_t n = strlen(path), best = 0;

	for (size_t i = 0; i < NFORMATS; i++) {
		size_t e = strlen(formats[i].ext);

		if (n > e && e > best && !strcmp(path + n - e, formats[i].ext)) {
			best = e;
			fmt = &formats[i];
		}
	}
	return fmt;
}

const struct out_format *output__text(void)
{
	return &formats[0];
}

const char *output__names(void)
{
	static char names[128];
	size_t len = 0;

	if (names[0])
		return names;
	for (size_t i = 0; i < NFORMATS; i++)
		len += snprintf(names + len, sizeof(names) - len, "%s%s",
				!i		   ? ""
				: i + 1 < NFORMATS ? ", "
						   : " or ",
				formats[i].name);
	return names;
}

struct save_ctx {
	const struct out_format *fmt;
	const struct ap_report *r;
	const struct out_opts *o;
};

static int save_write(FILE *f, const void *ctx)
{
	const struct save_ctx *c = ctx;
	static const struct out_opts none;
	int err = c->fmt->write(f, c->r, c->o ? c->o : &none);

	/* every writer's stream is checked here, so none need repeat it */
	if (!err && (fflush(f) || ferror(f)))
		err = -EIO;
	return err;
}

int output__save(const char *path, const struct out_format *fmt, const struct ap_report *r,
		 const struct out_opts *o)
{
	struct save_ctx c = {.fmt = fmt, .r = r, .o = o};

	return output__save_with(path, save_write, &c);
}
