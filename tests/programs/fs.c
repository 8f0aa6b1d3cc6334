/* fs: file-system system calls.
 *
 * Works in a fresh directory /tmp/fs-test-<pid> (the name is never printed)
 * and removes it at the end. Prints only what is the same on every Linux
 * file system: sizes of regular files and symlinks, file type, nlink of
 * non-directories, permission bits, errno NUMBERS with names from our own
 * table (musl and glibc strerror texts differ). Directory sizes, directory
 * link counts, inode numbers, times, devices and block counts are never
 * printed.
 *
 * Every line is "<what>: <result>"; a failed expectation is also reported
 * as "CHECK FAILED" and makes the exit status 1. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int failures;

static const char *ename(int e)
{
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOTTY: return "ENOTTY";
    default: return "E?";
    }
}

/* Print the result of a call returning -1/errno on failure. */
static long rep(const char *what, long r)
{
    int e = errno;
    if (r < 0)
        printf("%s: -1 errno=%d %s\n", what, e, ename(e));
    else
        printf("%s: %ld\n", what, r);
    errno = e;
    return r;
}

/* Like rep, but an fd number is printed only as "fd" (the numbers of the
 * first free descriptors may differ when the host runner leaks fds). */
static long rep_fd(const char *what, long r)
{
    int e = errno;
    if (r < 0)
        printf("%s: -1 errno=%d %s\n", what, e, ename(e));
    else
        printf("%s: fd\n", what);
    errno = e;
    return r;
}

/* Expect failure with a given errno. */
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

static void check(const char *what, int cond)
{
    printf("%s: %s\n", what, cond ? "yes" : "no (CHECK FAILED)");
    if (!cond)
        failures++;
}

static char type_char(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return '-';
    case S_IFDIR: return 'd';
    case S_IFLNK: return 'l';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    case S_IFIFO: return 'p';
    case S_IFSOCK: return 's';
    default: return '?';
    }
}

static void print_stat(const char *what, long r, const struct stat *st)
{
    if (r < 0) {
        rep(what, r);
        return;
    }
    char t = type_char(st->st_mode);
    if (t == 'd')
        printf("%s: type=d mode=%04o\n", what, (unsigned)(st->st_mode & 07777));
    else
        printf("%s: type=%c mode=%04o size=%lld nlink=%lu\n", what, t, (unsigned)(st->st_mode & 07777),
               (long long)st->st_size, (unsigned long)st->st_nlink);
}

/* stat through each stat-family system call directly, so that the same
 * system calls run with every libc. */
static void stat_all(const char *path)
{
    struct stat st;
    char what[128];
    long r;
    memset(&st, 0, sizeof st);
    r = syscall(SYS_stat, path, &st);
    snprintf(what, sizeof what, "SYS_stat(%s)", path);
    print_stat(what, r, &st);
    memset(&st, 0, sizeof st);
    r = syscall(SYS_lstat, path, &st);
    snprintf(what, sizeof what, "SYS_lstat(%s)", path);
    print_stat(what, r, &st);
    memset(&st, 0, sizeof st);
    r = syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0);
    snprintf(what, sizeof what, "SYS_newfstatat(%s)", path);
    print_stat(what, r, &st);
    memset(&st, 0, sizeof st);
    r = syscall(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW);
    snprintf(what, sizeof what, "SYS_newfstatat(%s, NOFOLLOW)", path);
    print_stat(what, r, &st);
}

/* Our own struct statx (musl 1.2.3 has no statx()). */
struct my_statx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct my_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct my_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
#define MY_STATX_TYPE 0x1U
#define MY_STATX_MODE 0x2U
#define MY_STATX_NLINK 0x4U
#define MY_STATX_SIZE 0x200U
#define MY_STATX_BASIC_STATS 0x7ffU

