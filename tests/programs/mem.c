/* mem: brk, malloc, mmap, munmap, mprotect, madvise.
 * (MAP_SHARED file mappings are in mmap_shared.c.)
 *
 * Prints results and checksums, never addresses. A failed expectation is
 * reported as "CHECK FAILED" and makes the exit status 1. Uses a scratch
 * file /tmp/mem-test-<pid> (removed at the end). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static const char *ename(int e)
{
    switch (e) {
    case 0: return "OK";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENODEV: return "ENODEV";
    case ENOSYS: return "ENOSYS";
    case EEXIST: return "EEXIST";
    default: return "E?";
    }
}

static void expect_err(const char *what, long r, int want)
{
    int e = errno;
    if (r != -1) {
        printf("%s: succeeded (CHECK FAILED: expected %s)\n", what, ename(want));
        failures++;
    } else {
        printf("%s: -1 errno=%d %s%s\n", what, e, ename(e), e == want ? "" : " (CHECK FAILED)");
        if (e != want)
            failures++;
    }
}

static uint64_t checksum(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)(i * 7 + seed + (i >> 12));
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return 0;
    return 1;
}

static int is_fill(const void *p, size_t n, unsigned seed, size_t start)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        size_t j = start + i;
        if (c[i] != (unsigned char)(j * 7 + seed + (j >> 12)))
            return 0;
    }
    return 1;
}

/* brk is tested first, before stdio or malloc allocate anything, through
 * the raw system call (musl's sbrk refuses non-zero increments). The results
 * are printed afterwards. */
static int brk_ok[8];

static void test_brk_early(void)
{
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    brk_ok[0] = cur != 0;
    uintptr_t want = cur + 300 * 1024 + 123;
    uintptr_t got = (uintptr_t)syscall(SYS_brk, want);
    brk_ok[1] = got == want;
    /* the new area is zeroed and writable */
    brk_ok[2] = all_zero((void *)cur, want - cur);
    memset((void *)cur, 0x5a, want - cur);
    brk_ok[3] = (uintptr_t)syscall(SYS_brk, 0) == want;
    /* shrink, then grow again: the re-grown pages read zeros */
    uintptr_t mid = cur + 8 * PG;
    brk_ok[4] = (uintptr_t)syscall(SYS_brk, mid) == mid;
    brk_ok[5] = ((unsigned char *)cur)[100] == 0x5a;
    got = (uintptr_t)syscall(SYS_brk, want);
    uintptr_t mid_page = (mid + PG - 1) & ~(PG - 1);
    brk_ok[6] = got == want && all_zero((void *)mid_page, want - mid_page);
    /* a request below the initial break fails: the break stays */
    brk_ok[7] = (uintptr_t)syscall(SYS_brk, cur - 1024 * 1024 * 1024UL) == want;
    syscall(SYS_brk, cur);
}

static void test_brk_report(void)
{
    printf("--- brk\n");
    check("brk(0) returns the break", brk_ok[0]);
    check("brk(+300K) grows", brk_ok[1]);
    check("grown area reads zeros", brk_ok[2]);
    check("brk(0) returns the new break", brk_ok[3]);
    check("brk shrinks", brk_ok[4]);
    check("data below the shrunk break survives", brk_ok[5]);
    check("re-grown area reads zeros", brk_ok[6]);
    check("brk(far below) leaves the break unchanged", brk_ok[7]);
    void *s0 = sbrk(0);
    check("sbrk(0) != -1", s0 != (void *)-1);
}

