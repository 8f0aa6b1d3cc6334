//! Flag bits, command numbers and small enumerations of the Linux x86-64 ABI.
//!
//! Values are those of the kernel's UAPI headers for x86-64. Types follow the
//! C declarations: bit sets and commands passed as `int`/`unsigned` are `u32`,
//! file-descriptor-like values and ids that may be negative are `i32`.

// ---------------------------------------------------------------- open(2)

/// Open for reading only.
pub const O_RDONLY: u32 = 0;
/// Open for writing only.
pub const O_WRONLY: u32 = 0o1;
/// Open for reading and writing.
pub const O_RDWR: u32 = 0o2;
/// Mask of the access mode.
pub const O_ACCMODE: u32 = 0o3;
/// Create the file if it does not exist.
pub const O_CREAT: u32 = 0o100;
/// With `O_CREAT`: fail if the file exists.
pub const O_EXCL: u32 = 0o200;
/// Do not make the terminal the controlling terminal.
pub const O_NOCTTY: u32 = 0o400;
/// Truncate a regular file to length 0.
pub const O_TRUNC: u32 = 0o1000;
/// Every write appends.
pub const O_APPEND: u32 = 0o2000;
/// Non-blocking I/O.
pub const O_NONBLOCK: u32 = 0o4000;
/// Same as `O_NONBLOCK`.
pub const O_NDELAY: u32 = O_NONBLOCK;
/// Synchronized data integrity writes.
pub const O_DSYNC: u32 = 0o10000;
/// Signal-driven I/O (`FASYNC`).
pub const O_ASYNC: u32 = 0o20000;
/// Direct I/O.
pub const O_DIRECT: u32 = 0o40000;
/// Large file (always set on 64-bit).
pub const O_LARGEFILE: u32 = 0o100000;
/// Fail unless the path is a directory.
pub const O_DIRECTORY: u32 = 0o200000;
/// Do not follow a final symbolic link.
pub const O_NOFOLLOW: u32 = 0o400000;
/// Do not update the access time.
pub const O_NOATIME: u32 = 0o1000000;
/// Close on exec.
pub const O_CLOEXEC: u32 = 0o2000000;
/// Synchronized file integrity writes (`__O_SYNC | O_DSYNC`).
pub const O_SYNC: u32 = 0o4010000;
/// A path-only descriptor.
pub const O_PATH: u32 = 0o10000000;
/// An unnamed temporary file (`__O_TMPFILE | O_DIRECTORY`).
pub const O_TMPFILE: u32 = 0o20200000;

// ---------------------------------------------------------------- *at(2)

/// The "current working directory" pseudo descriptor.
pub const AT_FDCWD: i32 = -100;
/// Do not follow a final symbolic link.
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
/// `faccessat`: check with the effective ids.
pub const AT_EACCESS: u32 = 0x200;
/// `unlinkat`: remove a directory.
pub const AT_REMOVEDIR: u32 = 0x200;
/// `linkat`: follow a final symbolic link.
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
/// Do not automount the final component.
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
/// An empty path means the descriptor itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `statx`: mask of the sync type bits.
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;
/// `statx`: do what `stat` does.
pub const AT_STATX_SYNC_AS_STAT: u32 = 0;
/// `statx`: force a sync with the server.
pub const AT_STATX_FORCE_SYNC: u32 = 0x2000;
/// `statx`: do not sync.
pub const AT_STATX_DONT_SYNC: u32 = 0x4000;
/// Apply to the whole subtree.
pub const AT_RECURSIVE: u32 = 0x8000;

/// `renameat2`: fail if the target exists.
pub const RENAME_NOREPLACE: u32 = 1;
/// `renameat2`: exchange source and target.
pub const RENAME_EXCHANGE: u32 = 2;
/// `renameat2`: leave a whiteout.
pub const RENAME_WHITEOUT: u32 = 4;

// ---------------------------------------------------------------- access(2)

/// Test for existence.
pub const F_OK: u32 = 0;
/// Test for execute permission.
pub const X_OK: u32 = 1;
/// Test for write permission.
pub const W_OK: u32 = 2;
/// Test for read permission.
pub const R_OK: u32 = 4;

// ---------------------------------------------------------------- file modes

/// Mask of the file type bits of a mode.
pub const S_IFMT: u32 = 0o170000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;
/// Set-user-id bit.
pub const S_ISUID: u32 = 0o4000;
/// Set-group-id bit.
pub const S_ISGID: u32 = 0o2000;
/// Sticky bit.
pub const S_ISVTX: u32 = 0o1000;

