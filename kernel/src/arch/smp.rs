//! Starting application processors and running code on other cores.

use super::{apic, cpu, paging, percpu, traps};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

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
    let me = percpu::current().core_id();
    let dest = percpu::core(target);
    let ptr = call as *const percpu::Call as *mut percpu::Call;
    // This core's own slot at the target: empty unless an earlier call of
    // ours is still being served there.
    while dest.mailbox[me]
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
    dest.mail_bits.fetch_or(1 << me, Ordering::AcqRel);
    apic::send_ipi(dest.apic_id.load(Ordering::Relaxed), traps::VEC_CALL);
}

/// Give the CPU away for a moment while a replicated-state operation waits
/// for another core (the combiner, a writer, a lagging replica): installed
/// as the wait hook of the `nr` crate. Under QEMU the core waited for may
/// be a vCPU the host is not running, and a spinning waiter takes the host
/// CPU it needs. Serves cross-core calls first (a waiting core must still
/// answer TLB shootdowns). Only naps with interrupts off and outside posted
/// calls (see `wait`).
pub fn nr_wait_hook() {
    service_mailbox();
    let pc = percpu::current();
    if !may_halt(pc) {
        core::hint::spin_loop();
        return;
    }
    let bit = 1u64 << pc.core_id();
    NAPPING.fetch_or(bit, Ordering::SeqCst);
    apic::nap(NAP_US);
    NAPPING.fetch_and(!bit, Ordering::SeqCst);
}

/// Cores napping in [`nr_wait_hook`].
static NAPPING: AtomicU64 = AtomicU64::new(0);

/// Installed as the `nr` crate's progress hook (a lock of the replicated
/// state was released): wake the cores napping in [`nr_wait_hook`] so they
/// look again now rather than when their nap ends. A wake-up lost to the
/// race with a core just going to nap only costs that core its nap.
pub fn nr_progress_hook() {
    let napping = NAPPING.load(Ordering::Relaxed);
    if napping == 0 {
        return;
    }
    let me = percpu::current().core_id();
    let mut left = napping & !(1u64 << me);
    while left != 0 {
        let c = left.trailing_zeros() as usize;
        left &= left - 1;
        apic::send_ipi(
            percpu::core(c).apic_id.load(Ordering::Relaxed),
            traps::VEC_WAKE,
        );
    }
}

/// How long [`nr_wait_hook`] naps.
const NAP_US: u32 = 20;

/// Whether a waiting core may halt: only with interrupts off (so no
/// handler runs between its last look and `sti; hlt`) and outside posted
/// calls (which may run in an interrupt handler on an IST stack).
fn may_halt(pc: &percpu::PerCore) -> bool {
    !cpu::interrupts_enabled() && pc.calls_running.load(Ordering::Relaxed) == 0
}

/// Spin iterations before a waiting core halts.
const SPINS_BEFORE_HALT: u32 = 200;

/// Wait until every target finished `call`, serving calls posted to this
/// core meanwhile (so cores calling each other never deadlock).
///
/// After a short spin the core halts until a target's wake-up IPI (or any
/// interrupt). Under QEMU each core is a host thread: a target that the
/// host is not running needs the host CPU that a spinning waiter burns (4
/// vCPUs on 2 host CPUs). Halting only happens with interrupts off (as in
/// every system call) and never inside a posted call (which may run in an
/// interrupt handler), so no interrupt handler runs between the last check
/// and `sti; hlt`, whose interrupt shadow takes a wake-up that is already
/// pending.
fn wait(call: &percpu::Call) {
    let pc = percpu::current();
    let mut spins = 0;
    while call.left.load(Ordering::Acquire) != 0 {
        service_mailbox();
        if spins < SPINS_BEFORE_HALT || !may_halt(pc) {
            spins += 1;
            core::hint::spin_loop();
            continue;
        }
        // Announce the halt, then look again: a target either sees the
        // flag (and sends the wake-up) or finished before our look.
        pc.halted_in_wait.store(true, Ordering::SeqCst);
        if call.left.load(Ordering::SeqCst) != 0 && pc.mail_bits.load(Ordering::SeqCst) == 0 {
            cpu::idle_wait();
        }
        pc.halted_in_wait.store(false, Ordering::SeqCst);
    }
}

fn new_call(f: &(dyn Fn() + Sync), targets: u32) -> percpu::Call {
    // SAFETY: only the lifetime is erased; every caller waits for the call
    // to be done before `f` goes out of scope.
    let func: &'static (dyn Fn() + Sync) = unsafe { core::mem::transmute(f) };
    percpu::Call {
        func,
        left: AtomicU32::new(targets),
        poster: percpu::current().core_id(),
    }
}

/// Run `f` on core `target` (in its interrupt context) and wait for it to
/// finish.
pub fn run_on(target: usize, f: &(dyn Fn() + Sync)) {
    if target == percpu::current().core_id() {
        f();
        return;
    }
    run_on_set(1 << target, f);
}

/// Run `f` on every core in the bit set `cores` at once (on this one too if
/// it is in the set) and wait until all have finished.
pub fn run_on_set(cores: u64, f: &(dyn Fn() + Sync)) {
    let me = percpu::current().core_id();
    let others = cores & !(1u64 << me);
    let call = new_call(f, others.count_ones());
    let mut left = others;
    while left != 0 {
        let target = left.trailing_zeros() as usize;
        left &= left - 1;
        post(target, &call);
    }
    if cores & (1 << me) != 0 {
        f();
    }
    wait(&call);
}

/// Run the calls posted to this core, if any.
pub fn service_mailbox() {
    let pc = percpu::current();
    if pc.mail_bits.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut bits = pc.mail_bits.swap(0, Ordering::AcqRel);
    while bits != 0 {
        let from = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let p = pc.mailbox[from].swap(core::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            continue;
        }
        // SAFETY: the poster keeps `Call` (and the closure it points to)
        // alive until `left` reaches 0, which is after this use.
        let call = unsafe { &*p };
        pc.calls_running.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { (*call.func)() };
        pc.calls_running.fetch_sub(1, Ordering::Relaxed);
        // Read before the count drops: the poster may free the call then.
        let poster = percpu::core(call.poster);
        call.left.fetch_sub(1, Ordering::SeqCst);
        if poster.halted_in_wait.load(Ordering::SeqCst) {
            apic::send_ipi(poster.apic_id.load(Ordering::Relaxed), traps::VEC_WAKE);
        }
    }
}

/// Run `f` on cores `0..cores` at once (this one included) and wait until
/// all have finished.
pub fn run_on_all(cores: usize, f: &(dyn Fn() + Sync)) {
    let set = if cores >= 64 {
        u64::MAX
    } else {
        (1u64 << cores) - 1
    };
    run_on_set(set, f);
}
