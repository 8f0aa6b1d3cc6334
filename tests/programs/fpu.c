/* FPU and SSE state belongs to each thread and survives system calls,
 * switches between threads on one core, migrations, signal handlers
 * (the frame holds the live state; sigreturn restores it) and fork.
 *
 * Every check runs in one asm block from "load the registers" to "read
 * them back", so no compiler or libc code can touch them in between:
 * what changes them is the kernel or nothing. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("CHECK FAILED (line %d): ", __LINE__);                      \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* MXCSR: all exceptions masked, rounding control in bits 13-14. */
static uint32_t mxcsr_with_rc(unsigned rc) { return 0x1f80u | (rc << 13); }
/* x87 control word: all exceptions masked (bit 6 reads as 1), precision control (bits 8-9)
 * and rounding control (bits 10-11). */
static uint16_t fcw_with(unsigned pc, unsigned rc) { return (uint16_t)(0x7f | (pc << 8) | (rc << 10)); }

struct regs {
    uint8_t xmm[16][16];
    uint8_t st[2][10]; /* two x87 stack entries, 80-bit */
    uint32_t mxcsr;
    uint16_t fcw;
};

static void fill(struct regs *r, unsigned seed)
{
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            r->xmm[i][j] = (uint8_t)(seed * 31 + i * 17 + j * 3 + 1);
    /* Two long doubles with all 64 mantissa bits in use. */
    long double a = 1.0L / (3.0L + seed), b = -7.0L / (11.0L + seed);
    memcpy(r->st[0], &a, 10);
    memcpy(r->st[1], &b, 10);
    r->mxcsr = mxcsr_with_rc(seed % 4);
    r->fcw = fcw_with((seed / 4) % 2 ? 2 : 3, (seed + 1) % 4);
}

/* Load `in` into the registers, make system call `nr` (args a0, a1)
 * `times` times, store the registers into `out`; returns the last result. */
