/* NrOS-specific check: after file-system and address-space activity, every
 * replica of the kernel state reports the same hash in /proc/nr/replicas.
 * Prints "replicas: N equal" and exits 0, or explains and exits 1. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    mkdir("/tmp/rep", 0755);
    int fd = open("/tmp/rep/file", O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    for (int i = 0; i < 100; i++) dprintf(fd, "line %d\n", i);
    rename("/tmp/rep/file", "/tmp/rep/renamed");
    char *p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    for (int i = 0; i < (1 << 20); i += 4096) p[i] = (char)i;
    munmap(p + 4096 * 16, 4096 * 16);
    mprotect(p, 4096 * 4, PROT_READ);
    char *f = mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f == MAP_FAILED || memcmp(f, "line 0\n", 7) != 0) { fprintf(stderr, "file mapping\n"); return 1; }
    /* musl's brk() always fails: use the system call. */
    char *b = (char *)syscall(SYS_brk, 0);
    if ((char *)syscall(SYS_brk, b + 65536) != b + 65536) { fprintf(stderr, "brk\n"); return 1; }
    memset(b, 1, 65536);
    close(fd);

    FILE *r = fopen("/proc/nr/replicas", "r");
    if (!r) { perror("/proc/nr/replicas"); return 1; }
    char line[256], first[64] = "";
    int n = 0, equal = 1;
    unsigned long applied0 = 0;
    while (fgets(line, sizeof line, r)) {
        unsigned rep, node;
        unsigned long applied;
        char hash[64];
        if (sscanf(line, "replica %u node %u applied %lu hash %63s", &rep, &node, &applied, hash) != 4) {
            fprintf(stderr, "bad line: %s", line);
            return 1;
        }
        printf("%s", line);
        if (n == 0) { strcpy(first, hash); applied0 = applied; }
        else if (strcmp(first, hash) != 0 || applied != applied0) equal = 0;
        n++;
    }
    if (n == 0 || !equal) { printf("replicas differ\n"); return 1; }
    printf("replicas: %d equal\n", n);
    return 0;
}
