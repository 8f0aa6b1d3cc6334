/* User code cannot read, write or execute kernel memory (or the NULL page,
 * or non-canonical addresses): every attempt is a SIGSEGV that a handler
 * can catch, and the process (and the kernel) keep running. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf env;
static void on_fault(int sig) { siglongjmp(env, sig); }

static int try_access(unsigned long addr, int how) {
    int sig = sigsetjmp(env, 1);
    if (sig) return sig;
    volatile unsigned char *p = (volatile unsigned char *)addr;
    if (how == 0) (void)*p;
    else if (how == 1) *p = 0x90;
    else ((void (*)(void))addr)();
    return 0;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, 0);
    sigaction(SIGBUS, &sa, 0);
    const struct { const char *what; unsigned long addr; } targets[] = {
        {"NULL page", 0},
        {"page 1", 0x1000},
        {"kernel text", 0xffffffff80100000UL},
        {"kernel half start", 0xffff800000000000UL},
        {"direct map", 0xffff800000100000UL},
        {"top of memory", 0xfffffffffffff000UL},
        {"non-canonical", 0x8000000000000000UL},
        {"just above user space", 0x0000800000000000UL},
    };
    const char *hows[] = {"read", "write", "execute"};
    int bad = 0;
    for (unsigned i = 0; i < sizeof targets / sizeof targets[0]; i++)
        for (int how = 0; how < 3; how++) {
            int sig = try_access(targets[i].addr, how);
            printf("%-22s %-7s -> %s\n", targets[i].what, hows[how], sig == SIGSEGV ? "SIGSEGV" : sig ? "other signal" : "NO FAULT");
            bad += sig != SIGSEGV;
        }
    printf("%s\n", bad ? "CHECK FAILED" : "kernel memory is out of reach");
    return bad != 0;
}
