/* A thread parked in a blocking call (here: the main thread in
 * pthread_join, i.e. futex wait) while another process keeps sending its
 * process signals that other threads handle, and other threads block and
 * get interrupted (EINTR). Found by: fuzz seed 1 (200000 calls, --release,
 * --avoid hugelen,tkill0,execbig): three workers' main threads returned
 * from futex() with rax = -EINTR but rip = 0 ("segmentation fault at 0x0
 * (rip 0x0, error 0x14)"); once a handler ran with FS base 0.
 * Usage: signal_wake_context [SECONDS] [THREADS]
 * Expected (Linux): "survived N signals". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile long hits;
static volatile int stop;
static int pipes[2];

static void handler(int s) { (void)s; __atomic_add_fetch(&hits, 1, __ATOMIC_RELAXED); }
static pid_t kicker;

/* waits for the kicker, then stops everybody */
static void *reaper(void *arg)
{
    while (waitpid(kicker, 0, 0) < 0 && errno == EINTR)
        ;
    stop = 1;
    for (int i = 0; i < 16; i++) write(pipes[1], "x", 1);
    return arg;
}

static void *blocker(void *arg)
{
    long i = (long)arg;
    char b[16];
    while (!stop) {
        switch (i % 3) {
        case 0: read(pipes[0], b, sizeof b); break; /* empty pipe: blocks until a signal */
        case 1: { struct timespec ts = {0, 2000000}; nanosleep(&ts, 0); break; }
        default: { int w = 0; struct timespec ts = {0, 5000000}; syscall(SYS_futex, &w, 0x80, 0, &ts, 0, 0); break; }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 20, n = argc > 2 ? atoi(argv[2]) : 3;
    setvbuf(stdout, 0, _IONBF, 0);
    struct sigaction sa = {0};
    sa.sa_handler = handler; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, 0);
    pipe(pipes);
    pid_t me = getpid();
    kicker = fork();
    if (kicker == 0) {
        struct timespec ts = {0, 1000000};
        for (long k = 0; k < secs * 1000L; k++) {
            kill(me, SIGUSR1);
            nanosleep(&ts, 0);
        }
        _exit(0);
    }
    pthread_t t[16], r;
    for (long i = 0; i < n && i < 16; i++) pthread_create(&t[i], 0, blocker, (void *)i);
    pthread_create(&r, 0, reaper, 0);
    pthread_join(r, 0); /* the main thread parks in futex wait, like the fuzzer's workers */
    for (int i = 0; i < n && i < 16; i++) pthread_join(t[i], 0);
    printf("survived %ld signals\n", hits);
    return 0;
}
