/* pthreads: a mutex and a condition variable counting exactly across all
 * cores, thread-local storage, join values. */
#include <pthread.h>
#include <stdio.h>

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

int main(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, work, (void *)i);
    long sum = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("counter %ld of %d, finished %ld, join sum %ld, main tls %ld\n", counter, THREADS * ITERS, finished, sum, mine);
    return counter == THREADS * ITERS ? 0 : 1;
}
