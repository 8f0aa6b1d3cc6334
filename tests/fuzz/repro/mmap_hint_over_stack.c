/* mmap without MAP_FIXED must never replace an existing mapping. On NrOS a
 * hint just above the stack (0x7ffffffff000, a "bad pointer" the fuzzer
 * uses) with a length of some pages yields a mapping that overlaps the
 * main thread's stack and replaces its pages with zeros.
 * Found by: fuzz seed 1, 200000 calls, 4 cores / 2 nodes, --release,
 * --avoid hugelen,tkill0,execbig: three workers' main threads, parked in
 * pthread_join, returned from futex() into a zeroed stack page (rip 0).
 * Expected (Linux): the mapping lies elsewhere; "stack intact". */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
    volatile char canary[64];
    memset((char *)canary, 0x5a, sizeof canary);
    unsigned long lens[] = {4096, 0xf000, 1 << 20, 16 << 20, 64 << 20};
    for (int i = 0; i < 5; i++) {
        char *p = mmap((void *)0x7ffffffff000UL, lens[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        unsigned long lo = (unsigned long)p, hi = lo + lens[i], c = (unsigned long)canary;
        printf("mmap(hint 0x7ffffffff000, %#lx) = %p..%#lx%s\n", lens[i], (void *)p, hi,
               p != MAP_FAILED && c >= lo && c < hi ? "  OVERLAPS THE STACK" : "");
    }
    int ok = 1;
    for (unsigned i = 0; i < sizeof canary; i++) ok &= canary[i] == 0x5a;
    printf("stack %s\n", ok ? "intact" : "ZEROED");
    return !ok;
}
