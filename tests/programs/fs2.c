/* fs2: harder file-system cases (fs.c has the basics).
 *
 * Large sparse files and single large reads/writes, big directories and
 * getdents64 with small buffers, unlinked-but-open files, renames between
 * hard links of one inode, O_CREAT through a dangling symlink, trailing
 * slashes and odd paths, exact timestamps via utimensat, and the calls
 * programs make around files: fsync, fdatasync, fstatfs, flock, fallocate,
 * chown to oneself.
 *
 * Works in /tmp/fs2-test-<pid> (never printed, removed at the end). Prints
 * errno numbers with names from our own table. A failed expectation prints
 * "CHECK FAILED" and makes the exit status 1. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int failures;
static char base_dir[128];

static const char *ename(int e)
{
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EWOULDBLOCK: return "EWOULDBLOCK";
    default: return "E?";
    }
}

static void check(const char *what, int cond)
{
    printf("%s: %s\n", what, cond ? "yes" : "no (CHECK FAILED)");
    if (!cond)
        failures++;
}

/* Expect success (any non-negative result); print "ok" or the errno. */
static long ok(const char *what, long r)
{
    int e = errno;
    if (r < 0) {
        printf("%s: -1 errno=%d %s (CHECK FAILED)\n", what, e, ename(e));
        failures++;
    } else {
        printf("%s: ok\n", what);
    }
    errno = e;
    return r;
}

static void expect_err(const char *what, long r, int want)
{
    int e = errno;
    if (r >= 0) {
        printf("%s: %ld (CHECK FAILED: expected %s)\n", what, r, ename(want));
        failures++;
    } else {
        printf("%s: -1 errno=%d %s%s\n", what, e, ename(e), e == want ? "" : " (CHECK FAILED)");
        if (e != want)
            failures++;
    }
}

static uint64_t hash(const void *p, size_t n, uint64_t h)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

static void test_big_io(void)
{
    printf("--- large and sparse files\n");
    int fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t far = 5LL << 30; /* 5 GiB: beyond 32-bit offsets */
    printf("lseek(5 GiB): %lld\n", (long long)lseek(fd, far, SEEK_SET));
    printf("write(E) at 5 GiB: %zd\n", write(fd, "E", 1));
    struct stat st;
    fstat(fd, &st);
    printf("size: %lld\n", (long long)st.st_size);
    char buf[4096];
    memset(buf, 1, sizeof buf);
    printf("pread(4096 at 4 GiB): %zd\n", pread(fd, buf, sizeof buf, 4LL << 30));
    int z = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        z &= buf[i] == 0;
    check("the hole reads zeros", z);
    memset(buf, 1, sizeof buf);
    printf("pread(10 at 5 GiB - 5): %zd\n", pread(fd, buf, 10, far - 5));
    check("last bytes are 0 0 0 0 0 E", memcmp(buf, "\0\0\0\0\0E", 6) == 0);
    printf("lseek(0, SEEK_END): %lld\n", (long long)lseek(fd, 0, SEEK_END));
    ok("ftruncate(0)", ftruncate(fd, 0));
    fstat(fd, &st);
    printf("size after ftruncate: %lld\n", (long long)st.st_size);
    close(fd);
    unlink("sparse");

    /* one 3 MiB write and one read of it */
    size_t n = 3u << 20;
    unsigned char *w = malloc(n), *r = malloc(n + 100);
    for (size_t i = 0; i < n; i++)
        w[i] = (unsigned char)(i * 31 + (i >> 16));
    fd = open("big", O_RDWR | O_CREAT | O_TRUNC, 0644);
    printf("write(3 MiB): %zd\n", write(fd, w, n));
    lseek(fd, 0, SEEK_SET);
    printf("read(3 MiB + 100): %zd\n", read(fd, r, n + 100));
    check("contents equal", memcmp(w, r, n) == 0);
    printf("hash: %016llx\n", (unsigned long long)hash(r, n, 1469598103934665603ULL));
    /* overwrite across page boundaries in the middle */
    printf("pwrite(10000 at 4090): %zd\n", pwrite(fd, w, 10000, 4090));
    printf("pread(10000 at 4090): %zd\n", pread(fd, r, 10000, 4090));
    check("overwritten range reads back", memcmp(w, r, 10000) == 0);
    close(fd);
    unlink("big");
    free(w);
    free(r);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Count the entries of a directory with getdents64 and a buffer of bufsz
 * bytes; also hash the sorted names. */
static int count_getdents(const char *path, size_t bufsz, uint64_t *h, int *calls)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    char *buf = malloc(bufsz);
    char **names = malloc(sizeof(char *) * 1000);
    int n = 0;
    *calls = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, bufsz);
        if (got < 0) {
            printf("getdents64(bufsz %zu): errno=%d %s\n", bufsz, errno, ename(errno));
            break;
        }
        if (got == 0)
            break;
        (*calls)++;
        for (long off = 0; off < got;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (n < 1000)
                names[n++] = strdup(d->d_name);
            off += d->d_reclen;
        }
    }
    close(fd);
    qsort(names, n, sizeof *names, cmpstr);
    *h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++) {
        *h = hash(names[i], strlen(names[i]) + 1, *h);
        free(names[i]);
    }
    free(names);
    free(buf);
    return n;
}

