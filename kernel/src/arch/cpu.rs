//! Thin wrappers around privileged x86-64 instructions.

use core::arch::asm;

/// Read a model-specific register.
pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: ring 0; every MSR the kernel reads exists on the CPUs we boot on
    // (checked through CPUID where optional).
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Write a model-specific register.
///
/// # Safety
/// The write must not break memory safety (e.g. GS base must point to valid
/// per-core data, EFER must keep long mode enabled).
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller upholds the contract above.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack))
    };
}

/// Write a byte to an I/O port.
pub fn outb(port: u16, value: u8) {
    // SAFETY: port I/O has no memory-safety effect; the kernel owns all devices.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack)) };
}

/// Read a byte from an I/O port.
pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: as for `outb`.
    unsafe { asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack)) };
    v
}

/// Write a 32-bit value to an I/O port.
pub fn outl(port: u16, value: u32) {
    // SAFETY: as for `outb`.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack)) };
}

/// CR2: the faulting address of the last page fault.
pub fn cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack)) };
    v
}

/// CR3: the physical address of the current top-level page table.
pub fn cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack)) };
    v
}

/// Load a new top-level page table.
///
/// # Safety
/// `pml4` must be a valid page-table hierarchy that maps the running kernel
/// (code, stack, data) at the same addresses as the current one.
pub unsafe fn set_cr3(pml4: u64) {
    // SAFETY: the caller upholds the contract above.
    unsafe { asm!("mov cr3, {}", in(reg) pml4, options(nostack)) };
}

/// CR4.
pub fn cr4() -> u64 {
    let v: u64;
    // SAFETY: reading CR4 has no side effects.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack)) };
    v
}

/// Set bits in CR4.
///
/// # Safety
/// The bits must be supported by the CPU and must not break running code.
pub unsafe fn cr4_set(bits: u64) {
    // SAFETY: the caller upholds the contract above.
    unsafe { asm!("mov cr4, {}", in(reg) cr4() | bits, options(nostack)) };
}

/// Turn on the memory-protection features this CPU offers: CR0.WP (the
/// kernel cannot write read-only pages), SMEP (it cannot execute user
/// pages) and SMAP (it cannot touch user pages at all; the kernel never
/// needs to: it copies user memory through the direct map after
/// translating through the page tables, so there are no user-copy windows
/// to open). Returns `(smep, smap)`.
pub fn enable_protection() -> (bool, bool) {
    let ebx = cpuid(7, 0).ebx;
    let (smep, smap) = (ebx & (1 << 7) != 0, ebx & (1 << 20) != 0);
    let bits = if smep { 1 << 20 } else { 0 } | if smap { 1 << 21 } else { 0 };
    // SAFETY: CR0.WP only makes supervisor writes honour read-only pages
    // (the kernel writes only writable mappings); SMEP/SMAP are set only if
    // CPUID reports them, and the kernel neither runs nor touches user pages.
    unsafe {
        let cr0: u64;
        asm!("mov {}, cr0", out(reg) cr0, options(nomem, nostack));
        asm!("mov cr0, {}", in(reg) cr0 | (1 << 16), options(nostack));
        if bits != 0 {
            cr4_set(bits);
        }
    }
    (smep, smap)
}

/// Execute CPUID.
pub fn cpuid(leaf: u32, subleaf: u32) -> core::arch::x86_64::CpuidResult {
    core::arch::x86_64::__cpuid_count(leaf, subleaf)
}

/// Time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is available on every x86-64 CPU and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Disable interrupts on this core.
pub fn cli() {
    // SAFETY: masking interrupts cannot break memory safety.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// Whether interrupts are enabled (RFLAGS.IF).
pub fn interrupts_enabled() -> bool {
    let flags: u64;
    // SAFETY: reading RFLAGS has no side effects.
    unsafe { asm!("pushfq; pop {}", out(reg) flags, options(nomem, preserves_flags)) };
    flags & (1 << 9) != 0
}

/// Atomically enable interrupts and halt until the next one arrives, then
/// disable them again. Interrupt handlers run on IST stacks, so the current
/// stack's red zone is never touched.
pub fn idle_wait() {
    // SAFETY: every vector has an IST stack, so taking an interrupt here
    // cannot clobber this stack; interrupts are masked again afterwards.
    unsafe { asm!("sti; hlt; cli", options(nomem, nostack)) };
}

/// Halt this core forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: with interrupts off, HLT just stops the core.
        unsafe { asm!("cli; hlt", options(nomem, nostack)) };
    }
}

/// Invalidate one TLB entry.
pub fn invlpg(addr: u64) {
    // SAFETY: invalidating a TLB entry is always safe.
    unsafe { asm!("invlpg [{}]", in(reg) addr, options(nostack)) };
}

/// Read RBP (used to start a stack trace).
#[inline(always)]
pub fn rbp() -> u64 {
    let v: u64;
    // SAFETY: reading a register.
    unsafe { asm!("mov {}, rbp", out(reg) v, options(nomem, nostack)) };
    v
}

/// A hardware random number, if the CPU has RDRAND.
pub fn rdrand() -> Option<u64> {
    if cpuid(1, 0).ecx & (1 << 30) == 0 {
        return None;
    }
    for _ in 0..10 {
        let v: u64;
        let ok: u8;
        // SAFETY: CPUID says RDRAND exists; it only writes the registers.
        unsafe {
            asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack))
        };
        if ok == 1 {
            return Some(v);
        }
    }
    None
}
