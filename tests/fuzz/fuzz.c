/* fuzz: a system-call fuzzer for NrOS (issue 7, "Survive hostile programs").
 *
 *   fuzz SEED CALLS WORKERS THREADS [-v]
 *
 * Forks WORKERS processes with THREADS threads each (plus a watchdog thread
 * per worker); together they issue CALLS raw system calls (`syscall`
 * instruction, no libc wrappers) with random and boundary arguments:
 * numbers inside and outside the table, NULL, unmapped, PROT_NONE,
 * read-only, kernel-half and non-canonical pointers, buffers that straddle
 * a PROT_NONE page, huge and negative lengths, bad and closed descriptors,
 * random flags, mixed with valid sequences (files, pipes, mmap/mprotect/
 * munmap of its own scratch memory, fork/exit/wait, threads, execve of
 * crafted ELF files and scripts in forked children) so that deep paths are
 * reached. `-v` prints every call (to stderr) before it is made.
 *
 * It must also be harmless on the host's Linux (run as root there):
 *  - files only in /tmp/fuzz-<pid> (paths are relative names without "..";
 *    random bytes used as paths have '/' and '.' replaced);
 *  - signals only to its own children, its own threads (harmless signals)
 *    and with signal 0 elsewhere; never kill(-1, ...), never pid 1;
 *  - memory-changing calls only on its own scratch regions, or with
 *    arguments that fail (misaligned, kernel half, zero length);
 *  - no exit/exit_group/rt_sigreturn/pause/sigsuspend/vfork in the workers;
 *    blocking calls get short timeouts, and a watchdog thread interrupts
 *    any call that does not return (SIGUSR1 without SA_RESTART -> EINTR);
 *  - calls that could change the host (reboot, mount, modules, setuid,
 *    ptrace, SysV IPC, mknod, settimeofday, ...) are only issued, with
 *    random arguments, when the kernel is NrOS (uname release contains
 *    "nros"), where they are not implemented and must give ENOSYS.
 *
 * Process 1 (the parent) reads MemFree from /proc/meminfo before starting
 * the workers (after a warm-up) and again after every worker and child is
 * reaped and every file it created is removed, then /proc/nr/replicas, and
 * prints the seed, the total call count and a per-syscall summary (number,
 * name, calls, successes, errors by errno), then "fuzz done". Exit status
 * 0 when every worker exited normally, free memory returned to its starting
 * value and all replicas hash equal; 1 otherwise.
 *
 * Each worker/thread derives its own PRNG stream from the seed, so a run
 * is deterministic as far as scheduling allows. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* names of the Linux x86-64 system calls 0..462 (from crates/abi/src/sysno.rs) */
static const char *const sysname[463] = {
    "read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "mmap", "mprotect",
    "munmap", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "pread64",
    "pwrite64", "readv", "writev", "access", "pipe", "select", "sched_yield", "mremap", "msync",
    "mincore", "madvise", "shmget", "shmat", "shmctl", "dup", "dup2", "pause", "nanosleep",
    "getitimer", "alarm", "setitimer", "getpid", "sendfile", "socket", "connect", "accept",
    "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown", "bind", "listen", "getsockname",
    "getpeername", "socketpair", "setsockopt", "getsockopt", "clone", "fork", "vfork", "execve",
    "exit", "wait4", "kill", "uname", "semget", "semop", "semctl", "shmdt", "msgget", "msgsnd",
    "msgrcv", "msgctl", "fcntl", "flock", "fsync", "fdatasync", "truncate", "ftruncate", "getdents",
    "getcwd", "chdir", "fchdir", "rename", "mkdir", "rmdir", "creat", "link", "unlink", "symlink",
    "readlink", "chmod", "fchmod", "chown", "fchown", "lchown", "umask", "gettimeofday",
    "getrlimit", "getrusage", "sysinfo", "times", "ptrace", "getuid", "syslog", "getgid", "setuid",
    "setgid", "geteuid", "getegid", "setpgid", "getppid", "getpgrp", "setsid", "setreuid",
    "setregid", "getgroups", "setgroups", "setresuid", "getresuid", "setresgid", "getresgid",
    "getpgid", "setfsuid", "setfsgid", "getsid", "capget", "capset", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigqueueinfo", "rt_sigsuspend", "sigaltstack", "utime", "mknod",
    "uselib", "personality", "ustat", "statfs", "fstatfs", "sysfs", "getpriority", "setpriority",
    "sched_setparam", "sched_getparam", "sched_setscheduler", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "mlock", "munlock",
    "mlockall", "munlockall", "vhangup", "modify_ldt", "pivot_root", "_sysctl", "prctl",
    "arch_prctl", "adjtimex", "setrlimit", "chroot", "sync", "acct", "settimeofday", "mount",
    "umount2", "swapon", "swapoff", "reboot", "sethostname", "setdomainname", "iopl", "ioperm",
    "create_module", "init_module", "delete_module", "get_kernel_syms", "query_module", "quotactl",
    "nfsservctl", "getpmsg", "putpmsg", "afs_syscall", "tuxcall", "security", "gettid", "readahead",
    "setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr", "listxattr",
    "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "tkill", "time",
    "futex", "sched_setaffinity", "sched_getaffinity", "set_thread_area", "io_setup", "io_destroy",
    "io_getevents", "io_submit", "io_cancel", "get_thread_area", "lookup_dcookie", "epoll_create",
    "epoll_ctl_old", "epoll_wait_old", "remap_file_pages", "getdents64", "set_tid_address",
    "restart_syscall", "semtimedop", "fadvise64", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete", "clock_settime", "clock_gettime", "clock_getres",
    "clock_nanosleep", "exit_group", "epoll_wait", "epoll_ctl", "tgkill", "utimes", "vserver",
    "mbind", "set_mempolicy", "get_mempolicy", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr", "kexec_load", "waitid", "add_key",
    "request_key", "keyctl", "ioprio_set", "ioprio_get", "inotify_init", "inotify_add_watch",
    "inotify_rm_watch", "migrate_pages", "openat", "mkdirat", "mknodat", "fchownat", "futimesat",
    "newfstatat", "unlinkat", "renameat", "linkat", "symlinkat", "readlinkat", "fchmodat",
    "faccessat", "pselect6", "ppoll", "unshare", "set_robust_list", "get_robust_list", "splice",
    "tee", "sync_file_range", "vmsplice", "move_pages", "utimensat", "epoll_pwait", "signalfd",
    "timerfd_create", "eventfd", "fallocate", "timerfd_settime", "timerfd_gettime", "accept4",
    "signalfd4", "eventfd2", "epoll_create1", "dup3", "pipe2", "inotify_init1", "preadv", "pwritev",
    "rt_tgsigqueueinfo", "perf_event_open", "recvmmsg", "fanotify_init", "fanotify_mark",
    "prlimit64", "name_to_handle_at", "open_by_handle_at", "clock_adjtime", "syncfs", "sendmmsg",
    "setns", "getcpu", "process_vm_readv", "process_vm_writev", "kcmp", "finit_module",
    "sched_setattr", "sched_getattr", "renameat2", "seccomp", "getrandom", "memfd_create",
    "kexec_file_load", "bpf", "execveat", "userfaultfd", "membarrier", "mlock2", "copy_file_range",
    "preadv2", "pwritev2", "pkey_mprotect", "pkey_alloc", "pkey_free", "statx", "io_pgetevents",
    "rseq", "uretprobe", "uprobe", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "pidfd_open", "clone3", "close_range",
    "openat2", "pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2", "mount_setattr",
    "quotactl_fd", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    "memfd_secret", "process_mrelease", "futex_waitv", "set_mempolicy_home_node", "cachestat",
    "fchmodat2", "map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue", "statmount",
    "listmount", "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "mseal",
};

#define PG 4096L
#define NSYS 463            /* table numbers 0..462 */
#define SLOT_HIGH 463       /* numbers 463..1023 */
#define SLOT_HUGE 464       /* huge or negative numbers */
#define NSLOT 465
#define NERR 134            /* errno 1..133; index 0 = success */
#define FD_ERR 1000         /* copy of stderr (reserved, never fuzzed) */
#define FD_PROG 1001        /* progress pipe, write end (reserved) */
#define FD_KICK 1002        /* watchdog -> kicker process pipe (reserved) */
#define MAXT 16             /* threads per worker */
#define POOLN 48            /* descriptor pool */
#define SCRATCH_PAGES 64
#define BUF_RW (2 * PG)
#define MAXCHILD 64
#define PROGRESS_STEP 500   /* calls per progress byte */

/* ------------------------------------------------------------------ */
/* raw system calls */

static inline long raw6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define raw0(n) raw6(n, 0, 0, 0, 0, 0, 0)
#define raw1(n, a) raw6(n, (long)(a), 0, 0, 0, 0, 0)
#define raw2(n, a, b) raw6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define raw3(n, a, b, c) raw6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define raw4(n, a, b, c, d) raw6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* rt_sigreturn trampoline for handlers installed with raw rt_sigaction */
void fz_restorer(void);
__asm__(".text\n.globl fz_restorer\n.type fz_restorer,@function\nfz_restorer:\n"
        "  mov $15, %eax\n  syscall\n  hlt\n");

/* ------------------------------------------------------------------ */
/* shared state */

typedef struct {
    uint32_t calls[NSLOT];
    uint32_t err[NSLOT][NERR];
    uint32_t kicks, guard_faults, forks, spare; /* per worker (in stats of thread 0) */
} stats_t;

/* what the watchdog sees of a fuzzing thread */
typedef struct {
    volatile int tid;
    volatile int in_call;
    volatile int alive;
    volatile unsigned long seq;
    volatile long nr;
    volatile long a[6];
    int stuck_ticks;
    unsigned long last_seq;
    int reported;
    long hist[16][8]; /* the last calls: nr, 6 arguments, result */
    unsigned hpos;
} slot_t;

typedef struct ctx {
    uint64_t rng;
    int worker, thread, in_child, nested;
    char *buf;     /* 2 RW pages, PROT_NONE, PROT_READ, PROT_NONE */
    char *scratch; /* SCRATCH_PAGES pages with a PROT_NONE guard page on each side */
    char *alt;     /* sigaltstack area */
    char *nalt;    /* sigaltstack area of nested threads (two threads must never share one) */
    char *nstack;  /* stack of nested threads (no mmap by libc while fuzzing) */
    struct { char *a; unsigned long len; } owned[8];
    int nowned;
    stats_t *st;
    slot_t *slot;
    long done, quota;
    long sigs;     /* counting handler hits (thread-local copy) */
} ctx_t;

static int g_nros, g_verbose, g_workers, g_threads;
/* -a LIST: steer around kernel bugs already reported, to find the next */
static char g_avoid[256];
static int avoid(const char *bug)
{
    size_t n = strlen(bug);
    for (const char *p = g_avoid; (p = strstr(p, bug)); p += n)
        if ((p == g_avoid || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}
static int g_avoid_hugelen, g_avoid_tkill0, g_avoid_execbig, g_avoid_madvhuge;
/* -only LIST: only these syscall numbers (and no valid sequences) */
static long g_only[64];
static int g_nonly;
/* -window A:B: only calls number A..B-1 of each thread are made (the
 * others are generated the same way but skipped): to minimise a finding */
static long g_win_lo = 0, g_win_hi = LONG_MAX;
static uint64_t g_seed;
static char g_dir[64];
static char *g_bad;              /* 1 MiB PROT_NONE, never changed */
static int g_pool[POOLN];
static pthread_mutex_t g_kids_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int pid, owner; } g_kids[MAXCHILD];
static slot_t g_slots[MAXT];
static volatile int g_wd_stop;
static volatile int g_tids[MAXT];
static int g_pid, g_pgid;
static char *g_long1, *g_long2, *g_name255;
static volatile long g_sigcount;
static __thread sigjmp_buf t_jmp;
static __thread volatile int t_guard;
static __thread ctx_t *t_ctx;
static volatile long g_wd_kicks, g_guard_faults;

/* ------------------------------------------------------------------ */
/* PRNG */

static inline uint64_t rnd(ctx_t *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
#define R(n) ((long)(rnd(c) % (uint64_t)(n)))
#define PICK(arr) (arr[R(sizeof(arr) / sizeof(arr[0]))])

/* ------------------------------------------------------------------ */
/* output helpers (no malloc: usable in children and handlers) */

static void errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errf(const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof b - 1) n = sizeof b - 1;
    raw3(SYS_write, FD_ERR, b, n);
}

static const char *sname(long nr)
{
    if (nr >= 0 && nr < NSYS && sysname[nr]) return sysname[nr];
    return "?";
}

static const char *const errnames[NERR] = {
    "OK", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
    "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV",
    "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG",
    "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG",
    "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", "E41", "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC",
    "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL",
    "ENOANO", "EBADRQC", "EBADSLT", "E58", "EBFONT", "ENOSTR", "ENODATA", "ETIME", "ENOSR",
    "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM", "EPROTO", "EMULTIHOP",
    "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD",
    "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK",
    "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE",
    "EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET",
    "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED",
    "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM",
    "ENAVAIL", "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED",
    "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED", "EOWNERDEAD", "ENOTRECOVERABLE",
    "ERFKILL", "EHWPOISON",
};

/* ------------------------------------------------------------------ */
/* signal handlers */

static void raw_sigdfl(int sig);

/* (no thread-local storage in handlers: a broken FS base must be reported, not hit) */
static void count_handler(int sig) { (void)sig; __atomic_add_fetch(&g_sigcount, 1, __ATOMIC_RELAXED); }
static void wd_handler(int sig) { (void)sig; }

/* Is the 8-byte word at `a` readable? (asks the kernel, which must say EFAULT otherwise) */
static int touch_ok(unsigned long a)
{
    int p[2];
    if (raw2(SYS_pipe2, p, O_NONBLOCK) != 0) return 0;
    long r = raw3(SYS_write, p[1], a, 8);
    raw1(SYS_close, p[0]);
    raw1(SYS_close, p[1]);
    return r == 8;
}

static void fault_handler(int sig, siginfo_t *si, void *ucv)
{
    unsigned long fs = 0;
    raw2(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, &fs);
    if (fs != 0 && t_guard) {
        t_guard = 0;
        siglongjmp(t_jmp, 1);
    }
    /* A fault outside a guarded touch: a fuzzer bug, or the kernel broke
     * our context or memory. Report (without TLS) and die with the signal. */
    if (raw0(SYS_getpid) == g_pid) { /* (not a child that has just been forked) */
        long tid = raw0(SYS_gettid);
        ucontext_t *uc = ucv;
        char b[1024];
        int n = snprintf(b, sizeof b, "fuzz: FAULT signal %d code %d addr %p in pid %d tid %ld: rip %#llx rsp %#llx fs %#lx\n", sig,
                         si ? si->si_code : 0, si ? si->si_addr : 0, g_pid, tid, uc ? (unsigned long long)uc->uc_mcontext.gregs[REG_RIP] : 0,
                         uc ? (unsigned long long)uc->uc_mcontext.gregs[REG_RSP] : 0, fs);
        raw3(SYS_write, FD_ERR, b, n);
        if (uc) {
            /* at a handler's first instruction: rdi = signal, rsi = siginfo, [rsp] = restorer */
            greg_t *g = uc->uc_mcontext.gregs;
            unsigned long sp = (unsigned long)g[REG_RSP], top = sp;
            n = snprintf(b, sizeof b, "fuzz:   rdi %#llx rsi %#llx rdx %#llx rax %#llx", (unsigned long long)g[REG_RDI],
                         (unsigned long long)g[REG_RSI], (unsigned long long)g[REG_RDX], (unsigned long long)g[REG_RAX]);
            if (sp > 0x10000 && sp < 0x800000000000UL && touch_ok(sp)) {
                top = *(unsigned long *)sp;
                n += snprintf(b + n, sizeof b - n, " [rsp] %#lx", top);
                unsigned long si = (unsigned long)g[REG_RSI];
                if (si > 0x10000 && si < 0x800000000000UL && touch_ok(si))
                    n += snprintf(b + n, sizeof b - n, " siginfo: signo %d code %d pid/addr %#lx", ((int *)si)[0], ((int *)si)[2],
                                  ((unsigned long *)si)[2]);
            }
            n += snprintf(b + n, sizeof b - n, "\n");
            raw3(SYS_write, FD_ERR, b, n);
            /* the stack around rsp (a corrupted return address shows here) */
            for (long off = -96; off < 160 && sp > 0x10000 && sp < 0x800000000000UL; off += 32) {
                unsigned long a = sp + off;
                if (!touch_ok(a) || !touch_ok(a + 24)) continue;
                unsigned long *w = (unsigned long *)a;
                n = snprintf(b, sizeof b, "fuzz:   [rsp%+4ld] %016lx %016lx %016lx %016lx\n", off, w[0], w[1], w[2], w[3]);
                raw3(SYS_write, FD_ERR, b, n);
            }
        }
        for (int i = 0; i < MAXT; i++) {
            slot_t *s = &g_slots[i];
            if (s->tid != tid && !(i < g_threads && g_tids[i] == tid)) continue;
            n = snprintf(b, sizeof b, "fuzz:   thread %d, its last calls (oldest first):\n", i);
            raw3(SYS_write, FD_ERR, b, n);
            for (unsigned k = 0; k < 16; k++) {
                long *h = s->hist[(s->hpos + k) % 16];
                if (!h[0] && !h[1] && !h[7]) continue;
                n = snprintf(b, sizeof b, "fuzz:     %ld %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) = %ld\n", h[0], sname(h[0]), h[1], h[2], h[3],
                             h[4], h[5], h[6], h[7]);
                raw3(SYS_write, FD_ERR, b, n);
            }
        }
    }
    raw_sigdfl(sig);
}

struct ksa { long handler; unsigned long flags; long restorer; uint64_t mask; };

static void raw_sigdfl(int sig)
{
    struct ksa a = {0, 0x04000000, (long)fz_restorer, 0};
    raw4(SYS_rt_sigaction, sig, &a, 0, 8);
}

static void set_handler(int sig, void (*h)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigaction(sig, &sa, 0);
}

/* Signals whose disposition the fuzzer never changes. */
static int protected_sig(long s)
{
    switch (s) {
    case SIGHUP: case SIGINT: case SIGQUIT: case SIGABRT: case SIGBUS: case SIGUSR1:
    case SIGSEGV: case SIGUSR2: case SIGPIPE: case SIGALRM: case SIGTERM: case SIGTSTP:
    case SIGTTIN: case SIGTTOU: case SIGXCPU: case SIGXFSZ: case SIGVTALRM: case SIGPROF:
    case SIGIO: case SIGSYS: case 32: case 33: case 34:
        return 1;
    }
    return 0;
}

/* Signals that may get a garbage handler (never raised in the workers). */
static int garbage_ok_sig(long s) { return s == SIGILL || s == SIGTRAP || s == SIGFPE || s == SIGSTKFLT || s == SIGPWR || (s >= 35 && s <= 64); }

/* Signals we may send to ourselves or our threads. */
static const int self_sigs[] = {0, SIGUSR2, SIGWINCH, SIGURG, SIGCHLD, SIGCONT};

static void worker_signals(void)
{
    static const int ign[] = {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU,
                              SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGSYS};
    for (unsigned i = 0; i < sizeof ign / sizeof ign[0]; i++) set_handler(ign[i], SIG_IGN, 0);
    set_handler(SIGUSR1, wd_handler, 0); /* no SA_RESTART: interrupts blocking calls */
    set_handler(SIGUSR2, count_handler, SA_RESTART);
    set_handler(SIGCHLD, count_handler, SA_RESTART);
    set_handler(SIGWINCH, count_handler, SA_RESTART);
    set_handler(SIGURG, count_handler, SA_RESTART);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, 0);
    sigaction(SIGBUS, &sa, 0);
}