static void test_big_dir(void)
{
    printf("--- big directory\n");
    mkdir("many", 0755);
    char name[300];
    int made = 0;
    for (int i = 0; i < 300; i++) {
        int len = snprintf(name, sizeof name, "many/f%03d_", i);
        for (int k = 0; k < i % 60; k++)
            name[len++] = 'a' + (i + k) % 26;
        name[len] = 0;
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            made++;
            close(fd);
        }
    }
    printf("created: %d\n", made);
    uint64_t h1, h2;
    int calls1, calls2;
    int n1 = count_getdents("many", 32768, &h1, &calls1);
    int n2 = count_getdents("many", 100, &h2, &calls2);
    printf("getdents64(32 KiB buffer): %d entries\n", n1);
    printf("getdents64(100-byte buffer): %d entries\n", n2);
    check("small buffer needs many calls", calls2 > 100);
    check("same names either way", h1 == h2);
    printf("names hash: %016llx\n", (unsigned long long)h1);
    int fd = open("many", O_RDONLY | O_DIRECTORY);
    char tiny[8];
    expect_err("getdents64(8-byte buffer)", syscall(SYS_getdents64, fd, tiny, sizeof tiny), EINVAL);
    expect_err("getdents64(regular file fd)",
               (close(fd), fd = open("fs2-file", O_RDWR | O_CREAT, 0644), syscall(SYS_getdents64, fd, name, sizeof name)), ENOTDIR);
    close(fd);
    unlink("fs2-file");
    /* rewinddir after reading everything */
    DIR *d = opendir("many");
    int c = 0;
    while (readdir(d))
        c++;
    rewinddir(d);
    int c2 = 0;
    while (readdir(d))
        c2++;
    closedir(d);
    printf("readdir: %d, after rewinddir: %d\n", c, c2);
    /* remove every other file, count again */
    d = opendir("many");
    struct dirent *e;
    char **all = malloc(sizeof(char *) * 400);
    int na = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == 'f')
            all[na++] = strdup(e->d_name);
    closedir(d);
    qsort(all, na, sizeof *all, cmpstr);
    for (int i = 0; i < na; i += 2) {
        snprintf(name, sizeof name, "many/%s", all[i]);
        unlink(name);
    }
    n1 = count_getdents("many", 32768, &h1, &calls1);
    printf("after removing every other file: %d entries, hash %016llx\n", n1, (unsigned long long)h1);
    for (int i = 0; i < na; i++) {
        snprintf(name, sizeof name, "many/%s", all[i]);
        unlink(name);
        free(all[i]);
    }
    free(all);
    ok("rmdir(many)", rmdir("many"));
}

static void test_unlinked_open(void)
{
    printf("--- unlinked but open\n");
    int fd = open("ghost", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "boo", 3);
    ok("unlink(ghost) while open", unlink("ghost"));
    expect_err("access(ghost)", access("ghost", F_OK), ENOENT);
    struct stat st;
    fstat(fd, &st);
    printf("fstat: nlink=%lu size=%lld\n", (unsigned long)st.st_nlink, (long long)st.st_size);
    write(fd, "!!", 2);
    char buf[8] = {0};
    printf("pread: %zd \"%s\"\n", pread(fd, buf, sizeof buf - 1, 0), buf);
    /* a new file with the same name is a different file */
    int fd2 = open("ghost", O_RDWR | O_CREAT | O_EXCL, 0644);
    check("new file with the old name", fd2 >= 0);
    fstat(fd2, &st);
    printf("new file size: %lld\n", (long long)st.st_size);
    close(fd2);
    close(fd);
    unlink("ghost");
    /* a directory removed while it is the cwd */
    mkdir("gone", 0755);
    chdir("gone");
    ok("rmdir(cwd via ../gone)", rmdir("../gone"));
    expect_err("open(new file in removed cwd)", open("x", O_WRONLY | O_CREAT, 0644), ENOENT);
    char cwd[256];
    errno = 0;
    char *p = getcwd(cwd, sizeof cwd);
    printf("getcwd in removed dir: %s errno=%d %s\n", p ? "ok" : "NULL", p ? 0 : errno, p ? "" : ename(errno));
    ok("chdir(..) from the removed directory", chdir(".."));
    chdir(base_dir);
}