/// `d_type`: unknown.
pub const DT_UNKNOWN: u8 = 0;
/// `d_type`: FIFO.
pub const DT_FIFO: u8 = 1;
/// `d_type`: character device.
pub const DT_CHR: u8 = 2;
/// `d_type`: directory.
pub const DT_DIR: u8 = 4;
/// `d_type`: block device.
pub const DT_BLK: u8 = 6;
/// `d_type`: regular file.
pub const DT_REG: u8 = 8;
/// `d_type`: symbolic link.
pub const DT_LNK: u8 = 10;
/// `d_type`: socket.
pub const DT_SOCK: u8 = 12;
/// `d_type`: whiteout.
pub const DT_WHT: u8 = 14;

/// The `d_type` for a mode (`S_IFMT` bits >> 12), as Linux computes it.
pub const fn dt_from_mode(mode: u32) -> u8 {
    ((mode & S_IFMT) >> 12) as u8
}

// ---------------------------------------------------------------- mmap(2)

/// Pages may not be accessed.
pub const PROT_NONE: u32 = 0;
/// Pages may be read.
pub const PROT_READ: u32 = 1;
/// Pages may be written.
pub const PROT_WRITE: u32 = 2;
/// Pages may be executed.
pub const PROT_EXEC: u32 = 4;
/// `mprotect`: extend the change down to the start of a grows-down mapping.
pub const PROT_GROWSDOWN: u32 = 0x0100_0000;
/// `mprotect`: extend the change up to the end of a grows-up mapping.
pub const PROT_GROWSUP: u32 = 0x0200_0000;

/// Share changes.
pub const MAP_SHARED: u32 = 0x01;
/// Changes are private (copy on write).
pub const MAP_PRIVATE: u32 = 0x02;
/// Share changes and validate the flags.
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
/// Mask of the mapping type.
pub const MAP_TYPE: u32 = 0x0f;
/// Place the mapping exactly at the address, replacing what is there.
pub const MAP_FIXED: u32 = 0x10;
/// Not backed by a file.
pub const MAP_ANONYMOUS: u32 = 0x20;
/// Same as `MAP_ANONYMOUS`.
pub const MAP_ANON: u32 = MAP_ANONYMOUS;
/// Map into the low 2 GiB.
pub const MAP_32BIT: u32 = 0x40;
/// Stack-like segment growing down.
pub const MAP_GROWSDOWN: u32 = 0x0100;
/// Ignored.
pub const MAP_DENYWRITE: u32 = 0x0800;
/// Ignored.
pub const MAP_EXECUTABLE: u32 = 0x1000;
/// Lock the pages.
pub const MAP_LOCKED: u32 = 0x2000;
/// Do not reserve swap space.
pub const MAP_NORESERVE: u32 = 0x4000;
/// Populate (prefault) the page tables.
pub const MAP_POPULATE: u32 = 0x8000;
/// With `MAP_POPULATE`: do not block on I/O.
pub const MAP_NONBLOCK: u32 = 0x1_0000;
/// Suitable for a stack (no effect on Linux).
pub const MAP_STACK: u32 = 0x2_0000;
/// Huge pages.
pub const MAP_HUGETLB: u32 = 0x4_0000;
/// Synchronous page faults (DAX).
pub const MAP_SYNC: u32 = 0x8_0000;
/// Like `MAP_FIXED` but fail with `EEXIST` instead of replacing.
pub const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;

/// `mremap`: the mapping may move.
pub const MREMAP_MAYMOVE: u32 = 1;
/// `mremap`: move to the given address.
pub const MREMAP_FIXED: u32 = 2;
/// `mremap`: keep the old mapping.
pub const MREMAP_DONTUNMAP: u32 = 4;

/// `msync`: schedule the write.
pub const MS_ASYNC: u32 = 1;
/// `msync`: invalidate other mappings.
pub const MS_INVALIDATE: u32 = 2;
/// `msync`: write and wait.
pub const MS_SYNC: u32 = 4;

