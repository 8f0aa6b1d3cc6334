//! Copying to and from user memory.
//!
//! The kernel never dereferences a user pointer. It translates each user
//! page through the local replica's page table (a read operation), faulting
//! the page in first if the mapping allows the access but has no frame yet,
//! and copies through the direct map. A bad pointer therefore cannot fault
//! in the kernel: it yields `EFAULT`.

use crate::arch::paging::{frame, PAGE_SIZE};
use crate::arch::percpu::{self, MAX_CORES};
use crate::{process, state};
use abi::errno::{Errno, KResult};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use kstate::{Access, FaultDecision, Pid, ReadOp, Resp};

/// Longest path accepted (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// Per core: odd while it copies to or from a user frame it translated
/// (see [`Window`]).
static ACCESS_SEQ: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(0) }; MAX_CORES];

/// A user page's frame is being accessed through the direct map on this
/// core. The kernel holds no TLB entry for it, so a TLB shootdown cannot
/// stop such an access: whoever unmaps, frees or write-protects user frames
/// waits in [`quiesce`] for the windows open at that moment instead. A window
/// covers one translation and the copy that uses it, nothing that waits.
struct Window(usize);

impl Window {
    fn open() -> Window {
        let me = percpu::current().core_id();
        let s = ACCESS_SEQ[me].fetch_add(1, Ordering::SeqCst);
        debug_assert!(s & 1 == 0, "nested user access window");
        Window(me)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        ACCESS_SEQ[self.0].fetch_add(1, Ordering::Release);
    }
}

/// Wait until every other core has left the user access window it is in,
/// if any. Called after a change of translations is complete (applied by
/// an operation, TLBs flushed) and before the frames it released are
/// reused or a copy-on-write copy of them is allowed: an access that
/// translated before the change has finished, one that starts now sees
/// the change.
pub fn quiesce() {
    core::sync::atomic::fence(Ordering::SeqCst);
    let me = percpu::current().core_id();
    for (c, seq) in ACCESS_SEQ
        .iter()
        .enumerate()
        .take(crate::topology().cores.len())
    {
        let s = seq.load(Ordering::SeqCst);
        if c == me || s & 1 == 0 {
            continue;
        }
        while seq.load(Ordering::Acquire) == s {
            // System calls run with interrupts off: serve flush requests.
            crate::arch::smp::service_mailbox();
            core::hint::spin_loop();
        }
    }
}

/// The frame of the page of `va` if the local replica maps it with the
/// rights for `write`.
fn translate(pid: Pid, va: u64, write: bool) -> Option<u64> {
    match state::execute(ReadOp::Translate { pid, va }) {
        // `translate` keeps the page offset; callers want the frame.
        Ok(Resp::Translation(Some((pa, f)))) if f.present && f.user && (!write || f.writable) => {
            Some(pa & !(PAGE_SIZE - 1))
        }
        _ => None,
    }
}

/// Run `f` on the frame of the page of `va` (faulting it in for `write`
/// or reading), inside a [`Window`].
fn with_frame<R>(pid: Pid, va: u64, write: bool, f: impl FnOnce(u64) -> R) -> KResult<R> {
    loop {
        let w = Window::open();
        if let Some(pa) = translate(pid, va, write) {
            let r = f(pa);
            drop(w);
            return Ok(r);
        }
        drop(w);
        page_frame(pid, va, write)?;
    }
}

/// The frame backing the page of `va` with the rights for `write`,
/// populating it if needed. Only for checks and keys: the frame may be
/// unmapped and reused as soon as this returns (accesses use
/// [`with_frame`]).
pub fn page_frame(pid: Pid, va: u64, write: bool) -> KResult<u64> {
    if va >= 0x0000_8000_0000_0000 {
        return Err(Errno::EFAULT);
    }
    // Each round makes the page accessible, but another thread of the
    // process may take that away again before we look (a concurrent fork
    // makes every page copy-on-write again; the forkexec benchmark's four
    // forking threads beat a limit of 4 rounds, and waitpid then failed with
    // EFAULT). So the limit only guards against a state in which the fault
    // path keeps promising a mapping that never appears.
    let mut tries = 0;
    while tries < 10_000 {
        tries += 1;
        if let Some(pa) = translate(pid, va, write) {
            return Ok(pa);
        }
        let access = Access {
            write,
            exec: false,
            user: true,
        };
        match state::execute(ReadOp::Fault { pid, va, access }) {
            Ok(Resp::Fault(FaultDecision::NeedsFrame { file, .. })) => {
                process::populate_page(pid, va, file)?
            }
            Ok(Resp::CowFault { frame, shared }) => {
                match process::resolve_cow(pid, va, frame, shared) {
                    // A fork of `pid` is flushing TLBs (system calls run with
                    // interrupts off: serve its flush request while waiting).
                    Err(Errno::EAGAIN) => {
                        crate::arch::smp::service_mailbox();
                        core::hint::spin_loop();
                        tries -= 1;
                    }
                    r => r?,
                }
            }
            Ok(Resp::Fault(FaultDecision::Spurious)) => {}
            _ => return Err(Errno::EFAULT),
        }
    }
    Err(Errno::EFAULT)
}

