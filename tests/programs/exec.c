/* exec: execve of the program itself, then of a "#!" script whose
 * interpreter is the program itself.
 *
 *   stage 1 (no arguments): sets up state that execve must keep or drop,
 *     checks execve's errors, then execs /proc/self/exe with "stage2".
 *   stage 2: checks what survived (pid, cwd, umask, fds without
 *     FD_CLOEXEC and their offsets, argv, envp) and what did not (fds with
 *     FD_CLOEXEC), then writes a script "#!<self> stage3" and execs it.
 *   stage 3: prints its argv as the kernel built it, cleans up, exits 42.
 *
 * Prints basenames only (paths differ between host and guest). Uses
 * /tmp/exec-test-<pid>. Expected exit status: 42. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int cond)
{
    printf("%s: %s\n", what, cond ? "yes" : "no (CHECK FAILED)");
    if (!cond)
        failures++;
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void self_path(char *buf, size_t n)
{
    ssize_t r = readlink("/proc/self/exe", buf, n - 1);
    if (r < 0) {
        printf("readlink(/proc/self/exe) failed: errno %d\n", errno);
        exit(2);
    }
    buf[r] = 0;
}

static void expect_exec_err(const char *what, const char *path, int want)
{
    char *const argv[] = {(char *)path, NULL};
    char *const envp[] = {NULL};
    errno = 0;
    long r = syscall(SYS_execve, path, argv, envp);
    int e = errno;
    printf("%s: ret=%ld errno=%d%s\n", what, r, e, (r == -1 && e == want) ? "" : " (CHECK FAILED)");
    if (!(r == -1 && e == want))
        failures++;
}

static void write_file(const char *path, const char *s, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    write(fd, s, strlen(s));
    close(fd);
    chmod(path, mode);
}

static int stage1(void)
{
    printf("stage 1\n");
    char self[512], dir[128];
    self_path(self, sizeof self);
    snprintf(dir, sizeof dir, "/tmp/exec-test-%d", (int)getpid());
    mkdir(dir, 0755);
    chdir(dir);
    /* fds: 5 is inherited (offset 3), 6 has FD_CLOEXEC, 7 is O_CLOEXEC */
    int fd = open("kept", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "inherited", 9);
    lseek(fd, 3, SEEK_SET);
    dup2(fd, 5);
    close(fd);
    fd = open("dropped", O_RDWR | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 6);
    fcntl(6, F_SETFD, FD_CLOEXEC);
    close(fd);
    fd = open("dropped", O_RDONLY | O_CLOEXEC);
    dup3(fd, 7, O_CLOEXEC);
    close(fd);
    umask(077);

    /* errors: the process survives a failed execve */
    write_file("noexec", "#!/bin/sh\necho no\n", 0644);
    write_file("garbage", "this is not an executable\n", 0755);
    write_file("empty", "", 0755);
    mkdir("adir", 0755);
    expect_exec_err("execve(missing)", "missing", ENOENT);
    expect_exec_err("execve(mode 0644 file)", "noexec", EACCES);
    expect_exec_err("execve(garbage, mode 0755)", "garbage", ENOEXEC);
    expect_exec_err("execve(empty file, mode 0755)", "empty", ENOEXEC);
    expect_exec_err("execve(directory)", "adir", EACCES);
    expect_exec_err("execve(noexec/x) through a file", "noexec/x", ENOTDIR);
    errno = 0;
    long r = syscall(SYS_execve, self, (void *)8, NULL);
    printf("execve(self, bad argv): ret=%ld errno=%d%s\n", r, errno, (r == -1 && errno == EFAULT) ? "" : " (CHECK FAILED)");
    if (!(r == -1 && errno == EFAULT))
        failures++;
    unlink("noexec");
    unlink("garbage");
    unlink("empty");
    rmdir("adir");
    check("still running after failed execve calls", 1);

    char pidbuf[32];
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
    char failbuf[16];
    snprintf(failbuf, sizeof failbuf, "%d", failures);
    char *const argv[] = {"exec-renamed-argv0", "stage2", pidbuf, failbuf, "with space", "", NULL};
    char *const envp[] = {"EXEC_TEST=hello world", "SECOND=2", "EMPTY=", NULL};
    fflush(stdout);
    execve(self, argv, envp);
    printf("execve(self) failed: errno %d (CHECK FAILED)\n", errno);
    return 1;
}

static int stage2(int argc, char **argv, char **envp)
{
    printf("stage 2\n");
    failures = atoi(argv[3]);
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=\"%s\"\n", i, i == 2 ? "<pid>" : argv[i]);
    int ne = 0;
    for (char **e = envp; *e; e++)
        printf("envp[%d]=\"%s\"\n", ne++, *e);
    printf("getenv(EXEC_TEST)=%s\n", getenv("EXEC_TEST") ? getenv("EXEC_TEST") : "(null)");
    check("same pid", getpid() == atoi(argv[2]));
    char cwd[256];
    check("cwd kept", getcwd(cwd, sizeof cwd) && strncmp(base(cwd), "exec-test-", 10) == 0);
    mode_t m = umask(022);
    printf("umask kept: %03o\n", (unsigned)m);
    check("fd 5 (no FD_CLOEXEC) kept", fcntl(5, F_GETFD) == 0);
    printf("fd 5 offset: %lld\n", (long long)lseek(5, 0, SEEK_CUR));
    char buf[16] = {0};
    read(5, buf, sizeof buf - 1);
    printf("fd 5 reads: \"%s\"\n", buf);
    errno = 0;
    check("fd 6 (FD_CLOEXEC) closed", fcntl(6, F_GETFD) == -1 && errno == EBADF);
    errno = 0;
    check("fd 7 (O_CLOEXEC) closed", fcntl(7, F_GETFD) == -1 && errno == EBADF);
    check("stdout still works", write(1, "", 0) == 0);
    close(5);
    unlink("kept");
    unlink("dropped");

    /* a "#!" script whose interpreter is this program */
    char self[512], line[700];
    self_path(self, sizeof self);
    snprintf(line, sizeof line, "#!%s stage3\n", self);
    int fd = open("script", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    write(fd, line, strlen(line));
    close(fd);
    char failbuf[16];
    snprintf(failbuf, sizeof failbuf, "%d", failures);
    char *const av[] = {"script-argv0", failbuf, "x y", NULL};
    char *const ev[] = {"FROM=stage2", NULL};
    fflush(stdout);
    execve("script", av, ev);
    printf("execve(script) failed: errno %d (CHECK FAILED)\n", errno);
    return 1;
}

/* argv: <self> stage3 script <failures> "x y" */
static int stage3(int argc, char **argv, char **envp)
{
    printf("stage 3\n");
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d] basename=\"%s\"\n", i, base(argv[i]));
    for (char **e = envp; *e; e++)
        printf("env: %s\n", *e);
    failures = argc >= 4 ? atoi(argv[3]) : 100;
    check("argv[2] is the script path as passed", argc >= 3 && strcmp(argv[2], "script") == 0);
    char cwd[256];
    getcwd(cwd, sizeof cwd);
    unlink("script");
    chdir("/");
    check("cleanup: test directory removed", rmdir(cwd) == 0);
    printf("failures: %d\n", failures);
    return failures ? 1 : 42;
}

int main(int argc, char **argv, char **envp)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "stage2") == 0)
        return stage2(argc, argv, envp);
    if (argc >= 2 && strcmp(argv[1], "stage3") == 0)
        return stage3(argc, argv, envp);
    for (int i = 3; i < 1024; i++)
        close(i);
    return stage1();
}