static void test_malloc(void)
{
    printf("--- malloc\n");
    static const size_t sizes[] = {1, 7, 16, 24, 100, 1000, 4095, 4096, 4097, 10000, 65536, 100000,
                                   131072, 200000, 1 << 20, 3 << 20, 16 << 20};
    enum { N = sizeof sizes / sizeof sizes[0] };
    void *p[N];
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) {
        p[i] = malloc(sizes[i]);
        if (!p[i]) {
            printf("malloc(%zu) failed (CHECK FAILED)\n", sizes[i]);
            failures++;
            continue;
        }
        fill(p[i], sizes[i], i);
    }
    int ok = 1;
    for (int i = 0; i < N; i++) {
        if (p[i] && !is_fill(p[i], sizes[i], i, 0))
            ok = 0;
        if (p[i])
            sum += checksum(p[i], sizes[i]);
    }
    check("all malloc blocks keep their contents", ok);
    printf("malloc checksum: %016llx\n", (unsigned long long)sum);
    for (int i = 0; i < N; i += 2)
        free(p[i]);
    /* realloc growth through the mmap threshold */
    char *r = malloc(10);
    fill(r, 10, 3);
    size_t cur = 10;
    ok = 1;
    for (size_t n = 50; n <= (8u << 20); n *= 3) {
        r = realloc(r, n);
        if (!r || !is_fill(r, cur, 3, 0)) {
            ok = 0;
            break;
        }
        fill(r, n, 3);
        cur = n;
    }
    check("realloc keeps contents up to 8 MiB", ok);
    r = realloc(r, 100);
    check("realloc shrink keeps contents", r && is_fill(r, 100, 3, 0));
    free(r);
    for (int i = 1; i < N; i += 2)
        free(p[i]);
    /* many small allocations */
    void *small[2000];
    for (int i = 0; i < 2000; i++) {
        small[i] = malloc(16 + (i % 97) * 8);
        memset(small[i], i & 0xff, 16 + (i % 97) * 8);
    }
    ok = 1;
    for (int i = 0; i < 2000; i++) {
        unsigned char *c = small[i];
        if (c[0] != (i & 0xff) || c[15 + (i % 97) * 8] != (i & 0xff))
            ok = 0;
        free(small[i]);
    }
    check("2000 small blocks", ok);
    /* large calloc'd array */
    size_t n = 8 << 20;
    unsigned *arr = calloc(n, sizeof *arr);
    check("calloc(8M, 4) != NULL", arr != NULL);
    if (arr) {
        check("calloc memory is zero", all_zero(arr, n * sizeof *arr));
        unsigned long long s = 0;
        for (size_t i = 0; i < n; i++)
            arr[i] = (unsigned)(i * 2654435761u);
        for (size_t i = 0; i < n; i++)
            s += arr[i];
        printf("calloc array sum: %llu\n", s);
        free(arr);
    }
}