/* ------------------------------------------------------------------ */
/* recording */

static int slot_of(long nr)
{
    if (nr >= 0 && nr < NSYS) return (int)nr;
    if (nr >= NSYS && nr < 1024) return SLOT_HIGH;
    return SLOT_HUGE;
}

static void record(ctx_t *c, long nr, long r)
{
    int s = slot_of(nr);
    c->st->calls[s]++;
    int e = (r < 0 && r >= -4095) ? (int)-r : 0;
    if (e >= NERR) e = NERR - 1;
    c->st->err[s][e]++;
    c->done++;
    if (!c->in_child && c->done % PROGRESS_STEP == 0) {
        char b = 1;
        raw3(SYS_write, FD_PROG, &b, 1);
    }
}

/* Make a call: the watchdog can see it, -v prints it, the result is counted. */
static long xcall(ctx_t *c, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    slot_t *s = c->slot;
    if (!c->in_child) {
        s->nr = nr;
        s->a[0] = a0; s->a[1] = a1; s->a[2] = a2; s->a[3] = a3; s->a[4] = a4; s->a[5] = a5;
        s->seq++;
        s->in_call = 1;
        if (g_verbose)
            errf("w%d t%d #%ld %ld %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n", c->worker, c->thread, c->done, nr, sname(nr),
                 a0, a1, a2, a3, a4, a5);
    }
    long r = -ENOSYS;
    if (c->in_child || (c->done >= g_win_lo && c->done < g_win_hi)) r = raw6(nr, a0, a1, a2, a3, a4, a5);
    if (!c->in_child) {
        s->in_call = 0;
        s->seq++;
        long *h = s->hist[s->hpos++ % 16];
        h[0] = nr; h[1] = a0; h[2] = a1; h[3] = a2; h[4] = a3; h[5] = a4; h[6] = a5; h[7] = r;
        if (g_verbose) errf("w%d t%d   = %ld\n", c->worker, c->thread, r);
    }
    record(c, nr, r);
    return r;
}
#define X0(nr) xcall(c, nr, 0, 0, 0, 0, 0, 0)
#define X1(nr, a) xcall(c, nr, (long)(a), 0, 0, 0, 0, 0)
#define X2(nr, a, b) xcall(c, nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define X3(nr, a, b, d) xcall(c, nr, (long)(a), (long)(b), (long)(d), 0, 0, 0)
#define X4(nr, a, b, d, e) xcall(c, nr, (long)(a), (long)(b), (long)(d), (long)(e), 0, 0)
#define X5(nr, a, b, d, e, f) xcall(c, nr, (long)(a), (long)(b), (long)(d), (long)(e), (long)(f), 0)
#define X6(nr, a, b, d, e, f, g) xcall(c, nr, (long)(a), (long)(b), (long)(d), (long)(e), (long)(f), (long)(g))

/* ------------------------------------------------------------------ */
/* argument pools */

static const long bad_ptrs[] = {
    0, 1, 0x10, 0xfff, 0x1000, 0x7fff0, (long)0xffff800000000000UL, (long)0xffffffff80000000UL,
    (long)0xffffffffffffffffUL, (long)0xfffffffffffff000UL, (long)0xffff880000000000UL,
    0x0000800000000000L, 0x00007ffffffff000L, 0x00007fffffffffffL, 0x00007ffffffffff8L,
    (long)0x8000000000000000UL, 0x0000fffffffff000L,
};

/* Pointer the kernel may write to (and read from): never our stack, heap
 * or libc data. */
static char *ptr_pick(ctx_t *c, int scratch_ok)
{
    switch (R(20)) {
    case 0: case 1: return (char *)PICK(bad_ptrs);
    case 2: return g_bad + R(1 << 20);                 /* PROT_NONE */
    case 3: return c->buf + 3 * PG + R(PG);             /* read-only page */
    case 4: return c->buf + BUF_RW - 1 - R(64);         /* straddles PROT_NONE */
    case 5: return c->buf + 2 * PG + R(PG);             /* PROT_NONE page */
    case 6: return c->buf + BUF_RW - 8 * (1 + R(4));    /* last words before PROT_NONE */
    case 7: return c->buf + PG - R(32);                 /* page-crossing */
    case 8: case 9:
        if (scratch_ok) return c->scratch + R(SCRATCH_PAGES * PG);
        return c->buf + R(BUF_RW);
    case 10:
        if (scratch_ok && c->nowned) {
            int i = R(c->nowned);
            return c->owned[i].a + R(c->owned[i].len);
        }
        return c->buf + 1 + 2 * R(BUF_RW / 2 - 1);      /* misaligned */
    default: return c->buf + 8 * R(BUF_RW / 8 - 64);   /* plain, aligned */
    }
}

static long len_pick(ctx_t *c)
{
    static const long L[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 24, 32, 64, 100, 128, 255, 256, 511, 512, 1000,
                             1024, 4095, 4096, 4097, 8191, 8192, 8193, 12288, 65536, 1 << 20, 1L << 31,
                             (1L << 31) - 1, 1L << 32, LONG_MAX, -1, -4096, LONG_MIN, 0x7ffff000};
    if (R(3) == 0) return R(9000);
    long v = PICK(L);
    /* hugelen: uaccess::read allocates min(len, 0x7ffff000) bytes first */
    if (g_avoid_hugelen && (v < 0 || v > (1L << 24))) v = 1L << 20;
    return v;
}

static long int_pick(ctx_t *c)
{
    static const long B[] = {0, 1, -1, 2, 3, 7, 8, 16, 31, 32, 63, 64, 65, 100, 127, 128, 255, 256, 1023, 1024,
                             4095, 4096, 65535, 65536, INT_MAX, INT_MIN, (long)UINT_MAX, 0x80000000L,
                             LONG_MAX, LONG_MIN, -4096, -100};
    switch (R(4)) {
    case 0: return R(70) - 2;
    case 1: return (long)rnd(c);
    default: return PICK(B);
    }
}

static long flags_pick(ctx_t *c)
{
    switch (R(6)) {
    case 0: return 0;
    case 1: return 1L << R(32);
    case 2: return (long)(rnd(c) & 0xffffffff);
    case 3: return -1;
    default: return (long)(rnd(c) & rnd(c) & 0xffff);
    }
}

static long off_pick(ctx_t *c)
{
    static const long O[] = {0, 1, 4095, 4096, 8192, 1L << 31, 1L << 40, LONG_MAX, -1, -4096, LONG_MIN, LONG_MAX - 4095};
    long v = R(2) ? R(20000) : PICK(O);
    /* execbig: no huge (sparse) files, which children might exec */
    if (g_avoid_execbig && v > (1L << 24)) v = 1L << 24;
    return v;
}

static int reserved_fd(long fd) { return fd == FD_ERR || fd == FD_PROG || fd == FD_KICK; }

static long fd_pick(ctx_t *c)
{
    static const long bad[] = {-1, -100, INT_MAX, INT_MIN, 1 << 20, 4096, 1023, 1024, 65535, -2, (long)UINT_MAX, 1L << 32};
    long r = R(20), v = -1;
    if (r < 13) v = __atomic_load_n(&g_pool[R(POOLN)], __ATOMIC_RELAXED);
    else if (r < 17) v = R(24);
    else v = PICK(bad);
    if (v < 0 && r < 13) v = R(24);
    return reserved_fd(v) ? -1 : v;
}

static long dirfd_pick(ctx_t *c) { return R(2) ? AT_FDCWD : fd_pick(c); }

static void pool_add(ctx_t *c, long fd)
{
    if (fd < 0 || reserved_fd(fd)) return;
    int old = __atomic_exchange_n(&g_pool[R(POOLN)], (int)fd, __ATOMIC_RELAXED);
    if (old > 2 && old != fd && !reserved_fd(old) && R(2)) raw1(SYS_close, old);
}

/* In-directory paths: safe for calls that change the file system. */
static const char *const dpaths[] = {
    "f0", "f1", "f2", "f3", "d0", "d1", "d0/f0", "d0/d1", "d0/d1/f2", "d1/f3", "l0", "l1", "d0/l2",
    "e0", "e1", "s0", "s1", "./f1", "d0/./f0", "d0//f0", "", "f0/", "d0/", "nx/f", "d0/d1/", "sock",
};
/* Read-only absolute paths (stat-like calls everywhere; open only on NrOS). */
static const char *const rpaths[] = {
    "/", "/dev/null", "/dev/zero", "/dev/urandom", "/proc/meminfo", "/proc/nr/replicas", "/proc/nr/stats",
    "/proc/nr/threads", "/proc/self/exe", "/bin/busybox", "/tmp", "/dev/console", "/nonexistent", "/dev",
    "/proc", "/proc/self", "/etc",
};
static const char *const ofiles[] = {
    "/dev/null", "/dev/zero", "/dev/urandom", "/proc/meminfo", "/proc/nr/replicas", "/proc/nr/stats",
    "/proc/nr/threads", "/bin/busybox",
};

/* Replace '/' and '.' so random bytes used as a path name one entry of
 * the current directory (which is always inside our directory). */
static void sanitize_path(ctx_t *c, char *p)
{
    char *lo = c->buf, *hi = c->buf + BUF_RW;
    if (p < lo || p >= hi) return;
    for (; p < hi && *p; p++)
        if (*p == '/' || *p == '.') *p = 'x';
}

static char *path_pick(ctx_t *c, int readonly)
{
    int r = R(20);
    if (r < 13) {
        if (r == 0) return R(2) ? g_long1 : g_long2;
        if (r == 1) return g_name255;
        return (char *)PICK(dpaths);
    }
    if (r < 15 && readonly) return (char *)PICK(rpaths);
    if (r < 17) {
        char *p = c->buf + R(BUF_RW);
        sanitize_path(c, p);
        return p;
    }
    if (r == 17) {
        /* a name that runs into the PROT_NONE page without a NUL */
        char *p = c->buf + BUF_RW - 1 - R(16);
        for (char *q = p; q < c->buf + BUF_RW; q++) *q = 'n';
        return p;
    }
    return (char *)PICK(bad_ptrs);
}

static long pid_any(ctx_t *c)
{
    static const long P[] = {0, 1, -1, INT_MAX, INT_MIN, 0x400000, 99999, -99999, (long)UINT_MAX};
    switch (R(4)) {
    case 0: return g_pid;
    case 1: return raw0(SYS_gettid);
    case 2: return R(64);
    default: return PICK(P);
    }
}

static long sig_pick(ctx_t *c)
{
    static const long S[] = {-1, 65, 128, INT_MAX, INT_MIN, 1000};
    return R(8) ? R(65) : PICK(S);
}

/* A timespec in our buffer: short, zero, invalid, or a bad pointer. */
static char *ts_pick(ctx_t *c, int null_ok)
{
    long *t = (long *)(c->buf + 8 * R(64));
    switch (R(10)) {
    case 0: return null_ok && R(4) == 0 ? 0 : (char *)bad_ptrs[1 + R(sizeof bad_ptrs / sizeof bad_ptrs[0] - 1)];
    case 1: return g_bad + 16 * R(1000);
    case 2: t[0] = -1; t[1] = 0; break;
    case 3: t[0] = 0; t[1] = 1000000000; break;
    case 4: t[0] = 0; t[1] = -1; break;
    case 5: return c->buf + BUF_RW - 8; /* straddles */
    case 6: t[0] = 0; t[1] = 0; break;
    default: t[0] = 0; t[1] = R(2000000); break;
    }
    return (char *)t;
}

/* A signal mask that never blocks the signals the fuzzer relies on. */
static char *mask_pick(ctx_t *c)
{
    uint64_t *m = (uint64_t *)(c->buf + 8 * R(64));
    switch (R(6)) {
    case 0: return 0;
    case 1: return (char *)PICK(bad_ptrs);
    case 2: return c->buf + 3 * PG; /* read-only page: zeros */
    default:
        *m = rnd(c) & ~((1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) |
                        (1ULL << (SIGILL - 1)) | (1ULL << (SIGFPE - 1)));
        return (char *)m;
    }
}

/* ------------------------------------------------------------------ */
/* memory regions the thread owns */

static void owned_add(ctx_t *c, char *a, unsigned long len)
{
    if (len == 0) return;
    if (c->nowned == 8) {
        raw2(SYS_munmap, c->owned[0].a, c->owned[0].len);
        memmove(&c->owned[0], &c->owned[1], 7 * sizeof c->owned[0]);
        c->nowned--;
    }
    c->owned[c->nowned].a = a;
    c->owned[c->nowned].len = (len + PG - 1) & ~(PG - 1);
    c->nowned++;
}

/* An address range for a memory-changing call: inside our scratch region
 * or an owned mapping, or arguments that fail without effect. */