static void do_statx(int dirfd, const char *path, int flags, const char *what)
{
    struct my_statx sx;
    memset(&sx, 0xff, sizeof sx);
    long r = syscall(SYS_statx, dirfd, path, flags, MY_STATX_BASIC_STATS, &sx);
    if (r < 0) {
        rep(what, r);
        return;
    }
    unsigned need = MY_STATX_TYPE | MY_STATX_MODE | MY_STATX_NLINK | MY_STATX_SIZE;
    char t = type_char(sx.stx_mode);
    if (t == 'd')
        printf("%s: type=d mode=%04o basic-mask=%s\n", what, sx.stx_mode & 07777,
               (sx.stx_mask & need) == need ? "yes" : "no");
    else
        printf("%s: type=%c mode=%04o size=%llu nlink=%u basic-mask=%s\n", what, t, sx.stx_mode & 07777,
               (unsigned long long)sx.stx_size, sx.stx_nlink, (sx.stx_mask & need) == need ? "yes" : "no");
}

static unsigned long checksum(const unsigned char *p, size_t n)
{
    unsigned long h = 5381;
    for (size_t i = 0; i < n; i++)
        h = h * 33 + p[i];
    return h;
}

static void print_file(const char *path)
{
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        rep(path, -1);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        rep(path, -1);
        return;
    }
    buf[n] = 0;
    printf("content(%s) = \"", path);
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] >= 32 && buf[i] < 127)
            putchar(buf[i]);
        else
            printf("\\x%02x", (unsigned char)buf[i]);
    }
    printf("\" (%zd bytes)\n", n);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        rep("opendir", -1);
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 64) {
        char t = '?';
        switch (de->d_type) {
        case DT_REG: t = '-'; break;
        case DT_DIR: t = 'd'; break;
        case DT_LNK: t = 'l'; break;
        case DT_UNKNOWN: t = 'u'; break;
        }
        names[n] = malloc(strlen(de->d_name) + 3);
        sprintf(names[n], "%s:%c", de->d_name, t);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmpstr);
    printf("ls %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
        printf("write_file(%s) failed errno=%d (CHECK FAILED)\n", path, errno);
        failures++;
    }
    if (fd >= 0)
        close(fd);
}

