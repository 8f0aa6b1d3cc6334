/* madvise(addr, 1 << 63, MADV_DONTNEED) with addr in an own mapping:
 * NrOS returns 0 and discards every mapping from addr up to the top of the
 * address space: other mappings and the stack read back as zeros, and the
 * process crashes (here: "stack ZEROED" if it survives at all).
 * Found by: fuzz seed 1, 200000 calls, 4 cores / 2 nodes, --release,
 * --avoid hugelen,tkill0,execbig (workers' main threads, parked in
 * pthread_join, returned from futex() into a zeroed stack: rip 0; the
 * stack-canary check then showed this call right before).
 * Expected (Linux): EINVAL, nothing discarded. The same length is tried
 * with mprotect and munmap (Linux: ENOMEM/EINVAL; NrOS agrees there).
 * Each test runs in a child so the parent can report. Linux prints
 *   madvise(DONTNEED)(0x..., 1<<63) = -1 errno 22; stack intact
 *   mprotect(PROT_NONE)(0x..., 1<<63) = -1 errno 12; stack intact
 *   munmap(0x..., 1<<63) = -1 errno 22; stack intact
 * NrOS: the madvise child dies ("child killed by signal 11"; kernel log:
 * "CPU exception 13 ... signal 11") before it can print. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int test(int which)
{
    static const char *name[] = {"madvise(DONTNEED)", "mprotect(PROT_NONE)", "munmap"};
    volatile char canary[64];
    memset((char *)canary, 0x5a, sizeof canary);
    char *above = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *p = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(above, 0xa5, 4096);
    long r;
    if (which == 0) r = syscall(SYS_madvise, p, 1UL << 63, MADV_DONTNEED);
    else if (which == 1) r = syscall(SYS_mprotect, p + 4096, 1UL << 63, PROT_NONE);
    else r = syscall(SYS_munmap, p + 4096, 1UL << 63);
    int e = r ? errno : 0;
    int st = 1;
    for (unsigned i = 0; i < sizeof canary; i++) st &= canary[i] == 0x5a;
    printf("%s(%p, 1<<63) = %ld errno %d; stack %s\n", name[which], (void *)p, r, e, st ? "intact" : "ZEROED");
    return 0;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    for (int w = 0; w < 3; w++) {
        pid_t c = fork();
        if (c == 0) _exit(test(w));
        int s;
        waitpid(c, &s, 0);
        if (WIFSIGNALED(s)) printf("  child killed by signal %d\n", WTERMSIG(s));
    }
    return 0;
}
