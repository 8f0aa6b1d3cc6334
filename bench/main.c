/* nrbench: the benchmark program of `cargo xtask bench`. The same static
 * binary runs on NrOS and on Linux.
 *
 *   nrbench --bench NAME[,NAME...]|all --threads N --duration-ms D
 *   nrbench --list
 *
 * Runs each named benchmark in turn with N threads (one per core, thread i
 * pinned to CPU i where the system supports it; with N = 1 no thread is
 * created) for about D ms, and prints one line per benchmark:
 *
 *   START name=DRBL threads=1
 *   RESULT name=DRBL threads=1 ops=12345 secs=1.000123 ops_per_sec=12343.5 [key=value ...]
 *   UNSUPPORTED name=forkexec threads=1 reason=fork: Function not implemented
 *   FAILED name=... threads=... reason=...
 *
 * and finally `DONE failed=K`. UNSUPPORTED means the system lacks a
 * feature the benchmark needs (thread creation failed, or a system call
 * returned ENOSYS); FAILED is any other error. Exit status 1 if any failed.
 * `--child` (used by forkexec) exits 0 at once. */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *g_self = "/bin/nrbench";

static struct worker ws[MAX_THREADS];
static atomic_int ready, go, aborted;
static uint64_t duration_ns;
static const struct bench *cur;

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    (void)sched_setaffinity(0, sizeof s, &s); /* best effort */
}

/* Run ops in batches, reading the clock once per batch; a batch doubles
 * (up to 4096 ops) while it takes less than 0.2 ms, so reading the clock
 * costs nothing measurable even where it is a real system call. */
static void timed_loop(struct worker *w)
{
    uint64_t t0 = now_ns(), last = t0, n = 0, batch = 1, t = t0;
    for (;;) {
        for (uint64_t i = 0; i < batch; i++) {
            if (cur->op(w)) {
                n += i;
                goto out;
            }
        }
        n += batch;
        t = now_ns();
        if (t - t0 >= duration_ns)
            break;
        if (t - last < 200000 && batch < 4096)
            batch *= 2;
        last = t;
    }
out:
    w->ops = n;
    w->ns = now_ns() - t0;
}

/* Setup, meet the others at the start line, run. */
static void worker_body(struct worker *w)
{
    pin(w->id);
    if (cur->setup)
        cur->setup(w);
    atomic_fetch_add(&ready, 1);
    while (!atomic_load(&go))
        __asm__ volatile("pause");
    if (!w->err && !atomic_load(&aborted))
        timed_loop(w);
}

static void *thread_main(void *arg)
{
    worker_body(arg);
    return NULL;
}

