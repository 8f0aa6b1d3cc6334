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
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// SSE/x87 state (offset 192). The XMM registers are saved here on
    /// every exit from user mode; the x87 part and MXCSR only when the
    /// thread leaves the core (see [`UserContext::fpu_bytes`]).
    fpu: FpuState,
    /// Names this context's FPU state for [`FPU_OWNER`]: unique, and new
    /// whenever the saved state is replaced.
    fpu_id: u64,
}

const _: () = assert!(core::mem::offset_of!(UserContext, fpu) == 192);
const _: () = assert!(core::mem::offset_of!(UserContext, fs_base) == 176);

/// Offset of the XMM registers in the FXSAVE area (after the x87 part).
const FXSAVE_XMM: usize = 160;

static NEXT_FPU_ID: AtomicU64 = AtomicU64::new(1);

fn new_fpu_id() -> u64 {
    NEXT_FPU_ID.fetch_add(1, Ordering::Relaxed)
}

/// Whose x87 state and MXCSR are live in each core's registers (an
/// `fpu_id`, 0 for nobody). Kernel code uses XMM registers but never the
/// x87 unit nor MXCSR, so those stay live across system calls and only the
/// 16 XMM registers are saved and restored on each kernel entry and exit,
/// with plain moves: under TCG a full FXSAVE/FXRSTOR pair is a long helper
/// call that took over half of a null system call.
static FPU_OWNER: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(0) }; MAX_CORES];

/// Copy the live x87 part (control/status words, MXCSR, ST0-7) of this
/// core's registers into `dst`, keeping `dst`'s XMM registers.
fn save_live_x87(dst: &mut FpuState) {
    let mut tmp = FpuState([0; 512]);
    // SAFETY: `tmp` is a 16-byte aligned 512-byte area; FXSAVE only writes it.
    unsafe {
        core::arch::asm!("fxsave64 [{}]", in(reg) tmp.0.as_mut_ptr(), options(nostack, preserves_flags))
    };
    dst.0[..FXSAVE_XMM].copy_from_slice(&tmp.0[..FXSAVE_XMM]);
}