/// `madvise`: no special treatment.
pub const MADV_NORMAL: u32 = 0;
/// `madvise`: random access expected.
pub const MADV_RANDOM: u32 = 1;
/// `madvise`: sequential access expected.
pub const MADV_SEQUENTIAL: u32 = 2;
/// `madvise`: will need these pages.
pub const MADV_WILLNEED: u32 = 3;
/// `madvise`: drop the pages (private anonymous pages read back as zero).
pub const MADV_DONTNEED: u32 = 4;
/// `madvise`: the pages may be freed lazily.
pub const MADV_FREE: u32 = 8;

// ---------------------------------------------------------------- fcntl(2)

/// Duplicate a descriptor to the lowest free one ≥ arg.
pub const F_DUPFD: u32 = 0;
/// Get the descriptor flags.
pub const F_GETFD: u32 = 1;
/// Set the descriptor flags.
pub const F_SETFD: u32 = 2;
/// Get the file status flags.
pub const F_GETFL: u32 = 3;
/// Set the file status flags.
pub const F_SETFL: u32 = 4;
/// Test a record lock.
pub const F_GETLK: u32 = 5;
/// Set a record lock.
pub const F_SETLK: u32 = 6;
/// Set a record lock, waiting.
pub const F_SETLKW: u32 = 7;
/// Set the owner for `SIGIO`.
pub const F_SETOWN: u32 = 8;
/// Get the owner for `SIGIO`.
pub const F_GETOWN: u32 = 9;
/// Set the signal sent for I/O.
pub const F_SETSIG: u32 = 10;
/// Get the signal sent for I/O.
pub const F_GETSIG: u32 = 11;
/// Set the owner (extended).
pub const F_SETOWN_EX: u32 = 15;
/// Get the owner (extended).
pub const F_GETOWN_EX: u32 = 16;
/// Test an open-file-description lock.
pub const F_OFD_GETLK: u32 = 36;
/// Set an open-file-description lock.
pub const F_OFD_SETLK: u32 = 37;
/// Set an open-file-description lock, waiting.
pub const F_OFD_SETLKW: u32 = 38;
/// Like `F_DUPFD` and set close-on-exec.
pub const F_DUPFD_CLOEXEC: u32 = 1030;
/// Set the pipe's capacity.
pub const F_SETPIPE_SZ: u32 = 1031;
/// Get the pipe's capacity.
pub const F_GETPIPE_SZ: u32 = 1032;
/// Add seals.
pub const F_ADD_SEALS: u32 = 1033;
/// Get seals.
pub const F_GET_SEALS: u32 = 1034;
/// Descriptor flag: close on exec.
pub const FD_CLOEXEC: u32 = 1;
/// Lock type: shared.
pub const F_RDLCK: u32 = 0;
/// Lock type: exclusive.
pub const F_WRLCK: u32 = 1;
/// Lock type: unlock.
pub const F_UNLCK: u32 = 2;

// ---------------------------------------------------------------- lseek(2)

/// Absolute offset.
pub const SEEK_SET: u32 = 0;
/// Relative to the current offset.
pub const SEEK_CUR: u32 = 1;
/// Relative to the end.
pub const SEEK_END: u32 = 2;
/// Next data at or after the offset.
pub const SEEK_DATA: u32 = 3;
/// Next hole at or after the offset.
pub const SEEK_HOLE: u32 = 4;

// ---------------------------------------------------------------- clocks

/// Wall-clock time.
pub const CLOCK_REALTIME: i32 = 0;
/// Monotonic time since boot, not counting suspend.
pub const CLOCK_MONOTONIC: i32 = 1;
/// CPU time of the process.
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
/// CPU time of the thread.
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
/// Monotonic time without NTP adjustment.
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
/// Coarse wall-clock time.
pub const CLOCK_REALTIME_COARSE: i32 = 5;
/// Coarse monotonic time.
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
/// Monotonic time including suspend.
pub const CLOCK_BOOTTIME: i32 = 7;
/// Wall-clock alarm.
pub const CLOCK_REALTIME_ALARM: i32 = 8;
/// Boot-time alarm.
pub const CLOCK_BOOTTIME_ALARM: i32 = 9;
/// International atomic time.
pub const CLOCK_TAI: i32 = 11;
/// `clock_nanosleep`/timers: the time is absolute.
pub const TIMER_ABSTIME: u32 = 1;

// ---------------------------------------------------------------- ioctl(2)

