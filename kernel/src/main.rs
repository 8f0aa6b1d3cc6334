//! NrOS in Rust: the kernel.
//!
//! Boot order (bootstrap processor):
//! 1. `arch::boot` (PVH entry, 32-bit): boot page tables, long mode, SSE.
//! 2. [`boot_main`]: serial console, early heap, PVH start info, command
//!    line, ACPI (MADT, SRAT, SLIT), NUMA topology.
//! 3. [`mem`]: one frame allocator per NUMA node; the kernel's own page
//!    tables (`arch::paging`); one heap per node (`arch::heap`).
//! 4. Per-core data, GDT/TSS/IDT, guarded stacks (`arch::percpu`), then the
//!    local APIC and its timer (`arch::apic`), then every application
//!    processor through the real-mode trampoline (`arch::smp`).
//! 5. A built-in kernel test (`test=NAME`, see [`ktest`]) or the default
//!    start-up.
//!
//! Replicated state: none yet. The process table, address spaces and file
//! system will live in node-replicated structures built on the `nr` crate,
//! one replica per NUMA node.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

#[allow(unsafe_code)]
pub mod arch;
mod console;
mod init;
mod ktest;
mod logger;
pub mod mem;
mod process;
mod procfs;
mod rng;
mod sched;
mod signal;
mod state;
mod syscall;
mod time;
mod uaccess;

use alloc::string::String;
use alloc::vec::Vec;
use arch::{apic, cpu, paging, percpu, smp};
use core::sync::atomic::Ordering;
use platform::{cmdline::Cmdline, memmap::RegionKind, topology::Topology};
use spin::Once;

/// The machine's cores and NUMA nodes, discovered at boot.
pub static TOPOLOGY: Once<Topology> = Once::new();
static CMDLINE: Once<String> = Once::new();
static STACKS: Once<Vec<percpu::CoreStacks>> = Once::new();
/// TSC value when the kernel was entered.
static BOOT_TSC: Once<u64> = Once::new();
static LAPIC_PHYS: Once<u64> = Once::new();
/// Physical extent of the initrd module (PVH module 0), if any.
static INITRD: Once<(u64, u64)> = Once::new();

/// Main kernel stack size in pages (plus one guard page).
const STACK_PAGES: u64 = 32;
/// Physical memory below this is never handed out (BIOS data, trampoline).
const LOW_MEMORY: u64 = 1 << 20;

/// The topology (panics if called before discovery).
pub fn topology() -> &'static Topology {
    TOPOLOGY.get().expect("topology discovered")
}

/// The kernel command line.
pub fn cmdline() -> Cmdline<'static> {
    Cmdline::parse(CMDLINE.get().map_or("", |s| s.as_str()))
}

macro_rules! fatal {
    ($($arg:tt)*) => {{
        log::error!($($arg)*);
        arch::exit::exit_failure()
    }};
}

/// Continue booting on the bootstrap processor (called from the PVH stub).
pub fn boot_main(start_info: u64) -> ! {
    BOOT_TSC.call_once(cpu::rdtsc);
    arch::serial::init();
    arch::heap::init_early();
    logger::init();
    let low4g = arch::DirectMap { limit: 4 << 30 };
    let info = platform::pvh::parse_start_info(&low4g, start_info)
        .unwrap_or_else(|e| fatal!("bad PVH start info: {e:?}"));
    CMDLINE.call_once(|| info.cmdline.clone().unwrap_or_default());
    logger::set_level(cmdline().get("log"));
    logger::set_quiet(cmdline().flag("quiet"));
    log::info!(
        "NrOS (Rust) booting; command line: {:?}",
        CMDLINE.get().map_or("", |s| s.as_str())
    );

    let acpi =
        platform::acpi::parse(&low4g, info.rsdp_paddr).unwrap_or_else(|e| fatal!("ACPI: {e:?}"));
    LAPIC_PHYS.call_once(|| acpi.local_apic_addr);
    arch::disable_legacy_pic();
    let mut reserved = Vec::new();
    reserved.push(paging::kernel_image_phys());
    reserved.extend(platform::pvh::start_info_extent(&info));
    reserved.extend(platform::pvh::module_extents(&info));
    INITRD.call_once(|| info.modules.first().map_or((0, 0), |m| (m.paddr, m.size)));
    let usable = platform::memmap::usable_ranges(&info.memory_map, &reserved, LOW_MEMORY);
    let topo =
        TOPOLOGY.call_once(|| platform::topology::build(&acpi, apic::cpuid_apic_id(), &usable));
    log::info!(
        "{} cores, {} NUMA nodes, {} MiB usable",
        topo.cores.len(),
        topo.nodes.len(),
        platform::memmap::total_bytes(&usable) >> 20
    );
    if topo.cores.len() > percpu::MAX_CORES || topo.nodes.len() > arch::heap::MAX_NODES {
        fatal!(
            "too many cores or nodes (max {} / {})",
            percpu::MAX_CORES,
            arch::heap::MAX_NODES
        );
    }

    // Node 0's allocator must live in memory the boot tables map (< 4 GiB);
    // it provides the kernel page tables, after which all RAM is mapped.
    if !mem::init_node(0, &topo.nodes[0].memory, 4 << 30) {
        fatal!("cannot set up node 0 memory");
    }
    let ram: Vec<(u64, u64)> = info
        .memory_map
        .iter()
        .filter(|r| matches!(r.kind, RegionKind::Ram | RegionKind::Acpi | RegionKind::Nvs))
        .map(|r| (r.start, r.end))
        .chain(core::iter::once((0, LOW_MEMORY)))
        .collect();
    paging::init_kernel_tables(&ram, &mut || mem::alloc_frame_on(0))
        .unwrap_or_else(|| fatal!("out of memory building kernel page tables"));
    for n in 1..topo.nodes.len() {
        if !mem::init_node(n, &topo.nodes[n].memory, u64::MAX) {
            fatal!("cannot set up node {n} memory");
        }
    }
    for n in 0..topo.nodes.len() {
        // A heap per node: a quarter of its memory, between 4 and 512 MiB
        // (it holds the replica's file data, see `state::LOG_ENTRIES`).
        let pages = (mem::total_frames(n) / 4).clamp(1024, 131072);
        if !arch::heap::add_node_heap(n, pages, |p| mem::alloc_contiguous_on(n, p as usize, 4096)) {
            fatal!("cannot create the heap of node {n}");
        }
    }

    let stacks: Vec<percpu::CoreStacks> = topo
        .cores
        .iter()
        .map(|c| core_stacks(c.node).unwrap_or_else(|| fatal!("out of memory for kernel stacks")))
        .collect();
    let stacks = STACKS.call_once(|| stacks);
    let bsp = &topo.cores[0];
    percpu::init(0, bsp.apic_id, bsp.node, &stacks[0]);
    arch::heap::enable_node_heaps();
    paging::switch_stack(stacks[0].main, bsp_continue, 0)
}

