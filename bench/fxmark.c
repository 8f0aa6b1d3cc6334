/* File-system microbenchmarks after fxmark (Min et al., ATC '16), as used in
 * the NrOS paper. One thread per core; every thread works on
 *   DRBL  read a 4 KiB block of its private file          (pread)
 *   DRBH  read the same 4 KiB block of one shared file    (pread)
 *   DWOL  overwrite a 4 KiB block of its private file     (pwrite)
 *   DWOM  overwrite its private 4 KiB block of a shared file (pwrite)
 *   MWCL  create and unlink a file in its private directory (one op = both)
 *   MWRL  rename a file in its private directory (a -> b, b -> a, ...)
 *   MWRM  rename a file from its private directory into one shared directory
 *         and back (each rename is one op)
 * Everything lives under /tmp/nrb (in memory on both systems). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE "/tmp/nrb"
#define SHARED_FILE BASE "/shared"
#define SHARED_DIR BASE "/shared.d"

static int mkdir_ok(const char *p)
{
    return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : errno;
}

static int make_file(const char *path, size_t blocks)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return errno;
    char buf[BLOCK];
    memset(buf, 'x', sizeof buf);
    for (size_t i = 0; i < blocks; i++) {
        if (pwrite(fd, buf, BLOCK, (off_t)(i * BLOCK)) != BLOCK) {
            int e = errno ? errno : EIO;
            close(fd);
            return e;
        }
    }
    close(fd);
    return 0;
}

static int base_setup(int n, const char **what)
{
    (void)n;
    *what = "mkdir /tmp";
    int e = mkdir_ok("/tmp");
    if (e)
        return e;
    *what = "mkdir " BASE;
    return mkdir_ok(BASE);
}

static void base_teardown(int n)
{
    (void)n;
    rmdir(BASE);
}

static int shared_file_setup(int n, const char **what)
{
    int e = base_setup(n, what);
    if (e)
        return e;
    *what = "create " SHARED_FILE;
    return make_file(SHARED_FILE, (size_t)n);
}

static void shared_file_teardown(int n)
{
    unlink(SHARED_FILE);
    base_teardown(n);
}

static int shared_dir_setup(int n, const char **what)
{
    int e = base_setup(n, what);
    if (e)
        return e;
    *what = "mkdir " SHARED_DIR;
    return mkdir_ok(SHARED_DIR);
}

static void shared_dir_teardown(int n)
{
    rmdir(SHARED_DIR);
    base_teardown(n);
}

/* ---- block reads and writes ---- */

static int private_file(struct worker *w, const char *tag, int flags)
{
    snprintf(w->path[0], sizeof w->path[0], BASE "/%s.%d", tag, w->id);
    int e = make_file(w->path[0], 1);
    if (e)
        return fail(w, "create private file", e);
    w->fd = open(w->path[0], flags);
    if (w->fd < 0)
        return fail(w, "open private file", errno);
    w->off = 0;
    memset(w->buf, 'y', BLOCK);
    return 0;
}

static int drbl_setup(struct worker *w) { return private_file(w, "drbl", O_RDONLY); }
static int dwol_setup(struct worker *w) { return private_file(w, "dwol", O_WRONLY); }

static int shared_open(struct worker *w, int flags, off_t off)
{
    w->path[0][0] = 0;
    w->fd = open(SHARED_FILE, flags);
    if (w->fd < 0)
        return fail(w, "open " SHARED_FILE, errno);
    w->off = off;
    memset(w->buf, 'z', BLOCK);
    return 0;
}

static int drbh_setup(struct worker *w) { return shared_open(w, O_RDONLY, 0); }
static int dwom_setup(struct worker *w) { return shared_open(w, O_WRONLY, (off_t)w->id * BLOCK); }

static int read_op(struct worker *w)
{
    ssize_t r = pread(w->fd, w->buf, BLOCK, w->off);
    return r == BLOCK ? 0 : fail(w, "pread", r < 0 ? errno : EIO);
}

static int write_op(struct worker *w)
{
    ssize_t r = pwrite(w->fd, w->buf, BLOCK, w->off);
    return r == BLOCK ? 0 : fail(w, "pwrite", r < 0 ? errno : EIO);
}

static void file_teardown(struct worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->path[0][0])
        unlink(w->path[0]);
}

/* ---- metadata ---- */

static int private_dir(struct worker *w, const char *tag)
{
    snprintf(w->dir, sizeof w->dir, BASE "/%s.%d", tag, w->id);
    int e = mkdir_ok(w->dir);
    return e ? fail(w, "mkdir private directory", e) : 0;
}

static int mwcl_setup(struct worker *w)
{
    if (private_dir(w, "mwcl"))
        return w->err;
    snprintf(w->path[0], sizeof w->path[0], "%s/f", w->dir);
    return 0;
}

static int mwcl_op(struct worker *w)
{
    int fd = open(w->path[0], O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0)
        return fail(w, "create", errno);
    close(fd);
    return unlink(w->path[0]) == 0 ? 0 : fail(w, "unlink", errno);
}

static int mwrl_setup(struct worker *w)
{
    if (private_dir(w, "mwrl"))
        return w->err;
    snprintf(w->path[0], sizeof w->path[0], "%s/a", w->dir);
    snprintf(w->path[1], sizeof w->path[1], "%s/b", w->dir);
    int e = make_file(w->path[0], 0);
    return e ? fail(w, "create", e) : 0;
}

static int mwrm_setup(struct worker *w)
{
    if (private_dir(w, "mwrm"))
        return w->err;
    snprintf(w->path[0], sizeof w->path[0], "%s/f", w->dir);
    snprintf(w->path[1], sizeof w->path[1], SHARED_DIR "/f.%d", w->id);
    int e = make_file(w->path[0], 0);
    return e ? fail(w, "create", e) : 0;
}

static int rename_op(struct worker *w)
{
    int from = w->flip, to = !w->flip;
    if (rename(w->path[from], w->path[to]) != 0)
        return fail(w, "rename", errno);
    w->flip = to;
    return 0;
}

static void dir_teardown(struct worker *w)
{
    unlink(w->path[0]);
    unlink(w->path[1]);
    rmdir(w->dir);
}

const struct bench fxmark_benches[] = {
    {"DRBL", "read a 4 KiB block of a private file", base_setup, base_teardown, drbl_setup, read_op, file_teardown, 0},
    {"DRBH", "read the same 4 KiB block of one shared file", shared_file_setup, shared_file_teardown, drbh_setup, read_op, file_teardown, 0},
    {"DWOL", "overwrite a 4 KiB block of a private file", base_setup, base_teardown, dwol_setup, write_op, file_teardown, 0},
    {"DWOM", "overwrite a private 4 KiB block of a shared file", shared_file_setup, shared_file_teardown, dwom_setup, write_op, file_teardown, 0},
    {"MWCL", "create and unlink a file in a private directory", base_setup, base_teardown, mwcl_setup, mwcl_op, dir_teardown, 0},
    {"MWRL", "rename a file in a private directory", base_setup, base_teardown, mwrl_setup, rename_op, dir_teardown, 0},
    {"MWRM", "rename a file into one shared directory and back", shared_dir_setup, shared_dir_teardown, mwrm_setup, rename_op, dir_teardown, 0},
};
const int fxmark_count = sizeof fxmark_benches / sizeof fxmark_benches[0];