/// Get the terminal attributes (`struct termios`).
pub const TCGETS: u32 = 0x5401;
/// Set the terminal attributes now.
pub const TCSETS: u32 = 0x5402;
/// Set the terminal attributes after draining output.
pub const TCSETSW: u32 = 0x5403;
/// Set the terminal attributes after draining output, flushing input.
pub const TCSETSF: u32 = 0x5404;
/// Send a break / drain (`tcdrain`).
pub const TCSBRK: u32 = 0x5409;
/// Flow control.
pub const TCXONC: u32 = 0x540A;
/// Flush queues.
pub const TCFLSH: u32 = 0x540B;
/// Make the terminal the controlling terminal.
pub const TIOCSCTTY: u32 = 0x540E;
/// Get the foreground process group.
pub const TIOCGPGRP: u32 = 0x540F;
/// Set the foreground process group.
pub const TIOCSPGRP: u32 = 0x5410;
/// Bytes in the output queue.
pub const TIOCOUTQ: u32 = 0x5411;
/// Fake input.
pub const TIOCSTI: u32 = 0x5412;
/// Get the window size.
pub const TIOCGWINSZ: u32 = 0x5413;
/// Set the window size.
pub const TIOCSWINSZ: u32 = 0x5414;
/// Bytes readable (`TIOCINQ`).
pub const FIONREAD: u32 = 0x541B;
/// Same as `FIONREAD`.
pub const TIOCINQ: u32 = FIONREAD;
/// Set or clear non-blocking I/O.
pub const FIONBIO: u32 = 0x5421;
/// Give up the controlling terminal.
pub const TIOCNOTTY: u32 = 0x5422;
/// Get the session id of the terminal.
pub const TIOCGSID: u32 = 0x5429;
/// Clear close-on-exec.
pub const FIONCLEX: u32 = 0x5450;
/// Set close-on-exec.
pub const FIOCLEX: u32 = 0x5451;
/// Set or clear async I/O.
pub const FIOASYNC: u32 = 0x5452;

/// `tcsetattr`: change now.
pub const TCSANOW: u32 = 0;
/// `tcsetattr`: change after draining output.
pub const TCSADRAIN: u32 = 1;
/// `tcsetattr`: change after draining output and flushing input.
pub const TCSAFLUSH: u32 = 2;
/// `TCFLSH`: flush input.
pub const TCIFLUSH: u32 = 0;
/// `TCFLSH`: flush output.
pub const TCOFLUSH: u32 = 1;
/// `TCFLSH`: flush both.
pub const TCIOFLUSH: u32 = 2;

// ---------------------------------------------------------------- termios

/// Number of control characters in the kernel's `struct termios`.
pub const NCCS: usize = 19;

/// `c_iflag`: ignore break.
pub const IGNBRK: u32 = 0o1;
/// `c_iflag`: break sends `SIGINT`.
pub const BRKINT: u32 = 0o2;
/// `c_iflag`: ignore parity errors.
pub const IGNPAR: u32 = 0o4;
/// `c_iflag`: mark parity errors.
pub const PARMRK: u32 = 0o10;
/// `c_iflag`: input parity check.
pub const INPCK: u32 = 0o20;
/// `c_iflag`: strip the eighth bit.
pub const ISTRIP: u32 = 0o40;
/// `c_iflag`: NL to CR on input.
pub const INLCR: u32 = 0o100;
/// `c_iflag`: ignore CR.
pub const IGNCR: u32 = 0o200;
/// `c_iflag`: CR to NL on input.
pub const ICRNL: u32 = 0o400;
/// `c_iflag`: upper to lower case.
pub const IUCLC: u32 = 0o1000;
/// `c_iflag`: XON/XOFF output flow control.
pub const IXON: u32 = 0o2000;
/// `c_iflag`: any character restarts output.
pub const IXANY: u32 = 0o4000;
/// `c_iflag`: XON/XOFF input flow control.
pub const IXOFF: u32 = 0o10000;
/// `c_iflag`: ring the bell when the input queue is full.
pub const IMAXBEL: u32 = 0o20000;
/// `c_iflag`: input is UTF-8.
pub const IUTF8: u32 = 0o40000;

/// `c_oflag`: post-process output.
pub const OPOST: u32 = 0o1;
/// `c_oflag`: lower to upper case.
pub const OLCUC: u32 = 0o2;
/// `c_oflag`: NL to CR-NL on output.
pub const ONLCR: u32 = 0o4;
/// `c_oflag`: CR to NL on output.
pub const OCRNL: u32 = 0o10;
/// `c_oflag`: no CR at column 0.
pub const ONOCR: u32 = 0o20;
/// `c_oflag`: NL performs CR.
pub const ONLRET: u32 = 0o40;

