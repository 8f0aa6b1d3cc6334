/* pthreads: a mutex and a condition variable counting exactly across all
 * cores, thread-local storage, join values. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define ITERS 20000
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter, finished, turn;
static __thread long mine = 7;

static void *work(void *arg) {
    long id = (long)arg;
    mine += id;
    for (int i = 0; i < ITERS; i++) {
        pthread_mutex_lock(&m);
        counter++;
        pthread_mutex_unlock(&m);
    }
    /* take turns in id order through the condition variable */
    pthread_mutex_lock(&m);
    while (turn != id) pthread_cond_wait(&cv, &m);
    printf("thread %ld: tls %ld\n", id, mine);
    fflush(stdout);
    turn++;
    finished++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&m);
    return (void *)(id * 10);
}

/* Threads that fork and wait at the same time: every fork makes the
 * parent's pages copy-on-write again, also the stack page another thread's
 * waitpid is about to store the status into (that store must not fail with
 * EFAULT however often it loses the page to a fork). */
static long forker_failures;

static void *forker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++) {
        pid_t p = fork();
        if (p == 0) _exit(7);
        int st = 0;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
            __atomic_add_fetch(&forker_failures, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

int main(void) {
    pthread_t f[4];
    fflush(stdout);
    for (int i = 0; i < 4; i++) pthread_create(&f[i], 0, forker, 0);
    for (int i = 0; i < 4; i++) pthread_join(f[i], 0);
    printf("4 threads x 40 fork+waitpid: %ld failures\n", forker_failures);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, work, (void *)i);
    long sum = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("counter %ld of %d, finished %ld, join sum %ld, main tls %ld\n", counter, THREADS * ITERS, finished, sum, mine);
    return counter == THREADS * ITERS && forker_failures == 0 ? 0 : 1;
}
