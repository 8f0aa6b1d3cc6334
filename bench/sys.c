/* System-call floor:
 *   getppid   one null system call (getppid) per op;
 *   forkexec  fork, execve of this same static binary with `--child` (which
 *             exits at once), waitpid: one op per child. */
#include "bench.h"

#include <errno.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int getppid_op(struct worker *w)
{
    (void)w;
    syscall(SYS_getppid);
    return 0;
}

static int forkexec_op(struct worker *w)
{
    pid_t pid = fork();
    if (pid < 0)
        return fail(w, "fork", errno);
    if (pid == 0) {
        char *argv[] = {(char *)g_self, "--child", NULL};
        execve(g_self, argv, environ);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return fail(w, "waitpid", errno);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return fail(w, "child exit status", EIO);
    return 0;
}

const struct bench getppid_bench = {"getppid", "null system call (getppid)", 0, 0, 0, getppid_op, 0, 0};
const struct bench forkexec_bench = {"forkexec", "fork + exec + wait", 0, 0, 0, forkexec_op, 0, 0};