fn core_stacks(node: usize) -> Option<percpu::CoreStacks> {
    let mut alloc = || mem::alloc_frame_on(node);
    Some(percpu::CoreStacks {
        main: paging::alloc_stack(STACK_PAGES, &mut alloc)?,
        ist: [
            paging::alloc_stack(8, &mut alloc)?,
            paging::alloc_stack(4, &mut alloc)?,
            paging::alloc_stack(4, &mut alloc)?,
            paging::alloc_stack(16, &mut alloc)?,
        ],
    })
}

extern "C" fn bsp_continue(_: u64) -> ! {
    let x2 = apic::has_x2apic();
    let mmio = if x2 {
        0
    } else {
        let base = LAPIC_PHYS.get().copied().unwrap_or(0xfee0_0000);
        paging::map_mmio(base, 4096, &mut || mem::alloc_frame_on(0))
            .unwrap_or_else(|| fatal!("map APIC"))
    };
    apic::select_mode(x2, mmio);
    apic::enable();
    apic::calibrate();
    apic::start_timer();
    percpu::current().online.store(true, Ordering::Release);
    log::info!(
        "local APIC in {} mode; TSC {} MHz",
        if x2 { "x2APIC" } else { "xAPIC" },
        apic::tsc_per_us()
    );

    start_application_processors();
    let ms = (cpu::rdtsc() - BOOT_TSC.get().copied().unwrap_or(0)) / apic::tsc_per_us() / 1000;
    log::info!(
        "all {} cores online ({} ms after kernel entry)",
        topology().cores.len(),
        ms
    );

    match cmdline().get("test") {
        Some(name) => ktest::run(name),
        None => {
            print_summary();
            time::init();
            let (paddr, size) = INITRD.get().copied().unwrap_or((0, 0));
            let initrd = if size == 0 {
                &[][..]
            } else {
                arch::paging::phys_slice(paddr, size as usize)
            };
            let status = init::run(initrd);
            log::info!("nothing to run; powering off");
            arch::exit::exit(status)
        }
    }
}

fn start_application_processors() {
    let topo = topology();
    let stacks = STACKS.get().expect("stacks");
    smp::install_trampoline();
    paging::set_identity_map(true);
    for c in topo.cores.iter().skip(1) {
        if !smp::start_core(c.apic_id, c.id, stacks[c.id].main, ap_entry) {
            fatal!("core {} (APIC {}) did not come online", c.id, c.apic_id);
        }
    }
    paging::set_identity_map(false);
    // Drop any identity-map translations the new cores cached.
    for c in 1..topo.cores.len() {
        smp::run_on(c, &arch::flush_tlb);
    }
}

extern "C" fn ap_entry(core_id: u64) -> ! {
    let id = core_id as usize;
    let c = topology().cores[id];
    let stacks = &STACKS.get().expect("stacks")[id];
    percpu::init(id, c.apic_id, c.node, stacks);
    apic::enable();
    apic::start_timer();
    if apic::id() != c.apic_id {
        log::warn!(
            "core {id}: APIC id {} differs from ACPI's {}",
            apic::id(),
            c.apic_id
        );
    }
    percpu::current().online.store(true, Ordering::Release);
    idle_loop()
}

/// Wait for interrupts forever, running calls posted by other cores.
pub fn idle_loop() -> ! {
    loop {
        smp::service_mailbox();
        if sched::started() {
            sched::run_core();
        }
        cpu::idle_wait();
    }
}

fn print_summary() {
    let topo = topology();
    for n in &topo.nodes {
        let cores: Vec<usize> = topo.cores_of_node(n.id).map(|c| c.id).collect();
        log::info!(
            "node {}: cores {:?}, {} MiB, {} free frames, distances {:?}",
            n.id,
            cores,
            topo.memory_mib(n.id),
            mem::free_frames(n.id),
            n.distances
        );
    }
}
