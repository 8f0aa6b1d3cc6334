/* fork shares frames copy-on-write, observed through /proc/meminfo:
 * forking a process with 16 MiB resident costs (almost) no memory, the
 * child's writes then copy exactly what it writes, and everything comes
 * back when it exits. Prints "cow memory ok". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meminfo.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Keeps the compiler from eliding stores to memory it can prove unread. */
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

int main(void) {
    size_t n = 16 << 20;
    char *buf = malloc(n);
    memset(buf, 3, n);
    ESCAPE(buf);
    int go[2], done[2];
    if (pipe(go) || pipe(done)) return 2;
    /* Warm-up: the fork path itself and stdio. */
    pid_t w = fork();
    if (w == 0) _exit(0);
    waitpid(w, 0, 0);
    long before = memfree();
    double t0 = now();
    pid_t c = fork();
    if (c == 0) {
        char x;
        if (read(go[0], &x, 1) != 1) _exit(3);
        memset(buf, 4, n); /* copy every page */
        ESCAPE(buf);
        if (write(done[1], "d", 1) != 1) _exit(4);
        if (read(go[0], &x, 1) != 1) _exit(5);
        _exit(buf[n - 1] == 4 ? 0 : 6);
    }
    double fork_ms = (now() - t0) * 1e3;
    long after_fork = memfree();
    if (write(go[1], "g", 1) != 1) return 2;
    char x;
    if (read(done[0], &x, 1) != 1) return 2;
    long after_write = memfree();
    if (write(go[1], "g", 1) != 1) return 2;
    int st = 0;
    waitpid(c, &st, 0);
    long after_exit = memfree();
    long fork_cost = before - after_fork, copy_cost = after_fork - after_write;
    printf("fork of a 16 MiB process: %.2f ms, %ld kB; child writing it all: %ld kB; after exit: %+ld kB\n",
           fork_ms, fork_cost, copy_cost, after_exit - before);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && buf[0] == 3;
    ok &= fork_cost < 2048;                  /* page tables and the like, not 16 MiB */
    ok &= copy_cost >= 16384 && copy_cost < 16384 + 2048;
    ok &= after_exit == before;
    printf("%s\n", ok ? "cow memory ok" : "CHECK FAILED");
    return ok ? 0 : 1;
}
