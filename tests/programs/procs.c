/* Processes: fork/wait exit codes, pipes between processes, exec of
 * another binary, children killed by SIGSEGV and SIGKILL, signal handlers,
 * process groups. Output is flushed before every fork so that buffering
 * does not duplicate lines whatever stdout is. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

static void report(const char *what, int st) {
    if (WIFEXITED(st)) printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) printf("%s: killed by signal %d\n", what, WTERMSIG(st));
    else printf("%s: status %#x\n", what, st);
    fflush(stdout);
}

int main(void) {
    int st;
    /* exit codes of several children, reaped in order */
    pid_t kids[5];
    for (int i = 0; i < 5; i++) {
        fflush(stdout);
        kids[i] = fork();
        if (kids[i] == 0) _exit(10 + i);
    }
    for (int i = 0; i < 5; i++) {
        pid_t p = waitpid(kids[i], &st, 0);
        printf("child %d: pid matches %d, ", i, p == kids[i]);
        report("exit", st);
    }
    printf("wait with no children: %d\n", wait(&st) == -1);

    /* a pipeline of two children: writer | reader (counts bytes) */
    int ab[2], back[2];
    pipe(ab);
    pipe(back);
    fflush(stdout);
    pid_t w = fork();
    if (w == 0) {
        close(ab[0]);
        char buf[1000];
        memset(buf, 'x', sizeof buf);
        for (int i = 0; i < 300; i++) write(ab[1], buf, sizeof buf); /* 300 KB: more than the pipe holds */
        _exit(0);
    }
    pid_t r = fork();
    if (r == 0) {
        close(ab[1]);
        close(back[0]);
        long total = 0;
        char buf[4096];
        ssize_t n;
        while ((n = read(ab[0], buf, sizeof buf)) > 0) total += n;
        dprintf(back[1], "%ld", total);
        _exit(0);
    }
    close(ab[0]);
    close(ab[1]);
    close(back[1]);
    char res[64] = {0};
    read(back[0], res, sizeof res - 1);
    waitpid(w, &st, 0);
    waitpid(r, &st, 0);
    printf("pipeline carried %s bytes\n", res);

    /* EPIPE and SIGPIPE */
    int p[2];
    pipe(p);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    printf("write to a pipe without readers: %zd\n", write(p[1], "x", 1));
    signal(SIGPIPE, SIG_DFL);
    fflush(stdout);
    pid_t sp = fork();
    if (sp == 0) { write(p[1], "x", 1); _exit(0); }
    waitpid(sp, &st, 0);
    report("writer without readers", st);
    close(p[1]);

    /* exec of another binary */
    fflush(stdout);
    pid_t e = fork();
    if (e == 0) {
        execl("/bin/busybox", "echo", "hello from exec", (char *)0);
        _exit(127);
    }
    waitpid(e, &st, 0);
    report("exec", st);

    /* children killed by SIGSEGV and SIGKILL */
    fflush(stdout);
    pid_t s = fork();
    if (s == 0) { *(volatile int *)8 = 1; _exit(0); }
    waitpid(s, &st, 0);
    report("null write", st);
    fflush(stdout);
    pid_t k = fork();
    if (k == 0) { for (;;) pause(); }
    kill(k, SIGKILL);
    waitpid(k, &st, 0);
    report("SIGKILL", st);

    /* a handler in the child, signalled by the parent */
    int sync_pipe[2];
    pipe(sync_pipe);
    fflush(stdout);
    pid_t h = fork();
    if (h == 0) {
        signal(SIGUSR1, on_usr1);
        write(sync_pipe[1], "r", 1);
        while (!got) pause();
        _exit(got);
    }
    char c;
    read(sync_pipe[0], &c, 1);
    kill(h, SIGUSR1);
    waitpid(h, &st, 0);
    report("handler", st);

    /* process groups */
    fflush(stdout);
    pid_t g = fork();
    if (g == 0) {
        setpgid(0, 0);
        _exit(getpgid(0) == getpid() ? 0 : 1);
    }
    waitpid(g, &st, 0);
    report("setpgid", st);

    /* An orphan's getppid changes when its parent exits (asked many times
     * before, so a kernel that caches the answer must notice). The new
     * parent is init or a subreaper, which differs between machines: only
     * the change is printed. */
    int rp[2];
    pipe(rp);
    fflush(stdout);
    pid_t mid = fork();
    if (mid == 0) {
        pid_t me = getpid();
        pid_t gc = fork();
        if (gc == 0) {
            int same = 0;
            for (int i = 0; i < 1000; i++) same += getppid() == me;
            char ok = same == 1000 ? 'y' : 'n';
            write(rp[1], &ok, 1); /* tells the parent to exit */
            /* Wait (up to ~10 s) for the reparenting. */
            int changed = 0;
            for (int i = 0; i < 500 && !changed; i++) {
                changed = getppid() != me;
                if (!changed) usleep(20000);
            }
            char r = changed ? 'y' : 'n';
            write(rp[1], &r, 1);
            _exit(0);
        }
        char c;
        read(rp[0], &c, 1);
        write(rp[1], &c, 1); /* hand the first answer on to the test */
        _exit(0);
    }
    waitpid(mid, &st, 0);
    close(rp[1]);
    char ans[2] = {'?', '?'};
    read(rp[0], &ans[0], 1);
    read(rp[0], &ans[1], 1);
    printf("getppid before the parent exits: %s, after: %s\n", ans[0] == 'y' ? "parent" : "WRONG",
           ans[1] == 'y' ? "changed" : "UNCHANGED");
    return 0;
}
