/* sched_setaffinity pins threads: a thread pinned to core k runs only on
 * core k (getcpu), sched_getaffinity returns what was set, new threads and
 * children inherit the mask, bad masks fail like Linux. Output does not
 * depend on the number of cores. On NrOS, /proc/nr/threads (the replicated
 * thread placement) must agree with getcpu. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("CHECK FAILED line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static int ncpu;

static int cpu_now(void) {
    unsigned c = 0;
    syscall(SYS_getcpu, &c, 0, 0);
    return (int)c;
}

static int pin(int core) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(core, &s);
    return sched_setaffinity(0, sizeof s, &s);
}

/* On NrOS: the placement recorded for thread `tid` names `core`. */
static int placement_agrees(long tid, int core) {
    FILE *f = fopen("/proc/nr/threads", "r");
    if (!f) return 1; /* Linux */
    char line[128];
    int ok = 0;
    long t, p;
    int c;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%ld %ld %d", &t, &p, &c) == 3 && t == tid) ok = c == core;
    fclose(f);
    return ok;
}

static void *pinned_worker(void *arg) {
    int core = (int)(long)arg;
    int bad = 0;
    if (pin(core) != 0) return (void *)1L;
    for (int i = 0; i < 2000; i++) {
        if (cpu_now() != core) bad = 1;
        if (i % 100 == 0) sched_yield();
    }
    if (!placement_agrees(syscall(SYS_gettid), core)) bad = 1;
    return (void *)(long)bad;
}

static void *report_mask(void *arg) {
    cpu_set_t s;
    CPU_ZERO(&s);
    sched_getaffinity(0, sizeof s, &s);
    return (void *)(long)(CPU_COUNT(&s) == 1 && CPU_ISSET(0, &s) && cpu_now() == 0);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    cpu_set_t s;
    CPU_ZERO(&s);
    CHECK(sched_getaffinity(0, sizeof s, &s) == 0);
    ncpu = CPU_COUNT(&s);
    CHECK(ncpu >= 1);

    /* The main thread visits every core. */
    int visited = 0;
    for (int k = 0; k < ncpu; k++) {
        CHECK(pin(k) == 0);
        int ok = 1;
        for (int i = 0; i < 200; i++) ok &= cpu_now() == k;
        CHECK(placement_agrees(syscall(SYS_gettid), k));
        visited += ok;
        CPU_ZERO(&s);
        CHECK(sched_getaffinity(0, sizeof s, &s) == 0);
        CHECK(CPU_COUNT(&s) == 1 && CPU_ISSET(k, &s));
    }
    CHECK(visited == ncpu);
    printf("main thread pinned to each core in turn\n");

    /* One pinned worker per core, concurrently. */
    pthread_t th[64];
    int n = ncpu < 64 ? ncpu : 64;
    for (int k = 0; k < n; k++) pthread_create(&th[k], 0, pinned_worker, (void *)(long)k);
    int bad = 0;
    for (int k = 0; k < n; k++) {
        void *r;
        pthread_join(th[k], &r);
        bad += r != 0;
    }
    CHECK(bad == 0);
    printf("workers stayed on their cores\n");

    /* Inheritance: threads and children get the creator's mask. */
    CHECK(pin(0) == 0);
    pthread_t t;
    void *r;
    pthread_create(&t, 0, report_mask, 0);
    pthread_join(t, &r);
    CHECK(r == (void *)1L);
    pid_t c = fork();
    if (c == 0) {
        CPU_ZERO(&s);
        sched_getaffinity(0, sizeof s, &s);
        _exit(CPU_COUNT(&s) == 1 && CPU_ISSET(0, &s) ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("threads and children inherit the mask\n");

    /* Setting another thread's (here: a child's) affinity by id. */
    int p2[2];
    CHECK(pipe(p2) == 0);
    c = fork();
    if (c == 0) {
        char x;
        read(p2[0], &x, 1);
        CPU_ZERO(&s);
        sched_getaffinity(0, sizeof s, &s);
        int want = ncpu - 1;
        int ok = CPU_COUNT(&s) == 1 && CPU_ISSET(want, &s);
        for (int i = 0; i < 200; i++) ok &= cpu_now() == want;
        _exit(ok ? 0 : 1);
    }
    CPU_ZERO(&s);
    CPU_SET(ncpu - 1, &s);
    CHECK(sched_setaffinity(c, sizeof s, &s) == 0);
    CPU_ZERO(&s);
    CHECK(sched_getaffinity(c, sizeof s, &s) == 0 && CPU_ISSET(ncpu - 1, &s));
    write(p2[1], "x", 1);
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("affinity of another process set by pid\n");

    /* Errors. */
    CPU_ZERO(&s);
    errno = 0;
    CHECK(sched_setaffinity(0, sizeof s, &s) == -1 && errno == EINVAL);
    CHECK(sched_setaffinity(0, sizeof s, (cpu_set_t *)8) == -1 && errno == EFAULT);
    CHECK(sched_getaffinity(0, 4, &s) == -1 && errno == EINVAL);
    CHECK(sched_getaffinity(999999, sizeof s, &s) == -1 && errno == ESRCH);
    CHECK(syscall(SYS_sched_getaffinity, 0, sizeof s, &s) == 8 || syscall(SYS_sched_getaffinity, 0, sizeof s, &s) > 0);
    printf("errors as Linux\n");
    printf("%s\n", failures ? "FAILED" : "affinity ok");
    return failures ? 1 : 0;
}
