//! The Linux x86-64 system-call layer: decode arguments, copy user memory,
//! turn each call into replicated-state operations (or device work), and
//! encode the result as the value or `-errno` in `rax`.

use crate::arch::paging::PAGE_SIZE;
use crate::process::{self, release, tlb_shootdown, Next, Thread};
use crate::sched::{self, WaitKey};
use crate::{console, rng, state, time, uaccess};
use abi::errno::{Errno, KResult};
use abi::flags::*;
use abi::structs;
use abi::sysno as nr;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use kstate::{dev, FileObj, FileType, ReadOp, ReadPlan, Resp, VmaKind, WriteOp};

/// Log every system call (`strace` on the kernel command line).
pub static TRACE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// System calls already reported as unknown (one bit per number < 512).
static REPORTED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

fn enosys(n: u64) -> KResult<u64> {
    let (w, b) = ((n / 64) as usize, n % 64);
    let first = match REPORTED.get(w) {
        Some(a) => a.fetch_or(1 << b, Ordering::Relaxed) & (1 << b) == 0,
        None => true,
    };
    if first {
        log::warn!(
            "unimplemented system call {} ({}): ENOSYS",
            n,
            nr::name(n).unwrap_or("unknown")
        );
    }
    Err(Errno::ENOSYS)
}

fn ok_unit(r: KResult<Resp>) -> KResult<u64> {
    r.map(|_| 0)
}

fn val(r: KResult<Resp>) -> KResult<u64> {
    match r? {
        Resp::Val(v) => Ok(v),
        Resp::Fd(fd) => Ok(fd as u64),
        Resp::Pid(p) => Ok(u64::from(p)),
        _ => Ok(0),
    }
}

/// Handle the system call in `t.ctx` and store its result.
pub fn dispatch(t: &mut Thread) -> Next {
    let c = &t.ctx;
    let (n, a) = (c.rax, [c.rdi, c.rsi, c.rdx, c.r10, c.r8, c.r9]);
    if n == nr::EXIT {
        return process::exit_thread(t, process::exit_status(a[0] as i32));
    }
    if n == nr::EXIT_GROUP {
        let status = process::exit_status(a[0] as i32);
        return if process::exit_process(t, status) {
            Next::Exited(status)
        } else {
            Next::Gone
        };
    }
    if n == nr::EXECVE || n == nr::EXECVEAT {
        return sys_execve(t, n, a);
    }
    if n == nr::RT_SIGRETURN {
        if crate::signal::sigreturn(t).is_err() {
            return if process::exit_process(t, SIGSEGV) {
                Next::Exited(SIGSEGV)
            } else {
                Next::Gone
            };
        }
        return Next::Resume;
    }
    let result = match heap_guard(n) {
        Ok(()) => call(t, n, a),
        Err(e) => Err(e),
    };
    if TRACE.load(Ordering::Relaxed) {
        let shown = match &result {
            Ok(v) => alloc::format!("{v:#x}"),
            Err(e) => alloc::format!("-{}", e.name()),
        };
        log::info!(
            "pid {} {}({:#x}, {:#x}, {:#x}, {:#x}) = {}",
            t.pid,
            nr::name(n).unwrap_or("?"),
            a[0],
            a[1],
            a[2],
            a[3],
            shown
        );
    }
    let r = match result {
        Ok(v) => v,
        Err(Errno(BLOCK)) => match t.wait.take() {
            Some((key, seq)) => return Next::Block(key, seq),
            None => return Next::Yield,
        },
        Err(Errno(SLEEP)) => return Next::Sleep(t.sleep_deadline.unwrap_or(0)),
        Err(Errno(YIELD)) => {
            t.ctx.rax = 0;
            return Next::Yield;
        }
        Err(e) => (-(e.0 as i64)) as u64,
    };
    t.ctx.rax = r;
    Next::Resume
}

fn sys_execve(t: &mut Thread, n: u64, a: [u64; 6]) -> Next {
    let pid = t.pid;
    let args = (|| -> KResult<(Vec<u8>, Vec<Vec<u8>>, Vec<Vec<u8>>)> {
        let (dirfd, p, argv, envp, flags) = if n == nr::EXECVEAT {
            (a[0] as i32, a[1], a[2], a[3], a[4] as u32)
        } else {
            (AT_FDCWD, a[0], a[1], a[2], 0)
        };
        if flags != 0 || dirfd != AT_FDCWD {
            // execveat with a directory descriptor or flags: not supported.
            return Err(Errno::EINVAL);
        }
        Ok((
            uaccess::read_path(pid, p)?,
            uaccess::read_str_array(pid, argv)?,
            uaccess::read_str_array(pid, envp)?,
        ))
    })();
    let (path, argv, envp) = match args {
        Ok(x) => x,
        Err(e) => {
            t.ctx.rax = (-(e.0 as i64)) as u64;
            return Next::Resume;
        }
    };
    match process::exec(pid, &path, &argv, &envp) {
        Ok(ctx) => {
            t.ctx = ctx;
            t.root = 0;
            // Caught signals revert to the default action; ignored stay so.
            // exec gives the process a table of its own (other threads
            // are gone in a single-threaded exec).
            t.sigactions = t.sigactions.copy();
            t.sigactions.reset_for_exec();
            Next::Resume
        }
        Err(e) if !e.fatal => {
            t.ctx.rax = (-(e.errno.0 as i64)) as u64;
            Next::Resume
        }
        Err(e) => {
            log::info!(
                "pid {pid}: execve failed after the old image was gone ({}): killed",
                e.errno.name()
            );
            let status = SIGSEGV;
            if process::exit_process(t, status) {
                Next::Exited(status)
            } else {
                Next::Gone
            }
        }
    }
}

/// Internal result: wait for `t.wait`, then restart the call.
const BLOCK: i32 = -1;
/// Internal result: sleep until `t.sleep_deadline`, then restart the call.
const SLEEP: i32 = -2;
/// Internal result: let other threads run, then return 0... (restarted).
const YIELD: i32 = -3;

/// Arrange for the thread to wait for `key` (sequence `seq` read before
/// the check that failed).
/// A signal the (new) mask lets through may already be pending, sent while
/// it was blocked: then `pause`/`sigsuspend` must not sleep; the park
/// bounces and the signal is acted on before the call re-runs.
fn unless_pending(t: &mut Thread) {
    if let Ok(Resp::Val(p)) = state::execute(ReadOp::Pending {
        pid: t.pid,
        tid: t.tid,
    }) {
        if p & !t.sigmask != 0 {
            sched::bounce_next_park(t.pid);
        }
    }
}

fn block(t: &mut Thread, key: WaitKey, seq: u64) -> Errno {
    t.wait = Some((key, seq));
    Errno(BLOCK)
}

/// An empty path names nothing (`ENOENT`) where no `AT_EMPTY_PATH` applies.
fn nonempty(p: Vec<u8>) -> KResult<Vec<u8>> {
    if p.is_empty() {
        Err(Errno::ENOENT)
    } else {
        Ok(p)
    }
}

fn path(t: &Thread, va: u64) -> KResult<Vec<u8>> {
    uaccess::read_path(t.pid, va)
}

fn fd_arg(v: u64) -> i32 {
    v as i32
}