static void range_pick(ctx_t *c, long *addr, long *len)
{
    int r = R(16);
    if (r < 9 || (r < 12 && !c->nowned)) {
        long p = R(SCRATCH_PAGES), n = 1 + R(SCRATCH_PAGES - p);
        if (R(4) == 0) n = 1;
        *addr = (long)(c->scratch + p * PG);
        *len = n * PG - (R(4) == 0 ? R(PG) : 0);
        if (*len <= 0) *len = 1;
    } else if (r < 12) {
        int i = R(c->nowned);
        long pages = c->owned[i].len / PG, p = R(pages), n = 1 + R(pages - p);
        *addr = (long)(c->owned[i].a + p * PG);
        *len = n * PG;
    } else if (r == 12) {
        *addr = (long)(c->scratch + R(SCRATCH_PAGES) * PG + 1 + R(PG - 1)); /* misaligned */
        *len = R(2) ? PG : len_pick(c);
    } else if (r == 13) {
        static const long k[] = {(long)0xffff800000000000UL, (long)0xffffffff80000000UL, 0x0000800000000000L,
                                 (long)0xfffffffffffff000UL, 0x00007ffffffff000L};
        *addr = PICK(k);
        *len = R(2) ? PG : len_pick(c);
        if (*addr == 0x00007ffffffff000L) *len = PG;
    } else if (r == 14) {
        *addr = (long)(c->scratch + R(SCRATCH_PAGES) * PG);
        static const long bl[] = {0, -1, -4096, (long)0x8000000000000000UL};
        *len = PICK(bl); /* zero, or wraps around: fails */
    } else {
        *addr = 0;
        *len = PG * (1 + R(15)); /* nothing is mapped at 0 */
    }
}

/* ------------------------------------------------------------------ */
/* children */

static int kids_count(int owner)
{
    int n = 0;
    for (int i = 0; i < MAXCHILD; i++) n += g_kids[i].pid > 0 && g_kids[i].owner == owner;
    return n;
}

static void kids_add_locked(int pid, int owner)
{
    for (int i = 0; i < MAXCHILD; i++)
        if (g_kids[i].pid == 0) {
            g_kids[i].pid = pid;
            g_kids[i].owner = owner;
            return;
        }
    /* table full: reap it at once so that we never signal a stranger */
    raw2(SYS_kill, pid, SIGKILL);
    raw4(SYS_wait4, pid, 0, __WALL, 0);
}

static void kids_remove(long pid)
{
    for (int i = 0; i < MAXCHILD; i++)
        if (pid > 0 && g_kids[i].pid == pid) g_kids[i].pid = 0;
}

/* After a wait call that may have reaped a child without telling us (bad
 * status pointer), forget children that are no longer ours. Call with the
 * lock held. */
static void kids_verify(void)
{
    for (int i = 0; i < MAXCHILD; i++)
        if (g_kids[i].pid > 0) {
            long r = raw4(SYS_wait4, g_kids[i].pid, 0, WNOHANG | __WALL, 0);
            if (r == g_kids[i].pid || r == -ECHILD) g_kids[i].pid = 0;
        }
}

/* A live (unreaped) child, or 0. Call with the lock held. */
static int kid_pick(ctx_t *c)
{
    int n = 0, which[MAXCHILD];
    for (int i = 0; i < MAXCHILD; i++)
        if (g_kids[i].pid > 0) which[n++] = g_kids[i].pid;
    return n ? which[R(n)] : 0;
}

static void child_main(ctx_t *c) __attribute__((noreturn));
static void do_random_call(ctx_t *c);

/* ------------------------------------------------------------------ */
/* crafted executables (written and run only by forked children) */

static long make_elf(ctx_t *c, unsigned char *b)
{
    memset(b, 0, 8192);
    uint64_t base = 0x10000000;
    unsigned char *e = b;
    memcpy(e, "\177ELF\2\1\1", 7);
    *(uint16_t *)(e + 16) = 2;                   /* ET_EXEC */
    *(uint16_t *)(e + 18) = 62;                  /* x86-64 */
    *(uint32_t *)(e + 20) = 1;
    *(uint64_t *)(e + 24) = base;                /* entry */
    *(uint64_t *)(e + 32) = 64;                  /* phoff */
    *(uint16_t *)(e + 52) = 64;
    *(uint16_t *)(e + 54) = 56;
    *(uint16_t *)(e + 56) = 2;                   /* phnum */
    unsigned char *ph = e + 64;
    *(uint32_t *)(ph + 0) = 1;                   /* PT_LOAD */
    *(uint32_t *)(ph + 4) = 5;                   /* R+X */
    *(uint64_t *)(ph + 8) = 4096;                /* offset */
    *(uint64_t *)(ph + 16) = base;
    *(uint64_t *)(ph + 24) = base;
    *(uint64_t *)(ph + 32) = 4096;               /* filesz */
    *(uint64_t *)(ph + 40) = 4096 + R(3) * 8192; /* memsz */
    *(uint64_t *)(ph + 48) = 4096;
    unsigned char *ph2 = ph + 56;
    *(uint32_t *)(ph2 + 0) = 0x6474e551;         /* PT_GNU_STACK */
    *(uint32_t *)(ph2 + 4) = 6;
    for (int i = 4096; i < 8192; i += 2) { b[i] = 0x0f; b[i + 1] = 0x0b; } /* ud2 */
    long len = 8192;
    int muts = R(4);
    for (int m = 0; m < muts; m++) {
        static const uint64_t big[] = {0, 1, 4095, 8192, 1ULL << 40, ~0ULL, 0xffff800000000000ULL, 0x7ffffffff000ULL,
                                       1ULL << 30, 0x8000000000000000ULL, 63};
        static const uint64_t small[] = {0, 1, 4095, 8192, 1ULL << 22, 63, 4097};
#define BIG() (g_avoid_execbig ? PICK(small) : PICK(big))
        unsigned char *p = R(2) ? ph : ph2;
        switch (R(16)) {
        case 0: *(uint64_t *)(e + 32) = BIG(); break;
        case 1: *(uint16_t *)(e + 56) = (uint16_t)BIG() ^ (uint16_t)R(3); break;
        case 2: *(uint16_t *)(e + 54) = (uint16_t)R(64); break;
        case 3: *(uint16_t *)(e + 16) = (uint16_t)R(5); break;
        case 4: e[4] = 1 + R(2) * 2; break; /* ELFCLASS32 or garbage */
        case 5: *(uint32_t *)(p + 0) = R(2) ? 3 : (uint32_t)R(8); break; /* PT_INTERP, ... */
        case 6: *(uint64_t *)(p + 8) = BIG(); break;
        case 7: *(uint64_t *)(p + 16) = BIG(); *(uint64_t *)(p + 24) = *(uint64_t *)(p + 16); break;
        case 8: *(uint64_t *)(p + 32) = BIG(); break;
        case 9: *(uint64_t *)(p + 40) = BIG(); break;
        case 10: *(uint32_t *)(p + 4) = (uint32_t)rnd(c); break;
        case 11: *(uint64_t *)(p + 48) = BIG(); break;
        case 12: *(uint64_t *)(e + 24) = R(2) ? BIG() : base + R(4096); break;
        case 13: len = R(8192); break;
        case 14: *(uint16_t *)(e + 18) = (uint16_t)R(300); break;
        case 15: /* interpreter string at offset 200 */
            strcpy((char *)b + 200, R(2) ? "e0" : "nx/interp");
            *(uint32_t *)(ph + 0) = 3; *(uint64_t *)(ph + 8) = 200; *(uint64_t *)(ph + 32) = 16;
            if (R(2)) *(uint16_t *)(e + 16) = 3;
            break;
        }
    }
    return len;
#undef BIG
}

static long make_script(ctx_t *c, char *b)
{
    static const char *const interp[] = {"e0", "e1", "s0", "s1", "nx/sh", "", "f0", "d0"};
    switch (R(6)) {
    case 0: memset(b, 'a', 600); memcpy(b, "#!", 2); b[600] = '\n'; return 601; /* over-long line */
    case 1: memcpy(b, "#!", 2); return 2; /* no newline */
    default: return sprintf(b, "#!%s%s\n", PICK(interp), R(2) ? " arg1 arg2" : "");
    }
}

/* argv/envp arrays for execve in our buffer */
static char *argv_pick(ctx_t *c, int slot)
{
    char **v = (char **)(c->buf + 4096 * slot + 8 * R(64));
    switch (R(6)) {
    case 0: return 0;
    case 1: return (char *)PICK(bad_ptrs);
    case 2: v[0] = "x"; v[1] = (char *)PICK(bad_ptrs); v[2] = 0; return (char *)v;
    case 3: /* unterminated: runs into the PROT_NONE page */
        v = (char **)(c->buf + BUF_RW - 16);
        v[0] = "a"; v[1] = "b";
        return (char *)v;
    case 4: /* about 2 MiB of arguments: E2BIG */
        v = (char **)(c->buf + 4096 * slot);
        for (int i = 0; i < 420; i++) v[i] = g_long2;
        v[420] = 0;
        return (char *)v;
    default: v[0] = "fuzz-exec"; v[1] = "arg"; v[2] = 0; return (char *)v;
    }
}

/* ------------------------------------------------------------------ */
/* guarded memory touches */

static int touch(ctx_t *c, char *p, int write)
{
    if (sigsetjmp(t_jmp, 1)) {
        __atomic_add_fetch(&g_guard_faults, 1, __ATOMIC_RELAXED);
        return -1;
    }
    t_guard = 1;
    if (write) *(volatile char *)p = (char)rnd(c);
    else (void)*(volatile char *)p;
    t_guard = 0;
    return 0;
}

static void touch_some(ctx_t *c)
{
    int n = 1 + R(8);
    for (int i = 0; i < n; i++) {
        char *p;
        if (c->nowned && R(2)) {
            int k = R(c->nowned);
            p = c->owned[k].a + R(c->owned[k].len);
        } else p = c->scratch + R(SCRATCH_PAGES * PG);
        touch(c, p, R(2));
    }
}

/* ------------------------------------------------------------------ */
/* system calls with dedicated argument generators */

static void gen_open(ctx_t *c, long nr)
{
    static const long fl[] = {O_RDONLY, O_WRONLY, O_RDWR, 3, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK,
                              O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC, O_PATH, O_TMPFILE, O_SYNC, O_DIRECT, O_NOATIME,
                              O_NOCTTY, O_DSYNC, O_ASYNC, 0x80000000L, 0x4000000};
    long flags = 0;
    int n = R(5);
    for (int i = 0; i < n; i++) flags |= PICK(fl);
    if (R(12) == 0) flags = flags_pick(c);
    if (R(3) == 0) flags |= O_CREAT;
    long mode = R(3) ? 0644 : int_pick(c);
    char *p;
    if (g_nros && R(6) == 0) {
        p = (char *)PICK(ofiles);
        flags &= ~(long)(O_ACCMODE | O_CREAT | O_TRUNC | O_TMPFILE | O_EXCL);
    } else p = path_pick(c, 0);
    long r;
    if (nr == SYS_open) r = X3(SYS_open, p, flags, mode);
    else if (nr == SYS_creat) r = X2(SYS_creat, p, mode);
    else r = X4(SYS_openat, dirfd_pick(c), p, flags, mode);
    pool_add(c, r);
}

static void gen_iov(ctx_t *c, long nr)
{
    struct iovec *v = (struct iovec *)(c->buf + 8 * R(256));
    int n = R(9);
    /* (hugelen: no random iov_len past the n entries either) */
    for (int i = 0; i < (g_avoid_hugelen ? 100 : n); i++) {
        v[i].iov_base = ptr_pick(c, 1);
        v[i].iov_len = R(3) ? R(5000) : (unsigned long)len_pick(c);
    }
    long cnt = R(8) ? n : PICK(((const long[]){0, 1024, 1025, -1, 1L << 31, 100}));
    char *vp = (char *)v;
    if (R(10) == 0) vp = g_avoid_hugelen ? (char *)PICK(bad_ptrs) : ptr_pick(c, 0); /* random iov_len */
    long fd = fd_pick(c);
    switch (nr) {
    case SYS_readv: case SYS_writev: X3(nr, fd, vp, cnt); break;
    case SYS_preadv: case SYS_pwritev: X5(nr, fd, vp, cnt, off_pick(c), R(2) ? 0 : off_pick(c)); break;
    default: X6(nr, fd, vp, cnt, off_pick(c), R(2) ? 0 : off_pick(c), R(2) ? 0 : flags_pick(c)); break;
    }
}

static void gen_mmap(ctx_t *c)
{
    static const long pr[] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_WRITE, 7,
                              PROT_READ | PROT_WRITE | PROT_GROWSDOWN, 0x10, -1};
    static const long fl[] = {MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED,
                              MAP_SHARED_VALIDATE, 0, MAP_ANONYMOUS, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE};
    long prot = R(10) ? PICK(pr) : flags_pick(c);
    long flags = PICK(fl);
    if (R(4) == 0) flags |= MAP_POPULATE;
    if (R(12) == 0) flags |= 1L << R(32);
    if (R(10) == 0) flags |= MAP_32BIT;
    long addr = 0, len;
    static const long lens[] = {0, 1, 4095, 4096, 8192, 65536, 1 << 20, 16 << 20, 64 << 20, -1, -4096, 1L << 46,
                                (long)0x8000000000000000UL, 1L << 40};
    len = R(3) ? PG * (1 + R(32)) : PICK(lens);
    if (len > 0 && len <= (64 << 20) && (flags & MAP_POPULATE) && len > (16 << 20)) flags &= ~MAP_POPULATE;
    int fixed = R(3) == 0;
    if (fixed) {
        long a, l;
        range_pick(c, &a, &l);
        if (a >= (long)c->scratch && a < (long)(c->scratch + SCRATCH_PAGES * PG) && a % PG == 0) {
            len = l;
            flags |= R(4) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
        } else if (a >= 0 && a < (long)PG * 16) {
            /* low addresses: refused by Linux (mmap_min_addr) and by NrOS? */
            len = PG;
            flags |= MAP_FIXED_NOREPLACE;
        } else if ((unsigned long)a >= 0x0000800000000000UL || a % PG != 0) {
            flags |= MAP_FIXED; /* kernel half / non-canonical / misaligned: must fail */
        } else {
            len = l; /* an owned region */
            flags |= MAP_FIXED;
        }
        addr = a;
    } else if (R(4) == 0) {
        /* A hint only, and never one a kernel may honour: a mapping at
         * 0x7f000 would make the bad pointer 0x7fff0 readable, and a signal
         * mask read from there could then block SIGSEGV (this made one run
         * in three to five fail until 2026-11-29). 0x1000 is below
         * mmap_min_addr: the kernel picks another address. */
        addr = (long)PICK(bad_ptrs) & ~(PG - 1);
        if (addr >= 0x10000 && (unsigned long)addr < 0x00007ffffffff000UL) addr = 0x1000;
    }
    if (!fixed) flags &= ~(MAP_FIXED | MAP_FIXED_NOREPLACE);
    long fd = (flags & MAP_ANONYMOUS) && R(2) ? -1 : fd_pick(c);
    long off = R(3) ? 0 : (R(2) ? PG * R(4) : off_pick(c));
    long r = X6(SYS_mmap, addr, len, prot, flags, fd, off);
    if (r > 0 || (r < -4095)) {
        char *p = (char *)r;
        int in_scratch = p >= c->scratch && p < c->scratch + SCRATCH_PAGES * PG;
        if (!in_scratch) owned_add(c, p, len);
        if (R(2)) touch(c, p, R(2));
    }
}

static void gen_mem(ctx_t *c, long nr)
{
    long a, l;
    range_pick(c, &a, &l);
    switch (nr) {
    case SYS_munmap: {
        X2(SYS_munmap, a, l);
        break;
    }
    case SYS_mprotect: case 329 /* pkey_mprotect */: {
        static const long pr[] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_EXEC, 7, PROT_GROWSDOWN | PROT_READ,
                                  PROT_GROWSUP | PROT_READ, 0x10, -1, 0x1000000};
        long prot = PICK(pr);
        if (nr == SYS_mprotect) X3(nr, a, l, prot);
        else X4(nr, a, l, prot, R(2) ? 0 : int_pick(c));
        break;
    }
    case SYS_madvise: {
        if (g_avoid_madvhuge && (l < 0 || l > (1L << 46))) l = 0;
        long adv = R(10) ? R(26) : PICK(((const long[]){-1, 1000, 0x7fffffff}));
        X3(nr, a, l, adv);
        break;
    }
    case SYS_msync: X3(nr, a, l, R(2) ? MS_SYNC : flags_pick(c) & 0xff); break;
    case SYS_mincore: X3(nr, a, l, ptr_pick(c, 1)); break;
    case SYS_mlock: case SYS_munlock: X2(nr, a, l); break;
    case 325 /* mlock2 */: X3(nr, a, l, R(3) ? R(2) : flags_pick(c)); break;
    case 462 /* mseal */: X3(nr, a, l, R(3) ? 0 : flags_pick(c)); break;
    case SYS_remap_file_pages: X5(nr, a, l, 0, R(4), R(2) ? 0 : flags_pick(c)); break;
    case SYS_mremap: {
        long nl = R(3) ? PG * (1 + R(16)) : len_pick(c);
        if (nl > (64 << 20) || nl < 0) nl = R(2) ? 0 : -4096;
        long fl = PICK(((const long[]){0, MREMAP_MAYMOVE, MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_FIXED, 4 /* DONTUNMAP */,
                                      MREMAP_MAYMOVE | 4, 0x80}));
        long na = 0;
        if (fl & MREMAP_FIXED) {
            long x, y;
            range_pick(c, &x, &y);
            /* only into our scratch (or a failing address) */
            if (!(x >= (long)c->scratch && x < (long)(c->scratch + SCRATCH_PAGES * PG))) x = (long)0xffff800000000000UL;
            else if (nl > (long)(c->scratch + SCRATCH_PAGES * PG) - x) nl = (long)(c->scratch + SCRATCH_PAGES * PG) - x;
            na = x;
        }
        long r = X5(nr, a, l, nl, fl, na);
        if ((r > 0 || r < -4095) && nl > 0) {
            char *p = (char *)r;
            if (!(p >= c->scratch && p < c->scratch + SCRATCH_PAGES * PG)) owned_add(c, p, nl);
            /* DONTUNMAP/moves leave the old range in place or gone: fine */
        }
        break;
    }
    }
}