/// `c_cflag`: baud rate mask.
pub const CBAUD: u32 = 0o10017;
/// `c_cflag`: 38400 baud.
pub const B38400: u32 = 0o17;
/// `c_cflag`: character size mask.
pub const CSIZE: u32 = 0o60;
/// `c_cflag`: 8-bit characters.
pub const CS8: u32 = 0o60;
/// `c_cflag`: two stop bits.
pub const CSTOPB: u32 = 0o100;
/// `c_cflag`: enable the receiver.
pub const CREAD: u32 = 0o200;
/// `c_cflag`: parity.
pub const PARENB: u32 = 0o400;
/// `c_cflag`: hang up on last close.
pub const HUPCL: u32 = 0o2000;
/// `c_cflag`: ignore modem lines.
pub const CLOCAL: u32 = 0o4000;

/// `c_lflag`: generate signals for INTR, QUIT, SUSP.
pub const ISIG: u32 = 0o1;
/// `c_lflag`: canonical (line) mode.
pub const ICANON: u32 = 0o2;
/// `c_lflag`: echo input.
pub const ECHO: u32 = 0o10;
/// `c_lflag`: ERASE erases the previous character visually.
pub const ECHOE: u32 = 0o20;
/// `c_lflag`: KILL erases the line.
pub const ECHOK: u32 = 0o40;
/// `c_lflag`: echo NL even without `ECHO`.
pub const ECHONL: u32 = 0o100;
/// `c_lflag`: no flush after interrupt.
pub const NOFLSH: u32 = 0o200;
/// `c_lflag`: `SIGTTOU` for background output.
pub const TOSTOP: u32 = 0o400;
/// `c_lflag`: echo control characters as `^X`.
pub const ECHOCTL: u32 = 0o1000;
/// `c_lflag`: echo erased characters.
pub const ECHOPRT: u32 = 0o2000;
/// `c_lflag`: KILL erases each character of the line.
pub const ECHOKE: u32 = 0o4000;
/// `c_lflag`: implementation-defined input processing.
pub const IEXTEN: u32 = 0o100000;

/// `c_cc` index: interrupt character (^C).
pub const VINTR: usize = 0;
/// `c_cc` index: quit character (^\).
pub const VQUIT: usize = 1;
/// `c_cc` index: erase character (DEL).
pub const VERASE: usize = 2;
/// `c_cc` index: kill-line character (^U).
pub const VKILL: usize = 3;
/// `c_cc` index: end-of-file character (^D).
pub const VEOF: usize = 4;
/// `c_cc` index: non-canonical read timeout (deciseconds).
pub const VTIME: usize = 5;
/// `c_cc` index: non-canonical read minimum.
pub const VMIN: usize = 6;
/// `c_cc` index: switch character.
pub const VSWTC: usize = 7;
/// `c_cc` index: start character (^Q).
pub const VSTART: usize = 8;
/// `c_cc` index: stop character (^S).
pub const VSTOP: usize = 9;
/// `c_cc` index: suspend character (^Z).
pub const VSUSP: usize = 10;
/// `c_cc` index: end-of-line character.
pub const VEOL: usize = 11;
/// `c_cc` index: reprint character (^R).
pub const VREPRINT: usize = 12;
/// `c_cc` index: discard character (^O).
pub const VDISCARD: usize = 13;
/// `c_cc` index: word-erase character (^W).
pub const VWERASE: usize = 14;
/// `c_cc` index: literal-next character (^V).
pub const VLNEXT: usize = 15;
/// `c_cc` index: second end-of-line character.
pub const VEOL2: usize = 16;

// ---------------------------------------------------------------- arch_prctl(2)

/// Set the GS base.
pub const ARCH_SET_GS: u32 = 0x1001;
/// Set the FS base.
pub const ARCH_SET_FS: u32 = 0x1002;
/// Get the FS base.
pub const ARCH_GET_FS: u32 = 0x1003;
/// Get the GS base.
pub const ARCH_GET_GS: u32 = 0x1004;
/// Get whether `cpuid` is enabled.
pub const ARCH_GET_CPUID: u32 = 0x1011;
/// Enable or disable `cpuid`.
pub const ARCH_SET_CPUID: u32 = 0x1012;

// ---------------------------------------------------------------- signals

