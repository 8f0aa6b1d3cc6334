//! Running user code: ring 3 entry through `iretq`, exits through `syscall`
//! or any trap, and the per-thread register and SSE state.
//!
//! The kernel drives user code as a function call: [`enter`] loads a
//! [`UserContext`] and drops to ring 3; the next `syscall` or trap from ring 3
//! saves every register back into that context and returns from [`enter`] on
//! the caller's kernel stack with the reason. So the kernel side is a plain
//! loop (`run thread; handle its system call or fault; repeat`) and switching
//! threads is switching contexts.
//!
//! GS: while user code runs, GS base is the user's and KERNEL_GS_BASE holds
//! the per-core pointer; every entry from ring 3 does `swapgs`, every exit to
//! it does `swapgs` again. Per-core words at gs:8/16/24 (see `percpu`) hold
//! the user stack pointer on `syscall`, the kernel stack pointer of
//! [`enter`]'s caller, and the current context.

use super::percpu::MAX_CORES;
use super::{cpu, percpu::sel};
use core::sync::atomic::{AtomicU64, Ordering};

const IA32_EFER: u32 = 0xC000_0080;
const IA32_STAR: u32 = 0xC000_0081;
const IA32_LSTAR: u32 = 0xC000_0082;
const IA32_FMASK: u32 = 0xC000_0084;
const IA32_FS_BASE: u32 = 0xC000_0100;
const IA32_KERNEL_GS_BASE: u32 = 0xC000_0102;

/// `vector` value recorded for a `syscall` exit.
pub const SYSCALL_VECTOR: u64 = 0x100;

/// RFLAGS bits a user program may change (CF PF AF ZF SF TF DF OF AC ID
/// and the like); IF is always set, IOPL always 0.
const USER_RFLAGS_MASK: u64 = 0x0025_0dd5;
const RFLAGS_IF: u64 = 1 << 9;

/// The 512-byte FXSAVE area.
#[derive(Clone)]
#[repr(C, align(16))]
pub struct FpuState(pub [u8; 512]);

impl Default for FpuState {
    fn default() -> Self {
        let mut s = [0u8; 512];
        s[0..2].copy_from_slice(&0x037fu16.to_le_bytes()); // x87 control word
        s[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // MXCSR
        FpuState(s)
    }
}

/// A user thread's saved registers. The first 22 words have the layout of
/// `traps::TrapFrame` (the entry code copies that frame here verbatim).
#[derive(Clone)]
#[repr(C, align(64))]
pub struct UserContext {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Why the thread last left user mode: a trap vector or
    /// [`SYSCALL_VECTOR`].
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
    /// FS base (thread pointer, `arch_prctl(ARCH_SET_FS)`).
    pub fs_base: u64,
    /// GS base of user mode.
    pub gs_base: u64,
    /// SSE/x87 state (offset 192).
    pub fpu: FpuState,
}

const _: () = assert!(core::mem::offset_of!(UserContext, fpu) == 192);
const _: () = assert!(core::mem::offset_of!(UserContext, fs_base) == 176);

impl UserContext {
    /// A fresh context that starts at `rip` with stack pointer `rsp`.
    pub fn new(rip: u64, rsp: u64) -> Self {
        UserContext {
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rbp: 0,
            rdi: 0,
            rsi: 0,
            rdx: 0,
            rcx: 0,
            rbx: 0,
            rax: 0,
            vector: 0,
            error_code: 0,
            rip,
            cs: u64::from(sel::UCODE),
            rflags: RFLAGS_IF,
            rsp,
            ss: u64::from(sel::UDATA),
            fs_base: 0,
            gs_base: 0,
            fpu: FpuState::default(),
        }
    }
}

/// Why [`enter`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The thread executed `syscall`; number in `rax`, arguments in rdi,
    /// rsi, rdx, r10, r8, r9.
    Syscall,
    /// A CPU exception in user mode: vector, error code and (for page
    /// faults) the faulting address.
    Exception {
        vector: u8,
        error_code: u64,
        cr2: u64,
    },
    /// A device or inter-processor interrupt arrived while user code ran
    /// (already acknowledged and handled).
    Interrupt(u8),
}

core::arch::global_asm!(
    r#"
    .section .text.user, "ax"

    /* rdi = context. Saves the callee-saved registers and the stack
       pointer for the next exit from user mode (gs:16, gs:24), restores
       the context's SSE state and registers; ends with rsp at its
       `vector` word (then error code, rip, cs, rflags, rsp, ss). */
    .macro load_user_context
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %gs:16
    mov %rdi, %gs:24
    fxrstor64 192(%rdi)
    mov %rdi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    .endm

    .global user_enter_asm
    /* rdi = context. Interrupts must be disabled. Returns 0 after a
       syscall, 1 after a trap. */
user_enter_asm:
    load_user_context
    add $16, %rsp
    swapgs
    iretq

    /* Like user_enter_asm, but returns with sysretq: only for a context
       that resumes right after its `syscall` with rcx = rip and
       r11 = rflags (what `syscall` leaves there, and what sysretq loads). */
    .global user_sysret_asm
user_sysret_asm:
    load_user_context
    mov 40(%rsp), %rsp
    swapgs
    sysretq

    .global syscall_entry_asm
syscall_entry_asm:
    swapgs
    mov %rsp, %gs:8
    mov %gs:24, %rsp
    add $176, %rsp
    pushq ${udata}
    pushq %gs:8
    push %r11
    pushq ${ucode}
    push %rcx
    pushq $0
    pushq ${sysvec}
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %gs:24, %rdi
    fxsave64 192(%rdi)
    xor %eax, %eax
    jmp user_exit_common

    /* Reached from trap_common with the trap frame at rsp (IST stack). */
    .global trap_from_user
trap_from_user:
    swapgs
    mov %gs:24, %rdi
    mov %rsp, %rsi
    mov $22, %ecx
    cld
    rep movsq
    mov %gs:24, %rdi
    fxsave64 192(%rdi)
    mov $1, %eax
user_exit_common:
    mov %gs:16, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
"#,
    udata = const sel::UDATA as u64,
    ucode = const sel::UCODE as u64,
    sysvec = const SYSCALL_VECTOR,
    options(att_syntax)
);

