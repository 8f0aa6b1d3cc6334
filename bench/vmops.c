/* Address-space microbenchmark after the NrOS paper's "vmops": one thread per
 * core, all in one address space (one process). One operation maps a 4 KiB
 * anonymous page, writes to it and unmaps it. Besides the throughput it
 * reports latency percentiles of
 *   map:   mmap + the first write (the page is usable: on Linux that
 *          includes the page fault that allocates it, as mmap is lazy);
 *   unmap: munmap (including the TLB shootdown to the other cores that run
 *          this address space).
 * Latencies are measured with the TSC and converted to ns with the rate
 * calibrated against CLOCK_MONOTONIC over the run. */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int vm_setup(struct worker *w)
{
    size_t bytes = 2 * LAT_CAP * sizeof(uint64_t);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return fail(w, "mmap latency buffers", errno);
    memset(p, 0, bytes);
    w->lat_map = p;
    w->lat_unmap = w->lat_map + LAT_CAP;
    w->nlat = 0;
    return 0;
}

static int vm_op(struct worker *w)
{
    uint64_t t0 = rdtsc();
    volatile char *p = mmap(NULL, BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return fail(w, "mmap", errno);
    p[0] = 1;
    uint64_t t1 = rdtsc();
    if (p[0] != 1)
        return fail(w, "touch", EIO);
    uint64_t t2 = rdtsc();
    if (munmap((void *)p, BLOCK) != 0)
        return fail(w, "munmap", errno);
    uint64_t t3 = rdtsc();
    uint64_t i = w->nlat++ % LAT_CAP;
    w->lat_map[i] = t1 - t0;
    w->lat_unmap[i] = t3 - t2;
    return 0;
}

static void vm_teardown(struct worker *w)
{
    if (w->lat_map)
        munmap(w->lat_map, 2 * LAT_CAP * sizeof(uint64_t));
    w->lat_map = w->lat_unmap = NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles over all threads' kept samples; called before teardown. */
static void vm_report(struct worker *ws, int n, double cycles_per_ns, char *out, size_t len)
{
    size_t total = 0;
    for (int t = 0; t < n; t++)
        total += ws[t].nlat < LAT_CAP ? ws[t].nlat : LAT_CAP;
    if (total == 0 || cycles_per_ns <= 0) {
        out[0] = 0;
        return;
    }
    uint64_t *all = malloc(total * sizeof(uint64_t));
    if (!all) {
        out[0] = 0;
        return;
    }
    double pct[2][2];
    for (int kind = 0; kind < 2; kind++) {
        size_t k = 0;
        for (int t = 0; t < n; t++) {
            size_t m = ws[t].nlat < LAT_CAP ? ws[t].nlat : LAT_CAP;
            memcpy(all + k, kind ? ws[t].lat_unmap : ws[t].lat_map, m * sizeof(uint64_t));
            k += m;
        }
        qsort(all, total, sizeof(uint64_t), cmp_u64);
        pct[kind][0] = all[(total - 1) * 50 / 100] / cycles_per_ns;
        pct[kind][1] = all[(total - 1) * 99 / 100] / cycles_per_ns;
    }
    free(all);
    snprintf(out, len, " map_p50_ns=%.0f map_p99_ns=%.0f unmap_p50_ns=%.0f unmap_p99_ns=%.0f samples=%zu", pct[0][0],
             pct[0][1], pct[1][0], pct[1][1], total);
}

const struct bench vmops_bench = {
    "vmops", "map+touch+unmap a 4 KiB anonymous page (one shared address space)", 0, 0, vm_setup, vm_op, vm_teardown,
    vm_report,
};
