//! Linux x86-64 system-call numbers (`arch/x86/entry/syscalls/syscall_64.tbl`).
//!
//! Every number of the native 64-bit ABI from 0 to [`MAX`] that has a syscall
//! is listed: 0..=336 and 424..=462 (x86-64 never assigned 337..=423, and the
//! x32 range 512..=547 is not part of this ABI). [`name`] maps a number back to
//! its name in the kernel's table. Entries that the table lists without an
//! entry point (e.g. `create_module`, `tuxcall`) are included: Linux answers
//! them with `ENOSYS`.

/// The highest syscall number listed here.
pub const MAX: u64 = 462;

macro_rules! sysnos {
    ($($name:ident = $nr:literal, $s:literal;)*) => {
        $(#[doc = concat!("`", $s, "` (", stringify!($nr), ")")] pub const $name: u64 = $nr;)*

        /// The syscall's name as in the kernel's table, e.g. `name(0) == Some("read")`.
        pub fn name(nr: u64) -> Option<&'static str> {
            match nr {
                $($nr => Some($s),)*
                _ => None,
            }
        }

        /// All `(number, name)` pairs, in ascending order of number.
        pub const ALL: &[(u64, &str)] = &[$(($nr, $s),)*];
    };
}

sysnos! {
    READ = 0, "read";
    WRITE = 1, "write";
    OPEN = 2, "open";
    CLOSE = 3, "close";
    STAT = 4, "stat";
    FSTAT = 5, "fstat";
    LSTAT = 6, "lstat";
    POLL = 7, "poll";
    LSEEK = 8, "lseek";
    MMAP = 9, "mmap";
    MPROTECT = 10, "mprotect";
    MUNMAP = 11, "munmap";
    BRK = 12, "brk";
    RT_SIGACTION = 13, "rt_sigaction";
    RT_SIGPROCMASK = 14, "rt_sigprocmask";
    RT_SIGRETURN = 15, "rt_sigreturn";
    IOCTL = 16, "ioctl";
    PREAD64 = 17, "pread64";
    PWRITE64 = 18, "pwrite64";
    READV = 19, "readv";
    WRITEV = 20, "writev";
    ACCESS = 21, "access";
    PIPE = 22, "pipe";
    SELECT = 23, "select";
    SCHED_YIELD = 24, "sched_yield";
    MREMAP = 25, "mremap";
    MSYNC = 26, "msync";
    MINCORE = 27, "mincore";
    MADVISE = 28, "madvise";
    SHMGET = 29, "shmget";
    SHMAT = 30, "shmat";
    SHMCTL = 31, "shmctl";
    DUP = 32, "dup";
    DUP2 = 33, "dup2";
    PAUSE = 34, "pause";
    NANOSLEEP = 35, "nanosleep";
    GETITIMER = 36, "getitimer";
    ALARM = 37, "alarm";
    SETITIMER = 38, "setitimer";
    GETPID = 39, "getpid";
    SENDFILE = 40, "sendfile";
    SOCKET = 41, "socket";
    CONNECT = 42, "connect";
    ACCEPT = 43, "accept";
    SENDTO = 44, "sendto";
    RECVFROM = 45, "recvfrom";
    SENDMSG = 46, "sendmsg";
    RECVMSG = 47, "recvmsg";
    SHUTDOWN = 48, "shutdown";
    BIND = 49, "bind";
    LISTEN = 50, "listen";
    GETSOCKNAME = 51, "getsockname";
    GETPEERNAME = 52, "getpeername";
    SOCKETPAIR = 53, "socketpair";
    SETSOCKOPT = 54, "setsockopt";
    GETSOCKOPT = 55, "getsockopt";
    CLONE = 56, "clone";
    FORK = 57, "fork";
    VFORK = 58, "vfork";
    EXECVE = 59, "execve";
    EXIT = 60, "exit";
    WAIT4 = 61, "wait4";
    KILL = 62, "kill";
    UNAME = 63, "uname";
    SEMGET = 64, "semget";
    SEMOP = 65, "semop";
    SEMCTL = 66, "semctl";
    SHMDT = 67, "shmdt";
    MSGGET = 68, "msgget";
    MSGSND = 69, "msgsnd";
    MSGRCV = 70, "msgrcv";
    MSGCTL = 71, "msgctl";
    FCNTL = 72, "fcntl";
    FLOCK = 73, "flock";
    FSYNC = 74, "fsync";
    FDATASYNC = 75, "fdatasync";
    TRUNCATE = 76, "truncate";
    FTRUNCATE = 77, "ftruncate";
    GETDENTS = 78, "getdents";
    GETCWD = 79, "getcwd";
    CHDIR = 80, "chdir";
    FCHDIR = 81, "fchdir";
    RENAME = 82, "rename";
    MKDIR = 83, "mkdir";
    RMDIR = 84, "rmdir";
    CREAT = 85, "creat";
    LINK = 86, "link";
    UNLINK = 87, "unlink";
    SYMLINK = 88, "symlink";
    READLINK = 89, "readlink";
    CHMOD = 90, "chmod";
    FCHMOD = 91, "fchmod";
    CHOWN = 92, "chown";
    FCHOWN = 93, "fchown";
    LCHOWN = 94, "lchown";
    UMASK = 95, "umask";
    GETTIMEOFDAY = 96, "gettimeofday";
    GETRLIMIT = 97, "getrlimit";
    GETRUSAGE = 98, "getrusage";
    SYSINFO = 99, "sysinfo";
    TIMES = 100, "times";
    PTRACE = 101, "ptrace";
    GETUID = 102, "getuid";
    SYSLOG = 103, "syslog";
    GETGID = 104, "getgid";
    SETUID = 105, "setuid";
    SETGID = 106, "setgid";
    GETEUID = 107, "geteuid";
    GETEGID = 108, "getegid";
    SETPGID = 109, "setpgid";
    GETPPID = 110, "getppid";
    GETPGRP = 111, "getpgrp";
    SETSID = 112, "setsid";
    SETREUID = 113, "setreuid";
    SETREGID = 114, "setregid";
    GETGROUPS = 115, "getgroups";
    SETGROUPS = 116, "setgroups";
    SETRESUID = 117, "setresuid";
    GETRESUID = 118, "getresuid";
    SETRESGID = 119, "setresgid";
    GETRESGID = 120, "getresgid";
    GETPGID = 121, "getpgid";
    SETFSUID = 122, "setfsuid";
    SETFSGID = 123, "setfsgid";
    GETSID = 124, "getsid";
    CAPGET = 125, "capget";
    CAPSET = 126, "capset";
    RT_SIGPENDING = 127, "rt_sigpending";
    RT_SIGTIMEDWAIT = 128, "rt_sigtimedwait";
    RT_SIGQUEUEINFO = 129, "rt_sigqueueinfo";
    RT_SIGSUSPEND = 130, "rt_sigsuspend";
    SIGALTSTACK = 131, "sigaltstack";
    UTIME = 132, "utime";
    MKNOD = 133, "mknod";
    USELIB = 134, "uselib";
    PERSONALITY = 135, "personality";
    USTAT = 136, "ustat";
    STATFS = 137, "statfs";
    FSTATFS = 138, "fstatfs";
    SYSFS = 139, "sysfs";
    GETPRIORITY = 140, "getpriority";
    SETPRIORITY = 141, "setpriority";
    SCHED_SETPARAM = 142, "sched_setparam";
    SCHED_GETPARAM = 143, "sched_getparam";
    SCHED_SETSCHEDULER = 144, "sched_setscheduler";
    SCHED_GETSCHEDULER = 145, "sched_getscheduler";
    SCHED_GET_PRIORITY_MAX = 146, "sched_get_priority_max";
    SCHED_GET_PRIORITY_MIN = 147, "sched_get_priority_min";
    SCHED_RR_GET_INTERVAL = 148, "sched_rr_get_interval";
    MLOCK = 149, "mlock";
    MUNLOCK = 150, "munlock";
    MLOCKALL = 151, "mlockall";
    MUNLOCKALL = 152, "munlockall";
    VHANGUP = 153, "vhangup";
    MODIFY_LDT = 154, "modify_ldt";
    PIVOT_ROOT = 155, "pivot_root";
    SYSCTL = 156, "_sysctl";
    PRCTL = 157, "prctl";
    ARCH_PRCTL = 158, "arch_prctl";
    ADJTIMEX = 159, "adjtimex";
    SETRLIMIT = 160, "setrlimit";
    CHROOT = 161, "chroot";
    SYNC = 162, "sync";
    ACCT = 163, "acct";
    SETTIMEOFDAY = 164, "settimeofday";
    MOUNT = 165, "mount";
    UMOUNT2 = 166, "umount2";
    SWAPON = 167, "swapon";
    SWAPOFF = 168, "swapoff";
    REBOOT = 169, "reboot";
    SETHOSTNAME = 170, "sethostname";
    SETDOMAINNAME = 171, "setdomainname";
    IOPL = 172, "iopl";
    IOPERM = 173, "ioperm";
    CREATE_MODULE = 174, "create_module";
    INIT_MODULE = 175, "init_module";
    DELETE_MODULE = 176, "delete_module";
    GET_KERNEL_SYMS = 177, "get_kernel_syms";
    QUERY_MODULE = 178, "query_module";
    QUOTACTL = 179, "quotactl";
    NFSSERVCTL = 180, "nfsservctl";
    GETPMSG = 181, "getpmsg";
    PUTPMSG = 182, "putpmsg";
    AFS_SYSCALL = 183, "afs_syscall";
    TUXCALL = 184, "tuxcall";
    SECURITY = 185, "security";
    GETTID = 186, "gettid";
    READAHEAD = 187, "readahead";
    SETXATTR = 188, "setxattr";
    LSETXATTR = 189, "lsetxattr";
    FSETXATTR = 190, "fsetxattr";
    GETXATTR = 191, "getxattr";
    LGETXATTR = 192, "lgetxattr";
    FGETXATTR = 193, "fgetxattr";
    LISTXATTR = 194, "listxattr";
    LLISTXATTR = 195, "llistxattr";
    FLISTXATTR = 196, "flistxattr";
    REMOVEXATTR = 197, "removexattr";
    LREMOVEXATTR = 198, "lremovexattr";
    FREMOVEXATTR = 199, "fremovexattr";
    TKILL = 200, "tkill";
    TIME = 201, "time";
    FUTEX = 202, "futex";
    SCHED_SETAFFINITY = 203, "sched_setaffinity";
    SCHED_GETAFFINITY = 204, "sched_getaffinity";
    SET_THREAD_AREA = 205, "set_thread_area";
    IO_SETUP = 206, "io_setup";
    IO_DESTROY = 207, "io_destroy";
    IO_GETEVENTS = 208, "io_getevents";
    IO_SUBMIT = 209, "io_submit";
    IO_CANCEL = 210, "io_cancel";
    GET_THREAD_AREA = 211, "get_thread_area";
    LOOKUP_DCOOKIE = 212, "lookup_dcookie";
    EPOLL_CREATE = 213, "epoll_create";
    EPOLL_CTL_OLD = 214, "epoll_ctl_old";
    EPOLL_WAIT_OLD = 215, "epoll_wait_old";
    REMAP_FILE_PAGES = 216, "remap_file_pages";
    GETDENTS64 = 217, "getdents64";
    SET_TID_ADDRESS = 218, "set_tid_address";
    RESTART_SYSCALL = 219, "restart_syscall";
    SEMTIMEDOP = 220, "semtimedop";
    FADVISE64 = 221, "fadvise64";
    TIMER_CREATE = 222, "timer_create";
    TIMER_SETTIME = 223, "timer_settime";
    TIMER_GETTIME = 224, "timer_gettime";
    TIMER_GETOVERRUN = 225, "timer_getoverrun";
    TIMER_DELETE = 226, "timer_delete";
    CLOCK_SETTIME = 227, "clock_settime";
    CLOCK_GETTIME = 228, "clock_gettime";
    CLOCK_GETRES = 229, "clock_getres";
    CLOCK_NANOSLEEP = 230, "clock_nanosleep";
    EXIT_GROUP = 231, "exit_group";
    EPOLL_WAIT = 232, "epoll_wait";
    EPOLL_CTL = 233, "epoll_ctl";
    TGKILL = 234, "tgkill";
    UTIMES = 235, "utimes";
    VSERVER = 236, "vserver";
    MBIND = 237, "mbind";
    SET_MEMPOLICY = 238, "set_mempolicy";
    GET_MEMPOLICY = 239, "get_mempolicy";
    MQ_OPEN = 240, "mq_open";
    MQ_UNLINK = 241, "mq_unlink";
    MQ_TIMEDSEND = 242, "mq_timedsend";
    MQ_TIMEDRECEIVE = 243, "mq_timedreceive";
    MQ_NOTIFY = 244, "mq_notify";
    MQ_GETSETATTR = 245, "mq_getsetattr";
    KEXEC_LOAD = 246, "kexec_load";
    WAITID = 247, "waitid";
    ADD_KEY = 248, "add_key";
    REQUEST_KEY = 249, "request_key";
    KEYCTL = 250, "keyctl";
    IOPRIO_SET = 251, "ioprio_set";
    IOPRIO_GET = 252, "ioprio_get";
    INOTIFY_INIT = 253, "inotify_init";
    INOTIFY_ADD_WATCH = 254, "inotify_add_watch";
    INOTIFY_RM_WATCH = 255, "inotify_rm_watch";
    MIGRATE_PAGES = 256, "migrate_pages";
    OPENAT = 257, "openat";
    MKDIRAT = 258, "mkdirat";
    MKNODAT = 259, "mknodat";
    FCHOWNAT = 260, "fchownat";
    FUTIMESAT = 261, "futimesat";
    NEWFSTATAT = 262, "newfstatat";
    UNLINKAT = 263, "unlinkat";
    RENAMEAT = 264, "renameat";
    LINKAT = 265, "linkat";
    SYMLINKAT = 266, "symlinkat";
    READLINKAT = 267, "readlinkat";
    FCHMODAT = 268, "fchmodat";
    FACCESSAT = 269, "faccessat";
    PSELECT6 = 270, "pselect6";
    PPOLL = 271, "ppoll";
    UNSHARE = 272, "unshare";
    SET_ROBUST_LIST = 273, "set_robust_list";
    GET_ROBUST_LIST = 274, "get_robust_list";
    SPLICE = 275, "splice";
    TEE = 276, "tee";
    SYNC_FILE_RANGE = 277, "sync_file_range";
    VMSPLICE = 278, "vmsplice";
    MOVE_PAGES = 279, "move_pages";
    UTIMENSAT = 280, "utimensat";
    EPOLL_PWAIT = 281, "epoll_pwait";
    SIGNALFD = 282, "signalfd";
    TIMERFD_CREATE = 283, "timerfd_create";
    EVENTFD = 284, "eventfd";
    FALLOCATE = 285, "fallocate";
    TIMERFD_SETTIME = 286, "timerfd_settime";
    TIMERFD_GETTIME = 287, "timerfd_gettime";
    ACCEPT4 = 288, "accept4";
    SIGNALFD4 = 289, "signalfd4";
    EVENTFD2 = 290, "eventfd2";
    EPOLL_CREATE1 = 291, "epoll_create1";
    DUP3 = 292, "dup3";
    PIPE2 = 293, "pipe2";
    INOTIFY_INIT1 = 294, "inotify_init1";
    PREADV = 295, "preadv";
    PWRITEV = 296, "pwritev";
    RT_TGSIGQUEUEINFO = 297, "rt_tgsigqueueinfo";
    PERF_EVENT_OPEN = 298, "perf_event_open";
    RECVMMSG = 299, "recvmmsg";
    FANOTIFY_INIT = 300, "fanotify_init";
    FANOTIFY_MARK = 301, "fanotify_mark";
    PRLIMIT64 = 302, "prlimit64";
    NAME_TO_HANDLE_AT = 303, "name_to_handle_at";
    OPEN_BY_HANDLE_AT = 304, "open_by_handle_at";
    CLOCK_ADJTIME = 305, "clock_adjtime";
    SYNCFS = 306, "syncfs";
    SENDMMSG = 307, "sendmmsg";
    SETNS = 308, "setns";
    GETCPU = 309, "getcpu";
    PROCESS_VM_READV = 310, "process_vm_readv";
    PROCESS_VM_WRITEV = 311, "process_vm_writev";
    KCMP = 312, "kcmp";
    FINIT_MODULE = 313, "finit_module";
    SCHED_SETATTR = 314, "sched_setattr";
    SCHED_GETATTR = 315, "sched_getattr";
    RENAMEAT2 = 316, "renameat2";
    SECCOMP = 317, "seccomp";
    GETRANDOM = 318, "getrandom";
    MEMFD_CREATE = 319, "memfd_create";
    KEXEC_FILE_LOAD = 320, "kexec_file_load";
    BPF = 321, "bpf";
    EXECVEAT = 322, "execveat";
    USERFAULTFD = 323, "userfaultfd";
    MEMBARRIER = 324, "membarrier";
    MLOCK2 = 325, "mlock2";
    COPY_FILE_RANGE = 326, "copy_file_range";
    PREADV2 = 327, "preadv2";
    PWRITEV2 = 328, "pwritev2";
    PKEY_MPROTECT = 329, "pkey_mprotect";
    PKEY_ALLOC = 330, "pkey_alloc";
    PKEY_FREE = 331, "pkey_free";
    STATX = 332, "statx";
    IO_PGETEVENTS = 333, "io_pgetevents";
    RSEQ = 334, "rseq";
    URETPROBE = 335, "uretprobe";
    UPROBE = 336, "uprobe";
    PIDFD_SEND_SIGNAL = 424, "pidfd_send_signal";
    IO_URING_SETUP = 425, "io_uring_setup";
    IO_URING_ENTER = 426, "io_uring_enter";
    IO_URING_REGISTER = 427, "io_uring_register";
    OPEN_TREE = 428, "open_tree";
    MOVE_MOUNT = 429, "move_mount";
    FSOPEN = 430, "fsopen";
    FSCONFIG = 431, "fsconfig";
    FSMOUNT = 432, "fsmount";
    FSPICK = 433, "fspick";
    PIDFD_OPEN = 434, "pidfd_open";
    CLONE3 = 435, "clone3";
    CLOSE_RANGE = 436, "close_range";
    OPENAT2 = 437, "openat2";
    PIDFD_GETFD = 438, "pidfd_getfd";
    FACCESSAT2 = 439, "faccessat2";
    PROCESS_MADVISE = 440, "process_madvise";
    EPOLL_PWAIT2 = 441, "epoll_pwait2";
    MOUNT_SETATTR = 442, "mount_setattr";
    QUOTACTL_FD = 443, "quotactl_fd";
    LANDLOCK_CREATE_RULESET = 444, "landlock_create_ruleset";
    LANDLOCK_ADD_RULE = 445, "landlock_add_rule";
    LANDLOCK_RESTRICT_SELF = 446, "landlock_restrict_self";
    MEMFD_SECRET = 447, "memfd_secret";
    PROCESS_MRELEASE = 448, "process_mrelease";
    FUTEX_WAITV = 449, "futex_waitv";
    SET_MEMPOLICY_HOME_NODE = 450, "set_mempolicy_home_node";
    CACHESTAT = 451, "cachestat";
    FCHMODAT2 = 452, "fchmodat2";
    MAP_SHADOW_STACK = 453, "map_shadow_stack";
    FUTEX_WAKE = 454, "futex_wake";
    FUTEX_WAIT = 455, "futex_wait";
    FUTEX_REQUEUE = 456, "futex_requeue";
    STATMOUNT = 457, "statmount";
    LISTMOUNT = 458, "listmount";
    LSM_GET_SELF_ATTR = 459, "lsm_get_self_attr";
    LSM_SET_SELF_ATTR = 460, "lsm_set_self_attr";
    LSM_LIST_MODULES = 461, "lsm_list_modules";
    MSEAL = 462, "mseal";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_numbers() {
        let known: &[(u64, &str)] = &[
            (0, "read"),
            (1, "write"),
            (2, "open"),
            (3, "close"),
            (4, "stat"),
            (5, "fstat"),
            (6, "lstat"),
            (7, "poll"),
            (8, "lseek"),
            (9, "mmap"),
            (10, "mprotect"),
            (11, "munmap"),
            (12, "brk"),
            (13, "rt_sigaction"),
            (16, "ioctl"),
            (17, "pread64"),
            (20, "writev"),
            (21, "access"),
            (22, "pipe"),
            (24, "sched_yield"),
            (28, "madvise"),
            (32, "dup"),
            (33, "dup2"),
            (35, "nanosleep"),
            (39, "getpid"),
            (56, "clone"),
            (57, "fork"),
            (58, "vfork"),
            (59, "execve"),
            (60, "exit"),
            (61, "wait4"),
            (62, "kill"),
            (63, "uname"),
            (72, "fcntl"),
            (77, "ftruncate"),
            (78, "getdents"),
            (79, "getcwd"),
            (80, "chdir"),
            (81, "fchdir"),
            (82, "rename"),
            (83, "mkdir"),
            (84, "rmdir"),
            (86, "link"),
            (87, "unlink"),
            (88, "symlink"),
            (89, "readlink"),
            (95, "umask"),
            (96, "gettimeofday"),
            (97, "getrlimit"),
            (99, "sysinfo"),
            (102, "getuid"),
            (104, "getgid"),
            (107, "geteuid"),
            (108, "getegid"),
            (110, "getppid"),
            (158, "arch_prctl"),
            (186, "gettid"),
            (201, "time"),
            (202, "futex"),
            (217, "getdents64"),
            (218, "set_tid_address"),
            (228, "clock_gettime"),
            (229, "clock_getres"),
            (230, "clock_nanosleep"),
            (231, "exit_group"),
            (257, "openat"),
            (258, "mkdirat"),
            (262, "newfstatat"),
            (263, "unlinkat"),
            (264, "renameat"),
            (269, "faccessat"),
            (273, "set_robust_list"),
            (292, "dup3"),
            (293, "pipe2"),
            (302, "prlimit64"),
            (318, "getrandom"),
            (332, "statx"),
            (334, "rseq"),
            (435, "clone3"),
            (439, "faccessat2"),
            (451, "cachestat"),
            (462, "mseal"),
        ];
        for &(nr, n) in known {
            assert_eq!(name(nr), Some(n), "{nr}");
        }
        assert_eq!(
            (READ, WRITE, OPENAT, EXIT_GROUP, FACCESSAT2, MSEAL),
            (0, 1, 257, 231, 439, 462)
        );
        assert_eq!(name(MAX), Some("mseal"));
        assert_eq!(name(337), None);
        assert_eq!(name(423), None);
        assert_eq!(name(463), None);
        assert_eq!(name(u64::MAX), None);
    }

    #[test]
    fn table_is_complete_and_sorted() {
        assert!(ALL.windows(2).all(|w| w[0].0 < w[1].0));
        // 0..=336 and 424..=462, nothing else.
        let expect = (0..=336u64).chain(424..=462);
        assert!(ALL.iter().map(|p| p.0).eq(expect));
        for &(nr, n) in ALL {
            assert_eq!(name(nr), Some(n));
        }
    }
}
