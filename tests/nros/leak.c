/* Leak check: after 200 fork+exit cycles and 200 thread create+join
 * cycles, the free memory reported by /proc/meminfo returns to its value
 * before them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "meminfo.h"

static void *nothing(void *a) { return a; }

static void fork_cycle(void) {
    pid_t p = fork();
    if (p == 0) {
        char *m = malloc(100000); /* touch some memory in the child */
        memset(m, 1, 100000);
        _exit(0);
    }
    waitpid(p, 0, 0);
}

static void thread_cycle(void) {
    pthread_t t;
    pthread_create(&t, 0, nothing, 0);
    pthread_join(t, 0);
}

int main(void) {
    /* Warm up the exact code paths first, so that the parent's own stack,
     * heap and stdio pages (which are its memory, not leaks) exist before
     * the baseline. */
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        fork_cycle();
        thread_cycle();
        memfree();
    }
    long before = memfree();
    for (int i = 0; i < 200; i++) fork_cycle();
    long mid = memfree();
    for (int i = 0; i < 200; i++) thread_cycle();
    long after = memfree();
    printf("free kB: before %ld, after forks %ld, after threads %ld\n", before, mid, after);
    printf("%s\n", before == mid && mid == after ? "no leak" : "LEAK");
    return before == mid && mid == after ? 0 : 1;
}
