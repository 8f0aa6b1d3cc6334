/* Kernel panics in execve, from sizes taken from the file:
 *  exec_huge file  a sparse 1 TiB executable: read_executable() reads the
 *                  whole file (ReadInode len = st.size, capped at MAX_IO):
 *                  "memory allocation of 2147479552 bytes failed"
 *                  (process.rs:351 via exec_depth:424).
 *  exec_huge bss   an ELF whose PT_LOAD has p_memsz = 1 TiB: exec collects
 *                  one Vec entry per page of the plan (process.rs:446,
 *                  after the point of no return): "memory allocation of
 *                  4294967296 bytes failed".
 * Found by: fuzz seeds 6, 7, 10 (20000 calls, --avoid hugelen,tkill0),
 * children exec'ing crafted ELF files that other workers truncate/extend.
 * Linux: "file" runs the program (only the mapped pages are read): the
 * child dies of SIGILL (ud2), "child: signal 4"; "bss": the child is
 * killed with SIGSEGV after the point of no return, "child: signal 11".
 * NrOS: kernel panic (status 222) in both cases.
 * Usage: exec_huge file | exec_huge bss */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char img[8192];

static void elf(uint64_t memsz)
{
    uint64_t base = 0x10000000;
    memcpy(img, "\177ELF\2\1\1", 7);
    *(uint16_t *)(img + 16) = 2;     /* ET_EXEC */
    *(uint16_t *)(img + 18) = 62;    /* x86-64 */
    *(uint32_t *)(img + 20) = 1;
    *(uint64_t *)(img + 24) = base;  /* entry */
    *(uint64_t *)(img + 32) = 64;    /* phoff */
    *(uint16_t *)(img + 52) = 64;
    *(uint16_t *)(img + 54) = 56;
    *(uint16_t *)(img + 56) = 1;
    unsigned char *ph = img + 64;
    *(uint32_t *)(ph + 0) = 1;       /* PT_LOAD, R+X */
    *(uint32_t *)(ph + 4) = 5;
    *(uint64_t *)(ph + 8) = 4096;
    *(uint64_t *)(ph + 16) = base;
    *(uint64_t *)(ph + 24) = base;
    *(uint64_t *)(ph + 32) = 4096;
    *(uint64_t *)(ph + 40) = memsz;
    *(uint64_t *)(ph + 48) = 4096;
    for (int i = 4096; i < 8192; i += 2) { img[i] = 0x0f; img[i + 1] = 0x0b; } /* ud2 */
}

int main(int argc, char **argv)
{
    int bss = argc > 1 && !strcmp(argv[1], "bss");
    const char *path = "/tmp/exec-huge";
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    elf(bss ? 1ULL << 40 : 8192);
    write(fd, img, sizeof img);
    if (!bss) ftruncate(fd, 1L << 40); /* sparse */
    close(fd);
    pid_t p = fork();
    if (p == 0) {
        char *av[] = {(char *)path, 0};
        execve(path, av, 0);
        printf("execve: errno %d\n", errno);
        _exit(1);
    }
    int st;
    waitpid(p, &st, 0);
    printf("child: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    unlink(path);
    return 0;
}
