/* tkill/tgkill with tid <= 0 signal whole process groups (or everyone).
 * Found by: fuzz seed 2 -only 56,57,61,247,62,200,234: process 1 died of
 * SIGUSR2 (status 140).
 * NrOS implements tkill(tid, sig) as kill(tid, sig) and tgkill(tgid, tid,
 * sig) as kill(tid, sig) when tgid == tid, so tkill(0, sig) and
 * tgkill(0, 0, sig) signal the caller's process group and tkill(-1, sig)
 * every process but 1. Linux: EINVAL for tid <= 0 (and tkill/tgkill name
 * threads: they never reach other processes' groups).
 * Expected (Linux):
 *   child: tkill(0, SIGUSR2) = -1 errno 22
 *   child: tgkill(0, 0, SIGUSR2) = -1 errno 22
 *   child: tkill(-1, SIGUSR2) = -1 errno 22
 *   parent survived
 * NrOS: the parent (process 1) is killed by SIGUSR2, exit status 140. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    pid_t p = fork();
    if (p == 0) {
        signal(SIGUSR2, SIG_IGN); /* the child itself survives */
        long r = syscall(SYS_tkill, 0, SIGUSR2);
        printf("child: tkill(0, SIGUSR2) = %ld errno %d\n", r, r ? errno : 0);
        r = syscall(SYS_tgkill, 0, 0, SIGUSR2);
        printf("child: tgkill(0, 0, SIGUSR2) = %ld errno %d\n", r, r ? errno : 0);
        r = syscall(SYS_tkill, -1, SIGUSR2);
        printf("child: tkill(-1, SIGUSR2) = %ld errno %d\n", r, r ? errno : 0);
        _exit(0);
    }
    waitpid(p, 0, 0);
    printf("parent survived\n");
    return 0;
}
