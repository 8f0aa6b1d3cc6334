//! Local APIC (x2APIC when the CPU offers it, else xAPIC through MMIO):
//! per-core enable, the periodic timer, inter-processor interrupts.

use super::{cpu, traps};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

const IA32_APIC_BASE: u32 = 0x1b;
static X2APIC: AtomicBool = AtomicBool::new(false);
static MMIO: AtomicU64 = AtomicU64::new(0);
/// APIC timer ticks (divide by 16) per millisecond, measured at boot.
static TICKS_PER_MS: AtomicU32 = AtomicU32::new(0);
/// TSC ticks per microsecond, measured at boot.
static TSC_PER_US: AtomicU64 = AtomicU64::new(1000);

const REG_ID: u32 = 0x20;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_TIMER_INIT: u32 = 0x380;
const REG_TIMER_CUR: u32 = 0x390;
const REG_TIMER_DIV: u32 = 0x3e0;

/// Timer period.
pub const TIMER_PERIOD_MS: u32 = 10;

fn read(reg: u32) -> u32 {
    if X2APIC.load(Ordering::Relaxed) {
        cpu::rdmsr(0x800 + (reg >> 4)) as u32
    } else {
        // SAFETY: MMIO points at the mapped, uncached local APIC page.
        unsafe {
            core::ptr::read_volatile((MMIO.load(Ordering::Relaxed) + u64::from(reg)) as *const u32)
        }
    }
}

fn write(reg: u32, v: u32) {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: writing an x2APIC register has no memory-safety effect.
        unsafe { cpu::wrmsr(0x800 + (reg >> 4), u64::from(v)) };
    } else {
        // SAFETY: as in `read`.
        unsafe {
            core::ptr::write_volatile(
                (MMIO.load(Ordering::Relaxed) + u64::from(reg)) as *mut u32,
                v,
            )
        };
    }
}

/// Whether the CPU supports x2APIC mode.
pub fn has_x2apic() -> bool {
    cpu::cpuid(1, 0).ecx & (1 << 21) != 0
}

/// Choose the mode (once, on the bootstrap processor). `mmio_virt` is the
/// mapped xAPIC page, used when x2APIC is unavailable.
pub fn select_mode(x2apic: bool, mmio_virt: u64) {
    X2APIC.store(x2apic, Ordering::Relaxed);
    MMIO.store(mmio_virt, Ordering::Relaxed);
}

/// Whether x2APIC mode is in use.
pub fn is_x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

/// Enable this core's local APIC.
pub fn enable() {
    let mut base = cpu::rdmsr(IA32_APIC_BASE) | (1 << 11);
    if is_x2apic() {
        base |= 1 << 10;
    }
    // SAFETY: enabling the APIC (and x2APIC mode) in IA32_APIC_BASE.
    unsafe { cpu::wrmsr(IA32_APIC_BASE, base) };
    write(REG_SVR, 0x100 | u32::from(traps::VEC_SPURIOUS));
}

/// This core's APIC id as the hardware reports it.
pub fn id() -> u32 {
    if is_x2apic() {
        read(REG_ID)
    } else {
        read(REG_ID) >> 24
    }
}

/// APIC id of the running core from CPUID (usable before the APIC is set up).
pub fn cpuid_apic_id() -> u32 {
    if cpu::cpuid(0, 0).eax >= 0xb {
        let r = cpu::cpuid(0xb, 0);
        if r.ebx != 0 {
            return r.edx;
        }
    }
    cpu::cpuid(1, 0).ebx >> 24
}

/// Signal end of interrupt.
pub fn eoi() {
    write(REG_EOI, 0);
}

fn send_icr(dest: u32, low: u32) {
    if is_x2apic() {
        // SAFETY: ICR write sends an interrupt; no memory-safety effect.
        unsafe { cpu::wrmsr(0x830, (u64::from(dest) << 32) | u64::from(low)) };
    } else {
        write(REG_ICR_HIGH, dest << 24);
        write(REG_ICR_LOW, low);
        while read(REG_ICR_LOW) & (1 << 12) != 0 {
            core::hint::spin_loop();
        }
    }
}

/// Send a fixed interrupt `vector` to the core with APIC id `dest`.
pub fn send_ipi(dest: u32, vector: u8) {
    send_icr(dest, 0x4000 | u32::from(vector));
}

/// Send INIT then two STARTUP IPIs for a trampoline at `page` (phys/4096).
pub fn start_ap(dest: u32, page: u8) {
    send_icr(dest, 0x4500);
    delay_us(10_000);
    for _ in 0..2 {
        send_icr(dest, 0x4600 | u32::from(page));
        delay_us(200);
    }
}

/// Wait about `us` microseconds (TSC based, calibrated at boot).
pub fn delay_us(us: u64) {
    let end = cpu::rdtsc() + us * TSC_PER_US.load(Ordering::Relaxed);
    while cpu::rdtsc() < end {
        core::hint::spin_loop();
    }
}

/// TSC ticks per microsecond.
pub fn tsc_per_us() -> u64 {
    TSC_PER_US.load(Ordering::Relaxed)
}

/// Measure the APIC timer and TSC against 10 ms of the PIT (channel 2).
pub fn calibrate() {
    write(REG_TIMER_DIV, 0x3); // divide by 16
    write(REG_LVT_TIMER, 1 << 16); // masked, one-shot
    let gate = cpu::inb(0x61);
    cpu::outb(0x61, (gate & !0x02) | 0x01);
    cpu::outb(0x43, 0xb0); // channel 2, lobyte/hibyte, mode 0
    let count: u16 = 11932; // 10 ms at 1.193182 MHz
    cpu::outb(0x42, count as u8);
    cpu::outb(0x42, (count >> 8) as u8);
    let g = cpu::inb(0x61) & !0x01;
    cpu::outb(0x61, g);
    cpu::outb(0x61, g | 0x01);
    write(REG_TIMER_INIT, u32::MAX);
    let t0 = cpu::rdtsc();
    while cpu::inb(0x61) & 0x20 == 0 {
        core::hint::spin_loop();
    }
    let t1 = cpu::rdtsc();
    let elapsed = u32::MAX - read(REG_TIMER_CUR);
    write(REG_TIMER_INIT, 0);
    TICKS_PER_MS.store((elapsed / 10).max(1), Ordering::Relaxed);
    TSC_PER_US.store(((t1 - t0) / 10_000).max(1), Ordering::Relaxed);
}

/// Halt this core for about `us` microseconds (or until any interrupt):
/// the timer fires once after `us`, then is periodic again (its period
/// restarts). Call with interrupts off.
pub fn nap(us: u32) {
    let per_ms = TICKS_PER_MS.load(Ordering::Relaxed);
    write(REG_LVT_TIMER, u32::from(traps::VEC_TIMER)); // one-shot
    write(REG_TIMER_INIT, (per_ms * us / 1000).max(1));
    cpu::idle_wait();
    write(REG_LVT_TIMER, (1 << 17) | u32::from(traps::VEC_TIMER));
    write(REG_TIMER_INIT, per_ms * TIMER_PERIOD_MS);
}

/// Start this core's periodic timer.
pub fn start_timer() {
    write(REG_TIMER_DIV, 0x3);
    write(REG_LVT_TIMER, (1 << 17) | u32::from(traps::VEC_TIMER));
    write(
        REG_TIMER_INIT,
        TICKS_PER_MS.load(Ordering::Relaxed) * TIMER_PERIOD_MS,
    );
}
