/* Resource exhaustion: a process that allocates memory until none is left
 * is killed with SIGKILL (or sees ENOMEM from mmap); fork and thread bombs
 * end in EAGAIN (or ENOMEM); descriptors in EMFILE; pipes filled to the
 * brim. The kernel and this process keep running, and after each hog is
 * gone every frame is back (MemFree equals its starting value).
 * Prints "exhaustion ok". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("CHECK FAILED line %d: %s\n", __LINE__, #c); failures++; } } while (0)

#include "meminfo.h"

static int run_child(int (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) _exit(fn());
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Touch 64 MiB chunks until mmap fails (exit 3) or we are killed. */
static int memory_hog(void) {
    for (;;) {
        size_t n = 64 << 20;
        char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return errno == ENOMEM ? 3 : 4;
        for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    }
}

/* Fork until it fails; every child waits for the pipe to close. */
static int fork_bomb(void) {
    int fds[2];
    if (pipe(fds)) return 4;
    int n = 0, err = 0;
    for (;;) {
        pid_t p = fork();
        if (p == 0) {
            char x;
            close(fds[1]);
            read(fds[0], &x, 1);
            _exit(0);
        }
        if (p < 0) { err = errno; break; }
        n++;
    }
    close(fds[1]);
    while (wait(0) > 0) {}
    printf("fork bomb: %d children, then %s\n", n, err == EAGAIN ? "EAGAIN" : err == ENOMEM ? "ENOMEM" : strerror(err));
    return (err == EAGAIN || err == ENOMEM) && n > 10 ? 0 : 1;
}

static int gate[2];
static void *blocker(void *a) {
    char x;
    read(gate[0], &x, 1);
    return a;
}

static int thread_bomb(void) {
    if (pipe(gate)) return 4;
    static pthread_t th[8192];
    int n = 0, err = 0;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 16384);
    while (n < 8192) {
        err = pthread_create(&th[n], &at, blocker, 0);
        if (err) break;
        n++;
    }
    close(gate[1]);
    for (int i = 0; i < n; i++) pthread_join(th[i], 0);
    printf("thread bomb: %d threads, then %s\n", n, err == EAGAIN ? "EAGAIN" : err == ENOMEM ? "ENOMEM" : strerror(err));
    return (err == EAGAIN || err == ENOMEM) && n > 10 ? 0 : 1;
}

static int fd_hog(void) {
    int n = 0, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) n++;
    int err = errno;
    printf("descriptors: %d opened, then %s\n", n, err == EMFILE ? "EMFILE" : strerror(err));
    return err == EMFILE ? 0 : 1;
}

static int pipe_hog(void) {
    int n = 0, fds[2];
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    long bytes = 0;
    while (pipe2(fds, O_NONBLOCK) == 0) {
        n++;
        ssize_t w;
        while ((w = write(fds[1], buf, sizeof buf)) > 0) bytes += w;
        if (errno != EAGAIN && errno != ENOMEM && errno != ENOSPC) return 2;
    }
    int err = errno;
    printf("pipes: %d filled (%ld KiB), then %s\n", n, bytes >> 10, err == EMFILE ? "EMFILE" : err == ENFILE ? "ENFILE" : strerror(err));
    return err == EMFILE || err == ENFILE ? 0 : 1;
}

/* Fill the in-memory file system (kept in the kernel heaps) until ENOSPC. */
static int disk_hog(void) {
    static char b[1 << 20];
    memset(b, 'd', sizeof b);
    int fd = open("/tmp/exhaust-hog", O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) return 2;
    long total = 0;
    ssize_t w;
    while ((w = write(fd, b, sizeof b)) > 0) total += w;
    int err = errno;
    close(fd);
    unlink("/tmp/exhaust-hog");
    printf("file data: %s after some MiB\n", err == ENOSPC ? "ENOSPC" : strerror(err));
    return err == ENOSPC && total > (8 << 20) ? 0 : 1;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    /* Warm-up so the baseline includes our own pages (stdio buffers, the
     * stack depth of printf and fork). */
    run_child(fd_hog);
    printf("memfree %s %ld\n", "warm-up", memfree());
    long base = memfree();
    int st = run_child(memory_hog);
    printf("memory hog: %s\n", st == 128 + SIGKILL ? "killed by SIGKILL" : st == 3 ? "mmap gave ENOMEM" : "UNEXPECTED");
    CHECK(st == 128 + SIGKILL || st == 3);
    printf("memfree base %ld after hog %ld\n", base, memfree());
    CHECK(memfree() == base);
    CHECK(run_child(fork_bomb) == 0);
    CHECK(memfree() == base);
    CHECK(run_child(thread_bomb) == 0);
    CHECK(memfree() == base);
    CHECK(run_child(fd_hog) == 0);
    CHECK(run_child(pipe_hog) == 0);
    CHECK(memfree() == base);
    CHECK(run_child(disk_hog) == 0);
    CHECK(run_child(disk_hog) == 0); /* the space came back */
    CHECK(memfree() == base);
    /* Still fully working: one more hog. */
    CHECK(run_child(memory_hog) == 128 + SIGKILL);
    CHECK(memfree() == base);
    printf("%s\n", failures ? "FAILED" : "exhaustion ok");
    return failures != 0;
}