static void gen_brk(ctx_t *c)
{
    long cur = raw1(SYS_brk, 0);
    switch (R(6)) {
    case 0: X1(SYS_brk, 0); break;
    case 1: X1(SYS_brk, cur + (16L << 20) + PG * R(64)); break; /* grow far beyond malloc's use */
    case 2: X1(SYS_brk, PICK(bad_ptrs)); break;
    case 3: X1(SYS_brk, cur + (1L << 40)); break;
    case 4: X1(SYS_brk, cur + (16L << 20) + 1 + R(PG)); break;
    default: X1(SYS_brk, cur); break;
    }
}

static void gen_sigaction(ctx_t *c)
{
    long sig = R(70) - 2;
    struct ksa *a = (struct ksa *)(c->buf + 8 * R(1000));
    char *old = R(2) ? 0 : ptr_pick(c, 0);
    long size = R(10) ? 8 : PICK(((const long[]){0, 4, 16, 128, -1}));
    int r = R(10);
    if (r < 3 || (protected_sig(sig) && r < 8)) {
        X4(SYS_rt_sigaction, sig, 0, old, size); /* query */
    } else if (r < 5 || protected_sig(sig)) {
        X4(SYS_rt_sigaction, sig, PICK(bad_ptrs), old, size); /* unreadable act */
    } else if (r < 6 && garbage_ok_sig(sig)) {
        a->handler = (long)rnd(c); a->flags = rnd(c); a->restorer = (long)rnd(c); a->mask = rnd(c);
        X4(SYS_rt_sigaction, sig, a, old, size);
    } else {
        /* a valid action */
        static const long h[] = {(long)SIG_DFL, (long)SIG_IGN, (long)count_handler, (long)count_handler};
        a->handler = PICK(h);
        if (sig == SIGCHLD && a->handler == (long)SIG_IGN) a->handler = (long)count_handler;
        static const unsigned long fl[] = {SA_RESTART, SA_SIGINFO, SA_NODEFER, SA_RESETHAND, SA_ONSTACK, SA_NOCLDSTOP, 0};
        a->flags = 0x04000000 /* SA_RESTORER */;
        int n = R(4);
        for (int i = 0; i < n; i++) a->flags |= PICK(fl);
        if (a->handler == (long)count_handler) a->flags &= ~SA_SIGINFO; /* count_handler takes one argument: fine either way */
        a->restorer = (long)fz_restorer;
        a->mask = rnd(c);
        X4(SYS_rt_sigaction, sig, a, old, size);
    }
}

static void gen_sigprocmask(ctx_t *c)
{
    long how = R(8) ? R(3) : int_pick(c);
    X4(SYS_rt_sigprocmask, how, mask_pick(c), R(2) ? 0 : ptr_pick(c, 0), R(10) ? 8 : int_pick(c));
}

static void gen_ioctl(ctx_t *c)
{
    static const long cmds[] = {0x5401, 0x5402, 0x5403, 0x5404, 0x540E, 0x540F, 0x5410, 0x5413, 0x5414, 0x541B, 0x5421,
                                0x5450, 0x5451, 0x5422, 0x5429, 0x5409, 0x540B, 0x5412, 0x5425, 0x80045430};
    long cmd;
    switch (R(5)) {
    case 0: cmd = 0x5400 + R(0x100); break;
    case 1: cmd = g_nros ? (long)(rnd(c) & 0xffffffff) : (long)(0xdead0000 | R(0x10000)); break;
    case 2:
        cmd = PICK(((const long[]){0, -1, 0xffffffffL, 0x100005401L}));
        if (!g_nros && cmd != 0x100005401L) cmd = 0xdeadbeef;
        break;
    default: cmd = PICK(cmds); break;
    }
    long arg = R(3) ? (long)ptr_pick(c, 1) : int_pick(c);
    X3(SYS_ioctl, fd_pick(c), cmd, arg);
}

static void gen_fcntl(ctx_t *c)
{
    static const long cmds[] = {F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW, F_SETOWN,
                                F_GETOWN, F_SETSIG, F_GETSIG, F_SETOWN_EX, F_GETOWN_EX, F_OFD_GETLK, F_OFD_SETLK,
                                F_OFD_SETLKW, F_SETLEASE, F_GETLEASE, F_NOTIFY, F_DUPFD_CLOEXEC, F_SETPIPE_SZ,
                                F_GETPIPE_SZ, 1033 /* ADD_SEALS */, 1034, 1029, 17, 1035, 1000, -1};
    long cmd = R(10) ? PICK(cmds) : int_pick(c);
    long arg;
    switch (cmd) {
    case F_SETOWN: arg = R(2) ? g_pid : 0; break;
    case F_SETSIG: arg = PICK(((const long[]){0, SIGUSR2, SIGWINCH, SIGURG, 65, -1})); break;
    case F_SETOWN_EX: {
        int *o = (int *)(c->buf + 8 * R(100));
        o[0] = R(4); o[1] = R(2) ? g_pid : (int)raw0(SYS_gettid);
        arg = (long)o;
        break;
    }
    case F_SETPIPE_SZ: arg = R(2) ? PG << R(8) : int_pick(c); if (!g_nros && arg > (1 << 20)) arg = -1; break;
    case F_SETFL: arg = flags_pick(c); break;
    case F_SETLK: case F_SETLKW: case F_GETLK: case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW: {
        short *l = (short *)(c->buf + 8 * R(100));
        l[0] = R(4); l[1] = R(3);
        ((long *)l)[1] = R(2) ? 0 : off_pick(c);
        ((long *)l)[2] = R(2) ? 0 : len_pick(c);
        ((int *)l)[6] = 0;
        arg = R(6) ? (long)l : (long)ptr_pick(c, 0);
        break;
    }
    default: arg = R(2) ? int_pick(c) : (long)ptr_pick(c, 0); break;
    }
    long r = X3(SYS_fcntl, fd_pick(c), cmd, arg);
    if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0) pool_add(c, r);
}

static void gen_poll(ctx_t *c, long nr)
{
    struct pollfd *p = (struct pollfd *)(c->buf + 8 * R(200));
    int n = R(8);
    for (int i = 0; i < n; i++) {
        p[i].fd = (int)fd_pick(c);
        p[i].events = R(2) ? POLLIN : (short)rnd(c);
        p[i].revents = 0;
    }
    long cnt = R(10) ? n : PICK(((const long[]){1024, 1025, 1 << 20, -1, 100000}));
    char *pp = R(10) ? (char *)p : ptr_pick(c, 0);
    if (nr == SYS_poll) {
        long to = R(20) ? R(3) : PICK(((const long[]){-1, 5, INT_MIN}));
        if (c->in_child && to < 0) to = 0;
        X3(SYS_poll, pp, cnt, to);
    } else {
        char *ts = ts_pick(c, !c->in_child);
        X5(SYS_ppoll, pp, cnt, ts, mask_pick(c), R(8) ? 8 : int_pick(c));
    }
}

static void gen_select(ctx_t *c, long nr)
{
    char *sets[3];
    for (int i = 0; i < 3; i++) {
        switch (R(5)) {
        case 0: sets[i] = 0; break;
        case 1: sets[i] = ptr_pick(c, 0); break;
        default: {
            uint64_t *s = (uint64_t *)(c->buf + 8 * R(900));
            for (int k = 0; k < 16; k++) s[k] = R(3) ? 0 : rnd(c) & rnd(c);
            s[0] |= 1UL << R(20);
            sets[i] = (char *)s;
        }
        }
    }
    long n = R(8) ? R(70) : PICK(((const long[]){1024, 1025, -1, INT_MAX}));
    if (nr == SYS_select) {
        long *tv = (long *)(c->buf + 8 * R(900));
        tv[0] = 0; tv[1] = R(5000);
        if (R(8) == 0) tv[0] = -1;
        if (R(8) == 0) tv[1] = 2000000;
        char *t = R(20) || c->in_child ? (char *)tv : 0;
        X5(SYS_select, n, sets[0], sets[1], sets[2], t);
    } else {
        long *sm = (long *)(c->buf + 8 * R(900));
        sm[0] = (long)mask_pick(c); sm[1] = R(8) ? 8 : int_pick(c);
        char *smp = R(3) ? (char *)sm : (R(2) ? 0 : ptr_pick(c, 0));
        X6(SYS_pselect6, n, sets[0], sets[1], sets[2], ts_pick(c, !c->in_child), smp);
    }
}

static void gen_sleep(ctx_t *c, long nr)
{
    if (nr == SYS_nanosleep) {
        X2(nr, ts_pick(c, 0), R(2) ? 0 : ptr_pick(c, 0));
        return;
    }
    long clk = R(5) ? PICK(((const long[]){CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME})) : int_pick(c);
    long flags = R(3) ? 0 : (R(2) ? TIMER_ABSTIME : flags_pick(c) & ~TIMER_ABSTIME);
    char *ts = ts_pick(c, 0);
    if (flags & TIMER_ABSTIME) { /* absolute: a time in the past */
        long *t = (long *)(c->buf + 8 * R(64));
        t[0] = R(2); t[1] = R(1000);
        ts = (char *)t;
    }
    X4(nr, clk, flags, ts, R(2) ? 0 : ptr_pick(c, 0));
}

static void gen_futex(ctx_t *c, long nr)
{
    (void)nr;
    int *w;
    switch (R(8)) {
    case 0: w = (int *)PICK(bad_ptrs); break;
    case 1: w = (int *)(c->buf + 1 + 4 * R(100)); break;         /* misaligned */
    case 2: w = (int *)(c->buf + 3 * PG + 4 * R(1024)); break;   /* read-only */
    case 3: w = (int *)(c->scratch + 4 * R(SCRATCH_PAGES * 1024)); break;
    default: w = (int *)(c->buf + 4 * R(1024)); break;
    }
    int val = R(2) ? 0 : (int)rnd(c);
    if ((char *)w >= c->buf && (char *)w < c->buf + BUF_RW && ((long)w & 3) == 0 && R(2)) *w = val;
    long op = R(10) ? R(14) : int_pick(c);
    if (R(2)) op |= 128; /* PRIVATE */
    if (R(8) == 0) op |= 256; /* CLOCK_REALTIME */
    long base = op & 127;
    long timeout;
    if (base == 0 || base == 9 || base == 11 || base == 6 || base == 13) { /* waits */
        if (base == 0) timeout = (long)ts_pick(c, 0);
        else { long *t = (long *)(c->buf + 8 * R(64)); t[0] = R(2); t[1] = R(1000); timeout = R(5) ? (long)t : (long)ts_pick(c, 0); }
        if (R(30) == 0 && !c->in_child && base == 0 && R(2)) timeout = 0; /* forever: the watchdog interrupts */
    } else timeout = R(2) ? R(10) : int_pick(c); /* val2 for requeue */
    int *w2 = R(2) ? (int *)(c->buf + 4 * R(1024)) : (int *)ptr_pick(c, 1);
    long val3 = R(2) ? -1 : (long)rnd(c);
    X6(SYS_futex, w, op, R(2) ? val : int_pick(c), timeout, w2, val3);
}

static void gen_wait(ctx_t *c, long nr)
{
    pthread_mutex_lock(&g_kids_lock);
    long kid = kid_pick(c);
    long r;
    if (nr == SYS_wait4) {
        long pid;
        switch (R(6)) {
        case 0: pid = -1; break;
        case 1: pid = 0; break;
        case 2: pid = -g_pgid; break;
        case 3: pid = PICK(((const long[]){INT_MIN, INT_MAX, 1, -1 - INT_MAX + 1, 99999})); break;
        default: pid = kid ? kid : -1; break;
        }
        long opt = WNOHANG | (R(2) ? 0 : (R(2) ? __WALL : flags_pick(c) & (WUNTRACED | WCONTINUED | __WALL | __WCLONE | __WNOTHREAD | 0x100)));
        char *st = R(3) ? c->buf + 4 * R(1024) : ptr_pick(c, 0);
        char *ru = R(2) ? 0 : ptr_pick(c, 0);
        r = X4(SYS_wait4, pid, st, opt, ru);
        if (r > 0) kids_remove(r);
        else kids_verify();
    } else {
        long type = R(8) ? R(3) : PICK(((const long[]){3, 4, -1, 100}));
        long id = type == P_PID ? (kid ? kid : g_pid) : type == P_PGID ? (R(2) ? g_pgid : 0) : R(2) ? 0 : int_pick(c);
        if (type == 3) id = fd_pick(c); /* P_PIDFD */
        long opt = WNOHANG | (R(4) ? WEXITED : 0) | (R(4) ? 0 : flags_pick(c) & (WSTOPPED | WCONTINUED | WNOWAIT | __WALL | __WCLONE | 0x100));
        int *info = (int *)(R(4) ? c->buf + 8 * R(512) : ptr_pick(c, 0));
        if ((char *)info >= c->buf && (char *)info < c->buf + BUF_RW - 128) memset(info, 0, 128);
        r = X5(SYS_waitid, type, id, info, opt, R(2) ? 0 : ptr_pick(c, 0));
        if (r == 0 && (char *)info >= c->buf && (char *)info < c->buf + BUF_RW - 128 && !(opt & WNOWAIT) && info[4] > 0)
            kids_remove(info[4]);
        kids_verify();
    }
    pthread_mutex_unlock(&g_kids_lock);
}

static void gen_kill(ctx_t *c, long nr)
{
    pthread_mutex_lock(&g_kids_lock);
    long kid = kid_pick(c);
    long sig_any = sig_pick(c), sig_self = self_sigs[R(6)];
    switch (nr) {
    case SYS_kill:
        switch (R(7)) {
        case 0: case 1: if (kid) { X2(nr, kid, sig_any); break; } /* fall through */
        case 2: X2(nr, g_pid, sig_self); break;
        case 3: X2(nr, 0, 0); break;
        case 4: if (kid) { X2(nr, -kid, sig_any); break; } X2(nr, -g_pgid, 0); break;
        case 5: X2(nr, PICK(((const long[]){INT_MIN, INT_MAX, 0x400000, -INT_MAX, 99999})), R(2) ? 0 : sig_self); break;
        default: X2(nr, g_pid, R(2) ? sig_self : PICK(((const long[]){-1, 65, INT_MIN}))); break;
        }
        break;
    case SYS_tkill:
        if (R(2)) X2(nr, raw0(SYS_gettid), sig_self);
        else {
            long tid = PICK(((const long[]){0, -1, INT_MAX, INT_MIN, 0x400000}));
            if (g_avoid_tkill0 && (tid == 0 || tid == -1)) tid = INT_MAX;
            X2(nr, tid, R(2) ? 0 : sig_self);
        }
        break;
    case SYS_tgkill:
        switch (R(5)) {
        case 0: if (kid) { X3(nr, kid, kid, sig_any); break; } /* fall through */
        case 1: X3(nr, g_pid, raw0(SYS_gettid), sig_self); break;
        case 2: {
            int t = g_tids[R(g_threads)];
            X3(nr, g_pid, t ? t : g_pid, sig_self);
            break;
        }
        case 3: X3(nr, g_pid, PICK(((const long[]){0, -1, INT_MAX, INT_MIN, 0x400000})), sig_self); break;
        default: {
            long tg = PICK(((const long[]){0, -1, INT_MIN, 0x400000})), tid = R(2) ? g_pid : -1;
            if (g_avoid_tkill0 && tg == tid) tid = INT_MAX;
            X3(nr, tg, tid, 0);
            break;
        }
        }
        break;
    case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo: {
        int *si = (int *)(c->buf + 8 * R(500));
        for (int i = 0; i < 32; i++) si[i] = (int)rnd(c);
        si[2] = R(2) ? -1 /* SI_QUEUE */ : si[2];
        char *sip = R(4) ? (char *)si : ptr_pick(c, 0);
        long target = kid && R(2) ? kid : g_pid;
        long sig = target == g_pid ? sig_self : sig_any;
        if (target == g_pid) si[0] = (int)sig;
        if (nr == SYS_rt_sigqueueinfo) X3(nr, target, sig, sip);
        else X4(nr, target, target == g_pid ? raw0(SYS_gettid) : target, sig, sip);
        break;
    }
    }
    pthread_mutex_unlock(&g_kids_lock);
}

