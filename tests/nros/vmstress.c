/* Threads on all cores concurrently map, fill, verify and unmap private
 * regions of one shared address space, thousands of times; then every
 * replica of the kernel state must hash the same. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 1500
static int bad;

static void *work(void *arg) {
    long id = (long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        size_t len = 4096 * (1 + (r + id) % 4);
        unsigned char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { bad = 1; return 0; }
        unsigned char v = (unsigned char)(id * 31 + r);
        for (size_t i = 0; i < len; i += 512) p[i] = v;
        for (size_t i = 0; i < len; i += 512) if (p[i] != v) bad = 1;
        munmap(p, len);
    }
    return 0;
}

int main(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, work, (void *)i);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], 0);
    printf("vmstress: %d threads x %d rounds, %s\n", THREADS, ROUNDS, bad ? "CORRUPTED" : "verified");
    FILE *f = fopen("/proc/nr/replicas", "r");
    if (!f) { perror("/proc/nr/replicas"); return 1; }
    char line[256], first[64] = "";
    int n = 0, equal = 1;
    while (fgets(line, sizeof line, f)) {
        char hash[64];
        if (sscanf(line, "replica %*u node %*u applied %*u hash %63s", hash) != 1) return 1;
        if (n++ == 0) strcpy(first, hash);
        else if (strcmp(first, hash)) equal = 0;
    }
    printf("replicas: %d %s\n", n, equal ? "equal" : "differ");
    return bad || !equal;
}
