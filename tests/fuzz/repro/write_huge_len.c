/* Kernel panic: write() with a huge length and a small valid buffer.
 * Found by: fuzz seed 1 (w0 t0 call #337: write(pipe, buf, 0xfffffffffffff000)).
 * sys_write clamps len to MAX_IO (0x7ffff000) and uaccess::read allocates
 * a Vec of that size before checking the user range: "memory allocation of
 * 2147479552 bytes failed" -> panic (status 222). The same path is reached
 * by pwrite64, writev (iov_len), sendto-like callers of uaccess::read.
 * Linux: writes what is readable (here 4096 bytes) or fails with EFAULT. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    int p[2];
    pipe(p);
    /* one readable page followed by a PROT_NONE page */
    char *buf = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(buf + 4096, 4096, PROT_NONE);
    long r = syscall(SYS_write, p[1], buf, -4096L);
    printf("write(pipe, buf, -4096) = %ld errno %d\n", r, r < 0 ? errno : 0);
    return 0;
}
