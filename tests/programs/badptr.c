/* badptr: system calls given bad user pointers fail with EFAULT and the
 * process carries on. Raw syscall() is used throughout: libc wrappers (and
 * the vDSO) would touch the pointers themselves and crash first.
 * Prints errno numbers. Exit status 0 when every result is as expected on
 * Linux, 1 otherwise. Uses /tmp/badptr-<pid> (removed at the end). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL

static int failures;

/* Run a raw system call; print "<what>: ret=R errno=E". */
static void expect(const char *what, long r, long want_ret, int want_errno)
{
    int e = r == -1 ? errno : 0;
    int ok = r == want_ret && e == want_errno;
    printf("%s: ret=%ld errno=%d%s\n", what, r, e, ok ? "" : " (CHECK FAILED)");
    if (!ok)
        failures++;
}

#define EXPECT_FAULT(what, call) expect(what, (errno = 0, (long)(call)), -1, EFAULT)

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    void *kernel = (void *)0xffffffff80000000UL;   /* kernel half */
    void *kernel2 = (void *)0xffff800000000000UL;  /* start of the kernel half */
    void *noncanon = (void *)0x0000800000000000UL; /* first non-canonical address */
    void *lastuser = (void *)0x00007ffffffff000UL; /* top user page, unmapped */
    char path[64];
    snprintf(path, sizeof path, "/tmp/badptr-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "0123456789abcdef", 16) != 16) {
        printf("cannot create the scratch file\n");
        return 2;
    }

    printf("--- write\n");
    EXPECT_FAULT("write(1, (void*)1, 10)", syscall(SYS_write, 1, (void *)1, 10));
    EXPECT_FAULT("write(1, NULL, 10)", syscall(SYS_write, 1, NULL, 10));
    EXPECT_FAULT("write(1, kernel address, 10)", syscall(SYS_write, 1, kernel, 10));
    EXPECT_FAULT("write(1, 0xffff800000000000, 10)", syscall(SYS_write, 1, kernel2, 10));
    EXPECT_FAULT("write(1, non-canonical, 10)", syscall(SYS_write, 1, noncanon, 10));
    EXPECT_FAULT("write(1, top user page, 10)", syscall(SYS_write, 1, lastuser, 10));
    EXPECT_FAULT("write(file, (void*)1, 10)", syscall(SYS_write, fd, (void *)1, 10));
    expect("write(1, NULL, 0)", syscall(SYS_write, 1, NULL, 0), 0, 0);
    expect("pwrite(file, NULL, 0, 0)", syscall(SYS_pwrite64, fd, NULL, 0, 0), 0, 0);
    EXPECT_FAULT("pwrite(file, kernel address, 4, 0)", syscall(SYS_pwrite64, fd, kernel, 4, 0));

    printf("--- read\n");
    int zero = open("/dev/zero", O_RDONLY);
    EXPECT_FAULT("read(/dev/zero, (void*)0x10, 10)", syscall(SYS_read, zero, (void *)0x10, 10));
    EXPECT_FAULT("read(/dev/zero, kernel address, 10)", syscall(SYS_read, zero, kernel, 10));
    close(zero);
    lseek(fd, 0, SEEK_SET);
    EXPECT_FAULT("read(file, (void*)0x10, 10)", syscall(SYS_read, fd, (void *)0x10, 10));
    EXPECT_FAULT("read(file, kernel address, 10)", syscall(SYS_read, fd, kernel, 10));
    EXPECT_FAULT("read(file, non-canonical, 10)", syscall(SYS_read, fd, noncanon, 10));
    EXPECT_FAULT("pread(file, (void*)0x10, 10, 0)", syscall(SYS_pread64, fd, (void *)0x10, 10, 0));
    /* the failed reads did not move the offset */
    expect("lseek(file, 0, SEEK_CUR) after failed reads", syscall(SYS_lseek, fd, 0, SEEK_CUR), 0, 0);
    /* reading into read-only memory (our own code) faults too */
    EXPECT_FAULT("read(file, into text segment, 4)", syscall(SYS_read, fd, (void *)&main, 4));

    printf("--- iovec\n");
    EXPECT_FAULT("writev(1, bad iov array, 1)", syscall(SYS_writev, 1, (void *)8, 1));
    struct iovec iov[2] = {{"ok", 2}, {(void *)8, 4}};
    struct iovec riov[1] = {{(void *)8, 4}};
    lseek(fd, 0, SEEK_SET);
    EXPECT_FAULT("readv(file, iov with bad base, 1)", syscall(SYS_readv, fd, riov, 1));
    EXPECT_FAULT("readv(file, bad iov array, 1)", syscall(SYS_readv, fd, (void *)8, 1));
    /* writev of a good iovec followed by a bad one: Linux checks every
     * iovec's address range up front only for access_ok (the canonical
     * user half), so a user-half bad pointer gives a short write. Use a
     * kernel address, which fails the up-front check. */
    struct iovec kiov[2] = {{"ok", 2}, {kernel, 4}};
    EXPECT_FAULT("writev(file, [good, kernel address])", syscall(SYS_writev, fd, kiov, 2));
    (void)iov;

    printf("--- paths\n");
    struct timespec ts;
    EXPECT_FAULT("open((char*)0xdeadbeef000, 0)", syscall(SYS_open, (char *)0xdeadbeef000UL, 0));
    EXPECT_FAULT("open(NULL, 0)", syscall(SYS_open, NULL, 0));
    EXPECT_FAULT("open(kernel address, 0)", syscall(SYS_open, kernel, 0));
    EXPECT_FAULT("openat(AT_FDCWD, (char*)1, 0)", syscall(SYS_openat, AT_FDCWD, (char *)1, 0));
    EXPECT_FAULT("stat(\"/\", (void*)8)", syscall(SYS_stat, "/", (void *)8));
    EXPECT_FAULT("stat((char*)8, &st)", syscall(SYS_stat, (char *)8, &ts));
    EXPECT_FAULT("fstat(fd, (void*)8)", syscall(SYS_fstat, fd, (void *)8));
    EXPECT_FAULT("newfstatat(AT_FDCWD, \"/\", kernel address, 0)", syscall(SYS_newfstatat, AT_FDCWD, "/", kernel, 0));
    EXPECT_FAULT("statx(AT_FDCWD, \"/\", 0, 0x7ff, (void*)8)", syscall(SYS_statx, AT_FDCWD, "/", 0, 0x7ff, (void *)8));
    EXPECT_FAULT("mkdir((char*)8, 0755)", syscall(SYS_mkdir, (char *)8, 0755));
    EXPECT_FAULT("unlink((char*)8)", syscall(SYS_unlink, (char *)8));
    EXPECT_FAULT("chdir((char*)8)", syscall(SYS_chdir, (char *)8));
    EXPECT_FAULT("access((char*)8, F_OK)", syscall(SYS_access, (char *)8, F_OK));
    EXPECT_FAULT("rename(path, (char*)8)", syscall(SYS_rename, path, (char *)8));
    EXPECT_FAULT("readlink(/proc/self/exe, (char*)8, 10)", syscall(SYS_readlink, "/proc/self/exe", (char *)8, 10));
    /* a path that runs into an unmapped page without a terminating NUL */
    char *two = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + PG, PG);
    memset(two + PG - 100, 'a', 100);
    EXPECT_FAULT("open(path running into an unmapped page)", syscall(SYS_open, two + PG - 100, 0));
    /* the same path with a NUL at the end of the page is fine (ENOENT) */
    two[PG - 1] = 0;
    expect("open(same path, NUL-terminated)", (errno = 0, syscall(SYS_open, two + PG - 100, 0)), -1, ENOENT);

    printf("--- other calls\n");
    EXPECT_FAULT("getcwd((char*)1, 100)", syscall(SYS_getcwd, (char *)1, 100));
    EXPECT_FAULT("getcwd(kernel address, 100)", syscall(SYS_getcwd, kernel, 100));
    EXPECT_FAULT("clock_gettime(CLOCK_MONOTONIC, (void*)16)", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)16));
    EXPECT_FAULT("clock_gettime(CLOCK_REALTIME, kernel address)", syscall(SYS_clock_gettime, CLOCK_REALTIME, kernel));
    EXPECT_FAULT("clock_getres(CLOCK_MONOTONIC, (void*)16)", syscall(SYS_clock_getres, CLOCK_MONOTONIC, (void *)16));
    EXPECT_FAULT("gettimeofday((void*)8, NULL)", syscall(SYS_gettimeofday, (void *)8, NULL));
    EXPECT_FAULT("nanosleep((void*)8, NULL)", syscall(SYS_nanosleep, (void *)8, NULL));
    EXPECT_FAULT("uname((void*)8)", syscall(SYS_uname, (void *)8));
    EXPECT_FAULT("sysinfo((void*)8)", syscall(SYS_sysinfo, (void *)8));
    EXPECT_FAULT("getrandom((void*)8, 16, 0)", syscall(SYS_getrandom, (void *)8, 16, 0));
    EXPECT_FAULT("getrlimit(RLIMIT_NOFILE, (void*)8)", syscall(SYS_getrlimit, 7, (void *)8));
    EXPECT_FAULT("prlimit64(0, RLIMIT_NOFILE, NULL, (void*)8)", syscall(SYS_prlimit64, 0, 7, NULL, (void *)8));
    EXPECT_FAULT("rt_sigaction(SIGUSR1, (void*)8, NULL, 8)", syscall(SYS_rt_sigaction, 10, (void *)8, NULL, 8));
    EXPECT_FAULT("rt_sigprocmask(SIG_BLOCK, (void*)8, NULL, 8)", syscall(SYS_rt_sigprocmask, 0, (void *)8, NULL, 8));
    EXPECT_FAULT("getdents64(dirfd, (void*)8, 4096)",
                 syscall(SYS_getdents64, open("/tmp", O_RDONLY | O_DIRECTORY), (void *)8, 4096));
    /* time(NULL) is fine; time(bad) faults */
    long t = syscall(SYS_time, NULL);
    printf("time(NULL) > 0: %s\n", t > 0 ? "yes" : "no (CHECK FAILED)");
    if (t <= 0)
        failures++;
    EXPECT_FAULT("time((void*)8)", syscall(SYS_time, (void *)8));
    EXPECT_FAULT("arch_prctl(ARCH_GET_FS, (void*)8)", syscall(SYS_arch_prctl, 0x1003, (void *)8));

    /* and the process is still fine */
    close(fd);
    unlink(path);
    printf("still alive; failures: %d\n", failures);
    return failures ? 1 : 0;
}
