/* fork shares memory copy-on-write: after fork, writes on either side
 * are invisible to the other, on every kind of private page (heap, mmap,
 * stack, data, pages made read-only and writable again), across a chain of
 * forks and with threads running in the parent. Output is deterministic and
 * compared with Linux. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MB (1024 * 1024)
static int failures;
#define CHECK(c) do { if (!(c)) { printf("CHECK FAILED line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static char data_page[8192] = {1};
/* Keeps the compiler from eliding stores to memory it can prove unread. */
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")
static unsigned sum(const unsigned char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
    return s;
}

static int wait_status(pid_t p) {
    int st = 0;
    if (waitpid(p, &st, 0) != p) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile int stop;
static void *spinner(void *arg) {
    volatile unsigned *c = arg;
    while (!stop) (*c)++;
    return 0;
}

/* Writers that share one page, each checking that its last store stays
 * visible to itself. While the parent forks, one writer's copy-on-write
 * fault copies the page; a store another writer makes meanwhile through a
 * translation that is not yet read-only must not be lost. */
#define WRITERS 3
static volatile unsigned slots[1024] __attribute__((aligned(4096)));
static volatile unsigned lost[WRITERS];
static volatile int stop_writers;
static void *writer(void *arg) {
    int i = (int)(intptr_t)arg;
    for (unsigned v = 1; !stop_writers; v++) {
        slots[i * 16] = v;
        for (int k = 0; k < 64; k++)
            if (slots[i * 16] != v) {
                lost[i]++;
                break;
            }
    }
    return 0;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    size_t n = 8 * MB;
    unsigned char *heap = malloc(n);
    unsigned char *map = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char stack[16384];
    for (size_t i = 0; i < n; i++) heap[i] = (unsigned char)(i * 7), map[i] = (unsigned char)(i * 13);
    memset(stack, 0x5a, sizeof stack);
    memset(data_page, 0x33, sizeof data_page);
    unsigned h0 = sum(heap, n), m0 = sum(map, n), s0 = sum(stack, sizeof stack), d0 = sum(data_page, sizeof data_page);
    /* A page made read-only before fork and writable again in the child. */
    CHECK(mprotect(map + 4 * MB, 4096, PROT_READ) == 0);

    pid_t c = fork();
    if (c == 0) {
        /* Child sees the parent's memory... */
        int bad = sum(heap, n) != h0 || sum(map, n) != m0 || sum(stack, sizeof stack) != s0 || sum(data_page, sizeof data_page) != d0;
        /* ...and writes its own copy of every kind of page. */
        for (size_t i = 0; i < n; i += 4096) heap[i] ^= 0xff;
        memset(map, 0, MB);
        memset(stack, 1, sizeof stack);
        data_page[5] = 9;
        ESCAPE(heap);
        if (mprotect(map + 4 * MB, 4096, PROT_READ | PROT_WRITE) != 0) bad = 1;
        map[4 * MB] = 77;
        bad |= map[4 * MB] != 77 || map[10] != 0 || stack[3] != 1 || data_page[5] != 9;
        /* A grandchild forks from the modified copy. */
        pid_t g = fork();
        if (g == 0) {
            int gbad = map[4 * MB] != 77 || map[10] != 0;
            map[4 * MB] = 78;
            memset(heap, 2, n);
            ESCAPE(heap);
            _exit(gbad ? 1 : 42);
        }
        bad |= wait_status(g) != 42;
        bad |= map[4 * MB] != 77 || heap[1] != 7; /* the grandchild's writes are its own */
        _exit(bad ? 1 : 7);
    }
    /* The parent writes too while the child runs. */
    heap[100] = 1;
    CHECK(wait_status(c) == 7);
    heap[100] = (unsigned char)(100 * 7);
    CHECK(sum(heap, n) == h0);
    CHECK(sum(map, n) == m0);
    CHECK(sum(stack, sizeof stack) == s0);
    CHECK(sum(data_page, sizeof data_page) == d0);
    CHECK(map[4 * MB] == (unsigned char)(4 * MB * 13));
    printf("parent memory unchanged after child writes\n");

    /* fork with other threads running and writing: the child gets a
     * consistent copy and the parent's threads keep their own memory. */
    volatile unsigned counters[2] = {0, 0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], 0, spinner, (void *)&counters[i]);
    for (int round = 0; round < 20; round++) {
        pid_t k = fork();
        if (k == 0) {
            unsigned a = counters[0];
            for (volatile int spin = 0; spin < 1000; spin++) {}
            /* No thread runs in the child: its copy of the counter is frozen. */
            _exit(counters[0] == a && sum(map + MB, MB) == sum(map + MB, MB) ? 0 : 1);
        }
        CHECK(wait_status(k) == 0);
    }
    stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(th[i], 0);
    printf("fork with running threads: 20 children ok\n");

    /* Forks while threads write one page: no store of the parent's threads
     * is lost. */
    pthread_t w[WRITERS];
    for (int i = 0; i < WRITERS; i++) pthread_create(&w[i], 0, writer, (void *)(intptr_t)i);
    for (int round = 0; round < 100; round++) {
        pid_t k = fork();
        if (k == 0) _exit(0);
        CHECK(wait_status(k) == 0);
    }
    stop_writers = 1;
    for (int i = 0; i < WRITERS; i++) pthread_join(w[i], 0);
    for (int i = 0; i < WRITERS; i++) CHECK(lost[i] == 0);
    printf("fork while threads write one page: no store lost\n");

    /* Many children each dirtying one page of a shared 8 MiB region. */
    for (int i = 0; i < 32; i++) {
        pid_t k = fork();
        if (k == 0) {
            map[(size_t)i * 4096 * 7] = 0xee;
            ESCAPE(map);
            _exit(sum(map, n) == m0 ? 1 : 0);
        }
        CHECK(wait_status(k) == 0);
    }
    CHECK(sum(map, n) == m0);
    printf("32 children wrote private pages\n");
    printf("%s\n", failures ? "FAILED" : "cow ok");
    return failures ? 1 : 0;
}
