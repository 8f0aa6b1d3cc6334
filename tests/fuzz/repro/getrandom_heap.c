/* getrandom(bad pointer, 32 MiB) from several threads at once: each call
 * makes the kernel allocate and fill a 32 MiB heap buffer before it finds
 * that the user buffer is bad (syscall.rs GETRANDOM: vec![0; len.min(1<<25)]).
 * A few threads exhaust the node heaps (a quarter of each node's memory).
 * Found by: fuzz seed 3 (getrandom(..., 0x2000000) reported STUCK > 10 s,
 * and a sibling thread's madvise waited as long).
 * Linux: -EFAULT (-14) at once (it copies in chunks). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8

static void *hammer(void *arg)
{
    long *res = arg;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 4; i++) {
        long r = syscall(SYS_getrandom, (void *)0xffff800000000000UL, 1L << 25, 0);
        *res = r < 0 ? -errno : r;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    res[1] = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    return 0;
}

int main(void)
{
    pthread_t t[THREADS];
    long res[THREADS][2];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], 0, hammer, res[i]);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], 0);
    for (int i = 0; i < THREADS; i++) printf("thread %d: getrandom(kernel address, 32 MiB) x4 = %ld, %ld ms\n", i, res[i][0], res[i][1]);
    return 0;
}