/// Hangup.
pub const SIGHUP: i32 = 1;
/// Interrupt (^C).
pub const SIGINT: i32 = 2;
/// Quit (^\).
pub const SIGQUIT: i32 = 3;
/// Illegal instruction.
pub const SIGILL: i32 = 4;
/// Trace trap.
pub const SIGTRAP: i32 = 5;
/// Abort.
pub const SIGABRT: i32 = 6;
/// Same as `SIGABRT`.
pub const SIGIOT: i32 = 6;
/// Bus error.
pub const SIGBUS: i32 = 7;
/// Arithmetic exception.
pub const SIGFPE: i32 = 8;
/// Kill (cannot be caught).
pub const SIGKILL: i32 = 9;
/// User signal 1.
pub const SIGUSR1: i32 = 10;
/// Segmentation fault.
pub const SIGSEGV: i32 = 11;
/// User signal 2.
pub const SIGUSR2: i32 = 12;
/// Broken pipe.
pub const SIGPIPE: i32 = 13;
/// Alarm clock.
pub const SIGALRM: i32 = 14;
/// Termination.
pub const SIGTERM: i32 = 15;
/// Coprocessor stack fault.
pub const SIGSTKFLT: i32 = 16;
/// Child stopped or exited.
pub const SIGCHLD: i32 = 17;
/// Continue.
pub const SIGCONT: i32 = 18;
/// Stop (cannot be caught).
pub const SIGSTOP: i32 = 19;
/// Terminal stop (^Z).
pub const SIGTSTP: i32 = 20;
/// Background read from the terminal.
pub const SIGTTIN: i32 = 21;
/// Background write to the terminal.
pub const SIGTTOU: i32 = 22;
/// Urgent socket data.
pub const SIGURG: i32 = 23;
/// CPU time limit exceeded.
pub const SIGXCPU: i32 = 24;
/// File size limit exceeded.
pub const SIGXFSZ: i32 = 25;
/// Virtual timer.
pub const SIGVTALRM: i32 = 26;
/// Profiling timer.
pub const SIGPROF: i32 = 27;
/// Window size change.
pub const SIGWINCH: i32 = 28;
/// I/O possible.
pub const SIGIO: i32 = 29;
/// Same as `SIGIO`.
pub const SIGPOLL: i32 = SIGIO;
/// Power failure.
pub const SIGPWR: i32 = 30;
/// Bad system call.
pub const SIGSYS: i32 = 31;
/// First real-time signal (as the kernel numbers them).
pub const SIGRTMIN: i32 = 32;
/// Last real-time signal.
pub const SIGRTMAX: i32 = 64;
/// Number of signals + 1 (signals are 1..=64); a signal set is 64 bits.
pub const NSIG: i32 = 65;

/// Default action.
pub const SIG_DFL: u64 = 0;
/// Ignore the signal.
pub const SIG_IGN: u64 = 1;
/// `rt_sigprocmask`: add to the mask.
pub const SIG_BLOCK: u32 = 0;
/// `rt_sigprocmask`: remove from the mask.
pub const SIG_UNBLOCK: u32 = 1;
/// `rt_sigprocmask`: replace the mask.
pub const SIG_SETMASK: u32 = 2;
/// `sa_flags`: no `SIGCHLD` when children stop.
pub const SA_NOCLDSTOP: u64 = 0x1;
/// `sa_flags`: do not make zombies.
pub const SA_NOCLDWAIT: u64 = 0x2;
/// `sa_flags`: three-argument handler.
pub const SA_SIGINFO: u64 = 0x4;
/// `sa_flags`: `sa_restorer` is valid (required on x86-64).
pub const SA_RESTORER: u64 = 0x0400_0000;
/// `sa_flags`: run on the alternate stack.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// `sa_flags`: restart interrupted system calls.
pub const SA_RESTART: u64 = 0x1000_0000;
/// `sa_flags`: do not block the signal in its handler.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// `sa_flags`: reset to the default action on delivery.
pub const SA_RESETHAND: u64 = 0x8000_0000;

// ---------------------------------------------------------------- wait