static void test_rename_links(void)
{
    printf("--- rename and hard links\n");
    int fd = open("h1", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "same", 4);
    close(fd);
    link("h1", "h2");
    ok("rename(h1, h2) same inode", rename("h1", "h2"));
    check("h1 still exists (Linux leaves both)", access("h1", F_OK) == 0);
    check("h2 still exists", access("h2", F_OK) == 0);
    struct stat st;
    stat("h2", &st);
    printf("nlink: %lu\n", (unsigned long)st.st_nlink);
    unlink("h1");
    unlink("h2");
    /* renameat2 flags */
    fd = open("r1", O_WRONLY | O_CREAT, 0644);
    close(fd);
    fd = open("r2", O_WRONLY | O_CREAT, 0644);
    write(fd, "two", 3);
    close(fd);
    expect_err("renameat2(r1, r2, RENAME_NOREPLACE)", syscall(SYS_renameat2, AT_FDCWD, "r1", AT_FDCWD, "r2", 1), EEXIST);
    ok("renameat2(r1, r3, RENAME_NOREPLACE)", syscall(SYS_renameat2, AT_FDCWD, "r1", AT_FDCWD, "r3", 1));
    ok("renameat2(r2, r3, RENAME_EXCHANGE)", syscall(SYS_renameat2, AT_FDCWD, "r2", AT_FDCWD, "r3", 2));
    stat("r2", &st);
    printf("after exchange: size(r2)=%lld", (long long)st.st_size);
    stat("r3", &st);
    printf(" size(r3)=%lld\n", (long long)st.st_size);
    unlink("r2");
    unlink("r3");
}

static void test_paths(void)
{
    printf("--- paths\n");
    symlink("target-file", "dangling");
    int fd = open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644);
    expect_err("open(dangling, O_CREAT|O_EXCL)", fd, EEXIST);
    fd = open("dangling", O_WRONLY | O_CREAT, 0644);
    check("open(dangling, O_CREAT) creates the target", fd >= 0 && access("target-file", F_OK) == 0);
    if (fd >= 0)
        close(fd);
    unlink("dangling");
    unlink("target-file");

    mkdir("pd", 0755);
    fd = open("pd/f", O_WRONLY | O_CREAT, 0644);
    write(fd, "x", 1);
    close(fd);
    struct stat st;
    ok("stat(pd/)", stat("pd/", &st));
    expect_err("stat(pd/f/)", stat("pd/f/", &st), ENOTDIR);
    expect_err("open(pd/f/)", open("pd/f/", O_RDONLY), ENOTDIR);
    expect_err("open(pd/new/, O_CREAT)", open("pd/new/", O_WRONLY | O_CREAT, 0644), EISDIR);
    ok("mkdir(pd/sub/) with trailing slash", mkdir("pd/sub/", 0755));
    ok("stat(./pd/../pd//sub/./)", stat("./pd/../pd//sub/./", &st));
    ok("stat(pd/sub/../f)", stat("pd/sub/../f", &st));
    printf("size(pd/sub/../f)=%lld\n", (long long)st.st_size);
    ok("rmdir(pd/sub/)", rmdir("pd/sub/"));
    expect_err("rmdir(pd/..)", rmdir("pd/.."), ENOTEMPTY);
    ok("stat(/..)", stat("/..", &st));
    struct stat root;
    stat("/", &root);
    check("/.. is /", st.st_ino == root.st_ino && st.st_dev == root.st_dev);
    check("/../../tmp is /tmp", stat("/../../tmp", &st) == 0 && S_ISDIR(st.st_mode));
    /* openat: absolute paths ignore dirfd, relative ones need a directory */
    fd = open("pd/f", O_RDONLY);
    int fd2 = openat(999, "/tmp", O_RDONLY | O_DIRECTORY);
    check("openat(bad dirfd, absolute path) works", fd2 >= 0);
    if (fd2 >= 0)
        close(fd2);
    expect_err("openat(bad dirfd, relative path)", openat(999, "x", O_RDONLY), EBADF);
    expect_err("openat(file fd, relative path)", openat(fd, "x", O_RDONLY), ENOTDIR);
    close(fd);
    /* chmod follows symlinks */
    symlink("pd/f", "pf");
    chmod("pf", 0600);
    lstat("pf", &st);
    printf("lstat(pf) mode=%04o\n", (unsigned)(st.st_mode & 07777));
    stat("pd/f", &st);
    printf("stat(pd/f) mode=%04o\n", (unsigned)(st.st_mode & 07777));
    /* a symlink to a directory with a trailing slash */
    symlink("pd", "pdl");
    ok("stat(pdl/)", stat("pdl/", &st));
    check("pdl/ is a directory", S_ISDIR(st.st_mode));
    ok("lstat(pdl/) follows because of the slash", lstat("pdl/", &st));
    check("lstat(pdl/) is a directory", S_ISDIR(st.st_mode));
    expect_err("rmdir(pdl) a symlink", rmdir("pdl"), ENOTDIR);
    unlink("pdl");
    unlink("pf");
    unlink("pd/f");
    rmdir("pd");
}

