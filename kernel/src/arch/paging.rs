//! Kernel page tables: the direct map of physical memory, the kernel image
//! with per-section permissions, guarded kernel stacks and MMIO windows.

use super::cpu;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use spin::Mutex;

/// Virtual address of physical address 0 in the direct map (PML4 slot 256).
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Where the kernel image is linked (top 2 GiB).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;
/// Base of the kernel-stack area (PML4 slot 384): 1 MiB per stack slot.
const KSTACK_BASE: u64 = 0xffff_c000_0000_0000;
const KSTACK_SLOT: u64 = 1 << 20;
/// Base of the uncached MMIO window (PML4 slot 448): MMIO_BASE + phys.
const MMIO_BASE: u64 = 0xffff_e000_0000_0000;

/// Page size.
pub const PAGE_SIZE: u64 = 4096;
const HUGE_2M: u64 = 2 << 20;

/// Page-table entry bits.
pub mod flags {
    /// Present.
    pub const P: u64 = 1;
    /// Writable.
    pub const W: u64 = 1 << 1;
    /// User accessible.
    pub const U: u64 = 1 << 2;
    /// Write-through.
    pub const PWT: u64 = 1 << 3;
    /// Cache disable.
    pub const PCD: u64 = 1 << 4;
    /// Large page (2 MiB at the PD level).
    pub const PS: u64 = 1 << 7;
    /// Global.
    pub const G: u64 = 1 << 8;
    /// No execute.
    pub const NX: u64 = 1 << 63;
}
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Physical address of the boot PML4 (identity + direct map + kernel).
pub fn boot_pml4_phys() -> u64 {
    extern "C" {
        static boot_pml4: u8;
    }
    // The boot section is linked at its physical address.
    core::ptr::addr_of!(boot_pml4) as u64
}

/// Translate a physical address to its direct-map virtual address.
pub fn phys_to_virt(paddr: u64) -> u64 {
    paddr + PHYS_OFFSET
}

/// Translate a kernel-image virtual address to its physical address.
pub fn kernel_virt_to_phys(vaddr: u64) -> u64 {
    vaddr - KERNEL_BASE
}

/// Physical extent `[start, end)` of the loaded kernel image.
pub fn kernel_image_phys() -> (u64, u64) {
    extern "C" {
        static __kernel_phys_start: u8;
        static __kernel_phys_end: u8;
    }
    (
        core::ptr::addr_of!(__kernel_phys_start) as u64,
        core::ptr::addr_of!(__kernel_phys_end) as u64,
    )
}

fn table(paddr: u64) -> &'static mut [u64; 512] {
    // SAFETY: page-table frames are reachable through the direct map, are
    // 4 KiB aligned and are only touched with the page-table lock held (or
    // single-threaded during boot).
    unsafe { &mut *(phys_to_virt(paddr) as *mut [u64; 512]) }
}

/// A source of zeroed page-table frames.
pub type FrameSource<'a> = &'a mut dyn FnMut() -> Option<u64>;

fn zeroed_frame(alloc: FrameSource<'_>) -> Option<u64> {
    let f = alloc()?;
    table(f).fill(0);
    Some(f)
}

fn next_level(entry: &mut u64, alloc: FrameSource<'_>) -> Option<u64> {
    if *entry & flags::P == 0 {
        let f = zeroed_frame(alloc)?;
        *entry = f | flags::P | flags::W;
    }
    Some(*entry & ADDR_MASK)
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 511) as usize
}

/// Map one 4 KiB page. Returns `None` when out of frames.
pub fn map_4k(root: u64, va: u64, pa: u64, fl: u64, alloc: FrameSource<'_>) -> Option<()> {
    let pdpt = next_level(&mut table(root)[index(va, 3)], alloc)?;
    let pd = next_level(&mut table(pdpt)[index(va, 2)], alloc)?;
    let pt = next_level(&mut table(pd)[index(va, 1)], alloc)?;
    table(pt)[index(va, 0)] = (pa & ADDR_MASK) | fl | flags::P;
    Some(())
}

/// Map one 2 MiB page (no-op if that slot is already mapped).
pub fn map_2m(root: u64, va: u64, pa: u64, fl: u64, alloc: FrameSource<'_>) -> Option<()> {
    let pdpt = next_level(&mut table(root)[index(va, 3)], alloc)?;
    let pd = next_level(&mut table(pdpt)[index(va, 2)], alloc)?;
    let e = &mut table(pd)[index(va, 1)];
    if *e & flags::P == 0 {
        *e = (pa & ADDR_MASK) | fl | flags::P | flags::PS;
    }
    Some(())
}