static int run_bench(const struct bench *b, int n)
{
    cur = b;
    atomic_store(&ready, 0);
    atomic_store(&go, 0);
    atomic_store(&aborted, 0);
    for (int i = 0; i < n; i++) {
        memset(&ws[i], 0, offsetof(struct worker, buf));
        ws[i].id = i;
        ws[i].nthreads = n;
        ws[i].fd = -1;
    }
    printf("START name=%s threads=%d\n", b->name, n);
    fflush(stdout);

    if (b->global_setup) {
        const char *what = "setup";
        int e = b->global_setup(n, &what);
        if (e) {
            printf("%s name=%s threads=%d reason=%s: %s\n", e == ENOSYS ? "UNSUPPORTED" : "FAILED", b->name, n, what,
                   strerror(e));
            fflush(stdout);
            return e != ENOSYS;
        }
    }
    uint64_t cal_ns0 = now_ns(), cal_tsc0 = rdtsc();

    pthread_t th[MAX_THREADS];
    int created = 1, create_err = 0;
    for (int i = 1; i < n; i++) {
        int e = pthread_create(&th[i], NULL, thread_main, &ws[i]);
        if (e) {
            create_err = e;
            atomic_store(&aborted, 1);
            break;
        }
        created++;
    }
    /* This thread is worker 0. */
    pin(0);
    if (b->setup && !create_err)
        b->setup(&ws[0]);
    atomic_fetch_add(&ready, 1);
    while (atomic_load(&ready) < created)
        __asm__ volatile("pause");
    atomic_store(&go, 1);
    if (!create_err && !ws[0].err)
        timed_loop(&ws[0]);
    for (int i = 1; i < created; i++)
        pthread_join(th[i], NULL);
    uint64_t cal_ns1 = now_ns(), cal_tsc1 = rdtsc();
    double cycles_per_ns = cal_ns1 > cal_ns0 ? (double)(cal_tsc1 - cal_tsc0) / (double)(cal_ns1 - cal_ns0) : 0;

    int failed = 0;
    if (create_err) {
        printf("UNSUPPORTED name=%s threads=%d reason=pthread_create: %s (thread %d of %d)\n", b->name, n,
               strerror(create_err), created, n);
    } else {
        int err = 0;
        const char *what = "";
        uint64_t done = 0, ns = 0;
        for (int i = 0; i < n; i++) {
            if (!err && ws[i].err) {
                err = ws[i].err;
                what = ws[i].errwhat;
            }
            done += ws[i].ops;
            if (ws[i].ns > ns)
                ns = ws[i].ns;
        }
        if (err) {
            failed = err != ENOSYS;
            printf("%s name=%s threads=%d reason=%s: %s (after %llu ops in %.3f s)\n", failed ? "FAILED" : "UNSUPPORTED",
                   b->name, n, what, strerror(err), (unsigned long long)done, (double)ns / 1e9);
        } else {
            uint64_t ops = 0, ns = 0;
            for (int i = 0; i < n; i++) {
                ops += ws[i].ops;
                if (ws[i].ns > ns)
                    ns = ws[i].ns;
            }
            double secs = (double)ns / 1e9;
            char extra[256] = "";
            if (b->report)
                b->report(ws, n, cycles_per_ns, extra, sizeof extra);
            printf("RESULT name=%s threads=%d ops=%llu secs=%.6f ops_per_sec=%.1f%s\n", b->name, n,
                   (unsigned long long)ops, secs, secs > 0 ? (double)ops / secs : 0.0, extra);
        }
    }
    fflush(stdout);
    if (b->teardown)
        for (int i = 0; i < created; i++)
            b->teardown(&ws[i]);
    if (b->global_teardown)
        b->global_teardown(n);
    return failed;
}

static const struct bench *all[32];
static int nall;

static const struct bench *find(const char *name)
{
    for (int i = 0; i < nall; i++)
        if (strcasecmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: nrbench --bench NAME[,NAME...]|all [--threads N] [--duration-ms D] | --list\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return 0;
    if (argv[0] && strchr(argv[0], '/'))
        g_self = argv[0];
    for (int i = 0; i < fxmark_count; i++)
        all[nall++] = &fxmark_benches[i];
    all[nall++] = &vmops_bench;
    all[nall++] = &getppid_bench;
    all[nall++] = &forkexec_bench;

    const char *list = NULL;
    long threads = 1, dur_ms = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (int j = 0; j < nall; j++)
                printf("%s\t%s\n", all[j]->name, all[j]->what);
            return 0;
        } else if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc) {
            list = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--duration-ms") == 0 && i + 1 < argc) {
            dur_ms = strtol(argv[++i], NULL, 10);
        } else {
            usage();
        }
    }
    if (!list || threads < 1 || threads > MAX_THREADS || dur_ms < 1)
        usage();
    duration_ns = (uint64_t)dur_ms * 1000000u;
    setvbuf(stdout, NULL, _IOLBF, 0);

    const struct bench *todo[64];
    int ntodo = 0;
    if (strcasecmp(list, "all") == 0) {
        for (int i = 0; i < nall; i++)
            todo[ntodo++] = all[i];
    } else {
        char *copy = strdup(list), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok && ntodo < 64; tok = strtok_r(NULL, ",", &save)) {
            const struct bench *b = find(tok);
            if (!b) {
                fprintf(stderr, "nrbench: unknown benchmark `%s` (see --list)\n", tok);
                return 2;
            }
            todo[ntodo++] = b;
        }
    }
    int failed = 0;
    for (int i = 0; i < ntodo; i++)
        failed += run_bench(todo[i], (int)threads);
    printf("DONE failed=%d\n", failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