/// Return at once if no child has exited.
pub const WNOHANG: u32 = 1;
/// Report stopped children.
pub const WUNTRACED: u32 = 2;
/// `waitid`: report stopped children.
pub const WSTOPPED: u32 = 2;
/// `waitid`: report exited children.
pub const WEXITED: u32 = 4;
/// Report continued children.
pub const WCONTINUED: u32 = 8;
/// `waitid`: leave the child waitable.
pub const WNOWAIT: u32 = 0x0100_0000;
/// Wait for any child, whatever its exit signal.
pub const WALL: u32 = 0x4000_0000;
/// Wait for "clone" children only.
pub const WCLONE: u32 = 0x8000_0000;
/// `waitid` id type: any child.
pub const P_ALL: u32 = 0;
/// `waitid` id type: by pid.
pub const P_PID: u32 = 1;
/// `waitid` id type: by process group.
pub const P_PGID: u32 = 2;
/// `waitid` id type: by pidfd.
pub const P_PIDFD: u32 = 3;

// ---------------------------------------------------------------- clone(2)

/// Mask of the exit signal in the clone flags.
pub const CSIGNAL: u64 = 0xff;
/// Share the address space.
pub const CLONE_VM: u64 = 0x100;
/// Share cwd, root and umask.
pub const CLONE_FS: u64 = 0x200;
/// Share the descriptor table.
pub const CLONE_FILES: u64 = 0x400;
/// Share the signal handlers.
pub const CLONE_SIGHAND: u64 = 0x800;
/// Return a pidfd.
pub const CLONE_PIDFD: u64 = 0x1000;
/// Continue tracing.
pub const CLONE_PTRACE: u64 = 0x2000;
/// The parent sleeps until the child execs or exits.
pub const CLONE_VFORK: u64 = 0x4000;
/// The new task's parent is the caller's parent.
pub const CLONE_PARENT: u64 = 0x8000;
/// Same thread group.
pub const CLONE_THREAD: u64 = 0x1_0000;
/// New mount namespace.
pub const CLONE_NEWNS: u64 = 0x2_0000;
/// Share System V semaphore undo lists.
pub const CLONE_SYSVSEM: u64 = 0x4_0000;
/// Set the TLS (FS base) of the child.
pub const CLONE_SETTLS: u64 = 0x8_0000;
/// Store the child's tid at `parent_tid`.
pub const CLONE_PARENT_SETTID: u64 = 0x10_0000;
/// Clear (and futex-wake) `child_tid` when the child exits.
pub const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
/// Ignored.
pub const CLONE_DETACHED: u64 = 0x40_0000;
/// Tracing cannot be forced on the child.
pub const CLONE_UNTRACED: u64 = 0x80_0000;
/// Store the child's tid at `child_tid` in the child.
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
/// New cgroup namespace.
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
/// New UTS namespace.
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
/// New IPC namespace.
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
/// New user namespace.
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
/// New pid namespace.
pub const CLONE_NEWPID: u64 = 0x2000_0000;
/// New network namespace.
pub const CLONE_NEWNET: u64 = 0x4000_0000;
/// Share the I/O context.
pub const CLONE_IO: u64 = 0x8000_0000;

// ---------------------------------------------------------------- futex(2)

/// Wait while `*uaddr == val`.
pub const FUTEX_WAIT: u32 = 0;
/// Wake up to `val` waiters.
pub const FUTEX_WAKE: u32 = 1;
/// Requeue waiters.
pub const FUTEX_REQUEUE: u32 = 3;
/// Requeue waiters if `*uaddr == val3`.
pub const FUTEX_CMP_REQUEUE: u32 = 4;
/// Wake and operate.
pub const FUTEX_WAKE_OP: u32 = 5;
/// Wait with a bit set (absolute timeout).
pub const FUTEX_WAIT_BITSET: u32 = 9;
/// Wake with a bit set.
pub const FUTEX_WAKE_BITSET: u32 = 10;
/// The futex is private to the process.
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
/// The timeout is against `CLOCK_REALTIME`.
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
/// Mask of the command.
pub const FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
/// Bit set matching any waiter.
pub const FUTEX_BITSET_MATCH_ANY: u32 = 0xffff_ffff;

// ---------------------------------------------------------------- poll(2)

/// Data to read.
pub const POLLIN: u16 = 0x001;
/// Urgent data to read.
pub const POLLPRI: u16 = 0x002;
/// Writing will not block.
pub const POLLOUT: u16 = 0x004;
/// Error.
pub const POLLERR: u16 = 0x008;
/// Hung up.
pub const POLLHUP: u16 = 0x010;
/// Invalid descriptor.
pub const POLLNVAL: u16 = 0x020;
/// Normal data to read.
pub const POLLRDNORM: u16 = 0x040;
/// Priority band data to read.
pub const POLLRDBAND: u16 = 0x080;
/// Normal data may be written.
pub const POLLWRNORM: u16 = 0x100;
/// Priority data may be written.
pub const POLLWRBAND: u16 = 0x200;
/// Peer closed its writing half.
pub const POLLRDHUP: u16 = 0x2000;