static void test_mmap_anon(void)
{
    printf("--- mmap anonymous\n");
    size_t len = 16 * PG;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap(16 pages) ok", m != MAP_FAILED);
    if (m == MAP_FAILED)
        return;
    check("page aligned", ((uintptr_t)m & (PG - 1)) == 0);
    check("fresh anonymous memory is zero", all_zero(m, len));
    fill(m, len, 1);
    printf("anon checksum: %016llx\n", (unsigned long long)checksum(m, len));

    /* MAP_FIXED over pages 4..5: new zero pages, neighbours untouched */
    void *f = mmap(m + 4 * PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED returns the requested address", f == m + 4 * PG);
    check("MAP_FIXED pages are zero", all_zero(m + 4 * PG, 2 * PG));
    check("pages 0..3 unchanged", is_fill(m, 4 * PG, 1, 0));
    check("pages 6..15 unchanged", is_fill(m + 6 * PG, 10 * PG, 1, 6 * PG));

    /* munmap of pages 8..9 */
    check("munmap(pages 8..9) == 0", munmap(m + 8 * PG, 2 * PG) == 0);
    check("page 7 still readable and intact", is_fill(m + 7 * PG, PG, 1, 7 * PG));
    check("page 10 still readable and intact", is_fill(m + 10 * PG, PG, 1, 10 * PG));
    m[7 * PG + PG - 1] = 1;
    m[10 * PG] = 2;
    check("neighbours writable", m[7 * PG + PG - 1] == 1 && m[10 * PG] == 2);
    /* The hole: the kernel reports EFAULT when asked to read it, and
     * mprotect over it fails with ENOMEM. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/mem-hole-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    expect_err("write(file, hole, 4096)", write(fd, m + 8 * PG, PG), EFAULT);
    close(fd);
    unlink(path);
    expect_err("mprotect(range with a hole)", mprotect(m + 7 * PG, 4 * PG, PROT_READ), ENOMEM);
    check("munmap(already unmapped) == 0", munmap(m + 8 * PG, 2 * PG) == 0);
    /* MAP_FIXED into the hole makes it usable again */
    f = mmap(m + 8 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED into the hole", f == m + 8 * PG && all_zero(f, PG));

    /* mprotect read-only, then back */
    check("mprotect(pages 0..1, PROT_READ) == 0", mprotect(m, 2 * PG, PROT_READ) == 0);
    check("read-only pages readable", is_fill(m, 2 * PG, 1, 0));
    /* a read-only buffer can be written out but not read into */
    fd = open("/dev/null", O_WRONLY);
    check("write(/dev/null, read-only page) ok", write(fd, m, PG) == (ssize_t)PG);
    close(fd);
    fd = open("/dev/zero", O_RDONLY);
    expect_err("read(/dev/zero, into read-only page)", read(fd, m, 16), EFAULT);
    check("read-only page unchanged after failed read", is_fill(m, 2 * PG, 1, 0));
    close(fd);
    check("mprotect back to RW == 0", mprotect(m, 2 * PG, PROT_READ | PROT_WRITE) == 0);
    m[0] = 0x77;
    m[2 * PG - 1] = 0x78;
    check("writable again", m[0] == 0x77 && m[2 * PG - 1] == 0x78);
    fd = open("/dev/zero", O_RDONLY);
    check("read(/dev/zero) into RW page", read(fd, m, 16) == 16 && all_zero(m, 16));
    close(fd);

    /* madvise(MADV_DONTNEED) zeroes private anonymous pages */
    memset(m + 12 * PG, 0xab, 2 * PG);
    check("madvise(DONTNEED) == 0", madvise(m + 12 * PG, PG, MADV_DONTNEED) == 0);
    check("DONTNEED page reads zero", all_zero(m + 12 * PG, PG));
    check("next page untouched", m[13 * PG] == 0xab && m[14 * PG - 1] == 0xab);
    expect_err("madvise(unaligned)", madvise(m + 1, PG, MADV_DONTNEED), EINVAL);

    check("munmap(all 16 pages) == 0", munmap(m, len) == 0);

    /* errors (raw system calls: libc wrappers check some arguments themselves) */
    errno = 0;
    expect_err("mmap(len 0)", syscall(SYS_mmap, NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
    expect_err("mmap(no MAP_PRIVATE/SHARED)", syscall(SYS_mmap, NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
    expect_err("mmap(file, bad fd)", syscall(SYS_mmap, NULL, PG, PROT_READ, MAP_PRIVATE, 999, 0), EBADF);
    expect_err("mmap(MAP_FIXED unaligned)",
               syscall(SYS_mmap, (void *)0x10000001, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EINVAL);
    expect_err("munmap(unaligned)", syscall(SYS_munmap, (void *)0x10000001, PG), EINVAL);
    expect_err("munmap(len 0)", syscall(SYS_munmap, (void *)0x10000000, 0), EINVAL);
    expect_err("mprotect(unaligned)", syscall(SYS_mprotect, (void *)0x10000001, PG, PROT_READ), EINVAL);

    /* a hint is only a hint, but an unused one is honoured on Linux */
    void *hint = (void *)0x200000000000ULL;
    void *h = mmap(hint, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap(free hint) returns the hint", h == hint);
    if (h != MAP_FAILED)
        munmap(h, PG);
    /* MAP_FIXED_NOREPLACE over an existing mapping fails with EEXIST */
    m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect_err("MAP_FIXED_NOREPLACE over a mapping",
               (long)mmap(m, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);
    munmap(m, 2 * PG);
    /* a big mapping, touched sparsely */
    size_t big = 256UL << 20;
    unsigned char *b = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    check("mmap(256 MiB, NORESERVE)", b != MAP_FAILED);
    if (b != MAP_FAILED) {
        unsigned long s = 0;
        for (size_t off = 0; off < big; off += 1 << 20) {
            b[off] = (unsigned char)(off >> 20);
            s += b[off];
        }
        printf("sparse sum: %lu\n", s);
        munmap(b, big);
    }
}

static void test_mmap_file(void)
{
    printf("--- mmap file\n");
    char path[64];
    snprintf(path, sizeof path, "/tmp/mem-test-%d", (int)getpid());
    size_t flen = 2 * PG + 1000;
    unsigned char *data = malloc(flen);
    fill(data, flen, 9);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, flen) != (ssize_t)flen) {
        printf("cannot write %s (CHECK FAILED)\n", "the scratch file");
        failures++;
        return;
    }
    /* private mapping of the whole file (3 pages) */
    unsigned char *m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check("mmap(file, MAP_PRIVATE)", m != MAP_FAILED);
    if (m == MAP_FAILED)
        return;
    check("mapping shows the file", memcmp(m, data, flen) == 0);
    check("bytes past EOF in the last page are zero", all_zero(m + flen, 3 * PG - flen));
    printf("file mapping checksum: %016llx\n", (unsigned long long)checksum(m, 3 * PG));
    memset(m + 100, 'P', 50);
    m[3 * PG - 1] = 'Q';
    unsigned char buf[200];
    check("pread after private write", pread(fd, buf, 200, 0) == 200);
    check("private writes do not reach the file", memcmp(buf, data, 200) == 0);
    struct stat st;
    fstat(fd, &st);
    check("file size unchanged", st.st_size == (off_t)flen);
    /* a write to the file through write(2) after the page was copied is not seen */
    check("munmap(file mapping)", munmap(m, 3 * PG) == 0);

    /* mapping with an offset */
    m = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
    check("mmap(file, offset 1 page)", m != MAP_FAILED && memcmp(m, data + PG, PG) == 0);
    if (m != MAP_FAILED)
        munmap(m, PG);
    expect_err("mmap(file, unaligned offset)", syscall(SYS_mmap, NULL, PG, PROT_READ, MAP_PRIVATE, fd, 100), EINVAL);

    /* a fresh private mapping sees the file as it is now */
    pwrite(fd, "NEW", 3, 10);
    m = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
    check("new mapping sees a write(2) made before mmap", m != MAP_FAILED && memcmp(m + 10, "NEW", 3) == 0);
    if (m != MAP_FAILED)
        munmap(m, PG);

    /* read-only fd: a writable private mapping is allowed (MAP_SHARED is
     * tested in mmap_shared.c) */
    fd = open(path, O_RDONLY);
    m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check("mmap(O_RDONLY fd, PROT_WRITE, MAP_PRIVATE)", m != MAP_FAILED);
    if (m != MAP_FAILED) {
        m[0] = 'z';
        munmap(m, PG);
    }
    /* the mapping outlives the descriptor */
    m = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    check("mapping readable after close(fd)", m != MAP_FAILED && memcmp(m + 10, "NEW", 3) == 0);
    if (m != MAP_FAILED)
        munmap(m, PG);
    fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    expect_err("mmap(directory fd)", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0), ENODEV);
    close(fd);
    unlink(path);
    free(data);
}

int main(void)
{
    test_brk_early();
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_brk_report();
    test_malloc();
    test_mmap_anon();
    test_mmap_file();
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