/// Root of the kernel page tables, with the lock that serialises changes to
/// the kernel half.
static KERNEL_ROOT: Mutex<u64> = Mutex::new(0);
/// The same root, for lock-free reads (it never changes after boot).
static KERNEL_ROOT_PA: AtomicU64 = AtomicU64::new(0);

/// Build the kernel's own page tables and switch to them. `ram` lists the
/// physical ranges to direct-map (2 MiB granularity).
pub fn init_kernel_tables(ram: &[(u64, u64)], alloc: FrameSource<'_>) -> Option<u64> {
    extern "C" {
        static __text_start: u8;
        static __text_end: u8;
        static __rodata_start: u8;
        static __rodata_end: u8;
        static __data_start: u8;
        static __data_end: u8;
    }
    let root = zeroed_frame(alloc)?;
    let g = flags::G;
    for &(start, end) in ram {
        let mut pa = start & !(HUGE_2M - 1);
        while pa < end {
            map_2m(root, phys_to_virt(pa), pa, flags::W | flags::NX | g, alloc)?;
            pa += HUGE_2M;
        }
    }
    let sections = [
        (
            core::ptr::addr_of!(__text_start),
            core::ptr::addr_of!(__text_end),
            g,
        ),
        (
            core::ptr::addr_of!(__rodata_start),
            core::ptr::addr_of!(__rodata_end),
            flags::NX | g,
        ),
        (
            core::ptr::addr_of!(__data_start),
            core::ptr::addr_of!(__data_end),
            flags::W | flags::NX | g,
        ),
    ];
    for (start, end, fl) in sections {
        let mut va = start as u64;
        while va < end as u64 {
            map_4k(root, va, kernel_virt_to_phys(va), fl, alloc)?;
            va += PAGE_SIZE;
        }
    }
    // Pre-create the level-3 tables of the kernel half, so that every
    // address space that copies the kernel half sees later kernel mappings.
    for slot in 256..512 {
        next_level(&mut table(root)[slot], alloc)?;
    }
    *KERNEL_ROOT.lock() = root;
    KERNEL_ROOT_PA.store(root, Ordering::Release);
    // SAFETY: the new tables map the kernel image, its stacks (inside the
    // image or the direct map) and all RAM at the same virtual addresses.
    unsafe { cpu::set_cr3(root) };
    Some(root)
}

/// For the `smap`/`smep` kernel tests: a fresh address space with the
/// kernel half and one user page (readable, writable, executable, holding
/// `ret` instructions) at `USER_TEST_PAGE`; switches to it and returns.
/// The frames are leaked (the test ends the run).
pub fn enter_user_test_space() -> Option<u64> {
    let mut alloc = || crate::mem::alloc_frame();
    let root = zeroed_frame(&mut alloc)?;
    let kroot = kernel_root();
    for slot in 256..512 {
        table(root)[slot] = table(kroot)[slot];
    }
    let user = flags::P | flags::W | flags::U;
    let mut t = root;
    for level in [3u32, 2, 1] {
        let next = zeroed_frame(&mut alloc)?;
        table(t)[index(USER_TEST_PAGE, level)] = next | user;
        t = next;
    }
    let page = zeroed_frame(&mut alloc)?;
    // SAFETY: `page` is a fresh frame reachable through the direct map.
    unsafe { core::ptr::write_bytes(phys_to_virt(page) as *mut u8, 0xc3, PAGE_SIZE as usize) };
    table(t)[index(USER_TEST_PAGE, 0)] = page | user;
    write_cr3(root);
    Some(USER_TEST_PAGE)
}

/// Where [`enter_user_test_space`] maps its user page.
pub const USER_TEST_PAGE: u64 = 0x1000_0000;

/// Physical address of the kernel's top-level table.
pub fn kernel_root() -> u64 {
    KERNEL_ROOT_PA.load(Ordering::Acquire)
}

/// While application processors start, the kernel tables also identity-map
/// low memory (borrowing the boot tables), so the trampoline survives the
/// switch to them.
pub fn set_identity_map(on: bool) {
    let root = kernel_root();
    let boot = boot_pml4_phys();
    table(root)[0] = if on { table(boot)[0] } else { 0 };
    // SAFETY: reloading the same root flushes the TLB.
    unsafe { cpu::set_cr3(root) };
}

/// Map `len` bytes of device memory uncached; returns its virtual address.
pub fn map_mmio(paddr: u64, len: u64, alloc: FrameSource<'_>) -> Option<u64> {
    let root = KERNEL_ROOT.lock();
    let start = paddr & !(PAGE_SIZE - 1);
    let mut pa = start;
    while pa < paddr + len {
        let fl = flags::W | flags::PCD | flags::PWT | flags::NX | flags::G;
        map_4k(*root, MMIO_BASE + pa, pa, fl, alloc)?;
        pa += PAGE_SIZE;
    }
    Some(MMIO_BASE + paddr)
}

