//! Copying to and from user memory.
//!
//! The kernel never dereferences a user pointer. It translates each user
//! page through the local replica's page table (a read operation), faulting
//! the page in first if the mapping allows the access but has no frame yet,
//! and copies through the direct map. A bad pointer therefore cannot fault
//! in the kernel: it yields `EFAULT`.

use crate::arch::paging::{frame, PAGE_SIZE};
use crate::{process, state};
use abi::errno::{Errno, KResult};
use alloc::vec::Vec;
use kstate::{Access, FaultDecision, Pid, ReadOp, Resp};

/// Longest path accepted (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// The frame backing the page of `va` with the rights for `write`,
/// populating it if needed.
pub fn page_frame(pid: Pid, va: u64, write: bool) -> KResult<u64> {
    if va >= 0x0000_8000_0000_0000 {
        return Err(Errno::EFAULT);
    }
    let mut tries = 0;
    while tries < 4 {
        tries += 1;
        if let Ok(Resp::Translation(Some((pa, f)))) = state::execute(ReadOp::Translate { pid, va }) {
            if f.present && f.user && (!write || f.writable) {
                // `translate` keeps the page offset; callers want the frame.
                return Ok(pa & !(PAGE_SIZE - 1));
            }
        }
        let access = Access { write, exec: false, user: true };
        match state::execute(ReadOp::Fault { pid, va, access }) {
            Ok(Resp::Fault(FaultDecision::NeedsFrame { file, .. })) => process::populate_page(pid, va, file)?,
            Ok(Resp::CowFault { frame, shared }) => match process::resolve_cow(pid, va, frame, shared) {
                // A fork of `pid` is flushing TLBs (system calls run with
                // interrupts off: serve its flush request while waiting).
                Err(Errno::EAGAIN) => {
                    crate::arch::smp::service_mailbox();
                    core::hint::spin_loop();
                    tries -= 1;
                }
                r => r?,
            },
            Ok(Resp::Fault(FaultDecision::Spurious)) => {}
            _ => return Err(Errno::EFAULT),
        }
    }
    Err(Errno::EFAULT)
}

/// Visit the user range `[va, va+len)` page by page: `f(frame, offset in
/// frame, offset in range, length)`.
fn for_each_page(pid: Pid, va: u64, len: usize, write: bool, mut f: impl FnMut(u64, usize, usize, usize)) -> KResult<()> {
    let end = va.checked_add(len as u64).ok_or(Errno::EFAULT)?;
    let mut cur = va;
    while cur < end {
        let in_page = (cur % PAGE_SIZE) as usize;
        let n = ((PAGE_SIZE as usize) - in_page).min((end - cur) as usize);
        let pa = page_frame(pid, cur, write)?;
        f(pa, in_page, (cur - va) as usize, n);
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
    for_each_page(pid, va, len, false, |pa, off, at, n| frame::read(pa, off, &mut out[at..at + n]))?;
    Ok(out)
}

/// Copy `data` to user address `va`.
pub fn write(pid: Pid, va: u64, data: &[u8]) -> KResult<()> {
    for_each_page(pid, va, data.len(), true, |pa, off, at, n| frame::write(pa, off, &data[at..at + n]))
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
        let pa = page_frame(pid, cur, false)?;
        let mut buf = alloc::vec![0u8; n];
        frame::read(pa, in_page, &mut buf);
        if let Some(z) = buf.iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..z]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            return Ok(out);
        }
        out.extend_from_slice(&buf);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
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