static long through_syscalls(const struct regs *in, struct regs *out, long nr, long a0, long a1, int times)
{
    long ret = 0;
    __asm__ volatile(
        "ldmxcsr %c[mx](%[in])\n\t"
        "fldcw %c[cw](%[in])\n\t"
        "fldt %c[st1](%[in])\n\t"
        "fldt %c[st0](%[in])\n\t"
        "movdqu 0(%[in]), %%xmm0\n\t"
        "movdqu 16(%[in]), %%xmm1\n\t"
        "movdqu 32(%[in]), %%xmm2\n\t"
        "movdqu 48(%[in]), %%xmm3\n\t"
        "movdqu 64(%[in]), %%xmm4\n\t"
        "movdqu 80(%[in]), %%xmm5\n\t"
        "movdqu 96(%[in]), %%xmm6\n\t"
        "movdqu 112(%[in]), %%xmm7\n\t"
        "movdqu 128(%[in]), %%xmm8\n\t"
        "movdqu 144(%[in]), %%xmm9\n\t"
        "movdqu 160(%[in]), %%xmm10\n\t"
        "movdqu 176(%[in]), %%xmm11\n\t"
        "movdqu 192(%[in]), %%xmm12\n\t"
        "movdqu 208(%[in]), %%xmm13\n\t"
        "movdqu 224(%[in]), %%xmm14\n\t"
        "movdqu 240(%[in]), %%xmm15\n\t"
        "1:\n\t"
        "mov %[nr], %%rax\n\t"
        "mov %[a0], %%rdi\n\t"
        "mov %[a1], %%rsi\n\t"
        "syscall\n\t"
        "decl %[times]\n\t"
        "jnz 1b\n\t"
        "mov %%rax, %[ret]\n\t"
        "movdqu %%xmm0, 0(%[out])\n\t"
        "movdqu %%xmm1, 16(%[out])\n\t"
        "movdqu %%xmm2, 32(%[out])\n\t"
        "movdqu %%xmm3, 48(%[out])\n\t"
        "movdqu %%xmm4, 64(%[out])\n\t"
        "movdqu %%xmm5, 80(%[out])\n\t"
        "movdqu %%xmm6, 96(%[out])\n\t"
        "movdqu %%xmm7, 112(%[out])\n\t"
        "movdqu %%xmm8, 128(%[out])\n\t"
        "movdqu %%xmm9, 144(%[out])\n\t"
        "movdqu %%xmm10, 160(%[out])\n\t"
        "movdqu %%xmm11, 176(%[out])\n\t"
        "movdqu %%xmm12, 192(%[out])\n\t"
        "movdqu %%xmm13, 208(%[out])\n\t"
        "movdqu %%xmm14, 224(%[out])\n\t"
        "movdqu %%xmm15, 240(%[out])\n\t"
        "fstpt %c[st0](%[out])\n\t"
        "fstpt %c[st1](%[out])\n\t"
        "stmxcsr %c[mx](%[out])\n\t"
        "fnstcw %c[cw](%[out])\n\t"
        "ldmxcsr %c[mx](%[dfl])\n\t"
        "fldcw %c[cw](%[dfl])\n\t"
        : [ret] "=&r"(ret), [times] "+m"(times)
        : [in] "r"(in), [out] "r"(out), [nr] "r"(nr), [a0] "r"(a0), [a1] "r"(a1),
          [dfl] "r"(&(const struct regs){.mxcsr = 0x1f80, .fcw = 0x37f}),
          [mx] "i"(offsetof(struct regs, mxcsr)), [cw] "i"(offsetof(struct regs, fcw)),
          [st0] "i"(offsetof(struct regs, st[0])), [st1] "i"(offsetof(struct regs, st[1]))
        : "rax", "rcx", "rdi", "rsi", "r11", "memory", "cc", "st", "st(1)",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    return ret;
}

static int same(const struct regs *a, const struct regs *b, const char *what, unsigned seed)
{
    int ok = 1;
    for (int i = 0; i < 16; i++)
        if (memcmp(a->xmm[i], b->xmm[i], 16) != 0) {
            if (ok)
                printf("CHECK FAILED: %s (seed %u): xmm%d changed\n", what, seed, i);
            ok = 0;
        }
    if (memcmp(a->st, b->st, sizeof a->st) != 0) {
        printf("CHECK FAILED: %s (seed %u): x87 stack changed\n", what, seed);
        ok = 0;
    }
    if (a->mxcsr != b->mxcsr) {
        printf("CHECK FAILED: %s (seed %u): MXCSR %#x -> %#x\n", what, seed, a->mxcsr, b->mxcsr);
        ok = 0;
    }
    if (a->fcw != b->fcw) {
        printf("CHECK FAILED: %s (seed %u): x87 control word %#x -> %#x\n", what, seed, a->fcw, b->fcw);
        ok = 0;
    }
    if (!ok)
        failures++;
    return ok;
}

/* 1. One thread: plain system calls keep every register. */
static void single(void)
{
    struct regs in, out;
    int ok = 1;
    for (unsigned seed = 0; seed < 8; seed++) {
        fill(&in, seed);
        memset(&out, 0, sizeof out);
        long r = through_syscalls(&in, &out, SYS_getppid, 0, 0, 100);
        CHECK(r == getppid(), "getppid in asm returned %ld", r);
        ok &= same(&in, &out, "getppid x100", seed);
        memset(&out, 0, sizeof out);
        through_syscalls(&in, &out, SYS_sched_yield, 0, 0, 10);
        ok &= same(&in, &out, "sched_yield x10", seed);
    }
    printf("single thread: %s\n", ok ? "ok" : "FAILED");
}

/* 2. Threads with different states switch on the same cores (yield,
 * sleep) and migrate; each must find its own state every time. */
#define THREADS 6
#define ROUNDS 300
static int thread_ok[THREADS];

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    struct timespec ts = {0, 200000};
    int ok = 1;
    for (int round = 0; round < ROUNDS && ok; round++) {
        struct regs in, out;
        fill(&in, id * 1000 + (unsigned)round);
        memset(&out, 0, sizeof out);
        if (round % 10 == 9)
            through_syscalls(&in, &out, SYS_nanosleep, (long)&ts, 0, 1);
        else
            through_syscalls(&in, &out, SYS_sched_yield, 0, 0, 3);
        ok = same(&in, &out, "thread switch", id * 1000 + (unsigned)round);
    }
    thread_ok[id] = ok;
    return 0;
}