fn call(t: &mut Thread, n: u64, a: [u64; 6]) -> KResult<u64> {
    let pid = t.pid;
    match n {
        nr::READ => sys_read(t, fd_arg(a[0]), a[1], a[2]),
        nr::WRITE => sys_write(t, fd_arg(a[0]), a[1], a[2]),
        nr::READV => sys_readv(t, fd_arg(a[0]), a[1], a[2]),
        nr::WRITEV => sys_writev(t, fd_arg(a[0]), a[1], a[2]),
        nr::PREAD64 => sys_pread(t, fd_arg(a[0]), a[1], a[2], a[3] as i64),
        nr::PWRITE64 => sys_pwrite(t, fd_arg(a[0]), a[1], a[2], a[3] as i64),
        nr::OPEN => sys_openat(t, AT_FDCWD, a[0], a[1] as u32, a[2] as u32),
        nr::CREAT => sys_openat(t, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1] as u32),
        nr::OPENAT => sys_openat(t, fd_arg(a[0]), a[1], a[2] as u32, a[3] as u32),
        nr::CLOSE => {
            let r = ok_unit(state::execute_mut(WriteOp::Close {
                pid,
                fd: fd_arg(a[0]),
            }));
            sched::wake_pipes();
            r
        }
        nr::LSEEK => val(state::execute_mut(WriteOp::Seek {
            pid,
            fd: fd_arg(a[0]),
            offset: a[1] as i64,
            whence: a[2] as u32,
        })),
        nr::STAT => sys_fstatat(t, AT_FDCWD, a[0], a[1], 0),
        nr::LSTAT => sys_fstatat(t, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW),
        nr::FSTAT => {
            let st = stat_of(state::execute(ReadOp::Fstat {
                pid,
                fd: fd_arg(a[0]),
            }))?;
            uaccess::write(pid, a[1], &to_stat(&st).to_bytes()).map(|_| 0)
        }
        nr::NEWFSTATAT => sys_fstatat(t, fd_arg(a[0]), a[1], a[2], a[3] as u32),
        nr::STATX => sys_statx(t, fd_arg(a[0]), a[1], a[2] as u32, a[4]),
        nr::ACCESS => sys_faccessat(t, AT_FDCWD, a[0], a[1] as u32, 0),
        nr::FACCESSAT => sys_faccessat(t, fd_arg(a[0]), a[1], a[2] as u32, 0),
        nr::FACCESSAT2 => sys_faccessat(t, fd_arg(a[0]), a[1], a[2] as u32, a[3] as u32),
        nr::GETDENTS64 => sys_getdents64(t, fd_arg(a[0]), a[1], a[2]),
        nr::MKDIR => sys_mkdirat(t, AT_FDCWD, a[0], a[1] as u32),
        nr::MKDIRAT => sys_mkdirat(t, fd_arg(a[0]), a[1], a[2] as u32),
        nr::RMDIR => sys_unlinkat(t, AT_FDCWD, a[0], AT_REMOVEDIR),
        nr::UNLINK => sys_unlinkat(t, AT_FDCWD, a[0], 0),
        nr::UNLINKAT => sys_unlinkat(t, fd_arg(a[0]), a[1], a[2] as u32),
        nr::RENAME => sys_renameat(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0),
        nr::RENAMEAT => sys_renameat(t, fd_arg(a[0]), a[1], fd_arg(a[2]), a[3], 0),
        nr::RENAMEAT2 => sys_renameat(t, fd_arg(a[0]), a[1], fd_arg(a[2]), a[3], a[4] as u32),
        nr::LINK => sys_linkat(t, AT_FDCWD, a[0], AT_FDCWD, a[1]),
        nr::LINKAT => sys_linkat(t, fd_arg(a[0]), a[1], fd_arg(a[2]), a[3]),
        nr::SYMLINK => sys_symlinkat(t, a[0], AT_FDCWD, a[1]),
        nr::SYMLINKAT => sys_symlinkat(t, a[0], fd_arg(a[1]), a[2]),
        nr::READLINK => sys_readlinkat(t, AT_FDCWD, a[0], a[1], a[2]),
        nr::READLINKAT => sys_readlinkat(t, fd_arg(a[0]), a[1], a[2], a[3]),
        nr::TRUNCATE => {
            let p = path(t, a[0])?;
            ok_unit(state::execute_mut(WriteOp::Truncate {
                pid,
                dirfd: AT_FDCWD,
                path: p,
                len: a[1],
                now: time::now(),
            }))
        }
        nr::FTRUNCATE => ok_unit(state::execute_mut(WriteOp::Ftruncate {
            pid,
            fd: fd_arg(a[0]),
            len: a[1],
            now: time::now(),
        })),
        nr::CHMOD => {
            let p = nonempty(path(t, a[0])?)?;
            ok_unit(state::execute_mut(WriteOp::Chmod {
                pid,
                dirfd: AT_FDCWD,
                path: p,
                mode: a[1] as u32,
                now: time::now(),
            }))
        }
        nr::FCHMODAT => {
            let p = nonempty(path(t, a[1])?)?;
            ok_unit(state::execute_mut(WriteOp::Chmod {
                pid,
                dirfd: fd_arg(a[0]),
                path: p,
                mode: a[2] as u32,
                now: time::now(),
            }))
        }
        nr::FCHMOD => ok_unit(state::execute_mut(WriteOp::Chmod {
            pid,
            dirfd: fd_arg(a[0]),
            path: Vec::new(),
            mode: a[1] as u32,
            now: time::now(),
        })),
        nr::UTIMENSAT => sys_utimensat(t, fd_arg(a[0]), a[1], a[2], a[3] as u32),
        nr::GETCWD => sys_getcwd(t, a[0], a[1]),
        nr::CHDIR => {
            let p = path(t, a[0])?;
            ok_unit(state::execute_mut(WriteOp::Chdir {
                pid,
                dirfd: AT_FDCWD,
                path: p,
            }))
        }
        nr::FCHDIR => ok_unit(state::execute_mut(WriteOp::Fchdir {
            pid,
            fd: fd_arg(a[0]),
        })),
        nr::DUP => val(state::execute_mut(WriteOp::Dup {
            pid,
            fd: fd_arg(a[0]),
            min: 0,
            cloexec: false,
        })),
        nr::DUP2 => {
            let r = val(state::execute_mut(WriteOp::Dup2 {
                pid,
                old: fd_arg(a[0]),
                new: fd_arg(a[1]),
                cloexec: false,
            }));
            sched::wake_pipes();
            r
        }
        nr::DUP3 => {
            let flags = a[2] as u32;
            if fd_arg(a[0]) == fd_arg(a[1]) || flags & !O_CLOEXEC != 0 {
                return Err(Errno::EINVAL);
            }
            let r = val(state::execute_mut(WriteOp::Dup2 {
                pid,
                old: fd_arg(a[0]),
                new: fd_arg(a[1]),
                cloexec: flags != 0,
            }));
            sched::wake_pipes();
            r
        }
        nr::FCNTL => sys_fcntl(t, fd_arg(a[0]), a[1] as u32, a[2]),
        nr::IOCTL => sys_ioctl(t, fd_arg(a[0]), a[1] as u32, a[2]),
        nr::BRK => {
            let r = state::execute_mut(WriteOp::Brk { pid, addr: a[0] });
            flush_then_release(pid, r)
        }
        nr::MMAP => sys_mmap(t, a[0], a[1], a[2] as u32, a[3] as u32, fd_arg(a[4]), a[5]),
        nr::MUNMAP => {
            if a[0] % PAGE_SIZE != 0 || a[1] == 0 {
                return Err(Errno::EINVAL);
            }
            flush_then_release(
                pid,
                state::execute_mut(WriteOp::Munmap {
                    pid,
                    start: a[0],
                    len: a[1],
                }),
            )
        }
        nr::MPROTECT => {
            if a[0] % PAGE_SIZE != 0 || a[2] as u32 & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
                return Err(Errno::EINVAL);
            }
            let r = ok_unit(state::execute_mut(WriteOp::Mprotect {
                pid,
                start: a[0],
                len: a[1],
                prot: a[2] as u32,
            }));
            tlb_shootdown(pid);
            r
        }
        nr::MADVISE => sys_madvise(t, a[0], a[1], a[2] as u32),
        nr::ARCH_PRCTL => sys_arch_prctl(t, a[0] as u32, a[1]),
        nr::SET_TID_ADDRESS => {
            t.clear_child_tid = a[0];
            Ok(u64::from(pid))
        }
        nr::SET_ROBUST_LIST => {
            if a[1] != 24 {
                return Err(Errno::EINVAL);
            }
            t.robust_list = a[0];
            Ok(0)
        }
        nr::RT_SIGACTION => sys_rt_sigaction(t, a[0] as i32, a[1], a[2], a[3]),
        nr::RT_SIGPROCMASK => sys_rt_sigprocmask(t, a[0] as u32, a[1], a[2], a[3]),
        nr::PRLIMIT64 => sys_prlimit(t, a[0] as u32, a[1] as u32, a[2], a[3]),
        nr::GETRLIMIT => sys_prlimit(t, 0, a[0] as u32, 0, a[1]),
        nr::UNAME => {
            let u = structs::Utsname::new(
                b"Linux",
                b"nros",
                b"6.1.0-nros",
                b"#1 SMP NrOS in Rust",
                b"x86_64",
                b"(none)",
            );
            uaccess::write(pid, a[0], &u.to_bytes()).map(|_| 0)
        }
        nr::SYSINFO => sys_sysinfo(t, a[0]),
        nr::GETPID => Ok(u64::from(pid)),
        nr::GETTID => Ok(u64::from(t.tid)),
        nr::FUTEX => sys_futex(t, a[0], a[1] as u32, a[2] as u32, a[3], a[4], a[5] as u32),
        nr::SCHED_GETAFFINITY => sys_sched_getaffinity(t, a[0] as i32, a[1] as usize, a[2]),
        nr::SCHED_SETAFFINITY => sys_sched_setaffinity(t, a[0] as i32, a[1] as usize, a[2]),
        nr::GETCPU => {
            let core = crate::arch::percpu::current().core_id() as u32;
            if a[0] != 0 {
                uaccess::write(pid, a[0], &core.to_le_bytes())?;
            }
            if a[1] != 0 {
                let node = crate::arch::percpu::current().numa_node() as u32;
                uaccess::write(pid, a[1], &node.to_le_bytes())?;
            }
            Ok(0)
        }
        nr::GETPPID => {
            let epoch = process::reparent_epoch();
            match t.ppid_cache {
                Some((e, ppid)) if e == epoch => Ok(u64::from(ppid)),
                _ => {
                    let ppid = proc_info(pid)?.ppid;
                    t.ppid_cache = Some((epoch, ppid));
                    Ok(u64::from(ppid))
                }
            }
        }
        nr::GETPGRP => proc_info(pid).map(|p| u64::from(p.pgid)),
        nr::GETPGID => {
            let target = if a[0] == 0 { pid } else { a[0] as u32 };
            proc_info(target).map(|p| u64::from(p.pgid))
        }
        nr::GETSID => {
            let target = if a[0] == 0 { pid } else { a[0] as u32 };
            proc_info(target).map(|p| u64::from(p.sid))
        }
        nr::GETUID | nr::GETEUID | nr::GETGID | nr::GETEGID => Ok(0),
        nr::UMASK => val(state::execute_mut(WriteOp::Umask {
            pid,
            mask: a[0] as u32,
        })),
        nr::CLOCK_GETTIME => {
            let ns = clock_ns(a[0] as i32)?;
            uaccess::write(pid, a[1], &structs::Timespec::from_nanos(ns).to_bytes()).map(|_| 0)
        }
        nr::CLOCK_GETRES => {
            clock_ns(a[0] as i32)?;
            if a[1] != 0 {
                uaccess::write(
                    pid,
                    a[1],
                    &structs::Timespec {
                        tv_sec: 0,
                        tv_nsec: 1,
                    }
                    .to_bytes(),
                )?;
            }
            Ok(0)
        }
        nr::GETTIMEOFDAY => {
            if a[0] != 0 {
                uaccess::write(
                    pid,
                    a[0],
                    &structs::Timeval::from_nanos(time::realtime_ns()).to_bytes(),
                )?;
            }
            if a[1] != 0 {
                uaccess::write(pid, a[1], &[0u8; 8])?;
            }
            Ok(0)
        }
        nr::TIME => {
            let s = time::realtime_ns() / 1_000_000_000;
            if a[0] != 0 {
                uaccess::write_u64(pid, a[0], s)?;
            }
            Ok(s)
        }
        nr::NANOSLEEP => sys_nanosleep(t, 1, 0, a[0], a[1]),
        nr::CLOCK_NANOSLEEP => sys_nanosleep(t, a[0] as i32, a[1] as u32, a[2], a[3]),
        nr::SCHED_YIELD => Err(Errno(YIELD)),
        nr::FORK | nr::VFORK => process::fork(t, 0, None).map(u64::from),
        nr::SIGALTSTACK => crate::signal::sigaltstack(t, a[0], a[1]),
        nr::PAUSE => {
            let seq = sched::seq(WaitKey::Pause(pid));
            unless_pending(t);
            Err(block(t, WaitKey::Pause(pid), seq))
        }
        nr::RT_SIGSUSPEND => {
            if a[1] != 8 {
                return Err(Errno::EINVAL);
            }
            if t.saved_mask.is_none() {
                let m = uaccess::read_u64(pid, a[0])?;
                t.saved_mask = Some(t.sigmask);
                t.sigmask = kstate::decode::sigprocmask(2, 0, m)?;
            }
            let seq = sched::seq(WaitKey::Pause(pid));
            unless_pending(t);
            Err(block(t, WaitKey::Pause(pid), seq))
        }
        nr::CLONE => {
            // clone(flags, stack, parent_tid, child_tid, tls)
            let flags = a[0];
            let thread = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
            if flags & thread == thread {
                let known = 0xff
                    | CLONE_VM
                    | CLONE_FS
                    | CLONE_FILES
                    | CLONE_SIGHAND
                    | CLONE_THREAD
                    | CLONE_SYSVSEM
                    | CLONE_SETTLS
                    | CLONE_PARENT_SETTID
                    | CLONE_CHILD_SETTID
                    | CLONE_CHILD_CLEARTID
                    | CLONE_DETACHED;
                if flags & !known != 0
                    || flags & (CLONE_FS | CLONE_FILES) != (CLONE_FS | CLONE_FILES)
                {
                    return Err(Errno::EINVAL);
                }
                return process::clone_thread(t, flags, a[1], a[2], a[3], a[4]).map(u64::from);
            }
            // The process form: fork semantics (the exit signal in the low
            // byte is SIGCHLD in practice). CLONE_VM|CLONE_VFORK (how libc's
            // posix_spawn starts a child on its own stack) is served by a
            // copy too: the child runs on the given stack until it execs,
            // and the parent need not wait since nothing is shared.
            let supported = 0xff
                | CLONE_CHILD_SETTID
                | CLONE_CHILD_CLEARTID
                | CLONE_VFORK
                | CLONE_VM
                | CLONE_PARENT_SETTID;
            if flags & !supported != 0 || (flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0) {
                return Err(Errno::EINVAL);
            }
            let child_tid = (flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID) != 0).then_some((
                a[3],
                flags & CLONE_CHILD_SETTID != 0,
                flags & CLONE_CHILD_CLEARTID != 0,
            ));
            let child = process::fork(t, a[1], child_tid)?;
            if flags & CLONE_PARENT_SETTID != 0 {
                // Linux ignores a failed store: the child exists either way.
                let _ = uaccess::write(pid, a[2], &child.to_le_bytes());
            }
            Ok(u64::from(child))
        }
        nr::WAIT4 => sys_wait4(t, a[0] as i32, a[1], a[2] as u32),
        // The file system lives in memory: there is nothing to write back.
        nr::FSYNC | nr::FDATASYNC | nr::SYNCFS => fd_info(pid, fd_arg(a[0])).map(|_| 0),
        nr::SYNC => Ok(0),
        nr::FADVISE64 => {
            let i = fd_info(pid, fd_arg(a[0]))?;
            if matches!(i.obj, FileObj::Pipe { .. }) {
                return Err(Errno::ESPIPE);
            }
            if a[3] > 5 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        nr::WAITID => sys_waitid(t, a[0] as u32, a[1] as u32, a[2], a[3] as u32),
        nr::SENDFILE => sys_sendfile(t, fd_arg(a[0]), fd_arg(a[1]), a[2], a[3]),
        nr::SELECT => {
            t.sleep_deadline = None;
            let deadline = match t.poll_deadline {
                Some(d) => d,
                None if a[4] == 0 => None,
                None => {
                    let tv = uaccess::read(pid, a[4], 16)?;
                    let s = i64::from_le_bytes(tv[..8].try_into().map_err(|_| Errno::EFAULT)?);
                    let us = i64::from_le_bytes(tv[8..].try_into().map_err(|_| Errno::EFAULT)?);
                    if s < 0 || !(0..1_000_000).contains(&us) {
                        return Err(Errno::EINVAL);
                    }
                    Some(time::monotonic_ns() + s as u64 * 1_000_000_000 + us as u64 * 1000)
                }
            };
            sys_select(t, a[0], a[1], a[2], a[3], deadline)
        }
        nr::PSELECT6 => {
            t.sleep_deadline = None;
            let deadline = match t.poll_deadline {
                Some(d) => d,
                None if a[4] == 0 => None,
                None => {
                    let raw = uaccess::read(pid, a[4], 16)?;
                    let ts = structs::Timespec::from_slice(&raw).ok_or(Errno::EFAULT)?;
                    if !ts.is_valid() {
                        return Err(Errno::EINVAL);
                    }
                    Some(time::monotonic_ns().saturating_add(ts.to_nanos().ok_or(Errno::EINVAL)?))
                }
            };
            sys_select(t, a[0], a[1], a[2], a[3], deadline)
        }
        nr::PIPE => sys_pipe2(t, a[0], 0),
        nr::PIPE2 => sys_pipe2(t, a[0], a[1] as u32),
        nr::KILL => sys_kill(t, a[0] as i32, a[1] as i32),
        nr::TKILL => sys_tgkill(t, None, a[0] as i32, a[1] as i32),
        nr::TGKILL => sys_tgkill(t, Some(a[0] as i32), a[1] as i32, a[2] as i32),
        nr::SETPGID => ok_unit(state::execute_mut(WriteOp::Setpgid {
            pid,
            target: a[0] as u32,
            pgid: a[1] as u32,
        })),
        nr::SETSID => val(state::execute_mut(WriteOp::Setsid { pid })),
        nr::PRCTL => sys_prctl(t, a[0] as u32, a[1]),
        nr::POLL => {
            t.sleep_deadline = None;
            let timeout = a[2] as i32;
            let deadline = match t.poll_deadline {
                Some(d) => d,
                None => (timeout >= 0).then(|| time::monotonic_ns() + timeout as u64 * 1_000_000),
            };
            sys_poll(t, a[0], a[1], deadline)
        }
        nr::PPOLL => {
            t.sleep_deadline = None;
            let deadline = if let Some(d) = t.poll_deadline {
                d
            } else if a[2] == 0 {
                None
            } else {
                let raw = uaccess::read(pid, a[2], 16)?;
                let ts = structs::Timespec::from_slice(&raw).ok_or(Errno::EFAULT)?;
                if !ts.is_valid() {
                    return Err(Errno::EINVAL);
                }
                Some(time::monotonic_ns().saturating_add(ts.to_nanos().ok_or(Errno::EINVAL)?))
            };
            sys_poll(t, a[0], a[1], deadline)
        }
        nr::GETRANDOM => {
            if a[2] as u32 & !(GRND_NONBLOCK | GRND_RANDOM | 4) != 0 {
                return Err(Errno::EINVAL);
            }
            // Linux returns at most 32 MiB - 1 per call; fill and copy in
            // pieces so a bad buffer fails before much work.
            let len = a[1].min((1 << 25) - 1);
            chunked(len, |at, n| {
                let mut buf = alloc::vec![0u8; n as usize];
                rng::fill(&mut buf);
                uaccess::write(pid, a[0] + at, &buf).map(|_| n)
            })
        }
        // Restartable sequences are optional for libc (glibc falls back
        // when the kernel lacks them): ENOSYS without a warning.
        nr::RSEQ => Err(Errno::ENOSYS),
        _ => enosys(n),
    }
}