/// Visit the user range `[va, va+len)` page by page: `f(frame, offset in
/// frame, offset in range, length)`.
fn for_each_page(
    pid: Pid,
    va: u64,
    len: usize,
    write: bool,
    mut f: impl FnMut(u64, usize, usize, usize),
) -> KResult<()> {
    let end = va.checked_add(len as u64).ok_or(Errno::EFAULT)?;
    let mut cur = va;
    while cur < end {
        let in_page = (cur % PAGE_SIZE) as usize;
        let n = ((PAGE_SIZE as usize) - in_page).min((end - cur) as usize);
        with_frame(pid, cur, write, |pa| f(pa, in_page, (cur - va) as usize, n))?;
        cur += n as u64;
    }
    Ok(())
}

/// Copy `len` bytes from user address `va`.
pub fn read(pid: Pid, va: u64, len: usize) -> KResult<Vec<u8>> {
    // A bad range usually shows at its ends: fail with EFAULT before
    // allocating a large buffer.
    if len > PAGE_SIZE as usize {
        let last = va.checked_add(len as u64 - 1).ok_or(Errno::EFAULT)?;
        page_frame(pid, va, false)?;
        page_frame(pid, last, false)?;
    }
    // The length comes from the user: allocate fallibly.
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    out.resize(len, 0);
    for_each_page(pid, va, len, false, |pa, off, at, n| {
        frame::read(pa, off, &mut out[at..at + n])
    })?;
    Ok(out)
}

/// Copy `data` to user address `va`.
pub fn write(pid: Pid, va: u64, data: &[u8]) -> KResult<()> {
    for_each_page(pid, va, data.len(), true, |pa, off, at, n| {
        frame::write(pa, off, &data[at..at + n])
    })
}

/// Read a little-endian u64.
pub fn read_u64(pid: Pid, va: u64) -> KResult<u64> {
    let b = read(pid, va, 8)?;
    Ok(u64::from_le_bytes(b.try_into().map_err(|_| Errno::EFAULT)?))
}

/// Write a little-endian u64.
pub fn write_u64(pid: Pid, va: u64, v: u64) -> KResult<()> {
    write(pid, va, &v.to_le_bytes())
}

/// Write a little-endian i32.
pub fn write_i32(pid: Pid, va: u64, v: i32) -> KResult<()> {
    write(pid, va, &v.to_le_bytes())
}

/// Read a NUL-terminated string of at most `max` bytes (without the NUL);
/// `ENAMETOOLONG` if longer.
pub fn read_cstr(pid: Pid, va: u64, max: usize) -> KResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = va;
    loop {
        let in_page = (cur % PAGE_SIZE) as usize;
        let n = PAGE_SIZE as usize - in_page;
        // Copy in small pieces up to the NUL (strings are short; copying the
        // rest of the page would cost more than the whole call).
        let found = with_frame(pid, cur, false, |pa| {
            let mut chunk = [0u8; 64];
            let mut at = in_page;
            while at < PAGE_SIZE as usize && out.len() <= max {
                let len = chunk.len().min(PAGE_SIZE as usize - at);
                frame::read(pa, at, &mut chunk[..len]);
                if let Some(z) = chunk[..len].iter().position(|&b| b == 0) {
                    out.extend_from_slice(&chunk[..z]);
                    return true;
                }
                out.extend_from_slice(&chunk[..len]);
                at += len;
            }
            false
        })?;
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        if found {
            return Ok(out);
        }
        cur = cur.checked_add(n as u64).ok_or(Errno::EFAULT)?;
    }
}

/// Read a path argument (`EFAULT`, `ENAMETOOLONG`).
pub fn read_path(pid: Pid, va: u64) -> KResult<Vec<u8>> {
    read_cstr(pid, va, PATH_MAX - 1)
}

/// Read a NULL-terminated array of string pointers (argv, envp).
pub fn read_str_array(pid: Pid, va: u64) -> KResult<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if va == 0 {
        return Ok(out);
    }
    let mut total = 0usize;
    for i in 0u64.. {
        let p = read_u64(pid, va.checked_add(8 * i).ok_or(Errno::EFAULT)?)?;
        if p == 0 {
            break;
        }
        let s = read_cstr(pid, p, 128 * 1024)?;
        total += s.len() + 9;
        if total > 2 * 1024 * 1024 {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}
