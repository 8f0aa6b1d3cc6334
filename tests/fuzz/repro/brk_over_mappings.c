/* brk() must not grow the heap over other mappings. On NrOS
 * brk(0x7ffffffff000) succeeds and the heap then covers every mapping
 * above it (mmap regions, thread stacks, the main stack), whose pages read
 * back as zeros. Found by: fuzz seed 1, 200000 calls, 4 cores / 2 nodes,
 * --release, --avoid hugelen,tkill0,execbig: three workers' main threads,
 * parked in pthread_join, returned from futex() into a zeroed stack (rip 0).
 * Expected (Linux): brk fails (returns the old break); data intact. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    volatile char canary[64];
    memset((char *)canary, 0x5a, sizeof canary);
    char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(m, 0xa5, 4096);
    long cur = syscall(SYS_brk, 0);
    long r = syscall(SYS_brk, 0x7ffffffff000L);
    printf("brk(0) = %#lx, brk(0x7ffffffff000) = %#lx (%s)\n", cur, r, r == cur ? "refused" : "GRANTED");
    int st = 1, mm = 1;
    for (unsigned i = 0; i < sizeof canary; i++) st &= canary[i] == 0x5a;
    for (int i = 0; i < 4096; i++) mm &= (unsigned char)m[i] == 0xa5;
    printf("stack %s, mmap region %p %s\n", st ? "intact" : "ZEROED", (void *)m, mm ? "intact" : "ZEROED");
    return !(st && mm);
}
