/* A futex wait's timeout outlived the call: FUTEX_WAIT with a timeout that
 * failed (EFAULT on the futex word) or was interrupted by a signal (EINTR)
 * left its deadline in the thread, and the thread's next FUTEX_WAIT without
 * a timeout returned ETIMEDOUT at once. musl's pthread_join then returned
 * early and the fuzzer started the next thread on a stack still in use
 * (the "nested" fuzzer failures: stale start arguments, a thread list in
 * which a thread found itself alone and called exit(0)).
 * Expected (Linux) and now NrOS:
 *   after EFAULT: wait = 0 (woken)
 *   after EINTR: wait = 0 (woken) */
#define _GNU_SOURCE
#include <errno.h>
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int word;

static long futex(volatile int *a, int op, int val, const struct timespec *ts) {
    return syscall(SYS_futex, a, op, val, ts, 0, 0);
}

static void *waker(void *arg) {
    (void)arg;
    struct timespec d = {0, 100 * 1000 * 1000};
    nanosleep(&d, 0);
    word = 1;
    futex(&word, FUTEX_WAKE, 1, 0);
    return 0;
}

/* Wait (no timeout) until the waker thread changes the word. */
static void wait_woken(const char *what) {
    word = 0;
    pthread_t t;
    pthread_create(&t, 0, waker, 0);
    long r = futex(&word, FUTEX_WAIT, 0, 0);
    int e = errno;
    pthread_join(t, 0);
    /* Woken (0), or the word changed before the wait began (EAGAIN). */
    int ok = r == 0 || (r == -1 && e == EAGAIN);
    printf("after %s: wait %s\n", what, ok ? "= 0 (woken)" : strerror(e));
}

static void on_signal(int s) { (void)s; }

static pid_t main_tid;
static void *interrupter(void *arg) {
    (void)arg;
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, 0);
    syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
    return 0;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    struct timespec short_ts = {0, 1000};
    struct timespec pause_ts = {0, 20 * 1000 * 1000};

    /* A timed wait on an unreadable word. */
    long r = futex((volatile int *)8, FUTEX_WAIT, 0, &short_ts);
    if (!(r == -1 && errno == EFAULT)) printf("bad futex word: %ld %s\n", r, strerror(errno));
    nanosleep(&pause_ts, 0); /* its deadline passes */
    wait_woken("EFAULT");

    /* A timed wait interrupted by a handler without SA_RESTART. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, 0);
    struct timespec long_ts = {0, 900 * 1000 * 1000};
    word = 0;
    main_tid = (pid_t)syscall(SYS_gettid);
    pthread_t it;
    pthread_create(&it, 0, interrupter, 0);
    r = futex(&word, FUTEX_WAIT, 0, &long_ts);
    if (!(r == -1 && errno == EINTR)) printf("interrupted wait: %ld %s\n", r, strerror(errno));
    pthread_join(it, 0);
    struct timespec rest = {1, 0};
    nanosleep(&rest, 0); /* its deadline passes */
    wait_woken("EINTR");
    return 0;
}