static NEXT_STACK_SLOT: AtomicU64 = AtomicU64::new(0);

/// A kernel stack with an unmapped guard page below it.
#[derive(Clone, Copy, Debug)]
pub struct KernelStack {
    /// Lowest usable address (the guard page lies just below).
    pub bottom: u64,
    /// One past the highest usable address (initial stack pointer).
    pub top: u64,
}

/// Allocate a kernel stack of `pages` pages, frames from `alloc`.
pub fn alloc_stack(pages: u64, alloc: FrameSource<'_>) -> Option<KernelStack> {
    assert!(pages + 1 <= KSTACK_SLOT / PAGE_SIZE);
    let slot = NEXT_STACK_SLOT.fetch_add(1, Ordering::Relaxed);
    let bottom = KSTACK_BASE + slot * KSTACK_SLOT + PAGE_SIZE;
    let root = KERNEL_ROOT.lock();
    for i in 0..pages {
        let f = alloc()?;
        map_4k(
            *root,
            bottom + i * PAGE_SIZE,
            f,
            flags::W | flags::NX | flags::G,
            alloc,
        )?;
    }
    Some(KernelStack {
        bottom,
        top: bottom + pages * PAGE_SIZE,
    })
}

/// Whether `va` lies in a guard page of the kernel-stack area.
pub fn is_stack_guard(va: u64) -> bool {
    va >= KSTACK_BASE
        && (va - KSTACK_BASE) % KSTACK_SLOT < PAGE_SIZE
        && (va - KSTACK_BASE) / KSTACK_SLOT < NEXT_STACK_SLOT.load(Ordering::Relaxed)
}

/// A `'static` mutable slice of `words` u64s at physical address `paddr`.
///
/// # Safety
/// The memory must be mapped in the direct map, exclusively owned by the
/// caller forever (removed from every allocator) and 8-byte aligned.
pub unsafe fn static_words(paddr: u64, words: usize) -> &'static mut [u64] {
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(paddr) as *mut u64, words) }
}

/// Switch to `stack` and call `f(arg)` on it; never returns.
pub fn switch_stack(stack: KernelStack, f: extern "C" fn(u64) -> !, arg: u64) -> ! {
    // SAFETY: the stack is mapped and unused; `f` never returns, so nothing
    // refers to the old stack afterwards.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {f}",
            "ud2",
            top = in(reg) stack.top,
            f = in(reg) f,
            in("rdi") arg,
            options(noreturn)
        )
    }
}

/// Access to frames the kernel owns through the direct map: page-table
/// frames of the replicated address spaces and user data frames. Callers
/// pass frames they obtained from the frame allocator and have not freed;
/// the functions check that the address is RAM of some node and 4 KiB
/// aligned (a violation is a kernel bug and panics).
pub mod frame {
    use super::{phys_to_virt, PAGE_SIZE};

    fn check(pa: u64, offset: usize, len: usize) -> u64 {
        assert!(
            pa % PAGE_SIZE == 0 && offset + len <= PAGE_SIZE as usize,
            "bad frame access {pa:#x}+{offset}"
        );
        assert!(
            crate::mem::node_of_frame(pa).is_some(),
            "frame {pa:#x} is not RAM"
        );
        phys_to_virt(pa) + offset as u64
    }

    /// Read entry `index` of the page table in frame `pa`.
    pub fn read_u64(pa: u64, index: usize) -> u64 {
        let va = check(pa, index * 8, 8);
        // SAFETY: `check` ensures an aligned in-frame address of mapped RAM;
        // page-table frames are only written by the replica that owns them.
        unsafe { core::ptr::read_volatile(va as *const u64) }
    }

    /// Write entry `index` of the page table in frame `pa`.
    pub fn write_u64(pa: u64, index: usize, value: u64) {
        let va = check(pa, index * 8, 8);
        // SAFETY: as for `read_u64`; the owning replica is the only writer.
        unsafe { core::ptr::write_volatile(va as *mut u64, value) }
    }

    /// Fill frame `pa` with zeros.
    pub fn zero(pa: u64) {
        let va = check(pa, 0, PAGE_SIZE as usize);
        // SAFETY: a whole frame of RAM owned by the caller.
        unsafe { core::ptr::write_bytes(va as *mut u8, 0, PAGE_SIZE as usize) }
    }

    /// Copy `data` into frame `pa` at `offset`.
    pub fn write(pa: u64, offset: usize, data: &[u8]) {
        let va = check(pa, offset, data.len());
        // SAFETY: the range lies inside a frame of RAM; `data` is a kernel
        // buffer, which never overlaps a user frame.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), va as *mut u8, data.len()) }
    }