fn proc_info(pid: u32) -> KResult<kstate::ProcInfo> {
    match state::execute(ReadOp::Proc { pid })? {
        Resp::Proc(p) if p.exit_status.is_none() => Ok(p),
        _ => Err(Errno::ESRCH),
    }
}

/// Flush this core's TLB (the only core that runs the address space in this
/// issue), then free the frames an operation released.
fn flush_then_release(pid: u32, r: KResult<Resp>) -> KResult<u64> {
    if matches!(r, Ok(Resp::Frames(ref f)) | Ok(Resp::Mapped(_, ref f)) if f.unmapped > 0) {
        tlb_shootdown(pid);
    }
    val(release(r))
}

fn fd_info(pid: u32, fd: i32) -> KResult<kstate::FdInfo> {
    match state::execute(ReadOp::FdInfo { pid, fd })? {
        Resp::FdInfo(i) => Ok(i),
        _ => Err(Errno::EBADF),
    }
}

fn is_console(i: &kstate::FdInfo) -> bool {
    i.kind == Some(FileType::CharDevice) && (i.rdev == dev::CONSOLE || i.rdev == dev::TTY)
}

/// The replicated state lives in the kernel heaps: when they run low,
/// system calls that make it grow fail (with the errno Linux uses for that
/// call when memory is short) instead of letting the kernel run out.
fn heap_guard(n: u64) -> KResult<()> {
    let grows_fs = matches!(
        n,
        nr::OPEN
            | nr::OPENAT
            | nr::CREAT
            | nr::MKDIR
            | nr::MKDIRAT
            | nr::MKNOD
            | nr::MKNODAT
            | nr::SYMLINK
            | nr::SYMLINKAT
            | nr::LINK
            | nr::LINKAT
            | nr::RENAME
            | nr::RENAMEAT
            | nr::RENAMEAT2
    );
    let grows_tasks = matches!(n, nr::FORK | nr::VFORK | nr::CLONE);
    let grows_other = matches!(
        n,
        nr::PIPE
            | nr::PIPE2
            | nr::MMAP
            | nr::MPROTECT
            | nr::MUNMAP
            | nr::BRK
            | nr::DUP
            | nr::DUP2
            | nr::DUP3
    );
    if !(grows_fs || grows_tasks || grows_other) || room_for(0).is_ok() {
        return Ok(());
    }
    log::warn!("kernel heap low: {} fails", nr::name(n).unwrap_or("?"));
    Err(if grows_fs {
        Errno::ENOSPC
    } else if grows_tasks {
        Errno::EAGAIN
    } else {
        Errno::ENOMEM
    })
}

