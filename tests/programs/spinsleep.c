/* A sleeping thread wakes on time while another thread never leaves user
 * mode on the same core (on one core the spinner runs whenever the sleeper
 * does not; the kernel must notice the deadline on a timer tick, not only
 * when the spinner's slice ends). Both threads are pinned to the first
 * allowed core. Differential: prints only what Linux prints too. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

static volatile int stop;
static cpu_set_t one;

static void *spin(void *a) {
    (void)a;
    sched_setaffinity(0, sizeof one, &one);
    while (!stop) {
    }
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    cpu_set_t all;
    sched_getaffinity(0, sizeof all, &all);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    sched_setaffinity(0, sizeof one, &one);
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    int late = 0;
    for (int i = 0; i < 5; i++) {
        double t0 = now();
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, 0);
        double slept = now() - t0;
        /* woken, and not by seconds late */
        if (slept < 0.02 || slept > 2.0) late++;
    }
    stop = 1;
    pthread_join(t, 0);
    printf("5 sleeps of 20 ms next to a spinning thread: %s\n", late ? "LATE" : "on time");
    return late != 0;
}
