//! Pure decoding of system-call arguments (host-tested): the checks and
//! translations the kernel's syscall layer applies before it builds an
//! operation.

use abi::errno::{Errno, KResult};
use abi::flags::*;
use vspace::MapAt;

const PAGE: u64 = 4096;

/// A decoded `mmap` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapRequest {
    /// Where to place it.
    pub at: MapAt,
    /// `MAP_ANONYMOUS` (else backed by the descriptor).
    pub anonymous: bool,
    /// `MAP_SHARED`.
    pub shared: bool,
    /// `MAP_GROWSDOWN` (a stack mapping).
    pub stack: bool,
}

/// Decode `mmap(addr, len, prot, flags, fd, offset)` arguments (Linux's
/// `EINVAL` rules; the descriptor is checked by the caller).
pub fn mmap_request(
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    offset: u64,
) -> KResult<MmapRequest> {
    if len == 0 || offset % PAGE != 0 || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if len.checked_add(PAGE - 1).is_none() || offset.checked_add(len).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let shared = match flags & MAP_TYPE {
        MAP_PRIVATE => false,
        MAP_SHARED | MAP_SHARED_VALIDATE => true,
        _ => return Err(Errno::EINVAL),
    };
    let at = if flags & MAP_FIXED_NOREPLACE != 0 {
        MapAt::FixedNoReplace(addr)
    } else if flags & MAP_FIXED != 0 {
        if addr % PAGE != 0 {
            return Err(Errno::EINVAL);
        }
        MapAt::Fixed(addr)
    } else if addr != 0 {
        MapAt::Hint(addr)
    } else {
        MapAt::Any
    };
    Ok(MmapRequest {
        at,
        anonymous: flags & MAP_ANONYMOUS != 0,
        shared,
        stack: flags & MAP_GROWSDOWN != 0,
    })
}

/// New signal mask for `rt_sigprocmask(how, set)` from `old` (SIGKILL and
/// SIGSTOP can never be blocked).
pub fn sigprocmask(how: u32, old: u64, set: u64) -> KResult<u64> {
    let unblockable = (1u64 << (SIGKILL - 1)) | (1u64 << (SIGSTOP - 1));
    let new = match how {
        0 => old | set,  // SIG_BLOCK
        1 => old & !set, // SIG_UNBLOCK
        2 => set,        // SIG_SETMASK
        _ => return Err(Errno::EINVAL),
    };
    Ok(new & !unblockable)
}

/// Which clock a clock id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Wall-clock time.
    Realtime,
    /// Time since boot.
    Monotonic,
    /// CPU time of the process or thread.
    Cpu,
}

/// Decode a clock id (`EINVAL` for unknown ones, including dynamic
/// per-process clock ids, which are not supported).
pub fn clock(id: i32) -> KResult<Clock> {
    match id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_TAI | CLOCK_REALTIME_ALARM => {
            Ok(Clock::Realtime)
        }
        CLOCK_MONOTONIC
        | CLOCK_MONOTONIC_RAW
        | CLOCK_MONOTONIC_COARSE
        | CLOCK_BOOTTIME
        | CLOCK_BOOTTIME_ALARM => Ok(Clock::Monotonic),
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok(Clock::Cpu),
        _ => Err(Errno::EINVAL),
    }
}

/// Validate the lengths of an I/O vector (`readv`/`writev`): at most
/// `IOV_MAX` (1024) entries and a total that fits in `ssize_t`. Returns the
/// total.
pub fn iov_total(lens: &[u64]) -> KResult<u64> {
    if lens.len() > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut total: u64 = 0;
    for &l in lens {
        total = total.checked_add(l).ok_or(Errno::EINVAL)?;
        if total > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
    }
    Ok(total)
}