/// Enough heap left to store `bytes` more file data in every replica?
fn room_for(bytes: usize) -> KResult<()> {
    // A copy per replica, plus the one the operation carries through the
    // log (kept until its log entry is reused), plus a reserve.
    let need = bytes
        .saturating_mul(state::replicas() + 1)
        .saturating_add(16 << 20);
    let free: usize = (0..crate::topology().nodes.len())
        .map(|n| {
            let (used, size) = crate::arch::heap::node_usage(n);
            size.saturating_sub(used)
        })
        .sum();
    if free < need {
        Err(Errno::ENOSPC)
    } else {
        Ok(())
    }
}

fn device_write(i: &kstate::FdInfo, data: &[u8]) -> KResult<u64> {
    match i.rdev {
        dev::CONSOLE | dev::TTY => console::write(data),
        dev::NULL | dev::ZERO | dev::URANDOM | dev::RANDOM => {}
        _ => return Err(Errno::ENXIO),
    }
    Ok(data.len() as u64)
}

fn write_bytes(t: &mut Thread, fd: i32, data: Vec<u8>) -> KResult<u64> {
    let pid = t.pid;
    let i = fd_info(pid, fd)?;
    if i.flags & O_ACCMODE == O_RDONLY || i.flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if let FileObj::Pipe { id, .. } = i.obj {
        if data.is_empty() {
            return Ok(0);
        }
        let seq = sched::seq(WaitKey::Pipe(id));
        if room_for(data.len()).is_err() {
            // Under memory pressure a pipe holds no more: like a full one.
            return if i.flags & O_NONBLOCK != 0 {
                Err(Errno::EAGAIN)
            } else {
                Err(block(t, WaitKey::Pipe(id), seq))
            };
        }
        return match state::execute_mut(WriteOp::Write {
            pid,
            fd,
            data: Arc::from(data),
            now: time::now(),
        }) {
            Ok(Resp::Val(n)) => {
                sched::wake(WaitKey::Pipe(id));
                Ok(n)
            }
            Err(Errno::EAGAIN) if i.flags & O_NONBLOCK == 0 => {
                Err(block(t, WaitKey::Pipe(id), seq))
            }
            Err(Errno::EPIPE) => {
                let _ = state::execute_mut(WriteOp::Signal {
                    pid,
                    target: pid as i32,
                    sig: SIGPIPE as u32,
                });
                sched::signal_hint(pid);
                Err(Errno::EPIPE)
            }
            Err(e) => Err(e),
            Ok(_) => Err(Errno::EIO),
        };
    }
    if i.kind == Some(FileType::CharDevice) {
        return device_write(&i, &data);
    }
    if data.is_empty() {
        return Ok(0);
    }
    room_for(data.len())?;
    val(state::execute_mut(WriteOp::Write {
        pid,
        fd,
        data: Arc::from(data),
        now: time::now(),
    }))
}

/// Regular-file reads and writes go through the log in pieces of at most
/// this size, so that no single operation (and kernel buffer) is huge: a
/// large contiguous allocation could fail in a fragmented heap even with
/// plenty of memory free.
const IO_CHUNK: u64 = 64 << 10;

fn is_regular(i: &kstate::FdInfo) -> bool {
    i.kind == Some(FileType::Regular) && matches!(i.obj, FileObj::Inode(_))
}

