/* Retired page tables do not pile up behind a core that never leaves one
 * user address space: a thread spins in user mode on core 1 while children
 * come and go; their page tables are retired when they exit, and the
 * spinning core (which writes no CR3 of its own accord) must let them go
 * within a few timer ticks. Reads the count from /proc/nr/stats, which,
 * unlike /proc/meminfo, does not make other cores flush. Needs 2+ cores. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;

#include "meminfo.h"

static long retired(void) { return proc_value("/proc/nr/stats", "retired page tables %ld"); }

static void pin(int core) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(core, &s);
    if (sched_setaffinity(0, sizeof s, &s) != 0) {
        perror("sched_setaffinity");
        exit(2);
    }
}

static int spin_core;

static void *spin(void *a) {
    (void)a;
    pin(spin_core);
    while (!stop) {
    }
    return 0;
}

int main(void) {
    /* (On one core the spinner is preempted for the main thread, which
     * writes CR3 anyway: the check is weaker there.) */
    spin_core = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
    pin(0);
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    struct timespec settle = {0, 50 * 1000 * 1000};
    nanosleep(&settle, 0);
    for (int i = 0; i < 20; i++) {
        pid_t p = fork();
        if (p == 0) {
            char *m = malloc(1 << 20);
            memset(m, 1, 1 << 20);
            _exit(0);
        }
        waitpid(p, 0, 0);
    }
    long now = retired();
    struct timespec wait = {0, 300 * 1000 * 1000};
    nanosleep(&wait, 0);
    long later = retired();
    stop = 1;
    pthread_join(t, 0);
    printf("retired page tables: %ld after the children exited, %ld 300 ms later\n", now, later);
    printf("%s\n", later == 0 ? "released" : "HELD BACK");
    return later == 0 ? 0 : 1;
}