/// `poll` result bits for one descriptor that is readable/writable as
/// given, for requested `events` (errors and hang-ups are always reported).
pub fn poll_revents(events: u16, readable: bool, writable: bool) -> u16 {
    let want = events | POLLERR | POLLHUP;
    let mut r = 0;
    if readable {
        r |= POLLIN | POLLRDNORM;
    }
    if writable {
        r |= POLLOUT | POLLWRNORM;
    }
    r & want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmap_decoding() {
        let anon = MAP_PRIVATE | MAP_ANONYMOUS;
        assert_eq!(
            mmap_request(0, 4096, PROT_READ, anon, 0).unwrap().at,
            MapAt::Any
        );
        assert_eq!(
            mmap_request(0x1000, 1, PROT_READ, anon, 0).unwrap().at,
            MapAt::Hint(0x1000)
        );
        assert_eq!(
            mmap_request(0x2000, 1, 0, anon | MAP_FIXED, 0).unwrap().at,
            MapAt::Fixed(0x2000)
        );
        assert_eq!(
            mmap_request(0x2000, 1, 0, anon | MAP_FIXED_NOREPLACE, 0)
                .unwrap()
                .at,
            MapAt::FixedNoReplace(0x2000)
        );
        assert_eq!(
            mmap_request(0x2001, 1, 0, anon | MAP_FIXED, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(mmap_request(0, 0, 0, anon, 0), Err(Errno::EINVAL));
        assert_eq!(mmap_request(0, 4096, 8, anon, 0), Err(Errno::EINVAL));
        assert_eq!(
            mmap_request(0, 4096, 0, MAP_ANONYMOUS, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mmap_request(0, 4096, 0, MAP_PRIVATE, 100),
            Err(Errno::EINVAL)
        );
        assert_eq!(mmap_request(0, u64::MAX, 0, anon, 0), Err(Errno::EOVERFLOW));
        let r = mmap_request(0, 4096, PROT_READ, MAP_SHARED, 8192).unwrap();
        assert!(r.shared && !r.anonymous && !r.stack);
        assert!(
            mmap_request(0, 4096, 3, anon | MAP_GROWSDOWN, 0)
                .unwrap()
                .stack
        );
    }

    #[test]
    fn sigmask() {
        assert_eq!(sigprocmask(0, 0b1, 0b10), Ok(0b11));
        assert_eq!(sigprocmask(1, 0b11, 0b10), Ok(0b1));
        assert_eq!(sigprocmask(2, 0b11, 0b100), Ok(0b100));
        assert_eq!(sigprocmask(3, 0, 0), Err(Errno::EINVAL));
        assert_eq!(
            sigprocmask(2, 0, u64::MAX).unwrap() & (1 << (SIGKILL - 1)),
            0
        );
        assert_eq!(
            sigprocmask(2, 0, u64::MAX).unwrap() & (1 << (SIGSTOP - 1)),
            0
        );
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(CLOCK_REALTIME), Ok(Clock::Realtime));
        assert_eq!(clock(CLOCK_MONOTONIC), Ok(Clock::Monotonic));
        assert_eq!(clock(CLOCK_BOOTTIME), Ok(Clock::Monotonic));
        assert_eq!(clock(CLOCK_THREAD_CPUTIME_ID), Ok(Clock::Cpu));
        assert_eq!(clock(10), Err(Errno::EINVAL));
        assert_eq!(clock(-1), Err(Errno::EINVAL));
    }

    #[test]
    fn iovecs() {
        assert_eq!(iov_total(&[1, 2, 3]), Ok(6));
        assert_eq!(iov_total(&[u64::MAX, 1]), Err(Errno::EINVAL));
        assert_eq!(iov_total(&[i64::MAX as u64, 1]), Err(Errno::EINVAL));
        assert_eq!(iov_total(&[0; 1025]), Err(Errno::EINVAL));
        assert_eq!(iov_total(&[]), Ok(0));
    }

    #[test]
    fn poll_bits() {
        assert_eq!(poll_revents(POLLIN, true, true), POLLIN);
        assert_eq!(poll_revents(POLLIN, false, true), 0);
        assert_eq!(poll_revents(POLLIN | POLLOUT, false, true), POLLOUT);
        assert_eq!(poll_revents(POLLRDNORM, true, false), POLLRDNORM);
    }
}
