/* mmap_shared: MAP_SHARED mappings of a regular file.
 *
 * Kept apart from mem.c because our kernel does not support writable
 * shared file mappings yet. Uses /tmp/mmap-shared-<pid> (removed at the
 * end). A failed expectation prints "CHECK FAILED"; exit status 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096UL

static int failures;

static void check(const char *what, int cond)
{
    printf("%s: %s\n", what, cond ? "yes" : "no (CHECK FAILED)");
    if (!cond)
        failures++;
}

static void expect_err(const char *what, long r, int want)
{
    int e = errno;
    if (r != -1) {
        printf("%s: succeeded (CHECK FAILED: expected errno %d)\n", what, want);
        failures++;
    } else {
        printf("%s: -1 errno=%d%s\n", what, e, e == want ? "" : " (CHECK FAILED)");
        if (e != want)
            failures++;
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/mmap-shared-%d", (int)getpid());
    char data[PG + 100];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, sizeof data) != (ssize_t)sizeof data) {
        printf("cannot write the scratch file (CHECK FAILED)\n");
        return 1;
    }

    /* read-only shared mapping: shows the file, and later writes to it */
    char *r = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
    check("mmap(PROT_READ, MAP_SHARED)", r != MAP_FAILED);
    if (r != MAP_FAILED) {
        check("shows the file", memcmp(r, data, sizeof data) == 0);
        pwrite(fd, "LATER", 5, 30);
        check("sees a later pwrite", memcmp(r + 30, "LATER", 5) == 0);
        munmap(r, 2 * PG);
    }

    /* writable shared mapping: stores reach the file */
    char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check("mmap(PROT_READ|PROT_WRITE, MAP_SHARED)", m != MAP_FAILED);
    if (m != MAP_FAILED) {
        char buf[8];
        memcpy(m + 20, "SHARED", 6);
        check("pread sees the store", pread(fd, buf, 6, 20) == 6 && memcmp(buf, "SHARED", 6) == 0);
        pwrite(fd, "FILE", 4, 40);
        check("mapping sees a pwrite", memcmp(m + 40, "FILE", 4) == 0);
        /* two shared mappings of the same page see each other */
        char *m2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m2 != MAP_FAILED) {
            m2[50] = '#';
            check("second shared mapping is coherent", m[50] == '#');
            munmap(m2, PG);
        }
        check("msync == 0", msync(m, PG, MS_SYNC) == 0);
        munmap(m, PG);
        check("store persists after munmap", pread(fd, buf, 6, 20) == 6 && memcmp(buf, "SHARED", 6) == 0);
    }
    close(fd);

    /* descriptor access mode */
    fd = open(path, O_RDONLY);
    expect_err("mmap(O_RDONLY fd, PROT_WRITE, MAP_SHARED)",
               syscall(SYS_mmap, NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
    r = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
    check("mmap(O_RDONLY fd, PROT_READ, MAP_SHARED)", r != MAP_FAILED);
    if (r != MAP_FAILED) {
        expect_err("mprotect(shared read-only file mapping, PROT_WRITE)",
                   mprotect(r, PG, PROT_READ | PROT_WRITE), EACCES);
        munmap(r, PG);
    }
    close(fd);
    fd = open(path, O_WRONLY);
    expect_err("mmap(O_WRONLY fd, PROT_READ, MAP_SHARED)",
               syscall(SYS_mmap, NULL, PG, PROT_READ, MAP_SHARED, fd, 0), EACCES);
    close(fd);
    unlink(path);
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
