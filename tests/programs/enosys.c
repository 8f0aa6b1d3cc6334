/* enosys: unassigned system-call numbers fail with -1/ENOSYS and the
 * process carries on. 400 and 423 lie in the unassigned gap of Linux x86-64
 * (335 and 336 were in the gap but are uretprobe and uprobe since Linux
 * 6.11/6.16: calling 335 raises SIGILL there); 1000, -1 and 0x7fffffff are
 * out of range. Exit status 0 when all results are
 * as expected on Linux, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void try(long nr)
{
    errno = 0;
    long r = syscall(nr, 1, 2, 3, 4, 5, 6);
    int e = errno;
    int ok = r == -1 && e == ENOSYS;
    printf("syscall(%ld): ret=%ld errno=%d%s\n", nr, r, e, ok ? " (ENOSYS)" : " (CHECK FAILED)");
    if (!ok)
        failures++;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    try(400);
    try(423);
    try(1000);
    try(-1);
    try(0x7fffffff);
    /* a real system call still works afterwards */
    long pid = syscall(SYS_getpid);
    printf("getpid() > 0 afterwards: %s\n", pid > 0 ? "yes" : "no (CHECK FAILED)");
    if (pid <= 0)
        failures++;
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
