//! Starting application processors and running code on other cores.

use super::{apic, cpu, paging, percpu, traps};
use core::sync::atomic::{AtomicBool, Ordering};

/// Physical address the AP trampoline is copied to (below 1 MiB).
pub const TRAMPOLINE_PHYS: u64 = 0x8000;

extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static ap_tramp_cr3: u8;
    static ap_tramp_stack: u8;
    static ap_tramp_entry: u8;
    static ap_tramp_arg: u8;
}

fn tramp_param(sym: *const u8) -> *mut u64 {
    let off = sym as u64 - core::ptr::addr_of!(ap_trampoline_start) as u64;
    paging::phys_to_virt(TRAMPOLINE_PHYS + off) as *mut u64
}

/// Copy the trampoline below 1 MiB (the page is reserved from allocators).
pub fn install_trampoline() {
    let start = core::ptr::addr_of!(ap_trampoline_start);
    let len = core::ptr::addr_of!(ap_trampoline_end) as usize - start as usize;
    // SAFETY: TRAMPOLINE_PHYS is low memory the frame allocators never hand
    // out, mapped in the direct map; the source is the kernel's own text.
    unsafe {
        core::ptr::copy_nonoverlapping(start, paging::phys_to_virt(TRAMPOLINE_PHYS) as *mut u8, len)
    };
}

/// Start the core with APIC id `apic_id` on `stack`, calling `entry(arg)`.
/// Returns when the core has called `mark_online`, or false after a timeout.
pub fn start_core(
    apic_id: u32,
    core_id: usize,
    stack: paging::KernelStack,
    entry: extern "C" fn(u64) -> !,
) -> bool {
    // SAFETY: the trampoline parameters live in the copied trampoline page,
    // which no other core uses while we start this one.
    unsafe {
        tramp_param(core::ptr::addr_of!(ap_tramp_cr3)).write_volatile(paging::kernel_root());
        tramp_param(core::ptr::addr_of!(ap_tramp_stack)).write_volatile(stack.top);
        tramp_param(core::ptr::addr_of!(ap_tramp_entry)).write_volatile(entry as usize as u64);
        tramp_param(core::ptr::addr_of!(ap_tramp_arg)).write_volatile(core_id as u64);
    }
    apic::start_ap(apic_id, (TRAMPOLINE_PHYS >> 12) as u8);
    let deadline = cpu::rdtsc() + 2_000_000 * apic::tsc_per_us();
    while !percpu::core(core_id).online.load(Ordering::Acquire) {
        if cpu::rdtsc() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

fn post(target: usize, call: &percpu::Call) {
    let slot = &percpu::core(target).mailbox;
    let ptr = call as *const percpu::Call as *mut percpu::Call;
    while slot
        .compare_exchange(
            core::ptr::null_mut(),
            ptr,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_err()
    {
        service_mailbox();
        core::hint::spin_loop();
    }
    apic::send_ipi(
        percpu::core(target).apic_id.load(Ordering::Relaxed),
        traps::VEC_CALL,
    );
}

fn wait(call: &percpu::Call) {
    while !call.done.load(Ordering::Acquire) {
        service_mailbox();
        core::hint::spin_loop();
    }
}

fn new_call(f: &(dyn Fn() + Sync)) -> percpu::Call {
    // SAFETY: only the lifetime is erased; every caller waits for the call
    // to be done before `f` goes out of scope.
    let func: &'static (dyn Fn() + Sync) = unsafe { core::mem::transmute(f) };
    percpu::Call {
        func,
        done: AtomicBool::new(false),
    }
}

/// Run `f` on core `target` (in its interrupt context) and wait for it to
/// finish. While waiting, this core serves calls posted to it, so cores
/// calling each other never deadlock.
pub fn run_on(target: usize, f: &(dyn Fn() + Sync)) {
    if target == percpu::current().core_id() {
        f();
        return;
    }
    let call = new_call(f);
    post(target, &call);
    wait(&call);
}

/// Run a call posted to this core, if any.
pub fn service_mailbox() {
    let p = percpu::current()
        .mailbox
        .swap(core::ptr::null_mut(), Ordering::AcqRel);
    if !p.is_null() {
        // SAFETY: the poster keeps `Call` (and the closure it points to)
        // alive until it sees `done`.
        let call = unsafe { &*p };
        // SAFETY: as above.
        unsafe { (*call.func)() };
        call.done.store(true, Ordering::Release);
    }
}

/// Run `f` on cores `0..cores` at once (this one included) and wait until
/// all have finished.
pub fn run_on_all(cores: usize, f: &(dyn Fn() + Sync)) {
    let me = percpu::current().core_id();
    let calls: alloc::vec::Vec<percpu::Call> = (0..cores).map(|_| new_call(f)).collect();
    for (target, call) in calls.iter().enumerate().filter(|&(t, _)| t != me) {
        post(target, call);
    }
    f();
    for (_, call) in calls.iter().enumerate().filter(|&(t, _)| t != me) {
        wait(call);
    }
}
