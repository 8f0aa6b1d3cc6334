//! Signal delivery to user handlers: the x86-64 Linux `rt_sigframe` on the
//! user stack (return address = `sa_restorer`, `ucontext` with the saved
//! registers, signal mask and SSE state, `siginfo`), and `rt_sigreturn`.

use crate::process::Thread;
use crate::uaccess;
use abi::errno::{Errno, KResult};
use abi::flags::{SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SIGKILL, SIGSTOP};
use alloc::vec::Vec;

/// `SS_ONSTACK` / `SS_DISABLE` of `sigaltstack`.
const SS_ONSTACK: i32 = 1;
const SS_DISABLE: i32 = 2;
const MINSIGSTKSZ: u64 = 2048;

/// An alternate signal stack (`sigaltstack`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AltStack {
    /// Base.
    pub sp: u64,
    /// Size.
    pub size: u64,
    /// `SS_DISABLE` when none.
    pub disabled: bool,
}

// Layout of the frame (offsets from its start, which holds the return
// address): ucontext at 8 (flags 8, link 8, stack_t 24, sigcontext 256,
// sigmask 8), siginfo (128) after it, then the 512-byte FXSAVE area aligned
// to 64.
const UC: u64 = 8;
const UC_STACK: u64 = UC + 16;
const UC_MCONTEXT: u64 = UC + 40;
const UC_SIGMASK: u64 = UC_MCONTEXT + 256;
const INFO: u64 = UC_SIGMASK + 8 + 8; // keep 16-byte alignment
const FRAME_FIXED: u64 = INFO + 128;