static void test_times(void)
{
    printf("--- utimensat\n");
    int fd = open("tm", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    close(fd);
    struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
    ok("utimensat(tm, fixed times)", utimensat(AT_FDCWD, "tm", ts, 0));
    struct stat st;
    stat("tm", &st);
    printf("atime=%lld.%09ld mtime=%lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {42, 0}};
    ok("utimensat(atime OMIT, mtime 42)", utimensat(AT_FDCWD, "tm", omit, 0));
    stat("tm", &st);
    printf("atime=%lld.%09ld mtime=%lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    expect_err("utimensat(tv_nsec 1e9)", utimensat(AT_FDCWD, "tm", bad, 0), EINVAL);
    ok("utimensat(tm, NULL) = now", utimensat(AT_FDCWD, "tm", NULL, 0));
    stat("tm", &st);
    check("mtime is now (after 2020)", st.st_mtim.tv_sec > 1577836800);
    fd = open("tm", O_WRONLY);
    ts[1].tv_sec = 777;
    ts[1].tv_nsec = 0;
    ok("futimens(fd)", futimens(fd, ts));
    fstat(fd, &st);
    printf("mtime after futimens=%lld\n", (long long)st.st_mtim.tv_sec);
    write(fd, "x", 1);
    fstat(fd, &st);
    check("write updates mtime", st.st_mtim.tv_sec > 777);
    close(fd);
    unlink("tm");
}

static void test_misc_calls(void)
{
    printf("--- fsync, fstatfs, flock, fallocate, chown\n");
    int fd = open("mc", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "data", 4);
    ok("fsync", fsync(fd));
    ok("fdatasync", fdatasync(fd));
    sync();
    ok("syncfs", syscall(SYS_syncfs, fd));
    expect_err("fsync(bad fd)", fsync(999), EBADF);
    struct statfs sf;
    ok("fstatfs", fstatfs(fd, &sf));
    check("f_bsize > 0", sf.f_bsize > 0);
    ok("statfs(/tmp)", statfs("/tmp", &sf));
    ok("flock(LOCK_EX)", flock(fd, LOCK_EX));
    ok("flock(LOCK_UN)", flock(fd, LOCK_UN));
    ok("flock(LOCK_SH|LOCK_NB)", flock(fd, LOCK_SH | LOCK_NB));
    ok("fallocate(0, 0, 8192)", fallocate(fd, 0, 0, 8192));
    struct stat st;
    fstat(fd, &st);
    printf("size after fallocate: %lld\n", (long long)st.st_size);
    ok("posix_fadvise", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0 ? 0 : -1);
    ok("fchown(fd, own uid, own gid)", fchown(fd, getuid(), getgid()));
    ok("chown(mc, -1, -1)", chown("mc", (uid_t)-1, (gid_t)-1));
    ok("lchown(mc, own uid, -1)", lchown("mc", getuid(), (gid_t)-1));
    close(fd);
    unlink("mc");
}

int main(void)
{
    for (int i = 3; i < 1024; i++)
        close(i);
    umask(022);
    char *base = base_dir;
    snprintf(base, sizeof base_dir, "/tmp/fs2-test-%d", (int)getpid());
    if (mkdir(base, 0755) < 0 || chdir(base) < 0) {
        printf("cannot create the test directory: errno %d\n", errno);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_big_io();
    test_big_dir();
    test_unlinked_open();
    test_rename_links();
    test_paths();
    test_times();
    test_misc_calls();
    chdir("/");
    check("rmdir(base) (everything was cleaned up)", rmdir(base) == 0);
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