    /// Copy the whole frame `src` into frame `dst`.
    pub fn copy(src: u64, dst: u64) {
        let (s, d) = (
            check(src, 0, PAGE_SIZE as usize),
            check(dst, 0, PAGE_SIZE as usize),
        );
        assert!(src != dst, "frame copy onto itself");
        // SAFETY: two distinct whole frames of RAM owned by the caller.
        unsafe { core::ptr::copy_nonoverlapping(s as *const u8, d as *mut u8, PAGE_SIZE as usize) }
    }

    /// Copy from frame `pa` at `offset` into `out`.
    pub fn read(pa: u64, offset: usize, out: &mut [u8]) {
        let va = check(pa, offset, out.len());
        // SAFETY: as for `write`.
        unsafe { core::ptr::copy_nonoverlapping(va as *const u8, out.as_mut_ptr(), out.len()) }
    }
}

/// The kernel half (PML4 entries 256..512) that every user root shares.
pub fn kernel_half() -> [u64; 256] {
    let root = kernel_root();
    let t = table(root);
    let mut out = [0u64; 256];
    out.copy_from_slice(&t[256..512]);
    out
}

/// Switch to the page tables rooted at `root` (a user address space whose
/// kernel half is [`kernel_half`]), or back to the kernel's own with 0.
pub fn load_root(root: u64) {
    let root = if root == 0 { kernel_root() } else { root };
    if cpu::cr3() & ADDR_MASK != root {
        write_cr3(root);
    }
}

/// Reload CR3: flushes this core's TLB and paging-structure caches (except
/// global entries).
pub fn reload_cr3() {
    write_cr3(cpu::cr3() & ADDR_MASK);
}

/// Generation counter of retired page-table frames (see
/// [`platform::retire`]): the next tag to hand out.
static RETIRE_GEN: AtomicU64 = AtomicU64::new(1);
/// Per core: [`RETIRE_GEN`] as read just before its last CR3 write.
static GEN_AT_CR3: [AtomicU64; super::percpu::MAX_CORES] =
    [const { AtomicU64::new(0) }; super::percpu::MAX_CORES];
/// Per core: whether CR3 holds the kernel root (which reaches no user
/// table). Cores start on kernel tables.
static ON_KERNEL_ROOT: [AtomicBool; super::percpu::MAX_CORES] =
    [const { AtomicBool::new(true) }; super::percpu::MAX_CORES];

/// The only CR3 write once the cores run: it keeps the books that
/// [`retire_tag`] and [`core_views`] read.
fn write_cr3(root: u64) {
    let me = super::percpu::current().core_id();
    let kernel = root == kernel_root();
    if !kernel {
        // Before the user root can be walked.
        ON_KERNEL_ROOT[me].store(false, Ordering::SeqCst);
    }
    let gen = RETIRE_GEN.load(Ordering::SeqCst);
    // SAFETY: every user root carries the kernel half, so the kernel's code,
    // data, stacks and direct map stay mapped at the same addresses.
    unsafe { cpu::set_cr3(root) };
    // Tables retired under a tag below `gen` were unlinked before the
    // write: nothing cached on this core leads to them any more.
    GEN_AT_CR3[me].store(gen, Ordering::SeqCst);
    if kernel {
        ON_KERNEL_ROOT[me].store(true, Ordering::SeqCst);
    }
}

/// Tag for a page-table frame unlinked from its hierarchy just now.
pub fn retire_tag() -> u64 {
    RETIRE_GEN.fetch_add(1, Ordering::SeqCst)
}

/// Tags below the returned value name retired tables no core can reach.
pub fn retire_safe_below() -> u64 {
    let next = RETIRE_GEN.load(Ordering::SeqCst);
    platform::retire::safe_below(next, (0..crate::topology().cores.len()).map(core_view))
}

/// How core `c` stands towards retired tables.
pub fn core_view(c: usize) -> platform::retire::CoreView {
    platform::retire::CoreView {
        on_kernel_root: ON_KERNEL_ROOT[c].load(Ordering::SeqCst),
        gen_at_last_cr3: GEN_AT_CR3[c].load(Ordering::SeqCst),
    }
}

/// Cores (bit mask) that may still reach a table retired under `tag`.
pub fn cores_behind(tag: u64) -> u64 {
    (0..crate::topology().cores.len())
        .filter(|&c| core_view(c).may_reach(tag))
        .fold(0, |m, c| m | 1 << c)
}

/// The physical range `[paddr, paddr+len)` as a byte slice, for memory that
/// is reserved forever at boot and never written (the initrd module).
pub fn phys_slice(paddr: u64, len: usize) -> &'static [u8] {
    // SAFETY: the range is RAM reserved at boot (excluded from every
    // allocator) and direct-mapped; nothing writes it.
    unsafe { core::slice::from_raw_parts(phys_to_virt(paddr) as *const u8, len) }
}
