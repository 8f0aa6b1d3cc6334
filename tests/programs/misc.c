/* misc: process and time system calls. Prints only what is the same on
 * every Linux machine (no ids, no times, no uids: the guest runs as root,
 * the host may not). A failed expectation prints "CHECK FAILED" and makes
 * the exit status 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int cond)
{
    printf("%s: %s\n", what, cond ? "yes" : "no (CHECK FAILED)");
    if (!cond)
        failures++;
}

static int64_t ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int64_t mono_raw(void)
{
    struct timespec t;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
    return ns(&t);
}

int main(int argc, char **argv)
{
    (void)argc;
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("--- uname\n");
    struct utsname u;
    check("uname == 0", uname(&u) == 0);
    printf("sysname=%s machine=%s\n", u.sysname, u.machine);
    check("release non-empty", u.release[0] != 0);

    printf("--- ids\n");
    pid_t pid = getpid();
    check("getpid > 0", pid > 0);
    check("getpid stable", getpid() == pid);
    check("gettid == getpid (single thread)", syscall(SYS_gettid) == pid);
    check("getppid >= 0", getppid() >= 0);
    (void)getuid();
    (void)geteuid();
    (void)getgid();
    (void)getegid();

    printf("--- clocks\n");
    struct timespec a, b;
    check("clock_gettime(MONOTONIC) == 0", clock_gettime(CLOCK_MONOTONIC, &a) == 0);
    int mono_ok = 1;
    int64_t prev = ns(&a);
    for (int i = 0; i < 2000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (ns(&b) < prev || b.tv_nsec < 0 || b.tv_nsec >= 1000000000)
            mono_ok = 0;
        prev = ns(&b);
    }
    check("CLOCK_MONOTONIC never goes back (libc, 2000 reads)", mono_ok);
    mono_ok = 1;
    prev = mono_raw();
    for (int i = 0; i < 2000; i++) {
        int64_t now = mono_raw();
        if (now < prev)
            mono_ok = 0;
        prev = now;
    }
    check("CLOCK_MONOTONIC never goes back (raw syscall, 2000 reads)", mono_ok);
    clock_gettime(CLOCK_MONOTONIC, &b);
    check("time passes (monotonic advanced)", ns(&b) > ns(&a));
    struct timespec res;
    check("clock_getres(MONOTONIC) == 0", clock_getres(CLOCK_MONOTONIC, &res) == 0);
    check("resolution between 1 ns and 1 ms", res.tv_sec == 0 && res.tv_nsec >= 1 && res.tv_nsec <= 1000000);
    struct timespec bt;
    check("clock_gettime(BOOTTIME) == 0", clock_gettime(CLOCK_BOOTTIME, &bt) == 0);
    check("clock_gettime(MONOTONIC_COARSE) == 0", clock_gettime(CLOCK_MONOTONIC_COARSE, &bt) == 0);
    check("clock_gettime(PROCESS_CPUTIME_ID) == 0", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &bt) == 0);
    errno = 0;
    check("clock_gettime(clock 12345) fails with EINVAL",
          syscall(SYS_clock_gettime, 12345, &bt) == -1 && errno == EINVAL);

    struct timespec rt;
    check("clock_gettime(REALTIME) == 0", clock_gettime(CLOCK_REALTIME, &rt) == 0);
    time_t t = time(NULL);
    check("time() after 2020-01-01", t > 1577836800);
    check("time() within 2 s of CLOCK_REALTIME", t - rt.tv_sec >= -2 && t - rt.tv_sec <= 2);
    time_t t2;
    check("time(&t2) stores the same value", time(&t2) == t2);
    struct timeval tv;
    check("gettimeofday == 0", gettimeofday(&tv, NULL) == 0);
    check("gettimeofday usec < 1e6", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    check("gettimeofday within 2 s of time()", tv.tv_sec - t >= -2 && tv.tv_sec - t <= 2);

    printf("--- sleep\n");
    struct timespec req = {0, 10 * 1000 * 1000}, rem = {7, 7};
    clock_gettime(CLOCK_MONOTONIC, &a);
    check("nanosleep(10 ms) == 0", nanosleep(&req, &rem) == 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    check("slept >= 10 ms", ns(&b) - ns(&a) >= 10000000);
    check("slept < 5 s", ns(&b) - ns(&a) < 5000000000LL);
    clock_gettime(CLOCK_MONOTONIC, &a);
    check("clock_nanosleep(MONOTONIC, 20 ms) == 0", clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){0, 20000000}, NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    check("slept >= 20 ms", ns(&b) - ns(&a) >= 20000000);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += 15000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_nsec -= 1000000000;
        until.tv_sec++;
    }
    check("clock_nanosleep(TIMER_ABSTIME, now + 15 ms) == 0", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    check("woke at or after the deadline", ns(&b) >= ns(&until));
    errno = 0;
    check("nanosleep(tv_nsec = 1e9) fails with EINVAL",
          syscall(SYS_nanosleep, &(struct timespec){0, 1000000000}, NULL) == -1 && errno == EINVAL);
    check("nanosleep(0) == 0", nanosleep(&(struct timespec){0, 0}, NULL) == 0);

    printf("--- getrandom\n");
    unsigned char r1[16], r2[16];
    memset(r1, 0, sizeof r1);
    memset(r2, 0, sizeof r2);
    check("getrandom(16) == 16", syscall(SYS_getrandom, r1, 16, 0) == 16);
    check("getrandom(16, GRND_NONBLOCK) == 16", syscall(SYS_getrandom, r2, 16, GRND_NONBLOCK) == 16);
    int nz = 0;
    for (int i = 0; i < 16; i++)
        nz |= r1[i];
    check("not all zero", nz != 0);
    check("two draws differ", memcmp(r1, r2, 16) != 0);
    unsigned char big[1000];
    check("getrandom(1000) == 1000", syscall(SYS_getrandom, big, 1000, 0) == 1000);
    errno = 0;
    check("getrandom(bad flags) fails with EINVAL", syscall(SYS_getrandom, r1, 16, 0x100) == -1 && errno == EINVAL);

    printf("--- sysinfo\n");
    struct sysinfo si;
    check("sysinfo == 0", sysinfo(&si) == 0);
    check("totalram > 0", si.totalram > 0);
    check("freeram <= totalram", si.freeram <= si.totalram);
    check("mem_unit >= 1", si.mem_unit >= 1);
    check("procs >= 1", si.procs >= 1);
    check("uptime >= 0", (long)si.uptime >= 0);

    printf("--- rlimits\n");
    struct rlimit rl;
    check("getrlimit(NOFILE) == 0", getrlimit(RLIMIT_NOFILE, &rl) == 0);
    check("NOFILE cur > 0", rl.rlim_cur > 0);
    check("NOFILE cur <= max", rl.rlim_cur <= rl.rlim_max);
    struct rlimit64 { uint64_t cur, max; } r64;
    check("prlimit64(0, NOFILE, NULL, &old) == 0", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &r64) == 0);
    check("prlimit64 agrees with getrlimit", r64.cur == rl.rlim_cur && r64.max == rl.rlim_max);
    check("getrlimit(STACK) == 0", getrlimit(RLIMIT_STACK, &rl) == 0);
    check("STACK cur > 0", rl.rlim_cur > 0);
    errno = 0;
    check("getrlimit(resource 1000) fails with EINVAL", syscall(SYS_getrlimit, 1000, &rl) == -1 && errno == EINVAL);

    printf("--- sched_yield\n");
    check("sched_yield == 0", sched_yield() == 0);

    printf("--- arch_prctl\n");
    uint64_t fs = 0, tp;
    check("arch_prctl(ARCH_GET_FS) == 0", syscall(SYS_arch_prctl, 0x1003, &fs) == 0);
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    check("FS base is the thread pointer (%fs:0 is self)", fs == tp && fs != 0);
    static __thread int tls_var = 5;
    check("TLS variable lies near the thread pointer",
          (uint64_t)(uintptr_t)&tls_var < fs && fs - (uint64_t)(uintptr_t)&tls_var < 65536);
    errno = 0;
    check("arch_prctl(bad code) fails with EINVAL", syscall(SYS_arch_prctl, 0x9999, &fs) == -1 && errno == EINVAL);

    printf("--- /proc/self/exe\n");
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    check("readlink(/proc/self/exe) > 0", n > 0);
    if (n > 0) {
        exe[n] = 0;
        const char *base = strrchr(exe, '/');
        base = base ? base + 1 : exe;
        const char *a0 = strrchr(argv[0], '/');
        a0 = a0 ? a0 + 1 : argv[0];
        printf("exe basename=%s\n", base);
        check("exe is absolute", exe[0] == '/');
        check("exe basename == argv[0] basename", strcmp(base, a0) == 0);
    }

    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