fn put(buf: &mut [u8], off: u64, v: u64) {
    buf[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
}

fn get(buf: &[u8], off: u64) -> u64 {
    u64::from_le_bytes(
        buf[off as usize..off as usize + 8]
            .try_into()
            .unwrap_or([0; 8]),
    )
}

/// Whether `sp` lies on the thread's alternate stack.
fn on_alt_stack(t: &Thread, sp: u64) -> bool {
    !t.altstack.disabled && sp > t.altstack.sp && sp <= t.altstack.sp + t.altstack.size
}

/// Push a signal frame for `sig` and point the thread at its handler.
/// `code`/`addr` fill `siginfo` (`si_code`, and `si_addr` for faults or the
/// sender's pid for `kill`).
pub fn deliver(t: &mut Thread, sig: i32, code: i32, addr: u64) -> KResult<()> {
    let act = t.sigactions.get(sig);
    let c = &t.ctx;
    let mut sp = c.rsp;
    if act.flags & SA_ONSTACK != 0 && !t.altstack.disabled && !on_alt_stack(t, sp) {
        sp = t.altstack.sp + t.altstack.size;
    } else {
        sp = sp.wrapping_sub(128); // the red zone
    }
    let fpu_at = (sp - 512) & !63;
    let frame = ((fpu_at - FRAME_FIXED) & !15) - 8; // (frame + 8) % 16 == 0
    let mut f = alloc::vec![0u8; FRAME_FIXED as usize];
    put(&mut f, 0, act.restorer);
    // ucontext: flags, link, stack_t.
    put(&mut f, UC_STACK, t.altstack.sp);
    f[(UC_STACK + 8) as usize..(UC_STACK + 12) as usize].copy_from_slice(
        &(if t.altstack.disabled {
            SS_DISABLE
        } else if on_alt_stack(t, c.rsp) {
            SS_ONSTACK
        } else {
            0
        })
        .to_le_bytes(),
    );
    put(&mut f, UC_STACK + 16, t.altstack.size);
    let regs = [
        c.r8, c.r9, c.r10, c.r11, c.r12, c.r13, c.r14, c.r15, c.rdi, c.rsi, c.rbp, c.rbx, c.rdx,
        c.rax, c.rcx, c.rsp, c.rip, c.rflags,
    ];
    for (i, r) in regs.iter().enumerate() {
        put(&mut f, UC_MCONTEXT + 8 * i as u64, *r);
    }
    put(&mut f, UC_MCONTEXT + 8 * 18, 0x33 | (0x2b << 48)); // cs, gs, fs, ss
    put(&mut f, UC_MCONTEXT + 8 * 19, c.error_code);
    put(&mut f, UC_MCONTEXT + 8 * 20, c.vector.min(31));
    put(&mut f, UC_MCONTEXT + 8 * 21, t.sigmask);
    put(&mut f, UC_MCONTEXT + 8 * 22, addr);
    put(&mut f, UC_MCONTEXT + 8 * 23, fpu_at);
    put(&mut f, UC_SIGMASK, t.sigmask);
    // siginfo: signo, errno, code, then the union.
    f[INFO as usize..INFO as usize + 4].copy_from_slice(&sig.to_le_bytes());
    f[INFO as usize + 8..INFO as usize + 12].copy_from_slice(&code.to_le_bytes());
    put(&mut f, INFO + 16, addr);
    uaccess::write(t.pid, fpu_at, &c.fpu_bytes().0)?;
    uaccess::write(t.pid, frame, &f)?;

    let c = &mut t.ctx;
    c.rsp = frame;
    c.rip = act.handler;
    c.rdi = sig as u64;
    c.rsi = frame + INFO;
    c.rdx = frame + UC;
    c.rax = 0;
    c.rflags &= !(1 << 10); // DF clear on entry, as the ABI requires
    let mut mask = t.sigmask | act.mask;
    if act.flags & SA_NODEFER == 0 {
        mask |= 1 << (sig - 1);
    }
    t.sigmask = mask & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    if act.flags & SA_RESETHAND != 0 {
        t.sigactions.set(sig, abi::structs::KSigaction::default());
    }
    Ok(())
}

/// `rt_sigreturn`: restore the registers, mask and SSE state saved by
/// [`deliver`]. `Err` means the frame is unreadable (the process gets
/// SIGSEGV).
pub fn sigreturn(t: &mut Thread) -> KResult<()> {
    let frame = t.ctx.rsp - 8;
    let f: Vec<u8> = uaccess::read(t.pid, frame, FRAME_FIXED as usize)?;
    let r = |i: u64| get(&f, UC_MCONTEXT + 8 * i);
    let fpu_at = r(23);
    let fpu = if fpu_at != 0 {
        Some(uaccess::read(t.pid, fpu_at, 512)?)
    } else {
        None
    };
    let c = &mut t.ctx;
    c.r8 = r(0);
    c.r9 = r(1);
    c.r10 = r(2);
    c.r11 = r(3);
    c.r12 = r(4);
    c.r13 = r(5);
    c.r14 = r(6);
    c.r15 = r(7);
    c.rdi = r(8);
    c.rsi = r(9);
    c.rbp = r(10);
    c.rbx = r(11);
    c.rdx = r(12);
    c.rax = r(13);
    c.rcx = r(14);
    c.rsp = r(15);
    c.rip = r(16);
    c.rflags = r(17); // sanitised by `user::enter`
    if let Some(fpu) = fpu {
        // (Reserved MXCSR bits are cleared there: they would make FXRSTOR
        // fault in the kernel.)
        if let Ok(image) = <&[u8; 512]>::try_from(&fpu[..]) {
            c.set_fpu_bytes(image);
        }
    }
    t.sigmask = get(&f, UC_SIGMASK) & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    Ok(())
}

/// `sigaltstack(new, old)`.
pub fn sigaltstack(t: &mut Thread, new: u64, old: u64) -> KResult<u64> {
    if old != 0 {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&t.altstack.sp.to_le_bytes());
        let flags = if t.altstack.disabled {
            SS_DISABLE
        } else if on_alt_stack(t, t.ctx.rsp) {
            SS_ONSTACK
        } else {
            0
        };
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..].copy_from_slice(&t.altstack.size.to_le_bytes());
        uaccess::write(t.pid, old, &b)?;
    }
    if new != 0 {
        let b = uaccess::read(t.pid, new, 24)?;
        let sp = get(&b, 0);
        let flags = i32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let size = get(&b, 16);
        if on_alt_stack(t, t.ctx.rsp) {
            return Err(Errno::EPERM);
        }
        if flags & !(SS_DISABLE | (1 << 31)) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE != 0 {
            t.altstack = AltStack {
                sp: 0,
                size: 0,
                disabled: true,
            };
        } else {
            if size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            t.altstack = AltStack {
                sp,
                size,
                disabled: false,
            };
        }
    }
    Ok(0)
}
