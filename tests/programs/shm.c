/* Shared anonymous memory across fork: writes on either side are seen by
 * the other (also for pages never touched before the fork), and
 * process-shared pthread mutexes, condition variables and semaphores in it
 * (non-private futexes keyed by the shared page) synchronise processes on
 * all cores. Private memory next to it stays copy-on-write. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("CHECK FAILED line %d: %s\n", __LINE__, #c); failures++; } } while (0)

struct shared {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    sem_t sem;
    long counter;
    int ready;
    char page_gap[8192];
    char late[4096]; /* first touched after the fork */
};

static int wait_status(pid_t p) {
    int st = 0;
    if (waitpid(p, &st, 0) != p) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    struct shared *sh = mmap(0, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *priv = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(sh != MAP_FAILED && priv != MAP_FAILED);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&sh->lock, &ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_cond_init(&sh->cond, &ca);
    sem_init(&sh->sem, 1, 0);
    priv[0] = 'p';

    /* Plain sharing both ways. */
    pid_t c = fork();
    if (c == 0) {
        strcpy(sh->late, "written by the child");
        priv[0] = 'c';
        _exit(0);
    }
    CHECK(wait_status(c) == 0);
    CHECK(strcmp(sh->late, "written by the child") == 0);
    CHECK(priv[0] == 'p');
    printf("child's writes to shared memory seen; private memory stays private\n");

    /* Four processes count under a process-shared mutex. */
    enum { KIDS = 4, ROUNDS = 5000 };
    pid_t kids[KIDS];
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < ROUNDS; i++) {
                pthread_mutex_lock(&sh->lock);
                sh->counter++;
                pthread_mutex_unlock(&sh->lock);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < KIDS; k++) CHECK(wait_status(kids[k]) == 0);
    CHECK(sh->counter == KIDS * ROUNDS);
    printf("counter %ld\n", sh->counter);

    /* Condition variable: children wait until the parent says go. */
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            pthread_mutex_lock(&sh->lock);
            while (!sh->ready) pthread_cond_wait(&sh->cond, &sh->lock);
            pthread_mutex_unlock(&sh->lock);
            sem_post(&sh->sem);
            _exit(0);
        }
    }
    usleep(20000);
    pthread_mutex_lock(&sh->lock);
    sh->ready = 1;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
    for (int k = 0; k < KIDS; k++) sem_wait(&sh->sem); /* blocks until each posted */
    for (int k = 0; k < KIDS; k++) CHECK(wait_status(kids[k]) == 0);
    printf("condition variable and semaphore across processes\n");
    printf("%s\n", failures ? "FAILED" : "shm ok");
    return failures ? 1 : 0;
}
