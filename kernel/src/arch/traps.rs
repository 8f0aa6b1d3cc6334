//! Interrupt descriptor table, entry stubs and the trap dispatcher.
//!
//! Every vector has a 16-byte stub (`trap_stubs + 16 * vector`) that pushes a
//! uniform frame and calls `trap_dispatch`. Every vector runs on an IST stack,
//! so an interrupt never writes below a kernel stack pointer (the red zone).

use super::{apic, cpu, percpu, percpu::ist, serial};
use core::sync::atomic::{AtomicBool, Ordering};

/// Timer interrupt vector.
pub const VEC_TIMER: u8 = 0x20;
/// Cross-core call vector.
pub const VEC_CALL: u8 = 0x40;
/// Wake-up vector: makes a halted core look at its run queue.
pub const VEC_WAKE: u8 = 0x41;
/// Spurious-interrupt vector.
pub const VEC_SPURIOUS: u8 = 0xff;

core::arch::global_asm!(
    r#"
    .section .text.traps, "ax"
    .balign 16
    .global trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17 || vec == 21 || vec == 29 || vec == 30
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
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
    testb $3, 144(%rsp)
    jnz trap_from_user
    /* From the kernel: keep the interrupted code's SSE registers. */
    mov %rsp, %rbx
    sub $512, %rsp
    and $-16, %rsp
    fxsave64 (%rsp)
    mov %rbx, %rdi
    cld
    call trap_dispatch
    fxrstor64 (%rsp)
    mov %rbx, %rsp
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
    add $16, %rsp
    iretq
"#,
    options(att_syntax)
);

/// Registers saved on a trap, in stack order.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
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
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

#[repr(C, align(16))]
struct Idt([u128; 256]);

static mut IDT: Idt = Idt([0; 256]);
static IDT_BUILT: AtomicBool = AtomicBool::new(false);
static IDT_LOCK: spin::Mutex<()> = spin::Mutex::new(());

fn ist_for(vector: usize) -> u8 {
    match vector {
        2 | 18 => ist::NMI,
        8 => ist::DOUBLE_FAULT,
        0..=31 => ist::EXCEPTION,
        _ => ist::IRQ,
    }
}

/// Load the (shared) IDT on this core, building it on first use.
pub fn load_idt() {
    extern "C" {
        static trap_stubs: u8;
    }
    let base = core::ptr::addr_of!(trap_stubs) as u64;
    {
        let _g = IDT_LOCK.lock();
        if !IDT_BUILT.load(Ordering::Acquire) {
            for v in 0..256usize {
                let h = base + 16 * v as u64;
                let low = (h & 0xffff)
                    | (u64::from(percpu::sel::KCODE) << 16)
                    | (u64::from(ist_for(v)) << 32)
                    | (0x8e << 40)
                    | (((h >> 16) & 0xffff) << 48);
                let high = h >> 32;
                // SAFETY: written once under IDT_LOCK before any core loads it.
                unsafe {
                    (*core::ptr::addr_of_mut!(IDT)).0[v] =
                        u128::from(low) | (u128::from(high) << 64)
                };
            }
            IDT_BUILT.store(true, Ordering::Release);
        }
    }
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let ptr = Pointer {
        limit: (256 * 16 - 1) as u16,
        base: core::ptr::addr_of!(IDT) as u64,
    };
    // SAFETY: the IDT is fully built and lives forever.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &ptr, options(nostack)) };
}

const EXCEPTION_NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "NMI",
    "breakpoint",
    "overflow",
    "bound range",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating point",
    "alignment check",
    "machine check",
    "SIMD floating point",
    "virtualization",
    "control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security",
    "reserved",
];

#[no_mangle]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector as u8 {
        v if v < 32 => exception(frame),
        v => interrupt(v),
    }
}

/// Handle device and inter-processor interrupt `vector` (also called for
/// interrupts that arrived while a user program ran).
pub fn interrupt(vector: u8) {
    match vector {
        VEC_TIMER => {
            let pc = percpu::current();
            pc.ticks.fetch_add(1, Ordering::Relaxed);
            if pc.core_id() == 0 {
                serial::poll_input();
            }
            apic::eoi();
        }
        VEC_CALL => {
            apic::eoi();
            super::smp::service_mailbox();
        }
        VEC_WAKE => apic::eoi(),
        VEC_SPURIOUS => {}
        v => {
            log::warn!("unexpected interrupt vector {v:#x}");
            apic::eoi();
        }
    }
}

static DYING: AtomicBool = AtomicBool::new(false);

fn exception(frame: &TrapFrame) -> ! {
    if DYING.swap(true, Ordering::SeqCst) {
        cpu::halt_forever();
    }
    let v = frame.vector as usize;
    let core = percpu::current().core_id();
    serial::write_fmt_unlocked(format_args!(
        "\n!!! CPU exception {} ({}) on core {}\n    error code {:#x}  rip {:#018x}  rsp {:#018x}  rflags {:#x}  cs {:#x}\n",
        v, EXCEPTION_NAMES[v], core, frame.error_code, frame.rip, frame.rsp, frame.rflags, frame.cs
    ));
    if v == 14 {
        let cr2 = cpu::cr2();
        serial::write_fmt_unlocked(format_args!(
            "    cr2 {:#018x}{}\n",
            cr2,
            if super::paging::is_stack_guard(cr2) {
                "  (kernel stack guard page: stack overflow)"
            } else if cr2 < 0x0000_8000_0000_0000 && frame.error_code & 0x11 == 0x11 {
                "  (the kernel executed a user page: blocked by SMEP)"
            } else if cr2 < 0x0000_8000_0000_0000 && frame.error_code & 0x5 == 0x1 {
                "  (the kernel touched a user page: blocked by SMAP)"
            } else {
                ""
            }
        ));
    }
    serial::write_fmt_unlocked(format_args!(
        "    rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x} rbp {:#x}\n",
        frame.rax, frame.rbx, frame.rcx, frame.rdx, frame.rsi, frame.rdi, frame.rbp
    ));
    print_backtrace(frame.rip, frame.rbp);
    super::exit::exit_failure()
}

/// Print return addresses by walking the frame-pointer chain, staying within
/// the current core's main kernel stack.
pub fn print_backtrace(rip: u64, mut rbp: u64) {
    let pc = percpu::current();
    let (lo, hi) = match (
        pc.stack_bottom.load(Ordering::Relaxed),
        pc.stack_top.load(Ordering::Relaxed),
    ) {
        (0, _) => super::boot_stack_bounds(),
        b => b,
    };
    serial::write_fmt_unlocked(format_args!(
        "    stack trace (addr2line -e kernel):\n      {rip:#018x}\n"
    ));
    for _ in 0..16 {
        if rbp < lo || rbp + 16 > hi || rbp % 8 != 0 {
            break;
        }
        // SAFETY: rbp lies within this core's mapped kernel stack.
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        serial::write_fmt_unlocked(format_args!("      {ret:#018x}\n"));
        rbp = next;
    }
}

/// Report a kernel panic and stop the machine.
pub fn panic_report(info: &core::panic::PanicInfo<'_>) -> ! {
    if DYING.swap(true, Ordering::SeqCst) {
        cpu::halt_forever();
    }
    let core = percpu::current().core_id();
    serial::write_fmt_unlocked(format_args!("\n!!! kernel panic on core {core}: {info}\n"));
    print_backtrace(0, cpu::rbp());
    super::exit::exit_failure()
}