// ---------------------------------------------------------------- resource limits

/// CPU time in seconds.
pub const RLIMIT_CPU: u32 = 0;
/// Maximum file size.
pub const RLIMIT_FSIZE: u32 = 1;
/// Maximum data segment size.
pub const RLIMIT_DATA: u32 = 2;
/// Maximum stack size.
pub const RLIMIT_STACK: u32 = 3;
/// Maximum core file size.
pub const RLIMIT_CORE: u32 = 4;
/// Maximum resident set size.
pub const RLIMIT_RSS: u32 = 5;
/// Maximum number of processes.
pub const RLIMIT_NPROC: u32 = 6;
/// Maximum number of open files.
pub const RLIMIT_NOFILE: u32 = 7;
/// Maximum locked memory.
pub const RLIMIT_MEMLOCK: u32 = 8;
/// Maximum address space size.
pub const RLIMIT_AS: u32 = 9;
/// Maximum number of file locks.
pub const RLIMIT_LOCKS: u32 = 10;
/// Maximum number of pending signals.
pub const RLIMIT_SIGPENDING: u32 = 11;
/// Maximum bytes in POSIX message queues.
pub const RLIMIT_MSGQUEUE: u32 = 12;
/// Nice ceiling.
pub const RLIMIT_NICE: u32 = 13;
/// Real-time priority ceiling.
pub const RLIMIT_RTPRIO: u32 = 14;
/// Real-time CPU time in microseconds.
pub const RLIMIT_RTTIME: u32 = 15;
/// Number of resource limits.
pub const RLIM_NLIMITS: u32 = 16;
/// No limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

// ---------------------------------------------------------------- getrandom(2)

/// Do not block.
pub const GRND_NONBLOCK: u32 = 1;
/// Use the blocking pool.
pub const GRND_RANDOM: u32 = 2;
/// Return possibly non-cryptographic bytes without blocking.
pub const GRND_INSECURE: u32 = 4;

// ---------------------------------------------------------------- statx(2)

/// Want `stx_mode & S_IFMT`.
pub const STATX_TYPE: u32 = 0x0001;
/// Want `stx_mode & !S_IFMT`.
pub const STATX_MODE: u32 = 0x0002;
/// Want `stx_nlink`.
pub const STATX_NLINK: u32 = 0x0004;
/// Want `stx_uid`.
pub const STATX_UID: u32 = 0x0008;
/// Want `stx_gid`.
pub const STATX_GID: u32 = 0x0010;
/// Want `stx_atime`.
pub const STATX_ATIME: u32 = 0x0020;
/// Want `stx_mtime`.
pub const STATX_MTIME: u32 = 0x0040;
/// Want `stx_ctime`.
pub const STATX_CTIME: u32 = 0x0080;
/// Want `stx_ino`.
pub const STATX_INO: u32 = 0x0100;
/// Want `stx_size`.
pub const STATX_SIZE: u32 = 0x0200;
/// Want `stx_blocks`.
pub const STATX_BLOCKS: u32 = 0x0400;
/// All of the above: what `stat` returns.
pub const STATX_BASIC_STATS: u32 = 0x07ff;
/// Want `stx_btime`.
pub const STATX_BTIME: u32 = 0x0800;
/// Want `stx_mnt_id`.
pub const STATX_MNT_ID: u32 = 0x1000;
/// Want the direct I/O alignment fields.
pub const STATX_DIOALIGN: u32 = 0x2000;
/// Deprecated: basic stats and btime.
pub const STATX_ALL: u32 = 0x0fff;

// ---------------------------------------------------------------- prctl(2)

/// Set the parent-death signal.
pub const PR_SET_PDEATHSIG: u32 = 1;
/// Get the parent-death signal.
pub const PR_GET_PDEATHSIG: u32 = 2;
/// Set the thread's name (16 bytes).
pub const PR_SET_NAME: u32 = 15;
/// Get the thread's name (16 bytes).
pub const PR_GET_NAME: u32 = 16;