impl Clone for UserContext {
    /// A copy with its own FPU state: the x87 part is taken from the
    /// registers when this core holds it live.
    fn clone(&self) -> Self {
        UserContext {
            fpu: self.fpu_bytes(),
            fpu_id: new_fpu_id(),
            ..*self
        }
    }
}

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
            fpu_id: new_fpu_id(),
        }
    }

    fn fpu_live_here(&self) -> bool {
        // Interrupts may move nothing between cores: the owner is per core
        // and only this core's kernel code changes its entry.
        let core = super::percpu::current().core_id();
        FPU_OWNER[core].load(Ordering::Relaxed) == self.fpu_id
    }

    /// The whole FXSAVE image of the thread's FPU/SSE state (for a signal
    /// frame).
    pub fn fpu_bytes(&self) -> FpuState {
        let mut f = self.fpu.clone();
        if self.fpu_live_here() {
            save_live_x87(&mut f);
        }
        f
    }

    /// Replace the thread's FPU/SSE state with an FXSAVE image (from a
    /// signal frame); reserved MXCSR bits are cleared so FXRSTOR cannot
    /// fault.
    pub fn set_fpu_bytes(&mut self, image: &[u8; 512]) {
        self.fpu.0.copy_from_slice(image);
        let mxcsr = u32::from_le_bytes([image[24], image[25], image[26], image[27]]) & 0xffff;
        self.fpu.0[24..28].copy_from_slice(&mxcsr.to_le_bytes());
        // The live registers (if this core holds them) are stale now.
        self.fpu_id = new_fpu_id();
    }

    /// The thread leaves this core (its slice ends): store the live x87
    /// part so that any core can resume it with a full FXRSTOR.
    pub fn release_fpu(&mut self) {
        if self.fpu_live_here() {
            save_live_x87(&mut self.fpu);
            let core = super::percpu::current().core_id();
            FPU_OWNER[core].store(0, Ordering::Relaxed);
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

    /* XMM0-15 to/from the context at rdi (FXSAVE layout, offset 192+160). */
    .macro xmm_regs op
    \op 352, 368, 384, 400, 416, 432, 448, 464, 480, 496, 512, 528, 544, 560, 576, 592
    .endm
    .macro save_xmm o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15
    movaps %xmm0, \o0(%rdi)
    movaps %xmm1, \o1(%rdi)
    movaps %xmm2, \o2(%rdi)
    movaps %xmm3, \o3(%rdi)
    movaps %xmm4, \o4(%rdi)
    movaps %xmm5, \o5(%rdi)
    movaps %xmm6, \o6(%rdi)
    movaps %xmm7, \o7(%rdi)
    movaps %xmm8, \o8(%rdi)
    movaps %xmm9, \o9(%rdi)
    movaps %xmm10, \o10(%rdi)
    movaps %xmm11, \o11(%rdi)
    movaps %xmm12, \o12(%rdi)
    movaps %xmm13, \o13(%rdi)
    movaps %xmm14, \o14(%rdi)
    movaps %xmm15, \o15(%rdi)
    .endm
    .macro load_xmm o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15
    movaps \o0(%rdi), %xmm0
    movaps \o1(%rdi), %xmm1
    movaps \o2(%rdi), %xmm2
    movaps \o3(%rdi), %xmm3
    movaps \o4(%rdi), %xmm4
    movaps \o5(%rdi), %xmm5
    movaps \o6(%rdi), %xmm6
    movaps \o7(%rdi), %xmm7
    movaps \o8(%rdi), %xmm8
    movaps \o9(%rdi), %xmm9
    movaps \o10(%rdi), %xmm10
    movaps \o11(%rdi), %xmm11
    movaps \o12(%rdi), %xmm12
    movaps \o13(%rdi), %xmm13
    movaps \o14(%rdi), %xmm14
    movaps \o15(%rdi), %xmm15
    .endm

    /* rdi = context, rsi = 1 to restore the whole FPU state (FXRSTOR),
       0 for the XMM registers only (x87 and MXCSR are live: see
       FPU_OWNER). Saves the callee-saved registers and the stack
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
    test %rsi, %rsi
    jz 1f
    fxrstor64 192(%rdi)
    jmp 2f
1:
    xmm_regs load_xmm
2:
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
    xmm_regs save_xmm
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
    xmm_regs save_xmm
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
    fn user_enter_asm(ctx: *mut UserContext, full_fpu: u64) -> u64;
    fn user_sysret_asm(ctx: *mut UserContext, full_fpu: u64) -> u64;
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

/// Per core: the core is running user code (set just before entering user
/// mode, cleared on the way back), and a TLB flush is owed before it next
/// enters user mode. User translations in a core's TLB are only used by
/// user code (the kernel never touches user addresses), so a core in the
/// kernel can take a shootdown lazily: see [`request_flush`].
static IN_USER: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];
static FLUSH_PENDING: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];

/// Ask `core` to flush its TLB before it next runs user code. True if it
/// may be running user code right now: then it must be interrupted to
/// flush (with [`flush_now`]); false if the flag suffices.
pub fn request_flush(core: usize) -> bool {
    FLUSH_PENDING[core].store(true, Ordering::SeqCst);
    // Pairs with `enter`: it sets IN_USER, then reads FLUSH_PENDING. One of
    // the two sides sees the other's store.
    IN_USER[core].load(Ordering::SeqCst)
}

/// Flush this core's TLB now (the interrupt side of [`request_flush`]).
pub fn flush_now() {
    let core = super::percpu::current().core_id();
    FLUSH_PENDING[core].store(false, Ordering::SeqCst);
    super::flush_tlb();
}

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
    // Unless this core still holds the context's x87 state and MXCSR, load
    // the whole saved image (its previous holder released it: see
    // `release_fpu`).
    let full_fpu = FPU_OWNER[core].swap(ctx.fpu_id, Ordering::Relaxed) != ctx.fpu_id;
    IN_USER[core].store(true, Ordering::SeqCst);
    if FLUSH_PENDING[core].swap(false, Ordering::SeqCst) {
        super::flush_tlb();
    }
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
            user_sysret_asm(ctx, u64::from(full_fpu))
        } else {
            user_enter_asm(ctx, u64::from(full_fpu))
        }
    };
    IN_USER[core].store(false, Ordering::Release);
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