extern "C" {
    fn user_enter_asm(ctx: *mut UserContext) -> u64;
    fn user_sysret_asm(ctx: *mut UserContext) -> u64;
    fn syscall_entry_asm();
}

/// Enable `syscall` on this core and point it at the entry code.
pub fn init_core() {
    // SAFETY: SCE only enables the SYSCALL instruction; STAR selects the
    // kernel code/data selectors for entry (0x08/0x10) and the user ones for
    // SYSRET (base 0x10: SS 0x18|3, CS 0x20|3); LSTAR is our entry point; FMASK
    // clears IF, TF, DF, AC and NT on entry so the entry code runs with
    // interrupts off.
    unsafe {
        cpu::wrmsr(IA32_EFER, cpu::rdmsr(IA32_EFER) | 1);
        cpu::wrmsr(IA32_STAR, (u64::from(sel::KCODE) << 32) | (0x10u64 << 48));
        cpu::wrmsr(IA32_LSTAR, syscall_entry_asm as *const () as u64);
        cpu::wrmsr(IA32_FMASK, 0x4_7700);
    }
}

/// The FS base and user GS base (KERNEL_GS_BASE while the kernel runs)
/// last written on each core: user code cannot change either itself
/// (FSGSBASE is off), so an unchanged value needs no `wrmsr`.
static LOADED_FS: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(u64::MAX) }; MAX_CORES];
static LOADED_GS: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(u64::MAX) }; MAX_CORES];

/// Run `ctx` in user mode until it makes a system call or traps.
///
/// `after_syscall`: the context resumes right after the `syscall` it made
/// (no signal frame or other change of rip in between). Then the return
/// uses `sysretq`, which is cheaper than `iretq` (much so under TCG), and
/// rcx/r11 get rip/rflags as the system-call ABI says they do.
pub fn enter(ctx: &mut UserContext, after_syscall: bool) -> Exit {
    // Never let a context smuggle in kernel selectors, IOPL or a disabled IF.
    ctx.cs = u64::from(sel::UCODE);
    ctx.ss = u64::from(sel::UDATA);
    ctx.rflags = (ctx.rflags & USER_RFLAGS_MASK) | RFLAGS_IF;
    // x86-64 requires canonical addresses; a bad one would fault in ring 0
    // on iretq. Make it fault in user mode instead (rip 0 is never mapped).
    if !is_user_canonical(ctx.rip) {
        ctx.rip = 0;
    }
    ctx.fs_base = if is_user_canonical(ctx.fs_base) {
        ctx.fs_base
    } else {
        0
    };
    ctx.gs_base = if is_user_canonical(ctx.gs_base) {
        ctx.gs_base
    } else {
        0
    };
    let sysret = after_syscall && ctx.vector == SYSCALL_VECTOR && is_user_canonical(ctx.rip);
    if sysret {
        ctx.rcx = ctx.rip;
        ctx.r11 = ctx.rflags;
    }
    cpu::cli();
    let core = super::percpu::current().core_id();
    // SAFETY: interrupts are off; the FS base and the user GS base (swapped in
    // by the `swapgs` on the way out) are canonical user addresses; `ctx` is
    // a valid context with user selectors, so `iretq` lands in ring 3 and the
    // next entry from ring 3 writes back into `ctx` (its address is kept at
    // gs:24 until then) and returns here on this stack. For `sysretq`, rcx
    // holds a canonical user rip (so it cannot fault in ring 0) and r11 the
    // sanitised rflags (IF set, IOPL 0); STAR selects the user selectors.
    let reason = unsafe {
        if LOADED_FS[core].load(Ordering::Relaxed) != ctx.fs_base {
            cpu::wrmsr(IA32_FS_BASE, ctx.fs_base);
            LOADED_FS[core].store(ctx.fs_base, Ordering::Relaxed);
        }
        if LOADED_GS[core].load(Ordering::Relaxed) != ctx.gs_base {
            cpu::wrmsr(IA32_KERNEL_GS_BASE, ctx.gs_base);
            LOADED_GS[core].store(ctx.gs_base, Ordering::Relaxed);
        }
        if sysret {
            user_sysret_asm(ctx)
        } else {
            user_enter_asm(ctx)
        }
    };
    if reason == 0 {
        return Exit::Syscall;
    }
    ctx.gs_base = cpu::rdmsr(IA32_KERNEL_GS_BASE);
    let vector = ctx.vector as u8;
    if vector < 32 {
        let cr2 = if vector == 14 { cpu::cr2() } else { 0 };
        Exit::Exception {
            vector,
            error_code: ctx.error_code,
            cr2,
        }
    } else {
        super::traps::interrupt(vector);
        Exit::Interrupt(vector)
    }
}

/// Whether `addr` is a canonical lower-half address.
pub fn is_user_canonical(addr: u64) -> bool {
    addr < 0x0000_8000_0000_0000
}