/// Run `f(offset, length)` over `[0, len)` in `IO_CHUNK` pieces while each
/// piece completes; the total, or the first error if nothing was done.
fn chunked(len: u64, mut f: impl FnMut(u64, u64) -> KResult<u64>) -> KResult<u64> {
    let mut done = 0;
    while done < len {
        let n = (len - done).min(IO_CHUNK);
        match f(done, n) {
            Ok(got) => {
                done += got;
                if got < n {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

fn sys_write(t: &mut Thread, fd: i32, buf: u64, len: u64) -> KResult<u64> {
    let len = len.min(kstate::MAX_IO);
    let i = fd_info(t.pid, fd)?;
    if i.flags & O_ACCMODE == O_RDONLY || i.flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if i.kind == Some(FileType::CharDevice) && (i.rdev == dev::NULL || i.rdev == dev::ZERO) {
        // Linux does not even look at the buffer.
        return Ok(len);
    }
    if (is_regular(&i) || is_console(&i)) && len > IO_CHUNK {
        return chunked(len, |at, n| {
            let data = uaccess::read(t.pid, buf + at, n as usize)?;
            write_bytes(t, fd, data)
        });
    }
    // A pipe takes at most its capacity at once: read no more than that.
    let len = if matches!(i.obj, FileObj::Pipe { .. }) {
        len.min(kstate::PIPE_CAPACITY as u64)
    } else {
        len
    };
    let data = uaccess::read(t.pid, buf, len as usize)?;
    write_bytes(t, fd, data)
}

fn iovecs(t: &Thread, iov: u64, cnt: u64) -> KResult<Vec<structs::Iovec>> {
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let raw = uaccess::read(t.pid, iov, cnt as usize * 16)?;
    let v = structs::Iovec::parse_array(&raw).ok_or(Errno::EFAULT)?;
    kstate::decode::iov_total(&v.iter().map(|i| i.iov_len).collect::<Vec<_>>())?;
    Ok(v)
}

fn sys_writev(t: &mut Thread, fd: i32, iov: u64, cnt: u64) -> KResult<u64> {
    fd_info(t.pid, fd)?;
    let mut data = Vec::new();
    for v in iovecs(t, iov, cnt)? {
        let take = (v.iov_len as usize).min(kstate::MAX_IO as usize - data.len());
        let piece = uaccess::read(t.pid, v.iov_base, take)?;
        data.try_reserve(piece.len()).map_err(|_| Errno::ENOMEM)?;
        data.extend_from_slice(&piece);
    }
    write_bytes(t, fd, data)
}

/// Read up to `len` bytes from `fd` (through the descriptor's offset).
fn read_bytes(t: &mut Thread, fd: i32, len: u64) -> KResult<Vec<u8>> {
    let pid = t.pid;
    let info = fd_info(pid, fd)?;
    if let FileObj::Pipe { id, .. } = info.obj {
        let seq = sched::seq(WaitKey::Pipe(id));
        return match state::execute_mut(WriteOp::ReadAdvance { pid, fd, len }) {
            Ok(Resp::Read(ReadPlan::Bytes(b))) => {
                sched::wake(WaitKey::Pipe(id));
                Ok(b)
            }
            Err(Errno::EAGAIN) if info.flags & O_NONBLOCK == 0 => {
                Err(block(t, WaitKey::Pipe(id), seq))
            }
            Err(e) => Err(e),
            Ok(_) => Err(Errno::EIO),
        };
    }
    let plan = match state::execute_mut(WriteOp::ReadAdvance { pid, fd, len })? {
        Resp::Read(p) => p,
        _ => return Err(Errno::EIO),
    };
    match plan {
        ReadPlan::Bytes(b) => Ok(b),
        ReadPlan::Inode { ino, offset, n } => match state::execute(ReadOp::ReadInode {
            ino,
            offset,
            len: n,
        })? {
            Resp::Bytes(b) => Ok(b),
            _ => Err(Errno::EIO),
        },
        ReadPlan::Device { rdev } => match rdev {
            dev::NULL => Ok(Vec::new()),
            dev::ZERO => Ok(alloc::vec![0u8; len.min(1 << 20) as usize]),
            dev::URANDOM | dev::RANDOM => {
                let mut b = alloc::vec![0u8; len.min(1 << 20) as usize];
                rng::fill(&mut b);
                Ok(b)
            }
            dev::CONSOLE | dev::TTY => {
                let seq = sched::seq(WaitKey::Console);
                match console::read(len.min(1 << 20) as usize, true) {
                    console::ReadResult::Data(d) => Ok(d),
                    console::ReadResult::WouldBlock if info.flags & O_NONBLOCK != 0 => {
                        Err(Errno::EAGAIN)
                    }
                    console::ReadResult::WouldBlock => Err(block(t, WaitKey::Console, seq)),
                    console::ReadResult::Interrupt => {
                        interrupt_foreground(pid);
                        Err(Errno::EINTR)
                    }
                }
            }
            _ => Err(Errno::ENXIO),
        },
    }
}

/// ^C: SIGINT to the console's foreground process group (`sender` is any
/// live process; only the group matters).
pub fn interrupt_foreground(sender: u32) {
    let pg = console::pgrp();
    if let Ok(Resp::Pids(hit)) = state::execute_mut(WriteOp::Signal {
        pid: sender,
        target: -pg,
        sig: SIGINT as u32,
    }) {
        for p in hit {
            sched::signal_hint(p);
            sched::wake_process(p);
        }
    }
}

fn sys_read(t: &mut Thread, fd: i32, buf: u64, len: u64) -> KResult<u64> {
    if len == 0 {
        fd_info(t.pid, fd)?;
        return Ok(0);
    }
    // Check the buffer before consuming input.
    uaccess::page_frame(t.pid, buf, true)?;
    let len = len.min(kstate::MAX_IO);
    if len > IO_CHUNK && is_regular(&fd_info(t.pid, fd)?) {
        return chunked(len, |at, n| {
            let data = read_bytes(t, fd, n)?;
            uaccess::write(t.pid, buf + at, &data)?;
            Ok(data.len() as u64)
        });
    }
    let data = read_bytes(t, fd, len)?;
    uaccess::write(t.pid, buf, &data)?;
    Ok(data.len() as u64)
}

fn sys_readv(t: &mut Thread, fd: i32, iov: u64, cnt: u64) -> KResult<u64> {
    let vs = iovecs(t, iov, cnt)?;
    let total: u64 = vs.iter().map(|v| v.iov_len).sum();
    let data = read_bytes(t, fd, total.min(kstate::MAX_IO))?;
    let mut at = 0usize;
    for v in vs {
        if at >= data.len() {
            break;
        }
        let n = (v.iov_len as usize).min(data.len() - at);
        uaccess::write(t.pid, v.iov_base, &data[at..at + n])?;
        at += n;
    }
    Ok(data.len() as u64)
}

fn sys_pread(t: &mut Thread, fd: i32, buf: u64, len: u64, off: i64) -> KResult<u64> {
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    // `ReadAt` itself answers EBADF/ESPIPE/EISDIR; only an empty read, which
    // never gets there, needs the descriptor looked at first.
    if len == 0 {
        let i = fd_info(t.pid, fd)?;
        if matches!(i.kind, Some(FileType::CharDevice | FileType::Fifo)) {
            return Err(Errno::ESPIPE);
        }
    }
    chunked(len.min(kstate::MAX_IO), |at, n| {
        let data = match state::execute(ReadOp::ReadAt {
            pid: t.pid,
            fd,
            offset: off as u64 + at,
            len: n,
        })? {
            Resp::Bytes(b) => b,
            _ => return Err(Errno::EIO),
        };
        uaccess::write(t.pid, buf + at, &data)?;
        Ok(data.len() as u64)
    })
}

fn sys_pwrite(t: &mut Thread, fd: i32, buf: u64, len: u64, off: i64) -> KResult<u64> {
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    let i = fd_info(t.pid, fd)?;
    if i.kind == Some(FileType::CharDevice) {
        return Err(Errno::ESPIPE);
    }
    chunked(len.min(kstate::MAX_IO), |at, n| {
        let data = uaccess::read(t.pid, buf + at, n as usize)?;
        room_for(data.len())?;
        val(state::execute_mut(WriteOp::WriteAt {
            pid: t.pid,
            fd,
            offset: off as u64 + at,
            data: Arc::from(data),
            now: time::now(),
        }))
    })
}

/// Generated files under `/proc`.
fn proc_file(t: &Thread, p: &[u8]) -> Option<Vec<u8>> {
    match p {
        b"/proc/nr/replicas" => Some(crate::procfs::replicas()),
        b"/proc/nr/stats" => Some(crate::procfs::stats()),
        b"/proc/nr/threads" => Some(crate::procfs::threads()),
        b"/proc/meminfo" => Some(crate::procfs::meminfo()),
        b"/proc/self/exe" | b"/proc/self/cmdline" => None,
        _ => {
            let _ = t;
            None
        }
    }
}

fn sys_openat(t: &mut Thread, dirfd: i32, p: u64, flags: u32, mode: u32) -> KResult<u64> {
    let pid = t.pid;
    let p = path(t, p)?;
    if let Some(data) = proc_file(t, &p) {
        if flags & O_ACCMODE != O_RDONLY {
            return Err(Errno::EACCES);
        }
        return val(state::execute_mut(WriteOp::OpenBuffer {
            pid,
            data: Arc::from(data),
            flags,
        }));
    }
    val(state::execute_mut(WriteOp::Open {
        pid,
        dirfd,
        path: p,
        flags,
        mode,
        now: time::now(),
    }))
}

fn stat_of(r: KResult<Resp>) -> KResult<kstate::Stat> {
    match r? {
        Resp::Stat(s) => Ok(s),
        _ => Err(Errno::EIO),
    }
}

fn to_stat(s: &kstate::Stat) -> structs::Stat {
    let ts = |t: memfs::Timespec| structs::Timespec {
        tv_sec: t.sec,
        tv_nsec: i64::from(t.nsec),
    };
    structs::Stat {
        st_dev: 0x1,
        st_ino: s.ino,
        st_nlink: u64::from(s.nlink),
        st_mode: s.mode,
        st_uid: s.uid,
        st_gid: s.gid,
        st_rdev: s.rdev,
        st_size: s.size as i64,
        st_blksize: i64::from(s.blksize),
        st_blocks: s.blocks as i64,
        st_atime: ts(s.atime),
        st_mtime: ts(s.mtime),
        st_ctime: ts(s.ctime),
    }
}

fn stat_path(t: &Thread, dirfd: i32, p: u64, flags: u32) -> KResult<kstate::Stat> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path(t, p)?;
    if path.is_empty() && flags & AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    if let Some(data) = proc_file(t, &path) {
        return Ok(kstate::Stat {
            ino: 0xffff_0000,
            mode: S_IFREG | 0o444,
            nlink: 1,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            blocks: 0,
            blksize: 4096,
            rdev: 0,
            atime: memfs::Timespec::default(),
            mtime: memfs::Timespec::default(),
            ctime: memfs::Timespec::default(),
        });
    }
    stat_of(state::execute(ReadOp::Stat {
        pid: t.pid,
        dirfd,
        path,
        follow: flags & AT_SYMLINK_NOFOLLOW == 0,
    }))
}

fn sys_fstatat(t: &mut Thread, dirfd: i32, p: u64, buf: u64, flags: u32) -> KResult<u64> {
    let st = stat_path(t, dirfd, p, flags)?;
    uaccess::write(t.pid, buf, &to_stat(&st).to_bytes()).map(|_| 0)
}

fn sys_statx(t: &mut Thread, dirfd: i32, p: u64, flags: u32, buf: u64) -> KResult<u64> {
    let st = stat_path(t, dirfd, p, flags & !AT_STATX_SYNC_TYPE)?;
    let s = to_stat(&st);
    let ts = |t: structs::Timespec| structs::StatxTimestamp::from(t);
    let (rmaj, rmin) = (
        (st.rdev >> 8) & 0xfff,
        (st.rdev & 0xff) | ((st.rdev >> 12) & !0xff),
    );
    let x = structs::Statx {
        stx_mask: 0x7ff,
        stx_blksize: 4096,
        stx_nlink: st.nlink,
        stx_uid: 0,
        stx_gid: 0,
        stx_mode: st.mode as u16,
        stx_ino: st.ino,
        stx_size: st.size,
        stx_blocks: st.blocks,
        stx_atime: ts(s.st_atime),
        stx_ctime: ts(s.st_ctime),
        stx_mtime: ts(s.st_mtime),
        stx_rdev_major: rmaj as u32,
        stx_rdev_minor: rmin as u32,
        stx_dev_major: 0,
        stx_dev_minor: 1,
        ..structs::Statx::default()
    };
    uaccess::write(t.pid, buf, &x.to_bytes()).map(|_| 0)
}

fn sys_faccessat(t: &mut Thread, dirfd: i32, p: u64, mode: u32, flags: u32) -> KResult<u64> {
    if mode & !(R_OK | W_OK | X_OK) != 0
        || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0
    {
        return Err(Errno::EINVAL);
    }
    let st = stat_path(t, dirfd, p, flags & (AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))?;
    // The only user is root: read and write are always granted; execute
    // needs an execute bit on non-directories.
    if mode & X_OK != 0 && st.mode & S_IFMT != S_IFDIR && st.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

fn sys_getdents64(t: &mut Thread, fd: i32, buf: u64, count: u64) -> KResult<u64> {
    let ents = match state::execute_mut(WriteOp::Getdents {
        pid: t.pid,
        fd,
        bufsize: count.min(1 << 20),
    })? {
        Resp::Dirents(e) => e,
        _ => return Err(Errno::EIO),
    };
    let mut out = Vec::new();
    for (e, next) in ents {
        let dt = match e.kind {
            FileType::Regular => DT_REG,
            FileType::Directory => DT_DIR,
            FileType::Symlink => DT_LNK,
            FileType::CharDevice => DT_CHR,
            FileType::BlockDevice => DT_BLK,
            FileType::Fifo => DT_FIFO,
            FileType::Socket => DT_SOCK,
        };
        structs::push_dirent64(&mut out, e.ino, next as i64, dt, &e.name);
    }
    uaccess::write(t.pid, buf, &out)?;
    Ok(out.len() as u64)
}

fn sys_mkdirat(t: &mut Thread, dirfd: i32, p: u64, mode: u32) -> KResult<u64> {
    let p = path(t, p)?;
    ok_unit(state::execute_mut(WriteOp::Mkdir {
        pid: t.pid,
        dirfd,
        path: p,
        mode,
        now: time::now(),
    }))
}

fn sys_unlinkat(t: &mut Thread, dirfd: i32, p: u64, flags: u32) -> KResult<u64> {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let p = path(t, p)?;
    ok_unit(state::execute_mut(WriteOp::Unlink {
        pid: t.pid,
        dirfd,
        path: p,
        rmdir: flags & AT_REMOVEDIR != 0,
        now: time::now(),
    }))
}

fn sys_renameat(t: &mut Thread, od: i32, o: u64, nd: i32, nw: u64, flags: u32) -> KResult<u64> {
    let old = path(t, o)?;
    let new = path(t, nw)?;
    if flags & RENAME_NOREPLACE != 0 {
        if flags & !RENAME_NOREPLACE != 0 {
            return Err(Errno::EINVAL);
        }
        if state::execute(ReadOp::Access {
            pid: t.pid,
            dirfd: nd,
            path: new.clone(),
            follow: false,
        })
        .is_ok()
        {
            return Err(Errno::EEXIST);
        }
    } else if flags != 0 {
        return Err(Errno::EINVAL);
    }
    ok_unit(state::execute_mut(WriteOp::Rename {
        pid: t.pid,
        olddirfd: od,
        old,
        newdirfd: nd,
        new,
        now: time::now(),
    }))
}

fn sys_linkat(t: &mut Thread, od: i32, o: u64, nd: i32, nw: u64) -> KResult<u64> {
    let old = path(t, o)?;
    let new = path(t, nw)?;
    ok_unit(state::execute_mut(WriteOp::Link {
        pid: t.pid,
        olddirfd: od,
        old,
        newdirfd: nd,
        new,
        now: time::now(),
    }))
}

fn sys_symlinkat(t: &mut Thread, target: u64, dirfd: i32, p: u64) -> KResult<u64> {
    let target = path(t, target)?;
    let p = path(t, p)?;
    ok_unit(state::execute_mut(WriteOp::Symlink {
        pid: t.pid,
        target,
        dirfd,
        path: p,
        now: time::now(),
    }))
}

fn sys_readlinkat(t: &mut Thread, dirfd: i32, p: u64, buf: u64, size: u64) -> KResult<u64> {
    if size as i64 <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = path(t, p)?;
    let target = if p == b"/proc/self/exe" {
        match state::execute(ReadOp::Exe { pid: t.pid })? {
            Resp::Bytes(b) => b,
            _ => return Err(Errno::EIO),
        }
    } else {
        match state::execute(ReadOp::Readlink {
            pid: t.pid,
            dirfd,
            path: p,
        })? {
            Resp::Bytes(b) => b,
            _ => return Err(Errno::EIO),
        }
    };
    let n = target.len().min(size as usize);
    uaccess::write(t.pid, buf, &target[..n])?;
    Ok(n as u64)
}

fn sys_utimensat(t: &mut Thread, dirfd: i32, p: u64, times: u64, flags: u32) -> KResult<u64> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    // A NULL path means the descriptor itself; an empty string only with
    // AT_EMPTY_PATH.
    let path = match p {
        0 => Vec::new(),
        _ if flags & AT_EMPTY_PATH != 0 => path(t, p)?,
        _ => nonempty(path(t, p)?)?,
    };
    let now = time::now();
    let (atime, mtime) = if times == 0 {
        (Some(now), Some(now))
    } else {
        let raw = uaccess::read(t.pid, times, 32)?;
        let conv = |b: &[u8]| -> KResult<Option<memfs::Timespec>> {
            let ts = structs::Timespec::from_bytes(b.try_into().map_err(|_| Errno::EFAULT)?);
            match ts.tv_nsec {
                structs::Timespec::UTIME_OMIT => Ok(None),
                structs::Timespec::UTIME_NOW => Ok(Some(now)),
                n if (0..1_000_000_000).contains(&n) => Ok(Some(memfs::Timespec {
                    sec: ts.tv_sec,
                    nsec: n as u32,
                })),
                _ => Err(Errno::EINVAL),
            }
        };
        (conv(&raw[..16])?, conv(&raw[16..])?)
    };
    ok_unit(state::execute_mut(WriteOp::Utimens {
        pid: t.pid,
        dirfd,
        path,
        atime,
        mtime,
        follow: flags & AT_SYMLINK_NOFOLLOW == 0,
        now,
    }))
}

fn sys_getcwd(t: &mut Thread, buf: u64, size: u64) -> KResult<u64> {
    let mut p = match state::execute(ReadOp::Getcwd { pid: t.pid })? {
        Resp::Bytes(b) => b,
        _ => return Err(Errno::EIO),
    };
    p.push(0);
    if (size as usize) < p.len() {
        return Err(Errno::ERANGE);
    }
    uaccess::write(t.pid, buf, &p)?;
    Ok(p.len() as u64)
}

fn sys_fcntl(t: &mut Thread, fd: i32, cmd: u32, arg: u64) -> KResult<u64> {
    let pid = t.pid;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => val(state::execute_mut(WriteOp::Dup {
            pid,
            fd,
            min: arg as i32,
            cloexec: cmd == F_DUPFD_CLOEXEC,
        })),
        F_GETFD => Ok(u64::from(fd_info(pid, fd)?.cloexec)),
        F_SETFD => ok_unit(state::execute_mut(WriteOp::SetCloexec {
            pid,
            fd,
            cloexec: arg & u64::from(FD_CLOEXEC) != 0,
        })),
        F_GETFL => {
            let i = fd_info(pid, fd)?;
            let large = if i.flags & O_PATH == 0 {
                O_LARGEFILE
            } else {
                0
            };
            Ok(u64::from(i.flags | large))
        }
        F_SETFL => ok_unit(state::execute_mut(WriteOp::SetStatusFlags {
            pid,
            fd,
            flags: arg as u32,
        })),
        _ => {
            fd_info(pid, fd)?;
            Err(Errno::EINVAL)
        }
    }
}

fn sys_ioctl(t: &mut Thread, fd: i32, cmd: u32, arg: u64) -> KResult<u64> {
    let pid = t.pid;
    let i = fd_info(pid, fd)?;
    // Generic descriptor ioctls, valid on any file.
    const FIONBIO: u32 = 0x5421;
    const FIONCLEX: u32 = 0x5450;
    const FIOCLEX: u32 = 0x5451;
    match cmd {
        FIONBIO => {
            let on = uaccess::read(pid, arg, 4)?.iter().any(|&b| b != 0);
            let flags = if on {
                i.flags | O_NONBLOCK
            } else {
                i.flags & !O_NONBLOCK
            };
            return ok_unit(state::execute_mut(WriteOp::SetStatusFlags {
                pid,
                fd,
                flags,
            }));
        }
        FIOCLEX | FIONCLEX => {
            return ok_unit(state::execute_mut(WriteOp::SetCloexec {
                pid,
                fd,
                cloexec: cmd == FIOCLEX,
            }));
        }
        _ => {}
    }
    if !is_console(&i) {
        return Err(Errno::ENOTTY);
    }
    match cmd {
        TCGETS => uaccess::write(pid, arg, &console::termios().to_bytes()).map(|_| 0),
        TCSETS | TCSETSW | TCSETSF => {
            let raw = uaccess::read(pid, arg, structs::Termios::SIZE)?;
            let tio = structs::Termios::from_slice(&raw).ok_or(Errno::EFAULT)?;
            console::set_termios(tio, cmd == TCSETSF);
            Ok(0)
        }
        TIOCGWINSZ => uaccess::write(pid, arg, &console::winsize().to_bytes()).map(|_| 0),
        TIOCSWINSZ => {
            let raw = uaccess::read(pid, arg, structs::Winsize::SIZE)?;
            console::set_winsize(structs::Winsize::from_slice(&raw).ok_or(Errno::EFAULT)?);
            Ok(0)
        }
        TIOCGPGRP => uaccess::write_i32(pid, arg, console::pgrp()).map(|_| 0),
        TIOCSPGRP => {
            let raw = uaccess::read(pid, arg, 4)?;
            let pg = i32::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?);
            if pg <= 0 {
                return Err(Errno::EINVAL);
            }
            console::set_pgrp(pg);
            Ok(0)
        }
        FIONREAD => uaccess::write_i32(pid, arg, console::available() as i32).map(|_| 0),
        _ => Err(Errno::ENOTTY),
    }
}

/// The thread a `sched_*affinity` call names (0: the caller).
fn affinity_target(t: &Thread, tid: i32) -> KResult<kstate::Pid> {
    match tid {
        0 => Ok(t.tid),
        x if x < 0 => Err(Errno::ESRCH),
        x => Ok(x as kstate::Pid),
    }
}

fn sys_sched_getaffinity(t: &mut Thread, tid: i32, size: usize, mask: u64) -> KResult<u64> {
    let tid = affinity_target(t, tid)?;
    // Linux copies its cpumask (a multiple of 8 bytes): 8 here (<= 64 cores).
    if size < 8 || size % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let affinity = match state::execute(ReadOp::Placement { tid })? {
        Resp::Placement(_, pl) => pl.affinity & sched::all_cores(),
        _ => return Err(Errno::ESRCH),
    };
    uaccess::write(t.pid, mask, &affinity.to_le_bytes())?;
    Ok(8)
}

fn sys_sched_setaffinity(t: &mut Thread, tid: i32, size: usize, mask: u64) -> KResult<u64> {
    let tid = affinity_target(t, tid)?;
    let bytes = uaccess::read(t.pid, mask, size.min(8))?;
    let mut m = [0u8; 8];
    m[..bytes.len()].copy_from_slice(&bytes);
    let affinity = u64::from_le_bytes(m) & sched::all_cores();
    if affinity == 0 {
        return Err(Errno::EINVAL);
    }
    state::execute_mut(WriteOp::SetAffinity { tid, affinity })?;
    if tid != t.tid {
        // The thread re-reads its placement before it next runs.
        sched::affinity_hint(tid);
        return Ok(0);
    }
    t.affinity = affinity;
    let me = crate::arch::percpu::current().core_id();
    if affinity & (1 << me) != 0 {
        return Ok(0);
    }
    // Leave this core now: requeued on the new home core.
    let c = sched::pick_core(affinity);
    sched::place(t, c);
    Err(Errno(YIELD))
}

fn sys_mmap(
    t: &mut Thread,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    off: u64,
) -> KResult<u64> {
    let pid = t.pid;
    let req = kstate::decode::mmap_request(addr, len, prot, flags, off)?;
    let kind = if req.anonymous {
        if req.shared {
            VmaKind::Shared
        } else if req.stack {
            VmaKind::Stack
        } else {
            VmaKind::Anon
        }
    } else {
        let i = fd_info(pid, fd)?;
        let FileObj::Inode(ino) = i.obj else {
            return Err(Errno::ENODEV);
        };
        if i.kind != Some(FileType::Regular) {
            return Err(Errno::ENODEV);
        }
        if i.flags & O_ACCMODE == O_WRONLY || i.flags & O_PATH != 0 {
            return Err(Errno::EACCES);
        }
        if req.shared && prot & PROT_WRITE != 0 {
            // Writable shared file mappings would need write-back to the
            // file system: not supported.
            return Err(Errno::ENODEV);
        }
        VmaKind::File { ino, offset: off }
    };
    flush_then_release(
        pid,
        state::execute_mut(WriteOp::Mmap {
            pid,
            at: req.at,
            len,
            prot,
            kind,
        }),
    )
}

fn sys_madvise(t: &mut Thread, addr: u64, len: u64, advice: u32) -> KResult<u64> {
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    match advice {
        MADV_DONTNEED => {
            // Linux: private pages read back as zeros (or the file) after.
            flush_then_release(
                t.pid,
                state::execute_mut(WriteOp::Discard {
                    pid: t.pid,
                    start: addr,
                    len,
                }),
            )
        }
        MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_FREE => Ok(0),
        9..=19 | 100..=101 => Ok(0), // REMOVE, DONTFORK, DOFORK, MERGEABLE, HUGEPAGE, ... hints
        _ => Err(Errno::EINVAL),
    }
}

fn sys_arch_prctl(t: &mut Thread, code: u32, addr: u64) -> KResult<u64> {
    let canonical = crate::arch::user::is_user_canonical(addr);
    match code {
        ARCH_SET_FS if canonical => t.ctx.fs_base = addr,
        ARCH_SET_GS if canonical => t.ctx.gs_base = addr,
        ARCH_SET_FS | ARCH_SET_GS => return Err(Errno::EPERM),
        ARCH_GET_FS => uaccess::write_u64(t.pid, addr, t.ctx.fs_base)?,
        ARCH_GET_GS => uaccess::write_u64(t.pid, addr, t.ctx.gs_base)?,
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

fn sys_rt_sigaction(t: &mut Thread, sig: i32, act: u64, old: u64, sigsetsize: u64) -> KResult<u64> {
    if sigsetsize != 8 || !(1..NSIG).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    if act != 0 && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    if old != 0 {
        uaccess::write(t.pid, old, &t.sigactions.get(sig).to_bytes())?;
    }
    if act != 0 {
        let raw = uaccess::read(t.pid, act, structs::KSigaction::SIZE)?;
        t.sigactions.set(
            sig,
            structs::KSigaction::from_slice(&raw).ok_or(Errno::EFAULT)?,
        );
    }
    Ok(0)
}

fn sys_rt_sigprocmask(
    t: &mut Thread,
    how: u32,
    set: u64,
    old: u64,
    sigsetsize: u64,
) -> KResult<u64> {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let prev = t.sigmask;
    if set != 0 {
        let s = uaccess::read_u64(t.pid, set)?;
        t.sigmask = kstate::decode::sigprocmask(how, prev, s)?;
    }
    if old != 0 {
        uaccess::write_u64(t.pid, old, prev)?;
    }
    Ok(0)
}

fn limit_of(resource: u32) -> KResult<structs::Rlimit> {
    let inf = RLIM_INFINITY;
    Ok(match resource {
        RLIMIT_STACK => structs::Rlimit {
            rlim_cur: process::STACK_SIZE,
            rlim_max: inf,
        },
        RLIMIT_NOFILE => structs::Rlimit {
            rlim_cur: kstate::MAX_FDS as u64,
            rlim_max: kstate::MAX_FDS as u64,
        },
        r if r < 16 => structs::Rlimit {
            rlim_cur: inf,
            rlim_max: inf,
        },
        _ => return Err(Errno::EINVAL),
    })
}

fn sys_prlimit(t: &mut Thread, pid: u32, resource: u32, new: u64, old: u64) -> KResult<u64> {
    if pid != 0 && pid != t.pid {
        return Err(Errno::ESRCH);
    }
    let cur = limit_of(resource)?;
    if new != 0 {
        // Limits are fixed in this kernel; asking for the current values
        // (or lower soft limits, which are then not enforced) is accepted,
        // raising anything is refused as for an unprivileged process.
        let raw = uaccess::read(t.pid, new, 16)?;
        let want = structs::Rlimit::from_slice(&raw).ok_or(Errno::EFAULT)?;
        if want.rlim_cur > want.rlim_max {
            return Err(Errno::EINVAL);
        }
        if want.rlim_max > cur.rlim_max {
            return Err(Errno::EPERM);
        }
    }
    if old != 0 {
        uaccess::write(t.pid, old, &cur.to_bytes())?;
    }
    Ok(0)
}

fn sys_sysinfo(t: &mut Thread, buf: u64) -> KResult<u64> {
    let nodes = crate::topology().nodes.len();
    let total: u64 = (0..nodes).map(crate::mem::total_frames).sum::<u64>() * PAGE_SIZE;
    let free: u64 = (0..nodes).map(crate::mem::free_frames).sum::<u64>() * PAGE_SIZE;
    let info = structs::Sysinfo {
        uptime: (time::monotonic_ns() / 1_000_000_000) as i64,
        totalram: total,
        freeram: free,
        procs: 1,
        mem_unit: 1,
        ..structs::Sysinfo::default()
    };
    uaccess::write(t.pid, buf, &info.to_bytes()).map(|_| 0)
}

fn clock_ns(clk: i32) -> KResult<u64> {
    use kstate::decode::Clock;
    Ok(match kstate::decode::clock(clk)? {
        Clock::Realtime => time::realtime_ns(),
        Clock::Monotonic => time::monotonic_ns(),
        // One thread per process, never preempted for another process in
        // this issue: CPU time is approximated by time since boot.
        Clock::Cpu => time::monotonic_ns(),
    })
}

fn sys_nanosleep(t: &mut Thread, clk: i32, flags: u32, req: u64, rem: u64) -> KResult<u64> {
    let now_mono = time::monotonic_ns();
    if let Some(deadline) = t.sleep_deadline {
        // A restarted sleep: done when the deadline has passed.
        if now_mono >= deadline {
            t.sleep_deadline = None;
            if rem != 0 && flags & TIMER_ABSTIME == 0 {
                uaccess::write(t.pid, rem, &structs::Timespec::default().to_bytes())?;
            }
            return Ok(0);
        }
        return Err(Errno(SLEEP));
    }
    let raw = uaccess::read(t.pid, req, 16)?;
    let ts = structs::Timespec::from_slice(&raw).ok_or(Errno::EFAULT)?;
    if !ts.is_valid() {
        return Err(Errno::EINVAL);
    }
    let now = clock_ns(clk)?;
    let ns = ts.to_nanos().ok_or(Errno::EINVAL)?;
    let wait = if flags & TIMER_ABSTIME != 0 {
        ns.saturating_sub(now)
    } else {
        ns
    };
    t.sleep_deadline = Some(now_mono.saturating_add(wait));
    Err(Errno(SLEEP))
}

fn sys_prctl(t: &mut Thread, option: u32, arg: u64) -> KResult<u64> {
    match option {
        PR_SET_NAME => {
            let name = uaccess::read_cstr(t.pid, arg, 4096)?;
            let n = name.len().min(15);
            t.name = [0; 16];
            t.name[..n].copy_from_slice(&name[..n]);
            Ok(0)
        }
        PR_GET_NAME => uaccess::write(t.pid, arg, &t.name).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// `poll`/`ppoll` on files, devices and the console. Regular files,
/// directories and `/dev/{null,zero,urandom}` are always ready; the console
/// is writable and readable when input is waiting. Waits (halting between
/// timer ticks) until something is ready or `deadline` passes.
fn sys_poll(t: &mut Thread, fds: u64, nfds: u64, deadline: Option<u64>) -> KResult<u64> {
    if nfds > kstate::MAX_FDS as u64 {
        return Err(Errno::EINVAL);
    }
    let raw = uaccess::read(t.pid, fds, nfds as usize * structs::Pollfd::SIZE)?;
    let mut pfds: Vec<structs::Pollfd> = raw
        .chunks(structs::Pollfd::SIZE)
        .filter_map(structs::Pollfd::from_slice)
        .collect();
    loop {
        let mut ready = 0;
        for p in pfds.iter_mut() {
            p.revents = 0;
            if p.fd < 0 {
                continue;
            }
            p.revents = match fd_info(t.pid, p.fd) {
                Err(_) => POLLNVAL,
                Ok(i) => {
                    let (r, w, hup) = readiness(&i);
                    kstate::decode::poll_revents(p.events, r, w) | if hup { POLLHUP } else { 0 }
                }
            };
            if p.revents != 0 {
                ready += 1;
            }
        }
        if ready > 0 || deadline.is_some_and(|d| time::monotonic_ns() >= d) {
            let out: Vec<u8> = pfds.iter().flat_map(|p| p.to_bytes()).collect();
            uaccess::write(t.pid, fds, &out)?;
            t.poll_deadline = None;
            return Ok(ready);
        }
        // Nothing ready: look again in 10 ms (or at the deadline), the
        // system call being restarted with the same deadline.
        t.poll_deadline = Some(deadline);
        let next = time::monotonic_ns() + 10_000_000;
        t.sleep_deadline = Some(deadline.map_or(next, |d| d.min(next)));
        return Err(Errno(SLEEP));
    }
}

fn sys_wait4(t: &mut Thread, target: i32, wstatus: u64, options: u32) -> KResult<u64> {
    const WNOHANG: u32 = 1;
    const WUNTRACED: u32 = 2;
    const WCONTINUED: u32 = 8;
    const WALL: u32 = 0x4000_0000;
    const WCLONE: u32 = 0x8000_0000;
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WALL | WCLONE | 0x2000_0000) != 0 {
        return Err(Errno::EINVAL);
    }
    let seq = sched::seq(WaitKey::Child(t.pid));
    match state::execute_mut(WriteOp::Wait {
        parent: t.pid,
        target,
    })? {
        Resp::Waited(Some((child, status))) => {
            if wstatus != 0 {
                uaccess::write_i32(t.pid, wstatus, status)?;
            }
            Ok(u64::from(child))
        }
        Resp::Waited(None) if options & WNOHANG != 0 => Ok(0),
        Resp::Waited(None) => Err(block(t, WaitKey::Child(t.pid), seq)),
        _ => Err(Errno::EIO),
    }
}

fn sys_pipe2(t: &mut Thread, fds: u64, flags: u32) -> KResult<u64> {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    // Check the destination before creating anything.
    uaccess::page_frame(t.pid, fds, true)?;
    match state::execute_mut(WriteOp::Pipe { pid: t.pid, flags })? {
        Resp::FdPair(r, w) => {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&r.to_le_bytes());
            b[4..].copy_from_slice(&w.to_le_bytes());
            uaccess::write(t.pid, fds, &b)?;
            Ok(0)
        }
        _ => Err(Errno::EIO),
    }
}

/// `tkill(tid, sig)` / `tgkill(tgid, tid, sig)`: the thread must exist (and
/// belong to `tgid`); only that thread takes the signal.
fn sys_tgkill(t: &mut Thread, tgid: Option<i32>, tid: i32, sig: i32) -> KResult<u64> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) || !(0..NSIG).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let owner = match state::execute(ReadOp::Placement { tid: tid as u32 }) {
        Ok(Resp::Placement(pid, _)) => pid,
        _ => return Err(Errno::ESRCH),
    };
    if tgid.is_some_and(|g| g as u32 != owner) {
        return Err(Errno::ESRCH);
    }
    match state::execute_mut(WriteOp::SignalThread {
        tid: tid as u32,
        sig: sig as u32,
    })? {
        Resp::Pid(p) => {
            sched::signal_hint(p);
            if tid as u32 != t.tid {
                sched::wake_process(p);
            }
            Ok(0)
        }
        _ => Err(Errno::EIO),
    }
}

fn sys_kill(t: &mut Thread, target: i32, sig: i32) -> KResult<u64> {
    if !(0..NSIG).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    match state::execute_mut(WriteOp::Signal {
        pid: t.pid,
        target,
        sig: sig as u32,
    })? {
        Resp::Pids(hit) => {
            for p in hit {
                sched::signal_hint(p);
                if p != t.pid {
                    sched::wake_process(p);
                }
            }
            Ok(0)
        }
        _ => Err(Errno::EIO),
    }
}

/// `futex(uaddr, op, val, timeout | val2, uaddr2, val3)`. Private and
/// shared futexes are both keyed by (process, address), so shared futexes
/// work between threads but not across processes.
fn sys_futex(
    t: &mut Thread,
    uaddr: u64,
    op: u32,
    val: u32,
    timeout: u64,
    uaddr2: u64,
    val3: u32,
) -> KResult<u64> {
    const WAIT: u32 = 0;
    const WAKE: u32 = 1;
    const REQUEUE: u32 = 3;
    const CMP_REQUEUE: u32 = 4;
    const WAIT_BITSET: u32 = 9;
    const WAKE_BITSET: u32 = 10;
    const CLOCK_REALTIME_FLAG: u32 = 256;
    let pid = t.pid;
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    let read_word = |a: u64| -> KResult<u32> {
        let b = uaccess::read(pid, a, 4)?;
        Ok(u32::from_le_bytes(b.try_into().map_err(|_| Errno::EFAULT)?))
    };
    let key = futex_key(pid, uaddr, op & FUTEX_PRIVATE_FLAG == 0)?;
    match op & 127 {
        WAIT | WAIT_BITSET => {
            if op & 127 == WAIT_BITSET && val3 == 0 {
                return Err(Errno::EINVAL);
            }
            if t.woken_by.take() == Some(key) {
                t.wait_deadline = None;
                return Ok(0);
            }
            if let Some(d) = t.wait_deadline {
                if time::monotonic_ns() >= d {
                    t.wait_deadline = None;
                    return Err(Errno::ETIMEDOUT);
                }
            } else if timeout != 0 {
                let raw = uaccess::read(pid, timeout, 16)?;
                let ts = structs::Timespec::from_slice(&raw).ok_or(Errno::EFAULT)?;
                if !ts.is_valid() {
                    return Err(Errno::EINVAL);
                }
                let ns = ts.to_nanos().ok_or(Errno::EINVAL)?;
                let now = time::monotonic_ns();
                // FUTEX_WAIT takes a relative timeout; FUTEX_WAIT_BITSET an
                // absolute one on CLOCK_MONOTONIC (or CLOCK_REALTIME).
                let deadline = if op & 127 == WAIT {
                    now.saturating_add(ns)
                } else if op & CLOCK_REALTIME_FLAG != 0 {
                    now.saturating_add(ns.saturating_sub(time::realtime_ns()))
                } else {
                    ns
                };
                t.wait_deadline = Some(deadline);
            }
            let seq = sched::seq(key);
            if read_word(uaddr)? != val {
                t.wait_deadline = None;
                return Err(Errno::EAGAIN);
            }
            Err(block(t, key, seq))
        }
        WAKE | WAKE_BITSET => {
            if op & 127 == WAKE_BITSET && val3 == 0 {
                return Err(Errno::EINVAL);
            }
            Ok(sched::wake_n(key, val as usize) as u64)
        }
        REQUEUE | CMP_REQUEUE => {
            if op & 127 == CMP_REQUEUE && read_word(uaddr)? != val3 {
                return Err(Errno::EAGAIN);
            }
            if uaddr2 % 4 != 0 {
                return Err(Errno::EINVAL);
            }
            let woken = sched::wake_n(key, val as usize);
            let key2 = futex_key(pid, uaddr2, op & FUTEX_PRIVATE_FLAG == 0)?;
            let moved = sched::requeue(key, key2, timeout as u32 as usize);
            Ok((woken + if op & 127 == CMP_REQUEUE { moved } else { 0 }) as u64)
        }
        _ => enosys_futex(op),
    }
}

/// Private futexes (and shared ones in private memory) are keyed by
/// process and address; a futex in shared anonymous memory without
/// `FUTEX_PRIVATE_FLAG` by its physical address, so processes that share
/// the page (after `fork`) wait and wake on the same key.
fn futex_key(pid: u32, uaddr: u64, shared: bool) -> KResult<WaitKey> {
    if shared
        && matches!(
            state::execute(ReadOp::IsShared { pid, va: uaddr }),
            Ok(Resp::Val(1))
        )
    {
        let frame = uaccess::page_frame(pid, uaddr, false)?;
        return Ok(WaitKey::SharedFutex(frame + uaddr % PAGE_SIZE));
    }
    Ok(WaitKey::Futex(pid, uaddr))
}

fn enosys_futex(op: u32) -> KResult<u64> {
    log::debug!("futex operation {op:#x} not supported");
    Err(Errno::ENOSYS)
}

/// Whether a descriptor is readable, writable, and hung up (a pipe whose
/// other end is closed).
fn readiness(i: &kstate::FdInfo) -> (bool, bool, bool) {
    match i.obj {
        FileObj::Pipe { write: false, .. } => {
            (i.size > 0 || i.pipe_ends.1 == 0, false, i.pipe_ends.1 == 0)
        }
        FileObj::Pipe { write: true, .. } => (
            false,
            (i.size as usize) < kstate::PIPE_CAPACITY || i.pipe_ends.0 == 0,
            false,
        ),
        _ if is_console(i) => (console::available() > 0, true, false),
        _ => (true, true, false),
    }
}

/// `select`/`pselect6` over `nfds` descriptors; `deadline` as for poll.
fn sys_select(
    t: &mut Thread,
    nfds: u64,
    rd: u64,
    wr: u64,
    ex: u64,
    deadline: Option<u64>,
) -> KResult<u64> {
    if nfds > kstate::MAX_FDS as u64 {
        return Err(Errno::EINVAL);
    }
    let bytes = (nfds as usize).div_ceil(64) * 8;
    let load = |p: u64| -> KResult<Vec<u8>> {
        if p == 0 {
            Ok(alloc::vec![0; bytes])
        } else {
            uaccess::read(t.pid, p, bytes)
        }
    };
    let (rin, win, ein) = (load(rd)?, load(wr)?, load(ex)?);
    let bit = |v: &[u8], fd: usize| v[fd / 8] & (1 << (fd % 8)) != 0;
    let (mut rout, mut wout) = (alloc::vec![0u8; bytes], alloc::vec![0u8; bytes]);
    let mut ready = 0u64;
    for fd in 0..nfds as usize {
        let (want_r, want_w) = (bit(&rin, fd), bit(&win, fd));
        if !(want_r || want_w || bit(&ein, fd)) {
            continue;
        }
        let i = fd_info(t.pid, fd as i32)?;
        let (r, w, _) = readiness(&i);
        if want_r && r {
            rout[fd / 8] |= 1 << (fd % 8);
            ready += 1;
        }
        if want_w && w {
            wout[fd / 8] |= 1 << (fd % 8);
            ready += 1;
        }
    }
    if ready > 0 || deadline.is_some_and(|d| time::monotonic_ns() >= d) {
        if rd != 0 {
            uaccess::write(t.pid, rd, &rout)?;
        }
        if wr != 0 {
            uaccess::write(t.pid, wr, &wout)?;
        }
        if ex != 0 {
            uaccess::write(t.pid, ex, &alloc::vec![0u8; bytes])?;
        }
        t.poll_deadline = None;
        return Ok(ready);
    }
    t.poll_deadline = Some(deadline);
    let next = time::monotonic_ns() + 10_000_000;
    t.sleep_deadline = Some(deadline.map_or(next, |d| d.min(next)));
    Err(Errno(SLEEP))
}

/// `sendfile(out, in, offset, count)`: copy through the kernel.
fn sys_sendfile(t: &mut Thread, out_fd: i32, in_fd: i32, offset: u64, count: u64) -> KResult<u64> {
    let count = count.min(1 << 20);
    let data = if offset != 0 {
        let off = uaccess::read_u64(t.pid, offset)?;
        let d = match state::execute(ReadOp::ReadAt {
            pid: t.pid,
            fd: in_fd,
            offset: off,
            len: count,
        })? {
            Resp::Bytes(b) => b,
            _ => return Err(Errno::EIO),
        };
        uaccess::write_u64(t.pid, offset, off + d.len() as u64)?;
        d
    } else {
        read_bytes(t, in_fd, count)?
    };
    if data.is_empty() {
        return Ok(0);
    }
    write_bytes(t, out_fd, data)
}

/// `waitid(idtype, id, infop, options)`: P_ALL, P_PID, P_PGID with
/// WEXITED (stopped/continued children do not exist here).
fn sys_waitid(t: &mut Thread, idtype: u32, id: u32, infop: u64, options: u32) -> KResult<u64> {
    const WNOHANG: u32 = 1;
    const WEXITED: u32 = 4;
    if options & WEXITED == 0 {
        return Err(Errno::EINVAL);
    }
    let target = match idtype {
        0 => -1,           // P_ALL
        1 => id as i32,    // P_PID
        2 => -(id as i32), // P_PGID (0: own group)
        _ => return Err(Errno::EINVAL),
    };
    let seq = sched::seq(WaitKey::Child(t.pid));
    match state::execute_mut(WriteOp::Wait {
        parent: t.pid,
        target,
    })? {
        Resp::Waited(Some((child, status))) => {
            if infop != 0 {
                let mut si = [0u8; 128];
                si[0..4].copy_from_slice(&SIGCHLD.to_le_bytes());
                let (code, st) = if status & 0x7f == 0 {
                    (1i32, (status >> 8) & 0xff)
                } else {
                    (2, status & 0x7f)
                };
                si[8..12].copy_from_slice(&code.to_le_bytes()); // CLD_EXITED / CLD_KILLED
                si[16..20].copy_from_slice(&child.to_le_bytes());
                si[24..28].copy_from_slice(&st.to_le_bytes());
                uaccess::write(t.pid, infop, &si)?;
            }
            Ok(0)
        }
        Resp::Waited(None) if options & WNOHANG != 0 => {
            if infop != 0 {
                uaccess::write(t.pid, infop, &[0u8; 128])?;
            }
            Ok(0)
        }
        Resp::Waited(None) => Err(block(t, WaitKey::Child(t.pid), seq)),
        _ => Err(Errno::EIO),
    }
}