static void test_open_rw(void)
{
    printf("--- open/read/write\n");
    int fd = rep_fd("open(f1, O_RDWR|O_CREAT|O_EXCL, 0644)", open("f1", O_RDWR | O_CREAT | O_EXCL, 0644));
    expect_err("open(f1, O_CREAT|O_EXCL) again", open("f1", O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
    rep("write(hello world\\n)", write(fd, "hello world\n", 12));
    rep("lseek(0, SEEK_CUR)", lseek(fd, 0, SEEK_CUR));
    rep("lseek(0, SEEK_SET)", lseek(fd, 0, SEEK_SET));
    char buf[64] = {0};
    rep("read(5)", read(fd, buf, 5));
    printf("buf=\"%s\"\n", buf);
    rep("lseek(1, SEEK_CUR)", lseek(fd, 1, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    rep("read(64)", read(fd, buf, 64));
    printf("buf=\"%s\"\n", buf);
    rep("read at EOF", read(fd, buf, 64));
    rep("lseek(-6, SEEK_END)", lseek(fd, -6, SEEK_END));
    expect_err("lseek(-100, SEEK_SET)", lseek(fd, -100, SEEK_SET), EINVAL);
    expect_err("lseek(0, whence 99)", lseek(fd, 0, 99), EINVAL);
    rep("pwrite(WORLD, off 6)", pwrite(fd, "WORLD", 5, 6));
    rep("lseek(0, SEEK_CUR) after pwrite", lseek(fd, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    rep("pread(5, off 6)", pread(fd, buf, 5, 6));
    printf("buf=\"%s\"\n", buf);
    rep("pread(5, off 100) beyond EOF", pread(fd, buf, 5, 100));
    expect_err("pread(off -1)", pread(fd, buf, 5, -1), EINVAL);
    {
        /* pread errors come from the descriptor: pipes and directories
         * cannot be read at an offset; a write-only file cannot be read. */
        int pp[2];
        if (pipe(pp) == 0) {
            expect_err("pread(pipe)", pread(pp[0], buf, 5, 0), ESPIPE);
            expect_err("pread(pipe, 0 bytes)", pread(pp[0], buf, 0, 0), ESPIPE);
            close(pp[0]);
            close(pp[1]);
        }
        int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
        expect_err("pread(directory)", pread(dfd, buf, 5, 0), EISDIR);
        close(dfd);
        expect_err("pread(bad fd)", pread(999, buf, 5, 0), EBADF);
    }
    /* a hole: seek beyond EOF and write */
    rep("lseek(100, SEEK_SET) beyond EOF", lseek(fd, 100, SEEK_SET));
    rep("write(X) at 100", write(fd, "X", 1));
    struct stat st;
    rep("fstat", fstat(fd, &st));
    print_stat("fstat(f1)", 0, &st);
    unsigned char big[128];
    memset(big, 0xee, sizeof big);
    rep("pread(128, off 0)", pread(fd, big, sizeof big, 0));
    int zeros = 1;
    for (int i = 12; i < 100; i++)
        if (big[i] != 0)
            zeros = 0;
    check("hole 12..100 reads zeros", zeros);
    printf("f1 checksum=%lu\n", checksum(big, 101));
    close(fd);
    expect_err("read(closed fd)", read(fd, buf, 1), EBADF);
    expect_err("close(closed fd)", close(fd), EBADF);

    /* readv / writev */
    fd = rep_fd("open(f2, O_RDWR|O_CREAT|O_TRUNC)", open("f2", O_RDWR | O_CREAT | O_TRUNC, 0600));
    struct iovec iov[3] = {
        {"abc", 3}, {"", 0}, {"defgh", 5},
    };
    rep("writev(3 iovecs)", writev(fd, iov, 3));
    lseek(fd, 0, SEEK_SET);
    char a[2] = {0}, b[4] = {0}, c[10] = {0};
    struct iovec riov[3] = {{a, 2}, {b, 4}, {c, 10}};
    rep("readv(2,4,10)", readv(fd, riov, 3));
    printf("readv: \"%.2s\" \"%.4s\" \"%s\"\n", a, b, c);
    expect_err("writev(iovcnt -1)", syscall(SYS_writev, fd, iov, -1), EINVAL);
    close(fd);

    /* O_TRUNC, O_APPEND */
    fd = rep_fd("open(f2, O_WRONLY|O_TRUNC)", open("f2", O_WRONLY | O_TRUNC));
    stat("f2", &st);
    printf("size after O_TRUNC: %lld\n", (long long)st.st_size);
    write(fd, "12345", 5);
    close(fd);
    fd = rep_fd("open(f2, O_WRONLY|O_APPEND)", open("f2", O_WRONLY | O_APPEND));
    lseek(fd, 0, SEEK_SET);
    rep("write(ab) with O_APPEND after lseek 0", write(fd, "ab", 2));
    rep("lseek(0, SEEK_CUR)", lseek(fd, 0, SEEK_CUR));
    /* Linux quirk: pwrite on an O_APPEND file appends */
    rep("pwrite(cd, off 0) with O_APPEND", pwrite(fd, "cd", 2, 0));
    close(fd);
    print_file("f2");
    expect_err("read(O_WRONLY fd)", (fd = open("f2", O_WRONLY), read(fd, buf, 1)), EBADF);
    close(fd);
    expect_err("write(O_RDONLY fd)", (fd = open("f2", O_RDONLY), write(fd, "x", 1)), EBADF);
    close(fd);
    expect_err("open(nonexistent)", open("nonexistent", O_RDONLY), ENOENT);
    expect_err("open(f2/x) through a file", open("f2/x", O_RDONLY), ENOTDIR);
    expect_err("open(f2, O_DIRECTORY)", open("f2", O_RDONLY | O_DIRECTORY), ENOTDIR);
    expect_err("open(nodir/x, O_CREAT)", open("nodir/x", O_WRONLY | O_CREAT, 0644), ENOENT);
    expect_err("open(., O_WRONLY)", open(".", O_WRONLY), EISDIR);
    fd = rep_fd("open(., O_RDONLY)", open(".", O_RDONLY));
    expect_err("read(directory fd)", read(fd, buf, 1), EISDIR);
    close(fd);
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[299] = 0;
    expect_err("open(300-char name, O_CREAT)", open(longname, O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
    expect_err("open(\"\")", open("", O_RDONLY), ENOENT);
}

static void test_stat(void)
{
    printf("--- stat family\n");
    write_file("s1", "0123456789");
    chmod("s1", 0640);
    symlink("s1", "s1link");
    symlink("nowhere", "dangling");
    mkdir("sdir", 0755);
    stat_all("s1");
    stat_all("s1link");
    stat_all("sdir");
    stat_all("dangling");
    stat_all("missing");
    struct stat st;
    long r = stat("s1", &st);
    print_stat("libc stat(s1)", r, &st);
    r = lstat("s1link", &st);
    print_stat("libc lstat(s1link)", r, &st);
    int fd = open("s1", O_RDONLY);
    r = syscall(SYS_fstat, fd, &st);
    print_stat("SYS_fstat(s1)", r, &st);
    r = fstat(fd, &st);
    print_stat("libc fstat(s1)", r, &st);
    r = syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH);
    print_stat("SYS_newfstatat(fd, \"\", AT_EMPTY_PATH)", r, &st);
    expect_err("SYS_newfstatat(fd, \"\", 0)", syscall(SYS_newfstatat, fd, "", &st, 0), ENOENT);
    do_statx(fd, "", AT_EMPTY_PATH, "statx(fd, \"\", AT_EMPTY_PATH)");
    close(fd);
    expect_err("SYS_fstat(bad fd 999)", syscall(SYS_fstat, 999, &st), EBADF);
    do_statx(AT_FDCWD, "s1", 0, "statx(s1)");
    do_statx(AT_FDCWD, "s1link", 0, "statx(s1link)");
    do_statx(AT_FDCWD, "s1link", AT_SYMLINK_NOFOLLOW, "statx(s1link, NOFOLLOW)");
    do_statx(AT_FDCWD, "sdir", 0, "statx(sdir)");
    do_statx(AT_FDCWD, "missing", 0, "statx(missing)");
    int dfd = open("sdir", O_RDONLY | O_DIRECTORY);
    write_file("sdir/inner", "abc");
    r = syscall(SYS_newfstatat, dfd, "inner", &st, 0);
    print_stat("SYS_newfstatat(dirfd, inner)", r, &st);
    do_statx(dfd, "inner", 0, "statx(dirfd, inner)");
    close(dfd);
    unlink("sdir/inner");
    rmdir("sdir");
    unlink("s1link");
    unlink("dangling");
    unlink("s1");
}

static void test_dirs(void)
{
    printf("--- directories\n");
    rep("mkdir(d1, 0755)", mkdir("d1", 0755));
    expect_err("mkdir(d1) again", mkdir("d1", 0755), EEXIST);
    expect_err("mkdir(nodir/x)", mkdir("nodir/x", 0755), ENOENT);
    int dfd = rep_fd("open(d1, O_DIRECTORY)", open("d1", O_RDONLY | O_DIRECTORY));
    rep("mkdirat(dfd, sub, 0700)", mkdirat(dfd, "sub", 0700));
    close(rep_fd("openat(dfd, file, O_CREAT)", openat(dfd, "file", O_WRONLY | O_CREAT, 0644)));
    write_file("d1/sub/deep", "deep");
    list_dir("d1");
    list_dir("d1/sub");
    struct stat st;
    print_stat("stat(d1/sub)", stat("d1/sub", &st), &st);
    expect_err("rmdir(d1) not empty", rmdir("d1"), ENOTEMPTY);
    expect_err("rmdir(d1/file) not a dir", rmdir("d1/file"), ENOTDIR);
    expect_err("unlink(d1/sub) is a dir", unlink("d1/sub"), EISDIR);
    expect_err("unlinkat(dfd, file, AT_REMOVEDIR)", unlinkat(dfd, "file", AT_REMOVEDIR), ENOTDIR);
    expect_err("unlinkat(dfd, sub, AT_REMOVEDIR) non-empty", unlinkat(dfd, "sub", AT_REMOVEDIR), ENOTEMPTY);
    rep("unlink(d1/sub/deep)", unlink("d1/sub/deep"));
    expect_err("unlink(d1/sub/deep) again", unlink("d1/sub/deep"), ENOENT);
    rep("unlinkat(dfd, sub, AT_REMOVEDIR)", unlinkat(dfd, "sub", AT_REMOVEDIR));
    rep("unlinkat(dfd, file, 0)", unlinkat(dfd, "file", 0));
    list_dir("d1");
    expect_err("rmdir(d1/.)", rmdir("d1/."), EINVAL);
    close(dfd);
    rep("rmdir(d1)", rmdir("d1"));
    expect_err("rmdir(d1) again", rmdir("d1"), ENOENT);
    expect_err("stat(d1) after rmdir", stat("d1", &st), ENOENT);
}

static void test_rename(void)
{
    printf("--- rename\n");
    write_file("ra", "AAA");
    write_file("rb", "BBBBB");
    mkdir("rd", 0755);
    mkdir("re", 0755);
    mkdir("rf", 0755);
    write_file("rf/x", "x");
    rep("rename(ra, rb) replaces a file", rename("ra", "rb"));
    print_file("rb");
    expect_err("stat(ra) after rename", access("ra", F_OK), ENOENT);
    expect_err("rename(rb, rd) file onto dir", rename("rb", "rd"), EISDIR);
    expect_err("rename(rd, rb) dir onto file", rename("rd", "rb"), ENOTDIR);
    expect_err("rename(rd, rf) onto non-empty dir", rename("rd", "rf"), ENOTEMPTY);
    expect_err("rename(rd, rd/sub) into itself", rename("rd", "rd/sub"), EINVAL);
    expect_err("rename(missing, x)", rename("missing", "x"), ENOENT);
    rep("rename(rd, re) onto empty dir", rename("rd", "re"));
    expect_err("access(rd)", access("rd", F_OK), ENOENT);
    rep("rename(rb, rb) same file", rename("rb", "rb"));
    int d1 = open("re", O_RDONLY | O_DIRECTORY);
    int d2 = open("rf", O_RDONLY | O_DIRECTORY);
    rep("renameat(AT_FDCWD, rb, d1, moved)", renameat(AT_FDCWD, "rb", d1, "moved"));
    rep("renameat(d1, moved, d2, y)", renameat(d1, "moved", d2, "y"));
    list_dir("re");
    list_dir("rf");
    print_file("rf/y");
    rep("rename(rf, re/rf) dir into dir", rename("rf", "re/rf"));
    list_dir("re/rf");
    print_file("re/rf/x");
    close(d1);
    close(d2);
    unlink("re/rf/x");
    unlink("re/rf/y");
    rmdir("re/rf");
    rmdir("re");
}

static void test_links(void)
{
    printf("--- link/symlink/readlink\n");
    write_file("la", "link me");
    struct stat st;
    rep("link(la, lb)", link("la", "lb"));
    print_stat("stat(la) nlink 2", stat("la", &st), &st);
    expect_err("link(la, lb) exists", link("la", "lb"), EEXIST);
    expect_err("link(missing, lc)", link("missing", "lc"), ENOENT);
    mkdir("ldir", 0755);
    expect_err("link(ldir, ld2) dir", link("ldir", "ld2"), EPERM);
    rep("unlink(la)", unlink("la"));
    print_file("lb");
    print_stat("stat(lb) nlink 1", stat("lb", &st), &st);
    rep("symlink(lb, ls)", symlink("lb", "ls"));
    rep("symlink(ldir, lsd)", symlink("ldir", "lsd"));
    expect_err("symlink(x, ls) exists", symlink("x", "ls"), EEXIST);
    char buf[64];
    memset(buf, 0, sizeof buf);
    long n = rep("readlink(ls)", readlink("ls", buf, sizeof buf));
    printf("readlink(ls) = \"%.*s\"\n", (int)(n > 0 ? n : 0), buf);
    memset(buf, 0, sizeof buf);
    n = rep("readlink(ls, bufsiz 1) truncates", readlink("ls", buf, 1));
    printf("buf=\"%s\"\n", buf);
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    memset(buf, 0, sizeof buf);
    n = rep("readlinkat(dfd, lsd)", readlinkat(dfd, "lsd", buf, sizeof buf));
    printf("readlinkat = \"%s\"\n", buf);
    close(dfd);
    expect_err("readlink(lb) not a symlink", readlink("lb", buf, sizeof buf), EINVAL);
    expect_err("readlink(missing)", readlink("missing", buf, sizeof buf), ENOENT);
    print_file("ls");
    write_file("lsd/through", "via symlink");
    print_file("ldir/through");
    expect_err("open(ls, O_NOFOLLOW)", open("ls", O_RDONLY | O_NOFOLLOW), ELOOP);
    symlink("loop1", "loop2");
    symlink("loop2", "loop1");
    expect_err("open(loop1) symlink loop", open("loop1", O_RDONLY), ELOOP);
    symlink("/tmp", "abslink");
    struct stat st2;
    stat("abslink", &st);
    stat("/tmp", &st2);
    check("stat(abslink) is /tmp", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
    rep("unlink(ls) removes the link only", unlink("ls"));
    check("lb still exists", access("lb", F_OK) == 0);
    list_dir(".");
    unlink("abslink");
    unlink("loop1");
    unlink("loop2");
    unlink("lsd");
    unlink("ldir/through");
    rmdir("ldir");
    unlink("lb");
}

static void test_truncate(void)
{
    printf("--- truncate\n");
    write_file("t1", "0123456789");
    struct stat st;
    rep("truncate(t1, 4)", truncate("t1", 4));
    print_file("t1");
    rep("truncate(t1, 8) grows with zeros", truncate("t1", 8));
    print_file("t1");
    int fd = open("t1", O_RDWR);
    rep("ftruncate(fd, 2)", ftruncate(fd, 2));
    rep("lseek(0, SEEK_CUR) unchanged", lseek(fd, 0, SEEK_CUR));
    lseek(fd, 5, SEEK_SET);
    write(fd, "Z", 1);
    print_file("t1");
    expect_err("ftruncate(fd, -1)", ftruncate(fd, -1), EINVAL);
    close(fd);
    fd = open("t1", O_RDONLY);
    expect_err("ftruncate(O_RDONLY fd)", ftruncate(fd, 0), EINVAL);
    close(fd);
    mkdir("tdir", 0755);
    expect_err("truncate(dir)", truncate("tdir", 0), EISDIR);
    expect_err("truncate(missing)", truncate("missing", 0), ENOENT);
    rmdir("tdir");
    expect_err("fstat(-1)", fstat(-1, &st), EBADF);
    unlink("t1");
}

static void test_cwd(const char *base)
{
    printf("--- getcwd/chdir/fchdir\n");
    char buf[512];
    char *p = getcwd(buf, sizeof buf);
    check("getcwd == base", p && strcmp(buf, base) == 0);
    long r = syscall(SYS_getcwd, buf, sizeof buf);
    check("SYS_getcwd returns strlen+1", r == (long)strlen(base) + 1);
    expect_err("SYS_getcwd(buf, 5) too small", syscall(SYS_getcwd, buf, 5), ERANGE);
    mkdir("c1", 0755);
    mkdir("c1/c2", 0755);
    write_file("c1/c2/f", "in c2");
    rep("chdir(c1/c2)", chdir("c1/c2"));
    p = getcwd(buf, sizeof buf);
    printf("getcwd ends with /c1/c2: %s\n", p && strlen(buf) > 6 && strcmp(buf + strlen(buf) - 6, "/c1/c2") == 0 ? "yes" : "no");
    print_file("f");
    rep("chdir(..)", chdir(".."));
    p = getcwd(buf, sizeof buf);
    printf("getcwd ends with /c1: %s\n", p && strcmp(buf + strlen(buf) - 3, "/c1") == 0 ? "yes" : "no");
    expect_err("chdir(missing)", chdir("missing"), ENOENT);
    expect_err("chdir(c2/f) not a dir", chdir("c2/f"), ENOTDIR);
    int fd = open("c2", O_RDONLY | O_DIRECTORY);
    rep("fchdir(c2)", fchdir(fd));
    close(fd);
    print_file("f");
    fd = open("f", O_RDONLY);
    expect_err("fchdir(regular file)", fchdir(fd), ENOTDIR);
    close(fd);
    expect_err("fchdir(bad fd)", fchdir(999), EBADF);
    rep("chdir(base)", chdir(base));
    p = getcwd(buf, sizeof buf);
    check("getcwd == base again", p && strcmp(buf, base) == 0);
    rep("chdir(/)", chdir("/"));
    p = getcwd(buf, sizeof buf);
    printf("getcwd at root: %s\n", p ? buf : "NULL");
    chdir(base);
    unlink("c1/c2/f");
    rmdir("c1/c2");
    rmdir("c1");
}

static void test_dup_fcntl(void)
{
    printf("--- dup/fcntl\n");
    int fd = open("dupf", O_RDWR | O_CREAT | O_TRUNC, 0644);
    int fd2 = dup(fd);
    check("dup(fd) > fd", fd2 > fd);
    write(fd, "abc", 3);
    rep("lseek(dup, 0, SEEK_CUR) shares offset", lseek(fd2, 0, SEEK_CUR));
    close(fd2);
    rep("dup2(fd, 20)", dup2(fd, 20));
    check("dup2(fd, fd) returns fd", dup2(fd, fd) == fd);
    expect_err("dup2(fd, -1)", dup2(fd, -1), EBADF);
    expect_err("dup2(999, 21)", dup2(999, 21), EBADF);
    rep("F_GETFD(20) after dup2", fcntl(20, F_GETFD));
    expect_err("dup3(fd, fd, 0)", syscall(SYS_dup3, fd, fd, 0), EINVAL);
    expect_err("dup3(fd, 22, 12345) bad flags", syscall(SYS_dup3, fd, 22, 12345), EINVAL);
    rep("dup3(fd, 21, O_CLOEXEC)", syscall(SYS_dup3, fd, 21, O_CLOEXEC));
    rep("F_GETFD(21)", fcntl(21, F_GETFD));
    rep("F_SETFD(21, 0)", fcntl(21, F_SETFD, 0));
    rep("F_GETFD(21) after clear", fcntl(21, F_GETFD));
    rep("F_SETFD(21, FD_CLOEXEC)", fcntl(21, F_SETFD, FD_CLOEXEC));
    rep("F_GETFD(21) after set", fcntl(21, F_GETFD));
    rep("F_DUPFD(fd, 10)", fcntl(fd, F_DUPFD, 10));
    rep("F_DUPFD(fd, 10) again -> 11", fcntl(fd, F_DUPFD, 10));
    rep("F_DUPFD_CLOEXEC(fd, 20) -> 22", fcntl(fd, F_DUPFD_CLOEXEC, 20));
    rep("F_GETFD(22)", fcntl(22, F_GETFD));
    rep("F_GETFD(10)", fcntl(10, F_GETFD));
    expect_err("F_GETFD(999)", fcntl(999, F_GETFD), EBADF);
    long fl = fcntl(fd, F_GETFL);
    printf("F_GETFL: accmode=%ld append=%d\n", fl & O_ACCMODE, (fl & O_APPEND) != 0);
    rep("F_SETFL(O_APPEND)", fcntl(fd, F_SETFL, O_APPEND));
    fl = fcntl(fd, F_GETFL);
    printf("F_GETFL: accmode=%ld append=%d\n", fl & O_ACCMODE, (fl & O_APPEND) != 0);
    fl = fcntl(20, F_GETFL);
    printf("F_GETFL(dup2'd fd 20) shares flags: append=%d\n", (fl & O_APPEND) != 0);
    lseek(fd, 0, SEEK_SET);
    write(fd, "X", 1);
    rep("offset after appending write", lseek(fd, 0, SEEK_CUR));
    rep("F_SETFL(0)", fcntl(fd, F_SETFL, 0));
    fl = fcntl(fd, F_GETFL);
    printf("F_GETFL: accmode=%ld append=%d\n", fl & O_ACCMODE, (fl & O_APPEND) != 0);
    lseek(fd, 0, SEEK_SET);
    write(fd, "Y", 1);
    close(fd);
    print_file("dupf");
    for (int i = 10; i <= 22; i++)
        close(i);
    unlink("dupf");
}

static void test_access_umask(void)
{
    printf("--- access/umask\n");
    write_file("acc", "x");
    chmod("acc", 0644);
    rep("access(acc, F_OK)", access("acc", F_OK));
    rep("access(acc, R_OK)", access("acc", R_OK));
    expect_err("access(missing, F_OK)", access("missing", F_OK), ENOENT);
    expect_err("access(acc, bad mode 0x40)", access("acc", 0x40), EINVAL);
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    rep("faccessat(dfd, acc, R_OK, 0)", faccessat(dfd, "acc", R_OK, 0));
    expect_err("faccessat(dfd, missing, F_OK, 0)", faccessat(dfd, "missing", F_OK, 0), ENOENT);
    rep("SYS_faccessat(AT_FDCWD, acc, F_OK)", syscall(SYS_faccessat, AT_FDCWD, "acc", F_OK));
    close(dfd);
    unlink("acc");
    mode_t old = umask(027);
    printf("umask(027) returned old=%03o\n", (unsigned)old);
    int fd = open("um_file", O_WRONLY | O_CREAT | O_EXCL, 0666);
    close(fd);
    mkdir("um_dir", 0777);
    struct stat st;
    print_stat("stat(um_file) with umask 027", stat("um_file", &st), &st);
    print_stat("stat(um_dir) with umask 027", stat("um_dir", &st), &st);
    rep("chmod(um_file, 0604) ignores umask", chmod("um_file", 0604));
    print_stat("stat(um_file)", stat("um_file", &st), &st);
    fd = open("um_file", O_RDONLY);
    rep("fchmod(fd, 0400)", fchmod(fd, 0400));
    print_stat("fstat(um_file)", fstat(fd, &st), &st);
    close(fd);
    rep("fchmodat(AT_FDCWD, um_dir, 0711)", fchmodat(AT_FDCWD, "um_dir", 0711, 0));
    print_stat("stat(um_dir)", stat("um_dir", &st), &st);
    printf("umask(022) returned %03o\n", (unsigned)umask(022));
    fd = open("um_file2", O_WRONLY | O_CREAT | O_EXCL, 0777);
    close(fd);
    print_stat("stat(um_file2) with umask 022, mode 0777", stat("um_file2", &st), &st);
    unlink("um_file");
    unlink("um_file2");
    rmdir("um_dir");
}

int main(void)
{
    /* Start from a clean descriptor table: the host runner may leak fds. */
    for (int i = 3; i < 1024; i++)
        close(i);
    umask(022);
    char base[128];
    snprintf(base, sizeof base, "/tmp/fs-test-%d", (int)getpid());
    if (mkdir(base, 0755) < 0) {
        printf("cannot create the test directory: errno %d\n", errno);
        return 2;
    }
    if (chdir(base) < 0) {
        printf("cannot enter the test directory: errno %d\n", errno);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_open_rw();
    unlink("f1");
    unlink("f2");
    test_stat();
    test_dirs();
    test_rename();
    test_links();
    test_truncate();
    test_cwd(base);
    test_dup_fcntl();
    test_access_umask();
    list_dir(".");
    chdir("/");
    check("rmdir(base) (everything was cleaned up)", rmdir(base) == 0);
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
