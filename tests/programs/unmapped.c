/* A thread that touches memory another thread unmapped (or made read-only)
 * gets SIGSEGV, even if it had just used that memory on another core (its
 * TLB entry must have been shot down before munmap/mprotect returned). */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile char *page;
static volatile int phase, done, acked;
static __thread sigjmp_buf env;
static __thread volatile int faults;

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    faults++;
    if (si->si_addr != (void *)(page + 7)) faults += 100; /* wrong address */
    siglongjmp(env, 1);
}

static void *toucher(void *arg) {
    (void)arg;
    int bad = 0;
    for (int round = 0; round < 50; round++) {
        while (phase != 2 * round + 1) {}
        /* The page is mapped: use it (caching its translation here). */
        for (int i = 0; i < 1000; i++) page[i % 4096] += 1;
        phase = 2 * round + 2;
        while (done <= round) {}
        /* The other thread unmapped it (odd rounds: made it read-only). */
        int before = faults;
        if (sigsetjmp(env, 1) == 0) page[7] = 1;
        if (faults != before + 1) bad++;
        acked = round + 1;
    }
    return (void *)(long)bad;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    pthread_t t;
    pthread_create(&t, 0, toucher, 0);
    for (int round = 0; round < 50; round++) {
        char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        page = p;
        phase = 2 * round + 1;
        while (phase != 2 * round + 2) {}
        if (round % 2 == 0) munmap(p, 4096); else mprotect(p, 4096, PROT_READ);
        done = round + 1;
        /* Wait until the toucher tried (and faulted) before the next page. */
        while (acked != round + 1) {}
        if (round % 2) munmap(p, 4096);
    }
    void *r;
    pthread_join(t, &r);
    printf("%s\n", r == 0 ? "every touch after munmap/mprotect faulted" : "CHECK FAILED: a stale translation was used");
    return r == 0 ? 0 : 1;
}
