//! The x86-64 hardware layer. All `unsafe` code of the kernel lives here.

pub mod apic;
mod boot;
pub mod cpu;
pub mod exit;
pub mod heap;
mod mem_intrinsics;
pub mod paging;
pub mod percpu;
pub mod serial;
pub mod smp;
pub mod traps;
pub mod user;

pub use platform::pvh::PhysRead;

/// Bounds of the bootstrap processor's first stack (in `.bss`).
pub fn boot_stack_bounds() -> (u64, u64) {
    extern "C" {
        static bsp_boot_stack_bottom: u8;
        static bsp_boot_stack_top: u8;
    }
    (
        core::ptr::addr_of!(bsp_boot_stack_bottom) as u64,
        core::ptr::addr_of!(bsp_boot_stack_top) as u64,
    )
}

/// Reads physical memory through the direct map, bounded to the ranges
/// currently mapped there.
pub struct DirectMap {
    /// Exclusive upper bound of readable physical addresses.
    pub limit: u64,
}

impl PhysRead for DirectMap {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
        let Some(end) = paddr.checked_add(buf.len() as u64) else {
            return false;
        };
        if end > self.limit {
            return false;
        }
        // SAFETY: [paddr, end) lies below `limit`, which the boot tables (or
        // the kernel's) map in the direct map; reads of RAM/ROM have no side
        // effects.
        unsafe {
            core::ptr::copy_nonoverlapping(
                paging::phys_to_virt(paddr) as *const u8,
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        true
    }
}

/// The entry point of the bootstrap processor, called from the boot stub.
#[no_mangle]
extern "C" fn bsp_entry(start_info: u64) -> ! {
    crate::boot_main(start_info)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    traps::panic_report(info)
}

/// Required by the precompiled `core` on this target; never called because
/// panics abort.
#[no_mangle]
extern "C" fn rust_eh_personality() {}

/// A frame allocator over `ranges` whose bitmap is carved out of the first
/// of those ranges (below `limit`) large enough to hold it.
pub fn new_frame_allocator(
    ranges: &[(u64, u64)],
    limit: u64,
) -> Option<platform::frames::FrameAllocator<'static>> {
    use platform::frames;
    let words = frames::bitmap_words_needed(ranges);
    let bytes = ((words as u64 * 8) + paging::PAGE_SIZE - 1) & !(paging::PAGE_SIZE - 1);
    let (start, _) = ranges
        .iter()
        .map(|&(s, e)| ((s + 4095) & !4095, e & !4095))
        .find(|&(s, e)| e > s && e - s >= bytes && s + bytes <= limit)?;
    // SAFETY: [start, start + bytes) is RAM of this node, below `limit` so
    // direct-mapped, and is reserved in the allocator right below, so nothing
    // else will ever own it.
    let bitmap = unsafe { paging::static_words(start, words) };
    let mut alloc = frames::FrameAllocator::new(ranges, bitmap).ok()?;
    alloc.reserve(start, start + bytes);
    Some(alloc)
}

/// Touch an unmapped address on purpose (the `pagefault` kernel test).
pub fn trigger_page_fault() -> u64 {
    // SAFETY: not safe at all: this read faults by design and the exception
    // handler ends the run.
    unsafe { core::ptr::read_volatile(0x0000_0000_dead_0000 as *const u64) }
}

/// Read a user page from the kernel on purpose (the `smap` test): with
/// SMAP on, this faults.
pub fn trigger_smap_fault() -> u64 {
    let Some(va) = paging::enter_user_test_space() else {
        return 0;
    };
    // SAFETY: not safe at all: with SMAP the read faults by design and the
    // exception handler ends the run; without SMAP it reads our own page.
    unsafe { core::ptr::read_volatile(va as *const u64) }
}

/// Execute code in a user page from the kernel on purpose (the `smep`
/// test): with SMEP on, the instruction fetch faults.
pub fn trigger_smep_fault() -> u64 {
    let Some(va) = paging::enter_user_test_space() else {
        return 0;
    };
    // SAFETY: not safe at all: with SMEP the fetch faults by design; without
    // it the page holds `ret` instructions and the call returns.
    let f: extern "C" fn() = unsafe { core::mem::transmute(va as *const ()) };
    f();
    va
}

/// Load through a non-canonical address on purpose (the `gpfault` test).
pub fn trigger_gp_fault() -> u64 {
    // SAFETY: as for `trigger_page_fault`; a non-canonical address raises #GP.
    unsafe { core::ptr::read_volatile(0x8000_0000_0000_0000_u64 as *const u64) }
}

/// Flush this core's TLB (non-global entries) by reloading CR3.
pub fn flush_tlb() {
    paging::reload_cr3();
}

/// Remap the legacy 8259 PICs away from the exception vectors (to 0xe0..0xef)
/// and mask every line: the kernel uses the local APIC only.
pub fn disable_legacy_pic() {
    for (cmd, data, base, cascade) in [(0x20u16, 0x21u16, 0xe0u8, 4u8), (0xa0, 0xa1, 0xe8, 2)] {
        cpu::outb(cmd, 0x11);
        cpu::outb(data, base);
        cpu::outb(data, cascade);
        cpu::outb(data, 0x01);
        cpu::outb(data, 0xff);
    }
}

/// Referenced by the precompiled `alloc` (built with unwinding); never
/// reached because the kernel aborts on panic.
#[no_mangle]
extern "C" fn _Unwind_Resume() -> ! {
    cpu::halt_forever()
}
