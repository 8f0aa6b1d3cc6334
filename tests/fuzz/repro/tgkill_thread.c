/* tgkill/tkill cannot reach a thread other than the main thread: NrOS
 * returns ESRCH (syscall.rs TGKILL requires tgid == tid; TKILL treats the
 * tid as a pid). Linux delivers the signal to that thread.
 * Found by: fuzz (every run: "tgkill ... ESRCH" for sibling threads; the
 * fuzzer's watchdog needs a helper process on NrOS because of it).
 * Expected (Linux):
 *   tgkill(pid, thread) = 0
 *   tkill(thread) = 0
 *   handler ran in the thread: 2 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread int hits;
static volatile int ready, done, thread_hits;
static volatile long thread_tid;

static void handler(int s) { (void)s; hits++; }

static void *worker(void *a)
{
    thread_tid = syscall(SYS_gettid);
    ready = 1;
    while (!done) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, 0);
    }
    thread_hits = hits;
    return a;
}

int main(void)
{
    signal(SIGUSR1, handler);
    pthread_t t;
    pthread_create(&t, 0, worker, 0);
    while (!ready) sched_yield();
    long r = syscall(SYS_tgkill, getpid(), thread_tid, SIGUSR1);
    printf("tgkill(pid, thread) = %ld%s\n", r, r ? (errno == ESRCH ? " ESRCH" : " error") : "");
    r = syscall(SYS_tkill, thread_tid, SIGUSR1);
    printf("tkill(thread) = %ld%s\n", r, r ? (errno == ESRCH ? " ESRCH" : " error") : "");
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, 0);
    done = 1;
    pthread_join(t, 0);
    printf("handler ran in the thread: %d\n", thread_hits);
    return 0;
}