static void gen_affinity(ctx_t *c, long nr)
{
    pthread_mutex_lock(&g_kids_lock);
    long kid = kid_pick(c);
    pthread_mutex_unlock(&g_kids_lock);
    long pid;
    switch (R(6)) {
    case 0: pid = 0; break;
    case 1: pid = g_tids[R(g_threads)]; break;
    case 2: pid = kid; break;                     /* a child (or 0); pid reuse is harmless for a mask */
    case 3: pid = PICK(((const long[]){-1, INT_MAX, INT_MIN, 0x400000})); break;
    default: pid = raw0(SYS_gettid); break;
    }
    if (nr == SYS_sched_setaffinity && pid == kid && kid) {
        /* only while it is still our child */
        pthread_mutex_lock(&g_kids_lock);
        int ok = 0;
        for (int i = 0; i < MAXCHILD; i++) ok |= g_kids[i].pid == kid;
        if (!ok) pid = 0;
        pthread_mutex_unlock(&g_kids_lock);
    }
    long len = R(4) ? 8 : PICK(((const long[]){0, 1, 4, 7, 16, 128, 4096, 1 << 20, -1}));
    uint64_t *m = (uint64_t *)(c->buf + 8 * R(900));
    switch (R(5)) {
    case 0: m[0] = 0; break;
    case 1: m[0] = ~0ULL; break;
    case 2: m[0] = 1ULL << R(4); break;
    default: m[0] = rnd(c); break;
    }
    m[1] = rnd(c);
    char *mp = R(6) ? (char *)m : ptr_pick(c, 0);
    X3(nr, pid, len, mp);
}

static void gen_setpgid(ctx_t *c)
{
    pthread_mutex_lock(&g_kids_lock);
    long kid = kid_pick(c);
    long target = R(3) == 0 ? 0 : R(2) ? g_pid : kid ? kid : PICK(((const long[]){-1, INT_MAX, 99999}));
    long pgid = PICK(((const long[]){0, 0, -1, INT_MAX})) ;
    if (R(2)) pgid = g_pgid;
    if (R(3) == 0) pgid = g_pid;
    X2(SYS_setpgid, target, pgid);
    pthread_mutex_unlock(&g_kids_lock);
}

static void gen_sigaltstack(ctx_t *c)
{
    long *ss = (long *)(c->buf + 8 * R(900));
    ss[0] = (long)c->alt;
    ((int *)ss)[2] = R(3) ? 0 : PICK(((const int[]){SS_DISABLE, SS_ONSTACK, -1, 2, 0x80000000}));
    ss[2] = R(3) ? 65536 : PICK(((const long[]){0, 1, 2047, 2048, 8192}));
    char *p = R(5) ? (char *)ss : R(2) ? 0 : (char *)PICK(bad_ptrs);
    X2(SYS_sigaltstack, p, R(2) ? 0 : ptr_pick(c, 0));
}

static void gen_prctl(ctx_t *c)
{
    static const long opts[] = {1, 2, 3, 4, 7, 8, 13, 15, 16, 21, 23, 29, 30, 31, 32, 34, 36, 37, 38, 39, 40, 41, 42,
                                52, 0, -1, 1000, 0x41555856 /* PR_SET_VMA */, 47, 48};
    long opt = PICK(opts);
    long a1 = R(2) ? (long)ptr_pick(c, 0) : int_pick(c);
    if (opt == 1) a1 = sig_pick(c); /* PDEATHSIG */
    if (opt == 0x41555856) a1 = R(3);
    X5(SYS_prctl, opt, a1, R(2) ? 0 : int_pick(c), R(2) ? 0 : (long)ptr_pick(c, 0), 0);
}

static void gen_arch_prctl(ctx_t *c)
{
    static const long codes[] = {0x1003, 0x1004, 0x1001, 0x1011, 0, 0x1000, 0x1005, 0x1010, 0x1020, 0x4001, -1, 0x3001};
    long code = PICK(codes);
    if (R(8) == 0) {
        /* ARCH_SET_FS with an invalid base must fail (and our TLS stays);
         * with the current base it is a no-op. */
        unsigned long fs = 0;
        long g = raw2(SYS_arch_prctl, 0x1003, &fs);
        if (g != 0 || fs == 0) {
            errf("fuzz: arch_prctl(ARCH_GET_FS, %p) on our stack = %ld, fs %#lx\n", (void *)&fs, g, fs);
            return;
        }
        static const long bad[] = {(long)0xffff800000000000UL, 0x0000800000000000L, (long)0xffffffff80000000UL, -1};
        long v = R(3) ? PICK(bad) : (long)fs;
        long r = X2(SYS_arch_prctl, 0x1002, v);
        if (r == 0 && v != (long)fs) {
            raw2(SYS_arch_prctl, 0x1002, fs);
            errf("fuzz: arch_prctl(ARCH_SET_FS, %#lx) succeeded (expected EPERM)\n", v);
        }
        return;
    }
    long arg = (code == 0x1003 || code == 0x1004) ? (long)ptr_pick(c, 0) : (code == 0x1001 ? (long)rnd(c) : int_pick(c));
    if (code == 0x1001 && R(2)) arg = (long)PICK(bad_ptrs);
    X2(SYS_arch_prctl, code, arg);
}

static void gen_rlimit(ctx_t *c, long nr)
{
    long res = R(8) ? R(16) : PICK(((const long[]){16, -1, 1000, INT_MAX}));
    uint64_t *nl = (uint64_t *)(c->buf + 8 * R(900));
    char *np;
    switch (R(6)) {
    case 0: np = 0; break;
    case 1: np = (char *)PICK(bad_ptrs); if (!np) np = g_bad; break; /* unreadable (random limits only for children) */
    case 2: nl[0] = 100; nl[1] = 10; np = (char *)nl; break;          /* cur > max: EINVAL */
    case 3: nl[0] = ~0ULL; nl[1] = ~0ULL; np = (char *)nl;           /* raise: allowed or EPERM */
        if (res == RLIMIT_CORE) nl[0] = nl[1] = 0;                     /* (no core dumps on the host) */
        break;
    default:
        raw4(SYS_prlimit64, 0, res, 0, nl);                           /* the current value: no-op */
        np = (char *)nl;
        break;
    }
    char *op = R(2) ? 0 : ptr_pick(c, 0);
    if (nr == SYS_setrlimit) X2(nr, res, np);
    else {
        pthread_mutex_lock(&g_kids_lock);
        long kid = kid_pick(c);
        long pid = R(3) ? 0 : R(2) ? g_pid : kid ? kid : PICK(((const long[]){-1, INT_MAX, 99999}));
        if (pid == kid && kid && np == (char *)nl && R(2)) { nl[0] = R(100); nl[1] = nl[0] + R(100); }
        X4(nr, pid, res, np, op);
        pthread_mutex_unlock(&g_kids_lock);
    }
}

static void gen_socket(ctx_t *c, long nr)
{
    long dom = g_nros ? (R(2) ? AF_UNIX : int_pick(c)) : AF_UNIX;
    long type = PICK(((const long[]){1, 2, 5, 3})) | (R(2) ? 04000 : 0) | (R(2) ? 02000000 : 0);
    if (g_nros && R(5) == 0) type = int_pick(c);
    if (nr == SYS_socket) pool_add(c, X3(nr, dom, type, g_nros ? (R(2) ? 0 : int_pick(c)) : 0));
    else {
        int *sv = (int *)(R(4) ? c->buf + 8 * R(900) : ptr_pick(c, 0));
        long r = X4(nr, dom, type, 0, sv);
        if (r == 0 && (char *)sv >= c->buf && (char *)sv < c->buf + BUF_RW - 8) { pool_add(c, sv[0]); pool_add(c, sv[1]); }
    }
}

static void gen_pipe(ctx_t *c, long nr)
{
    int *fds = (int *)(R(5) ? c->buf + 8 * R(900) : ptr_pick(c, 0));
    long r;
    if (nr == SYS_pipe) r = X1(nr, fds);
    else r = X2(nr, fds, R(2) ? O_NONBLOCK : R(2) ? O_CLOEXEC | O_NONBLOCK : flags_pick(c));
    if (r == 0 && (char *)fds >= c->buf && (char *)fds < c->buf + BUF_RW - 8) {
        if (nr == SYS_pipe && R(4)) { /* blocking pipes stall readers until the watchdog: keep few */
            raw1(SYS_close, fds[0]);
            raw1(SYS_close, fds[1]);
        } else {
            pool_add(c, fds[0]);
            pool_add(c, fds[1]);
        }
    }
}

static void gen_dup(ctx_t *c, long nr)
{
    long r;
    if (nr == SYS_dup) r = X1(nr, fd_pick(c));
    else if (nr == SYS_dup2) r = X2(nr, fd_pick(c), fd_pick(c));
    else r = X3(nr, fd_pick(c), fd_pick(c), R(2) ? O_CLOEXEC : flags_pick(c));
    if (r >= 0) pool_add(c, r);
}

static void gen_copy(ctx_t *c, long nr)
{
    long cnt = len_pick(c);
    if (!g_nros && (cnt < 0 || cnt > (1 << 20))) cnt = R(2) ? -1 : 1 << 20; /* host: no giant copies */
    long *off = (long *)(c->buf + 8 * R(900));
    off[0] = off_pick(c);
    char *op = R(2) ? 0 : R(4) ? (char *)off : ptr_pick(c, 0);
    switch (nr) {
    case SYS_sendfile: X4(nr, fd_pick(c), fd_pick(c), op, cnt); break;
    case SYS_copy_file_range: X6(nr, fd_pick(c), op, fd_pick(c), R(2) ? 0 : (char *)off + 8, cnt, R(4) ? 0 : flags_pick(c)); break;
    case SYS_splice: X6(nr, fd_pick(c), op, fd_pick(c), 0, cnt, R(2) ? 1 /* MOVE */ | 2 /* NONBLOCK */ : flags_pick(c)); break;
    case SYS_tee: X4(nr, fd_pick(c), fd_pick(c), cnt, R(2) ? 2 : flags_pick(c)); break;
    case SYS_fallocate: X4(nr, fd_pick(c), R(2) ? 0 : flags_pick(c) & 0x7f, R(2) ? R(65536) : off_pick(c), cnt); break;
    }
}

static void gen_close_range(ctx_t *c)
{
    long lo = 3 + R(40), hi = lo + R(20);
    if (R(4) == 0) { long t = lo; lo = hi; hi = t; } /* EINVAL */
    X3(436, lo, hi, R(2) ? 0 : flags_pick(c) & 6);
}

static void gen_pidfd_open(ctx_t *c)
{
    pthread_mutex_lock(&g_kids_lock);
    long kid = kid_pick(c);
    long pid = kid && R(2) ? kid : R(2) ? g_pid : PICK(((const long[]){0, -1, INT_MAX, 99999}));
    pool_add(c, X2(434, pid, R(2) ? 0 : flags_pick(c)));
    pthread_mutex_unlock(&g_kids_lock);
}

static void gen_epoll_wait(ctx_t *c, long nr)
{
    char *ev = ptr_pick(c, 0);
    long max = R(4) ? 1 + R(16) : int_pick(c);
    long to = R(10) ? R(3) : -1;
    if (c->in_child) to = 0;
    if (nr == SYS_epoll_wait) X4(nr, fd_pick(c), ev, max, to);
    else if (nr == SYS_epoll_pwait) X6(nr, fd_pick(c), ev, max, to, mask_pick(c), 8);
    else X6(nr, fd_pick(c), ev, max, ts_pick(c, !c->in_child), mask_pick(c), 8);
}

static void gen_sigtimedwait(ctx_t *c)
{
    X4(SYS_rt_sigtimedwait, mask_pick(c), R(2) ? 0 : ptr_pick(c, 0), ts_pick(c, !c->in_child), R(8) ? 8 : int_pick(c));
}

static void gen_execve(ctx_t *c, long nr)
{
    /* In a worker, only paths that cannot name an executable. */
    static const char *const nop[] = {"", "nx/x", "d0/", "f0/", ".", "/", "/proc", "/dev/null/x", "missing-exe"};
    int bad = R(5) == 0;
    char *p = bad ? (char *)PICK(bad_ptrs) : (char *)PICK(nop);
    if (R(8) == 0) { p = g_long2; bad = 0; }
    char *av = argv_pick(c, 0), *ev = argv_pick(c, 1);
    if (nr == SYS_execve) X3(nr, p, av, ev);
    else {
        long fl = R(2) ? 0 : flags_pick(c);
        /* no AT_EMPTY_PATH with an empty path: that would run one of our fds */
        if (bad || *p == 0) fl &= ~0x1000L;
        X5(nr, dirfd_pick(c), p, av, ev, fl);
    }
}

/* ------------------------------------------------------------------ */
/* generic calls: random arguments of every kind */

static long generic_arg(ctx_t *c)
{
    switch (R(10)) {
    case 0: return R(64);
    case 1: return int_pick(c);
    case 2: return (long)rnd(c);
    case 3: case 4: return (long)ptr_pick(c, 0);
    case 5: return fd_pick(c);
    case 6: return (long)path_pick(c, 0);
    case 7: return flags_pick(c);
    case 8: return len_pick(c);
    default: return 0;
    }
}

