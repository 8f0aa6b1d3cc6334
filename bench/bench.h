/* nrbench: benchmark programs run side by side on NrOS and on Linux
 * (`cargo xtask bench`). Shared declarations. */
#ifndef NRBENCH_H
#define NRBENCH_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BLOCK 4096
#define MAX_THREADS 256
/* Latency samples kept per thread and kind (a ring: the last LAT_CAP). */
#define LAT_CAP 65536

/* One benchmark thread ("one thread per core"). */
struct worker {
    int id;
    int nthreads;
    /* Result of the timed loop. */
    uint64_t ops;
    uint64_t ns;
    /* 0, or the errno of the first failure and what failed. */
    int err;
    const char *errwhat;
    /* Benchmark-private state. */
    int fd;
    int flip;
    off_t off;
    char path[2][128];
    char dir[96];
    uint64_t *lat_map, *lat_unmap;
    uint64_t nlat;
    char buf[BLOCK] __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/* Failure helpers for benchmark code: record errno and what failed. */
static inline int fail(struct worker *w, const char *what, int e)
{
    if (!w->err) {
        w->err = e ? e : 5 /* EIO */;
        w->errwhat = what;
    }
    return w->err;
}

struct bench {
    const char *name;
    const char *what;
    /* Once, before the threads start (shared files, directories). 0 or errno;
     * *what names the failing step. */
    int (*global_setup)(int nthreads, const char **what);
    void (*global_teardown)(int nthreads);
    /* Per thread, before the timed loop; 0 or errno (via fail()). */
    int (*setup)(struct worker *w);
    /* One operation; 0 or errno (via fail()). */
    int (*op)(struct worker *w);
    void (*teardown)(struct worker *w);
    /* Extra " key=value" fields for the RESULT line. */
    void (*report)(struct worker *ws, int n, double cycles_per_ns, char *out, size_t len);
};

extern const struct bench fxmark_benches[];
extern const int fxmark_count;
extern const struct bench vmops_bench;
extern const struct bench getppid_bench;
extern const struct bench forkexec_bench;

/* argv[0] of this process (for fork+exec). */
extern const char *g_self;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

uint64_t now_ns(void);

#endif