static void threads(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], 0, worker, (void *)(uintptr_t)i) == 0, "pthread_create");
    int ok = 1;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], 0);
        ok &= thread_ok[i];
    }
    printf("%d threads x %d switches: %s\n", THREADS, ROUNDS, ok ? "ok" : "FAILED");
}

/* 3. Signals: the handler sees the interrupted code's live state in its
 * frame; whatever the handler does to the registers, sigreturn restores
 * the interrupted state. */
static struct regs sig_expect;
static volatile int sig_seen_ok;

static void handler(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    int ok = uc->uc_mcontext.fpregs != 0;
    if (ok) {
        ok &= uc->uc_mcontext.fpregs->mxcsr == sig_expect.mxcsr;
        ok &= uc->uc_mcontext.fpregs->cwd == sig_expect.fcw;
        ok &= memcmp(&uc->uc_mcontext.fpregs->_xmm[7], sig_expect.xmm[7], 16) == 0;
        ok &= memcmp(&uc->uc_mcontext.fpregs->_st[0], sig_expect.st[0], 10) == 0;
    }
    sig_seen_ok = ok;
    /* Scribble over everything the interrupted code holds. */
    struct regs junk, out;
    fill(&junk, 99);
    through_syscalls(&junk, &out, SYS_getppid, 0, 0, 1);
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1\n\tpxor %%xmm7, %%xmm7" ::"m"(junk.mxcsr), "m"(junk.fcw) : "xmm7");
}

static void signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, 0);
    int ok = 1;
    for (unsigned seed = 0; seed < 8; seed++) {
        struct regs out;
        fill(&sig_expect, 500 + seed);
        sig_seen_ok = 0;
        memset(&out, 0, sizeof out);
        /* kill(getpid(), SIGUSR1) from inside the asm block. */
        through_syscalls(&sig_expect, &out, SYS_kill, getpid(), SIGUSR1, 1);
        ok &= same(&sig_expect, &out, "after a signal handler", seed);
        CHECK(sig_seen_ok, "seed %u: the signal frame does not hold the interrupted FPU state", seed);
        ok &= sig_seen_ok;
    }
    printf("signal frames and sigreturn: %s\n", ok ? "ok" : "FAILED");
}

/* 4. fork: the child starts with the parent's FPU state (raw fork inside
 * the asm block; the child only compares and exits). */
static void forks(void)
{
    int ok = 1;
    for (unsigned seed = 0; seed < 4; seed++) {
        struct regs in, out;
        fill(&in, 700 + seed);
        memset(&out, 0, sizeof out);
        long pid = through_syscalls(&in, &out, SYS_fork, 0, 0, 1);
        int same_regs = memcmp(in.xmm, out.xmm, sizeof in.xmm) == 0 && memcmp(in.st, out.st, sizeof in.st) == 0 &&
                        in.mxcsr == out.mxcsr && in.fcw == out.fcw;
        if (pid == 0)
            syscall(SYS_exit_group, same_regs ? 0 : 3);
        CHECK(pid > 0, "fork: %ld", pid);
        int st = 0;
        waitpid((pid_t)pid, &st, 0);
        CHECK(same_regs, "seed %u: the parent's FPU state changed across fork", seed);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "seed %u: the child's FPU state differs (status %#x)", seed, st);
        ok &= same_regs && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    printf("fork: %s\n", ok ? "ok" : "FAILED");
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    single();
    threads();
    signals();
    forks();
    printf("fpu: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