static void gen_generic(ctx_t *c, long nr)
{
    long a[6];
    for (int i = 0; i < 6; i++) {
        a[i] = generic_arg(c);
        if (a[i] >= (long)c->buf && a[i] < (long)(c->buf + BUF_RW)) sanitize_path(c, (char *)a[i]);
    }
    xcall(c, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* Calls that could change the host (Linux): only issued on NrOS. */
static int host_unsafe(long nr)
{
    switch (nr) {
    case 29: case 30: case 31: case 64: case 65: case 66: case 67: case 68: case 69: case 70: case 71: /* SysV IPC */
    case 101: case 103: case 105: case 106: case 113: case 114: case 116: case 117: case 119: case 122: case 123:
    case 126: case 133: case 134: case 141: case 142: case 144: case 149: case 151: case 153: case 154: case 155:
    case 156: case 159: case 161: case 163: case 164: case 165: case 166: case 167: case 168: case 169: case 170:
    case 171: case 172: case 173: case 175: case 176: case 179: case 205: case 206: case 207: case 208: case 209:
    case 210: case 216: case 220: case 222: case 223: case 227: case 237: case 238: case 240: case 241: case 242:
    case 243: case 244: case 245: case 246: case 248: case 249: case 250: case 251: case 256: case 259: case 272:
    case 278: case 279: case 298: case 299: case 300: case 301: case 303: case 304: case 305: case 308: case 310:
    case 311: case 312: case 313: case 314: case 317: case 320: case 321: case 323: case 325: case 333: case 334:
    case 335: case 336: case 424: case 425: case 426: case 427: case 428: case 429: case 430: case 431: case 432:
    case 433: case 438: case 440: case 442: case 443: case 444: case 445: case 446: case 448: case 450: case 453:
    case 460: case 47: /* recvmsg: iovecs from random bytes */
    case 135: /* personality */
        return 1;
    }
    return 0;
}

/* Calls never made with random arguments (in the workers). */
static int never(long nr)
{
    return nr == SYS_rt_sigreturn || nr == SYS_exit || nr == SYS_exit_group || nr == SYS_pause ||
           nr == SYS_rt_sigsuspend || nr == SYS_vfork;
}

/* Calls that may block: not made in children (no watchdog there). */
static int may_block(long nr)
{
    switch (nr) {
    case 0: case 1: case 17: case 18: case 19: case 20: case 295: case 296: case 327: case 328: case 7: case 23:
    case 270: case 271: case 202: case 61: case 247: case 35: case 230: case 40: case 72: case 43: case 288: case 44:
    case 45: case 46: case 47: case 275: case 276: case 326: case 232: case 281: case 441: case 128: case 449:
    case 454: case 455: case 456: case 73: case 299: case 307: case 42: case 34: case 130: case 221:
        return 1;
    }
    return 0;
}

static void gen_fork(ctx_t *c, long nr)
{
    if (c->in_child || kids_count(c->thread) >= 4) {
        X0(SYS_getppid);
        return;
    }
    long r;
    if (nr == SYS_clone) {
        if (R(3)) {
            static const long invalid[] = {CLONE_THREAD, CLONE_SIGHAND, CLONE_THREAD | CLONE_SIGHAND, CLONE_FS | CLONE_NEWNS,
                                           CLONE_NEWUSER | CLONE_FS, CLONE_SIGHAND | CLONE_THREAD | SIGCHLD,
                                           CLONE_PIDFD | CLONE_DETACHED, CLONE_PIDFD | CLONE_THREAD | CLONE_SIGHAND};
            X5(SYS_clone, PICK(invalid) | (R(2) ? 0 : (1L << (32 + R(31)))), ptr_pick(c, 0), ptr_pick(c, 0), ptr_pick(c, 0), rnd(c));
            return;
        }
        long flags = PICK(((const long[]){SIGCHLD, SIGCHLD, 0, SIGUSR2, SIGWINCH}));
        if (R(3) == 0) flags |= CLONE_PARENT_SETTID;
        if (R(3) == 0) flags |= CLONE_CHILD_SETTID;
        if (R(3) == 0) flags |= CLONE_CHILD_CLEARTID;
        char *pt = c->buf + 8 * R(900), *ct = R(2) ? c->buf + 8 * R(900) : ptr_pick(c, 0);
        if (R(4) == 0) pt = ptr_pick(c, 0);
        /* under the lock, so that no other thread reaps the child before
         * it is in the table (the child re-initialises the lock) */
        pthread_mutex_lock(&g_kids_lock);
        r = X5(SYS_clone, flags, 0, pt, ct, 0);
    } else {
        pthread_mutex_lock(&g_kids_lock);
        r = X0(SYS_fork);
    }
    if (r == 0) child_main(c);
    if (r > 0) kids_add_locked((int)r, c->thread);
    pthread_mutex_unlock(&g_kids_lock);
}

/* Reap and, after a grace period, kill this thread's children. */
static void reap_own(ctx_t *c, int grace_ms)
{
    for (int round = 0;; round++) {
        int left = 0;
        pthread_mutex_lock(&g_kids_lock);
        for (int i = 0; i < MAXCHILD; i++) {
            if (g_kids[i].pid <= 0 || g_kids[i].owner != c->thread) continue;
            int pid = g_kids[i].pid;
            long r = raw6(SYS_wait4, pid, 0, WNOHANG | __WALL, 0, 0, 0);
            if (r == pid || r == -ECHILD) g_kids[i].pid = 0;
            else {
                left++;
                if (round * 10 >= grace_ms) raw2(SYS_kill, pid, SIGKILL);
            }
        }
        pthread_mutex_unlock(&g_kids_lock);
        if (!left) return;
        if (round * 10 > grace_ms + 20000) {
            errf("fuzz: worker %d thread %d: %d children do not die after SIGKILL\n", c->worker, c->thread, left);
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        c->slot->in_call = 1; /* the watchdog may see a stuck wait here */
        raw2(SYS_nanosleep, &ts, 0);
        c->slot->in_call = 0;
        c->slot->seq++;
    }
}

/* ------------------------------------------------------------------ */
/* one random call */

static const long implemented[] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23, 24, 28, 32, 33, 35, 39, 40,
    56, 57, 59, 61, 62, 63, 72, 74, 75, 76, 77, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 95, 96, 97, 99,
    102, 104, 107, 108, 109, 110, 111, 112, 121, 124, 131, 157, 158, 162, 186, 200, 201, 202, 203, 204, 217, 218,
    221, 228, 229, 230, 234, 247, 257, 258, 262, 263, 264, 265, 266, 267, 268, 269, 270, 271, 273, 280, 292, 293,
    302, 306, 309, 316, 318, 322, 332, 334, 439,
};

static void call_nr(ctx_t *c, long nr)
{
    if (c->in_child && may_block(nr)) nr = SYS_getpid;
    switch (nr) {
    case SYS_read: X3(nr, fd_pick(c), ptr_pick(c, 1), len_pick(c)); break;
    case SYS_write: X3(nr, fd_pick(c), ptr_pick(c, 1), len_pick(c)); break;
    case SYS_pread64: case SYS_pwrite64: X4(nr, fd_pick(c), ptr_pick(c, 1), len_pick(c), off_pick(c)); break;
    case SYS_open: case SYS_openat: case SYS_creat: gen_open(c, nr); break;
    case SYS_close: X1(nr, fd_pick(c)); break;
    case SYS_stat: case SYS_lstat: X2(nr, path_pick(c, 1), ptr_pick(c, 1)); break;
    case SYS_fstat: X2(nr, fd_pick(c), ptr_pick(c, 1)); break;
    case SYS_newfstatat: X4(nr, dirfd_pick(c), path_pick(c, 1), ptr_pick(c, 1), R(2) ? 0 : flags_pick(c)); break;
    case SYS_statx: X5(nr, dirfd_pick(c), path_pick(c, 1), R(2) ? 0 : flags_pick(c), R(2) ? 0xfff : flags_pick(c), ptr_pick(c, 1)); break;
    case SYS_poll: case SYS_ppoll: gen_poll(c, nr); break;
    case SYS_select: case SYS_pselect6: gen_select(c, nr); break;
    case SYS_lseek: X3(nr, fd_pick(c), off_pick(c), R(8) ? R(5) : int_pick(c)); break;
    case SYS_mmap: gen_mmap(c); break;
    case SYS_mprotect: case SYS_munmap: case SYS_madvise: case SYS_mremap: case SYS_msync: case SYS_mincore:
    case SYS_mlock: case SYS_munlock: case 325: case 329: case 462: case SYS_remap_file_pages:
        if (!g_nros && (nr == SYS_mlock || nr == 325 || nr == SYS_remap_file_pages)) { X0(SYS_getpid); break; }
        gen_mem(c, nr);
        break;
    case SYS_brk: gen_brk(c); break;
    case SYS_rt_sigaction: gen_sigaction(c); break;
    case SYS_rt_sigprocmask: gen_sigprocmask(c); break;
    case SYS_ioctl: gen_ioctl(c); break;
    case SYS_readv: case SYS_writev: case SYS_preadv: case SYS_pwritev: case 327: case 328: gen_iov(c, nr); break;
    case SYS_access: X2(nr, path_pick(c, 1), R(2) ? R(8) : int_pick(c)); break;
    case SYS_faccessat: case 439: X4(nr, dirfd_pick(c), path_pick(c, 1), R(2) ? R(8) : int_pick(c), R(2) ? 0 : flags_pick(c)); break;
    case SYS_pipe: case SYS_pipe2: gen_pipe(c, nr); break;
    case SYS_dup: case SYS_dup2: case SYS_dup3: gen_dup(c, nr); break;
    case SYS_nanosleep: case SYS_clock_nanosleep: gen_sleep(c, nr); break;
    case SYS_sendfile: case SYS_copy_file_range: case SYS_splice: case SYS_tee: case SYS_fallocate: gen_copy(c, nr); break;
    case SYS_clone: case SYS_fork: gen_fork(c, nr); break;
    case SYS_vfork: X0(SYS_getppid); break;
    case 435: /* clone3: only failing forms */ {
        uint64_t *a = (uint64_t *)(c->buf + 8 * R(800));
        memset(a, 0, 88);
        a[0] = 1ULL << (33 + R(30)); /* unknown flag */
        X2(nr, R(2) ? (long)a : (long)ptr_pick(c, 0), PICK(((const long[]){0, 8, 63, 88, 4097, -1})));
        break;
    }
    case SYS_execve: case SYS_execveat: gen_execve(c, nr); break;
    case SYS_wait4: case SYS_waitid: gen_wait(c, nr); break;
    case SYS_kill: case SYS_tkill: case SYS_tgkill: case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo: gen_kill(c, nr); break;
    case 424: /* pidfd_send_signal: our pidfds only hold our children, but the pool may hold any fd */
        if (!g_nros) { X0(SYS_getpid); break; }
        X4(nr, fd_pick(c), self_sigs[R(6)], 0, 0);
        break;
    case 434: gen_pidfd_open(c); break;
    case SYS_uname: case SYS_sysinfo: case SYS_time: X1(nr, ptr_pick(c, 1)); break;
    case SYS_fcntl: gen_fcntl(c); break;
    case SYS_fsync: case SYS_fdatasync: case SYS_syncfs: case SYS_fchdir: X1(nr, fd_pick(c)); break;
    case SYS_truncate: X2(nr, path_pick(c, 0), R(2) ? R(100000) : off_pick(c)); break;
    case SYS_ftruncate: X2(nr, fd_pick(c), R(2) ? R(100000) : off_pick(c)); break;
    case SYS_getcwd: X2(nr, ptr_pick(c, 1), len_pick(c)); break;
    case SYS_chdir: case SYS_rmdir: case SYS_unlink: X1(nr, path_pick(c, 0)); break;
    case SYS_rename: case SYS_link: X2(nr, path_pick(c, 0), path_pick(c, 0)); break;
    case SYS_symlink: X2(nr, path_pick(c, 0), path_pick(c, 0)); break;
    case SYS_mkdir: case SYS_chmod: X2(nr, path_pick(c, 0), R(2) ? 0755 : int_pick(c)); break;
    case SYS_readlink: X3(nr, path_pick(c, 1), ptr_pick(c, 1), len_pick(c)); break;
    case SYS_fchmod: X2(nr, fd_pick(c), R(2) ? 0644 : int_pick(c)); break;
    case SYS_umask: X1(nr, R(2) ? 022 : int_pick(c)); break;
    case SYS_gettimeofday: X2(nr, R(4) ? ptr_pick(c, 1) : 0, R(2) ? 0 : ptr_pick(c, 1)); break;
    case SYS_getrlimit: X2(nr, R(8) ? R(16) : int_pick(c), ptr_pick(c, 1)); break;
    case SYS_setrlimit: case SYS_prlimit64: gen_rlimit(c, nr); break;
    case SYS_setpgid: gen_setpgid(c); break;
    case SYS_getpgid: case SYS_getsid: X1(nr, pid_any(c)); break;
    case SYS_sigaltstack: gen_sigaltstack(c); break;
    case SYS_prctl: gen_prctl(c); break;
    case SYS_arch_prctl: gen_arch_prctl(c); break;
    case SYS_futex: gen_futex(c, nr); break;
    case SYS_sched_setaffinity: gen_affinity(c, nr); break;
    case SYS_sched_getaffinity: X3(nr, pid_any(c), R(2) ? 8 : len_pick(c), ptr_pick(c, 1)); break;
    case SYS_getdents64: case SYS_getdents: X3(nr, fd_pick(c), ptr_pick(c, 1), len_pick(c)); break;
    case SYS_set_tid_address: /* only children: a thread's clear_child_tid is pthread_join's */
        if (c->in_child) X1(nr, ptr_pick(c, 1));
        else X0(SYS_gettid);
        break;
    case SYS_set_robust_list: X2(nr, R(3) ? ptr_pick(c, 0) : 0, R(2) ? 24 : int_pick(c)); break;
    case SYS_get_robust_list: X3(nr, R(2) ? 0 : pid_any(c), ptr_pick(c, 0), ptr_pick(c, 0)); break;
    case SYS_fadvise64: X4(nr, fd_pick(c), off_pick(c), len_pick(c), R(2) ? R(6) : int_pick(c)); break;
    case SYS_clock_gettime: case SYS_clock_getres: X2(nr, R(3) ? R(12) : int_pick(c), R(6) ? ptr_pick(c, 1) : 0); break;
    case SYS_mkdirat: X3(nr, dirfd_pick(c), path_pick(c, 0), R(2) ? 0755 : int_pick(c)); break;
    case SYS_unlinkat: X3(nr, dirfd_pick(c), path_pick(c, 0), R(2) ? R(2) * AT_REMOVEDIR : flags_pick(c)); break;
    case SYS_renameat: X4(nr, dirfd_pick(c), path_pick(c, 0), dirfd_pick(c), path_pick(c, 0)); break;
    case SYS_renameat2: X5(nr, dirfd_pick(c), path_pick(c, 0), dirfd_pick(c), path_pick(c, 0), R(2) ? R(8) : flags_pick(c)); break;
    case SYS_linkat: X5(nr, dirfd_pick(c), path_pick(c, 0), dirfd_pick(c), path_pick(c, 0), R(2) ? 0 : flags_pick(c)); break;
    case SYS_symlinkat: X3(nr, path_pick(c, 0), dirfd_pick(c), path_pick(c, 0)); break;
    case SYS_readlinkat: X4(nr, dirfd_pick(c), path_pick(c, 1), ptr_pick(c, 1), len_pick(c)); break;
    case SYS_fchmodat: X4(nr, dirfd_pick(c), path_pick(c, 0), R(2) ? 0644 : int_pick(c), R(2) ? 0 : flags_pick(c)); break;
    case SYS_utimensat: {
        long *t = (long *)(c->buf + 8 * R(900));
        t[0] = R(3) ? R(1 << 30) : int_pick(c); t[1] = R(3) ? R(1000000000) : PICK(((const long[]){(1L << 30) - 1, (1L << 30) - 2, -1, 1000000000}));
        t[2] = R(1 << 30); t[3] = R(3) ? R(1000000000) : PICK(((const long[]){(1L << 30) - 1, (1L << 30) - 2, -1}));
        char *p = R(4) ? path_pick(c, 0) : 0;
        X4(nr, dirfd_pick(c), p, R(4) ? (char *)t : R(2) ? 0 : ptr_pick(c, 0), R(2) ? 0 : flags_pick(c));
        break;
    }
    case SYS_getcpu: X3(nr, R(4) ? ptr_pick(c, 1) : 0, R(2) ? ptr_pick(c, 1) : 0, R(2) ? 0 : ptr_pick(c, 0)); break;
    case SYS_getrandom: {
        long len = len_pick(c);
        if (R(100) == 0) len = 1 << 25; /* (slow: the kernel fills a 32 MiB buffer first) */
        X3(nr, ptr_pick(c, 1), len, R(2) ? 0 : flags_pick(c) & 0xf);
        break;
    }
    case SYS_socket: case SYS_socketpair: gen_socket(c, nr); break;
    case 436: gen_close_range(c); break;
    case SYS_epoll_wait: case SYS_epoll_pwait: case 441: gen_epoll_wait(c, nr); break;
    case SYS_rt_sigtimedwait: gen_sigtimedwait(c); break;
    case SYS_flock: X2(nr, fd_pick(c), R(2) ? R(4) | (R(2) ? 4 : 0) : int_pick(c)); break;
    case SYS_alarm: X1(nr, R(2) ? 0 : R(3)); break;
    case SYS_setitimer: {
        long *it = (long *)(c->buf + 8 * R(900));
        it[0] = 0; it[1] = R(1000); it[2] = 0; it[3] = R(1000);
        X3(nr, R(4) ? R(3) : int_pick(c), R(4) ? (char *)it : ptr_pick(c, 0), R(2) ? 0 : ptr_pick(c, 1));
        break;
    }
    case SYS_exit: case SYS_exit_group:
        if (c->in_child) X1(nr, R(256)); /* the child ends here */
        else X0(SYS_getpid);
        break;
    case SYS_rt_sigreturn: case SYS_pause: case SYS_rt_sigsuspend:
        X0(SYS_gettid);
        break;
    case SYS_sched_yield: case SYS_getpid: case SYS_gettid: case SYS_getppid: case SYS_getpgrp: case SYS_setsid:
    case SYS_getuid: case SYS_geteuid: case SYS_getgid: case SYS_getegid: case SYS_sync:
        X0(nr);
        break;
    default:
        if (nr >= 0 && nr < NSYS && !g_nros && host_unsafe(nr)) { X0(SYS_getpid); break; }
        if (nr >= 0 && nr < NSYS && g_nros && never(nr)) { X0(SYS_getpid); break; }
        if (c->in_child && nr >= 0 && nr < NSYS && !g_nros) { X0(SYS_getpid); break; }
        gen_generic(c, nr);
        break;
    }
}

static long pick_nr(ctx_t *c)
{
    int r = R(100);
    if (r < 70) return PICK(implemented);
    if (r < 96) return R(NSYS);
    if (r < 98) return NSYS + R(1024 - NSYS);
    static const long huge[] = {-1, -2, 0x80000000L, 0x7fffffffL, 0x100000000L + 1000, (long)0xffffffff00001000UL,
                                (long)0xdeadbeefUL, LONG_MIN, LONG_MAX, (long)0xffffffffffff0400UL};
    return PICK(huge);
}

static void do_random_call(ctx_t *c)
{
    if (g_nonly) call_nr(c, g_only[R(g_nonly)]);
    else call_nr(c, pick_nr(c));
}

/* ------------------------------------------------------------------ */
/* valid sequences */

static void story_file(ctx_t *c)
{
    static const char *const names[] = {"f0", "f1", "f2", "f3", "d0/f0", "d1/f3"};
    if (R(4) == 0) X2(SYS_mkdir, R(2) ? "d0" : "d1", 0755);
    long fd = X3(SYS_open, PICK(names), O_CREAT | O_RDWR | (R(3) ? 0 : O_APPEND) | (R(4) ? 0 : O_TRUNC), 0644);
    if (fd < 0) return;
    long n = 1 + R(BUF_RW);
    X3(SYS_write, fd, c->buf, n);
    X3(SYS_lseek, fd, R(2) ? 0 : R(n), SEEK_SET);
    X3(SYS_read, fd, c->buf + R(BUF_RW / 2), R(BUF_RW / 2));
    X2(SYS_fstat, fd, c->buf + 8 * R(900));
    if (R(3) == 0) X2(SYS_ftruncate, fd, R(3 * PG));
    if (R(2)) {
        long len = PG * (1 + R(4));
        long p = X6(SYS_mmap, 0, len, PROT_READ | (R(2) ? PROT_WRITE : 0), MAP_PRIVATE, fd, 0);
        if (p > 0 || p < -4095) {
            for (int i = 0; i < 3; i++) touch(c, (char *)p + R(len), 0); /* SIGBUS beyond EOF */
            X2(SYS_munmap, p, len);
        }
    }
    if (R(3) == 0) X3(SYS_getdents64, fd, c->buf, BUF_RW);
    if (R(2)) X1(SYS_close, fd);
    else pool_add(c, fd);
    if (R(6) == 0) X1(SYS_unlink, PICK(names));
}

static void story_mem(ctx_t *c)
{
    long pages = 1 + R(16), at = R(SCRATCH_PAGES - pages);
    char *p = c->scratch + at * PG;
    long r = X6(SYS_mmap, p, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (r != (long)p) return;
    for (long i = 0; i < pages; i++) touch(c, p + i * PG + R(PG), 1);
    X3(SYS_mprotect, p, pages * PG, PROT_READ);
    touch(c, p + R(pages * PG), 1); /* faults */
    X3(SYS_mprotect, p, pages * PG, PROT_READ | PROT_WRITE);
    touch(c, p + R(pages * PG), 1);
    X3(SYS_madvise, p, pages * PG, MADV_DONTNEED);
    touch(c, p + R(pages * PG), 0);
    if (R(2)) {
        long k = R(pages);
        X2(SYS_munmap, p + k * PG, PG);
        touch(c, p + k * PG, 0); /* faults */
    }
    if (R(3) == 0) { /* a copy-on-write fork with the region */
        gen_fork(c, SYS_fork);
    }
}

static void story_pipe(ctx_t *c)
{
    int *fds = (int *)(c->buf + BUF_RW - 64);
    if (X2(SYS_pipe2, fds, O_NONBLOCK | (R(2) ? O_CLOEXEC : 0)) != 0) return;
    int rd = fds[0], wr = fds[1];
    long n = 1 + R(3000);
    X3(SYS_write, wr, c->buf, n);
    if (R(3) == 0 && !c->in_child) gen_fork(c, SYS_fork); /* the child inherits both ends */
    X3(SYS_read, rd, c->buf + 100, n);
    if (R(4) == 0) { X1(SYS_close, rd); X3(SYS_write, wr, c->buf, 10); } /* EPIPE, SIGPIPE ignored */
    if (R(2)) { X1(SYS_close, rd); X1(SYS_close, wr); }
    else { pool_add(c, rd); pool_add(c, wr); }
}

static void story_signal(ctx_t *c)
{
    long before = g_sigcount;
    X3(SYS_tgkill, g_pid, raw0(SYS_gettid), SIGUSR2);
    uint64_t *m = (uint64_t *)(c->buf + 8 * R(900));
    *m = 1ULL << (SIGWINCH - 1);
    X4(SYS_rt_sigprocmask, SIG_BLOCK, m, 0, 8);
    X2(SYS_kill, g_pid, SIGWINCH);
    X2(SYS_rt_sigpending, c->buf + 8 * R(900), 8);
    X4(SYS_rt_sigprocmask, SIG_UNBLOCK, m, 0, 8);
    c->sigs += g_sigcount - before;
}

static void *nested_main(void *arg)
{
    ctx_t *c = arg;
    int saved = c->slot->tid;
    c->slot->tid = (int)raw0(SYS_gettid);
    t_ctx = c;
    /* The creator (blocked in pthread_join, but still taking signals) may
     * run handlers on c->alt: this thread gets an area of its own. */
    char *alt = c->alt;
    c->alt = c->nalt;
    int n = 1 + R(20);
    for (int i = 0; i < n; i++) do_random_call(c);
    c->alt = alt;
    c->slot->tid = saved;
    return 0;
}

static void story_thread(ctx_t *c)
{
    if (c->nested || c->in_child) return;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstack(&at, c->nstack, 256 * 1024);
    c->nested = 1;
    if (pthread_create(&t, &at, nested_main, c) == 0) {
        /* The next nested thread reuses the stack: the join must succeed. */
        int jr = pthread_join(t, 0);
        if (jr != 0) {
            errf("fuzz: KERNEL BUG: pthread_join of a nested thread failed: %s (pid %d)\n", strerror(jr), g_pid);
            raw1(SYS_exit_group, 90);
        }
    }
    c->nested = 0;
    t_ctx = c;
    pthread_attr_destroy(&at);
}

static void story(ctx_t *c)
{
    switch (R(10)) {
    case 0: case 1: case 2: story_file(c); break;
    case 3: case 4: story_mem(c); break;
    case 5: story_pipe(c); break;
    case 6: gen_fork(c, R(2) ? SYS_fork : SYS_clone); break;
    case 7: story_signal(c); break;
    case 8: story_thread(c); break;
    default: touch_some(c); break;
    }
}

/* ------------------------------------------------------------------ */
/* children: random calls, sometimes hostile to their own memory, an
 * execve of a crafted file, then an exit of some kind */

static void child_exec(ctx_t *c)
{
    static const char *const en[] = {"e0", "e1"}, *const sn[] = {"s0", "s1"};
    int elf = R(3) != 0;
    const char *name = elf ? PICK(en) : PICK(sn);
    unsigned char *b = (unsigned char *)c->buf;
    long len = elf ? make_elf(c, b) : make_script(c, (char *)b);
    long fd = X3(SYS_open, name, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    if (fd >= 0) {
        X3(SYS_write, fd, b, len);
        X1(SYS_close, fd);
    }
    X2(SYS_chmod, name, 0755);
    char *argv[] = {(char *)name, "arg", 0};
    X3(SYS_execve, name, R(4) ? (char *)argv : argv_pick(c, 0), R(2) ? 0 : argv_pick(c, 1));
}

static void child_main(ctx_t *c)
{
    if (raw0(SYS_getpid) == g_pid) {
        /* fork/clone returned 0, but we are still the worker */
        long *h = c->slot->hist[(c->slot->hpos + 15) % 16];
        errf("fuzz: KERNEL BUG: %ld %s(%#lx, %#lx, %#lx, %#lx, %#lx) returned %ld in the parent (pid %d tid %ld)\n", h[0], sname(h[0]),
             h[1], h[2], h[3], h[4], h[5], h[7], g_pid, raw0(SYS_gettid));
        raw1(SYS_exit_group, 92);
    }
    raw1(SYS_close, FD_PROG);
    raw1(SYS_close, FD_ERR);
    raw1(SYS_close, FD_KICK);
    pthread_mutex_init(&g_kids_lock, 0); /* may have been copied locked */
    memset(g_kids, 0, sizeof g_kids);
    c->in_child = 1;
    c->rng ^= (uint64_t)raw0(SYS_getpid) * 0x9e3779b97f4a7c15ULL;
    int n = R(30);
    volatile int hostile = R(10) == 0;
    for (int i = 0; i < n; i++) {
        if (R(8) == 0) child_exec(c);
        else do_random_call(c);
    }
    if (hostile) {
        /* The child's own memory: anything goes (it dies with SIGSEGV). */
        raw_sigdfl(SIGSEGV);
        raw_sigdfl(SIGBUS);
        long a = (long)(rnd(c) & 0x00007ffffffff000UL), l = PG << R(30);
        switch (R(4)) {
        case 0: raw2(SYS_munmap, a, l); break;
        case 1: raw3(SYS_mprotect, a, l, R(8)); break;
        case 2: raw2(SYS_munmap, (long)&hostile & ~(PG - 1), PG * (1 + R(64))); break; /* our stack */
        default: raw3(SYS_madvise, 0x400000, 1L << 30, MADV_DONTNEED); break;
        }
        for (int i = 0; i < 5; i++) do_random_call(c);
    }
    switch (R(6)) {
    case 0: raw1(SYS_exit, R(256)); break;
    case 1: raw2(SYS_kill, raw0(SYS_getpid), PICK(((const int[]){SIGKILL, SIGSEGV, SIGTERM, SIGABRT, SIGILL, SIGUSR1}))); break;
    case 2: {
        raw_sigdfl(SIGSEGV);
        raw_sigdfl(SIGBUS);
        *(volatile int *)(long)PICK(bad_ptrs) = 1;
        break;
    }
    case 3: raw3(SYS_tgkill, raw0(SYS_getpid), raw0(SYS_gettid), SIGKILL); break;
    default: break;
    }
    for (;;) raw1(SYS_exit_group, R(256));
}

/* ------------------------------------------------------------------ */
/* workers */

typedef struct {
    ctx_t c;
    pthread_t th;
} tstate_t;

static void *fuzz_thread(void *arg)
{
    ctx_t *c = arg;
    t_ctx = c;
    c->slot->tid = (int)raw0(SYS_gettid);
    g_tids[c->thread] = c->slot->tid;
    c->slot->alive = 1;
    while (c->done < c->quota) {
        if (!g_nonly && R(100) < 12) story(c);
        else do_random_call(c);
    }
    reap_own(c, 300);
    c->slot->alive = 0;
    return 0;
}

/* a canary on the main thread's stack, checked by the watchdog */
static volatile unsigned char *g_canary;
#define CANARY_LEN 512

static void dump_history(void)
{
    for (int i = 0; i < g_threads; i++) {
        slot_t *s = &g_slots[i];
        errf("fuzz:   thread %d (tid %d, in call %d), its last calls (oldest first):\n", i, s->tid, s->in_call);
        for (unsigned k = 0; k < 16; k++) {
            long *h = s->hist[(s->hpos + k) % 16];
            if (!h[0] && !h[1] && !h[7]) continue;
            errf("fuzz:     %ld %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) = %ld\n", h[0], sname(h[0]), h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
        }
    }
}

static void *watchdog(void *arg)
{
    (void)arg;
    int tick_ms = 20;
    while (!g_wd_stop) {
        if (g_canary) {
            int bad = -1;
            for (int i = 0; i < CANARY_LEN && bad < 0; i++)
                if (g_canary[i] != 0x5a) bad = i;
            if (bad >= 0) {
                errf("fuzz: KERNEL BUG? the worker's main-thread stack changed under it (canary at %p, byte %d = %#x)\n",
                     (void *)g_canary, bad, g_canary[bad]);
                dump_history();
                raw1(SYS_exit_group, 91);
            }
        }
        struct timespec ts = {0, tick_ms * 1000000L};
        nanosleep(&ts, 0);
        for (int i = 0; i < g_threads; i++) {
            slot_t *s = &g_slots[i];
            if (!s->alive || !s->in_call) { s->stuck_ticks = 0; continue; }
            unsigned long seq = s->seq;
            if (seq != s->last_seq) { s->last_seq = seq; s->stuck_ticks = 0; continue; }
            s->stuck_ticks++;
            if (s->stuck_ticks >= 1) {
                /* NrOS: tgkill only reaches the main thread; ask the
                 * kicker process to signal the whole process instead */
                if (raw3(SYS_tgkill, g_pid, s->tid, SIGUSR1) == -ESRCH) {
                    char b = 1;
                    raw3(SYS_write, FD_KICK, &b, 1);
                }
                __atomic_add_fetch(&g_wd_kicks, 1, __ATOMIC_RELAXED);
            }
            int secs = s->stuck_ticks * tick_ms / 1000;
            if (secs >= 10 && !s->reported) {
                s->reported = 1;
                errf("fuzz: STUCK worker pid %d thread %d tid %d: %ld %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) does not return after %d s of SIGUSR1\n",
                     g_pid, i, s->tid, s->nr, sname(s->nr), s->a[0], s->a[1], s->a[2], s->a[3], s->a[4], s->a[5], secs);
            }
            if (secs >= 40) {
                errf("fuzz: worker pid %d gives up on the stuck thread\n", g_pid);
                raw1(SYS_exit_group, 98);
            }
        }
    }
    return 0;
}

static void *map_or_die(long len, int prot)
{
    void *p = mmap(0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errf("fuzz: worker setup: mmap %ld failed\n", len);
        _exit(97);
    }
    return p;
}

static void worker_main(int w, long calls_per_thread)
{
    g_pid = (int)raw0(SYS_getpid);
    g_pgid = (int)raw1(SYS_getpgid, 0);
    /* stdin/stdout/stderr: files of our own (never the console) */
    int in = open("stdin", O_RDONLY | O_CREAT, 0644);
    char nm[32];
    snprintf(nm, sizeof nm, "out.%d", w);
    int o = open(nm, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0); dup2(o, 1); dup2(o, 2);
    if (in > 2) close(in);
    if (o > 2) close(o);
    for (int i = 0; i < POOLN; i++) g_pool[i] = -1;
    g_bad = map_or_die(1 << 20, PROT_NONE);
    g_long1 = malloc(300); memset(g_long1, 'a', 299); g_long1[299] = 0;
    g_long2 = malloc(5000);
    for (int i = 0; i < 4999; i++) g_long2[i] = i % 2 ? '/' : 'b';
    g_long2[4999] = 0;
    g_name255 = malloc(256); memset(g_name255, 'n', 255); g_name255[255] = 0;
    static tstate_t ts[MAXT];
    stats_t *st = map_or_die(sizeof(stats_t) * g_threads, PROT_READ | PROT_WRITE);
    worker_signals();
    for (int t = 0; t < g_threads; t++) {
        ctx_t *c = &ts[t].c;
        memset(c, 0, sizeof *c);
        c->rng = g_seed * 0x2545F4914F6CDD1DULL + (uint64_t)(w + 1) * 0x9E3779B97F4A7C15ULL + (uint64_t)(t + 1) * 0xBF58476D1CE4E5B9ULL;
        for (int k = 0; k < 4; k++) rnd(c);
        c->worker = w;
        c->thread = t;
        c->quota = calls_per_thread;
        c->st = &st[t];
        c->slot = &g_slots[t];
        c->buf = map_or_die(5 * PG, PROT_READ | PROT_WRITE);
        for (long i = 0; i < (long)BUF_RW; i++) c->buf[i] = (char)rnd(c);
        mprotect(c->buf + 2 * PG, PG, PROT_NONE);
        memset(c->buf + 3 * PG, 0, PG);
        mprotect(c->buf + 3 * PG, PG, PROT_READ);
        mprotect(c->buf + 4 * PG, PG, PROT_NONE);
        char *s = map_or_die((SCRATCH_PAGES + 2) * PG, PROT_NONE);
        c->scratch = s + PG;
        mprotect(c->scratch, SCRATCH_PAGES * PG, PROT_READ | PROT_WRITE);
        c->alt = map_or_die(65536, PROT_READ | PROT_WRITE);
        c->nalt = map_or_die(65536, PROT_READ | PROT_WRITE);
        c->nstack = map_or_die(256 * 1024, PROT_READ | PROT_WRITE);
    }
    /* the kicker: a process that signals us when the watchdog asks */
    int kp[2];
    if (pipe2(kp, O_CLOEXEC) != 0) _exit(94);
    pid_t kicker = fork();
    if (kicker == 0) {
        close(kp[1]);
        char b[64];
        for (;;) {
            long n = raw3(SYS_read, kp[0], b, sizeof b);
            if (n == -EINTR) continue;
            if (n <= 0) raw1(SYS_exit_group, 0);
            raw2(SYS_kill, g_pid, SIGUSR1);
        }
    }
    close(kp[0]);
    dup2(kp[1], FD_KICK);
    close(kp[1]);
    volatile unsigned char canary[CANARY_LEN];
    for (int i = 0; i < CANARY_LEN; i++) canary[i] = 0x5a;
    g_canary = canary;
    pthread_t wd;
    pthread_create(&wd, 0, watchdog, 0);
    for (int t = 0; t < g_threads; t++) {
        if (pthread_create(&ts[t].th, 0, fuzz_thread, &ts[t].c) != 0) {
            errf("fuzz: worker %d: pthread_create failed\n", w);
            _exit(96);
        }
    }
    for (int t = 0; t < g_threads; t++) pthread_join(ts[t].th, 0);
    g_wd_stop = 1;
    pthread_join(wd, 0);
    g_canary = 0;
    raw1(SYS_close, FD_KICK);
    if (kicker > 0) raw4(SYS_wait4, kicker, 0, __WALL, 0);
    /* merge and hand the statistics to the parent */
    st[0].kicks = (uint32_t)g_wd_kicks;
    st[0].guard_faults = (uint32_t)g_guard_faults;
    for (int t = 1; t < g_threads; t++)
        for (int s = 0; s < NSLOT; s++) {
            st[0].calls[s] += st[t].calls[s];
            for (int e = 0; e < NERR; e++) st[0].err[s][e] += st[t].err[s][e];
        }
    for (int fd = 3; fd < 1024; fd++)
        if (fd != FD_ERR) raw1(SYS_close, fd);
    raw1(SYS_umask, 022);
    char path[128];
    snprintf(path, sizeof path, "%s/stats.%d", g_dir, w);
    int fd = (int)raw3(SYS_open, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    long want = sizeof(stats_t), put = 0, r = 0;
    while (fd >= 0 && put < want) {
        r = raw3(SYS_write, fd, (char *)st + put, want - put);
        if (r == -EINTR) continue;
        if (r <= 0) break;
        put += r;
    }
    if (put != want) {
        char b[200];
        int n = snprintf(b, sizeof b, "fuzz: worker %d: cannot write %s: open %d, write %ld after %ld bytes\n", w, path, fd, r, put);
        if (raw3(SYS_write, FD_ERR, b, n) < 0) raw3(SYS_write, 2, b, n);
        raw1(SYS_exit_group, fd < 0 ? 95 : 93);
    }
    raw1(SYS_close, fd);
    raw1(SYS_exit_group, 0);
}

/* ------------------------------------------------------------------ */
/* the parent */

static long memfree_kb(void)
{
    static char b[4096];
    int fd = (int)raw2(SYS_open, "/proc/meminfo", O_RDONLY);
    if (fd < 0) return -1;
    long n = raw3(SYS_read, fd, b, sizeof b - 1);
    raw1(SYS_close, fd);
    if (n <= 0) return -1;
    b[n] = 0;
    char *p = strstr(b, "MemFree:");
    return p ? strtol(p + 8, 0, 10) : -1;
}

/* rm -rf of the contents of `dir` (fd), without malloc and with bounded depth */
static void rm_contents(int dfd, int depth)
{
    char b[2048];
    for (int pass = 0; pass < 64; pass++) {
        raw3(SYS_lseek, dfd, 0, SEEK_SET);
        int removed = 0, any = 0;
        for (;;) {
            long n = raw3(SYS_getdents64, dfd, b, sizeof b);
            if (n <= 0) break;
            for (long off = 0; off < n;) {
                unsigned short reclen = *(unsigned short *)(b + off + 16);
                unsigned char type = *(unsigned char *)(b + off + 18);
                char *name = b + off + 19;
                off += reclen;
                if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
                any = 1;
                if (type == DT_DIR && depth < 32) {
                    raw3(SYS_fchmodat, dfd, name, 0755);
                    int sub = (int)raw4(SYS_openat, dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                    if (sub >= 0) {
                        rm_contents(sub, depth + 1);
                        raw1(SYS_close, sub);
                    }
                    removed |= raw3(SYS_unlinkat, dfd, name, AT_REMOVEDIR) == 0;
                } else {
                    removed |= raw3(SYS_unlinkat, dfd, name, 0) == 0;
                }
            }
        }
        if (!any || !removed) return;
    }
}

/* entries left in the directory tree (should be none after a round) */
static int leftovers(int dfd, int depth, int print)
{
    char b[1024];
    int n = 0;
    raw3(SYS_lseek, dfd, 0, SEEK_SET);
    for (;;) {
        long r = raw3(SYS_getdents64, dfd, b, sizeof b);
        if (r <= 0) break;
        for (long off = 0; off < r;) {
            unsigned short reclen = *(unsigned short *)(b + off + 16);
            char *name = b + off + 19;
            unsigned char type = *(unsigned char *)(b + off + 18);
            off += reclen;
            if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
            n++;
            if (print && n < 20) printf("fuzz: left behind: depth %d type %d %s\n", depth, type, name);
        }
    }
    return n;
}

static int read_replicas(void)
{
    static char b[8192];
    int fd = (int)raw2(SYS_open, "/proc/nr/replicas", O_RDONLY);
    if (fd < 0) {
        printf("replicas: none (not NrOS)\n");
        return 1;
    }
    long n = 0, r;
    while ((r = raw3(SYS_read, fd, b + n, sizeof b - 1 - n)) > 0) n += r;
    raw1(SYS_close, fd);
    b[n] = 0;
    char first[80] = "";
    unsigned long applied0 = 0;
    int count = 0, equal = 1;
    for (char *line = strtok(b, "\n"); line; line = strtok(0, "\n")) {
        unsigned rep, node;
        unsigned long applied;
        char hash[80];
        printf("%s\n", line);
        if (sscanf(line, "replica %u node %u applied %lu hash %79s", &rep, &node, &applied, hash) != 4) {
            equal = 0;
            continue;
        }
        if (count == 0) {
            strcpy(first, hash);
            applied0 = applied;
        } else if (strcmp(first, hash) || applied != applied0) equal = 0;
        count++;
    }
    if (count && equal) printf("replicas: %d equal\n", count);
    else printf("replicas: DIFFER\n");
    return count && equal;
}

static void *nothing(void *a) { return a; }

static void warm_up(void)
{
    /* the parent's own code paths, so that their memory exists before
     * the baseline */
    for (int i = 0; i < 3; i++) {
        pid_t p = fork();
        if (p == 0) _exit(0);
        waitpid(p, 0, 0);
        pthread_t t;
        pthread_create(&t, 0, nothing, 0);
        pthread_join(t, 0);
        int fd = open("warm", O_CREAT | O_RDWR, 0644);
        write(fd, "x", 1);
        close(fd);
        int dfd = open(".", O_RDONLY | O_DIRECTORY);
        rm_contents(dfd, 0);
        close(dfd);
        memfree_kb();
        volatile char big[256 * 1024]; /* the stack depth of rm_contents and printf */
        for (unsigned k = 0; k < sizeof big; k += 512) big[k] = (char)k;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, 0);
    }
}

/* One round: fork the workers, show progress, reap everything, merge the
 * statistics into `total` and remove every file. Returns 1 when all
 * workers exited normally. */
static int run_round(long calls, int workers, int quiet, int prog_rd, stats_t *total, stats_t *one, long *orphans_out,
                     double *elapsed_out)
{
    long per_thread = (calls + workers * g_threads - 1) / (workers * g_threads);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int pids[64], status[64], alive = 0, ok = 1;
    for (int w = 0; w < workers; w++) {
        pid_t p = fork();
        if (p == 0) {
            close(prog_rd);
            worker_main(w, per_thread);
        }
        pids[w] = p;
        status[w] = -1;
        alive += p > 0;
        if (p < 0) {
            printf("fuzz: FAILED: fork of worker %d: %s\n", w, strerror(errno));
            ok = 0;
        }
    }
    long progress = 0, shown = 0, orphans = 0;
    double last_print = 0;
    while (alive > 0) {
        struct pollfd pf = {prog_rd, POLLIN, 0};
        poll(&pf, 1, 500);
        char b[256];
        long n;
        while ((n = read(prog_rd, b, sizeof b)) > 0) progress += n;
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
            int w;
            for (w = 0; w < workers && pids[w] != p; w++)
                ;
            if (w == workers) {
                orphans++;
                continue;
            }
            status[w] = st;
            alive--;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (progress != shown && (el - last_print >= 5 || quiet)) {
            if (!quiet) printf("progress: %ld/%ld calls, %.0f s\n", progress * PROGRESS_STEP, calls, el);
            shown = progress;
            last_print = el;
        }
    }
    /* grandchildren whose parent died are ours now (subreaper / pid 1) */
    for (int i = 0; i < 3000; i++) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG | __WALL);
        if (p > 0) {
            orphans++;
            continue;
        }
        if (p < 0 && errno == ECHILD) break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, 0);
        if (i == 2999) {
            printf("fuzz: FAILED: orphaned processes still running after 30 s\n");
            ok = 0;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *elapsed_out = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    *orphans_out = orphans;
    for (int w = 0; w < workers; w++) {
        int st = status[w];
        if (pids[w] <= 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0)) continue;
        ok = 0;
        if (WIFSIGNALED(st)) printf("fuzz: FAILED: worker %d (pid %d) killed by signal %d\n", w, pids[w], WTERMSIG(st));
        else printf("fuzz: FAILED: worker %d (pid %d) exit status %d\n", w, pids[w], WEXITSTATUS(st));
    }
    for (int w = 0; w < workers; w++) {
        char path[128];
        snprintf(path, sizeof path, "%s/stats.%d", g_dir, w);
        int fd = (int)raw2(SYS_open, path, O_RDONLY);
        long got = 0, r = 0;
        while (fd >= 0 && got < (long)sizeof *one) {
            r = raw3(SYS_read, fd, (char *)one + got, sizeof *one - got);
            if (r == -EINTR) continue;
            if (r <= 0) break;
            got += r;
        }
        if (fd >= 0) raw1(SYS_close, fd);
        if (got != (long)sizeof *one) {
            if (pids[w] > 0 && WIFEXITED(status[w]) && WEXITSTATUS(status[w]) == 0) {
                printf("fuzz: FAILED: statistics of worker %d unreadable: open %d, read %ld of %zu bytes (last %ld)\n", w, fd, got,
                       sizeof *one, r);
                ok = 0;
            }
            continue;
        }
        for (int s = 0; s < NSLOT; s++) {
            total->calls[s] += one->calls[s];
            for (int e = 0; e < NERR; e++) total->err[s][e] += one->err[s][e];
        }
        total->kicks += one->kicks;
        total->guard_faults += one->guard_faults;
    }
    /* remove everything the round created */
    long m1 = quiet ? 0 : memfree_kb();
    raw1(SYS_chdir, g_dir);
    int dfd = (int)raw3(SYS_open, g_dir, O_RDONLY | O_DIRECTORY, 0);
    rm_contents(dfd, 0);
    raw1(SYS_close, dfd);
    if (!quiet) printf("fuzz: MemFree after the workers %ld kB, after removing their files %ld kB\n", m1, memfree_kb());
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: fuzz SEED CALLS WORKERS THREADS [-v] [-a BUG,BUG...] [-only NR,NR...] [-window FROM:TO]\n");
        return 2;
    }
    long win_lo = 0, win_hi = LONG_MAX;
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) g_verbose = 1;
        else if (!strcmp(argv[i], "-a") && i + 1 < argc) snprintf(g_avoid, sizeof g_avoid, "%s", argv[++i]);
        else if (!strcmp(argv[i], "-window") && i + 1 < argc) sscanf(argv[++i], "%ld:%ld", &win_lo, &win_hi);
        else if (!strcmp(argv[i], "-only") && i + 1 < argc)
            for (char *t = strtok(argv[++i], ","); t && g_nonly < 64; t = strtok(0, ",")) g_only[g_nonly++] = strtol(t, 0, 0);
    }
    g_avoid_hugelen = avoid("hugelen");
    g_avoid_tkill0 = avoid("tkill0"); /* tkill(0|-1, sig) = kill(0|-1, sig) */
    g_avoid_execbig = avoid("execbig"); /* exec reads the whole file / a Vec entry per page */
    g_avoid_madvhuge = avoid("madvhuge"); /* madvise(a, 1 << 63, DONTNEED) discards all above a */

    setvbuf(stdout, 0, _IOLBF, 0);
    g_seed = strtoull(argv[1], 0, 0);
    long calls = strtol(argv[2], 0, 0);
    g_workers = atoi(argv[3]);
    g_threads = atoi(argv[4]);
    if (g_workers < 1) g_workers = 1;
    if (g_workers > 64) g_workers = 64;
    if (g_threads < 1) g_threads = 1;
    if (g_threads > MAXT) g_threads = MAXT;
    struct utsname u;
    uname(&u);
    g_nros = strstr(u.release, "nros") != 0;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore); /* children crash on purpose */
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphaned grandchildren come back to us */
    if (dup2(2, FD_ERR) != FD_ERR) fcntl(2, F_DUPFD, FD_ERR);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) {
        dup2(in, 0);
        close(in);
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/fuzz-%d", (int)getpid());
    if (mkdir(g_dir, 0755) != 0 || chdir(g_dir) != 0) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", g_dir, strerror(errno));
        return 2;
    }
    int prog[2];
    if (pipe2(prog, O_NONBLOCK | O_CLOEXEC) != 0) {
        perror("pipe");
        return 2;
    }
    dup2(prog[1], FD_PROG);
    close(prog[1]);
    stats_t *total = mmap(0, sizeof(stats_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stats_t *one = mmap(0, sizeof(stats_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("fuzz: seed %llu calls %ld workers %d threads %d kernel %s %s%s%s\n", (unsigned long long)g_seed, calls, g_workers,
           g_threads, u.sysname, u.release, g_avoid[0] ? " avoiding " : "", g_avoid);
    /* warm-up: the parent's own code paths (a tiny round of every step),
     * so that their memory exists before the baseline */
    long orphans;
    double elapsed;
    uint64_t seed = g_seed;
    g_seed = seed ^ 0x5eed5eed5eedULL;
    for (int i = 0; i < 2; i++) {
        run_round(20 * g_threads, 1, 1, prog[0], one, one, &orphans, &elapsed);
        warm_up();
    }
    g_seed = seed;
    g_win_lo = win_lo;
    g_win_hi = win_hi;
    memset(total, 0, sizeof *total);
    memset(one, 0, sizeof *one);
    printf("fuzz: warm-up done, %.1f s\n", elapsed);
    long before = memfree_kb();
    printf("fuzz: MemFree before %ld kB\n", before);

    int ok = run_round(calls, g_workers, 0, prog[0], total, one, &orphans, &elapsed);
    int dfd = (int)raw3(SYS_open, g_dir, O_RDONLY | O_DIRECTORY, 0);
    if (leftovers(dfd, 0, 1)) printf("fuzz: files remain in %s after the cleanup\n", g_dir);
    raw1(SYS_close, dfd);

    long after = memfree_kb();
    for (int i = 0; i < 20 && after != before; i++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, 0);
        after = memfree_kb();
    }
    int mem_ok = after == before;
    if (!g_nros) printf("fuzz: MemFree before %ld kB after %ld kB (not checked: other processes share this machine)\n", before, after);
    else if (mem_ok) printf("fuzz: MemFree before %ld kB after %ld kB: ok\n", before, after);
    else printf("fuzz: MemFree before %ld kB after %ld kB: LEAK of %ld kB\n", before, after, before - after);
    if (g_nros && !mem_ok) ok = 0;
    int rep_ok = read_replicas();
    if (g_nros && !rep_ok) ok = 0;

    unsigned long long sum = 0;
    for (int s = 0; s < NSLOT; s++) sum += total->calls[s];
    printf("summary: seed %llu, %llu calls in %.1f s, %d workers x %d threads, %ld orphans reaped, %u watchdog kicks, "
           "%u guarded faults\n",
           (unsigned long long)g_seed, sum, elapsed, g_workers, g_threads, orphans, total->kicks, total->guard_faults);
    printf("summary: nr name calls ok errors(errno:count)\n");
    for (int s = 0; s < NSLOT; s++) {
        if (!total->calls[s]) continue;
        char line[2048];
        int k = snprintf(line, sizeof line, "  %3d %-22s %6u ok %6u", s,
                         s == SLOT_HIGH ? "(463..1023)" : s == SLOT_HUGE ? "(huge/negative)" : sname(s), total->calls[s],
                         total->err[s][0]);
        for (int e = 1; e < NERR && k < (int)sizeof line - 40; e++)
            if (total->err[s][e]) k += snprintf(line + k, sizeof line - k, " %s:%u", errnames[e], total->err[s][e]);
        printf("%s\n", line);
    }
    chdir("/");
    rmdir(g_dir);
    printf("fuzz done\n");
    if (!ok) printf("fuzz: FAILED (seed %llu)\n", (unsigned long long)g_seed);
    return ok ? 0 : 1;
}
