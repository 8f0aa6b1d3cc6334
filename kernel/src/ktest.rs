//! Built-in kernel tests, selected with `test=NAME` on the command line.
//! Each prints what it checked and ends the run: status 0 on success.

use crate::arch::{apic, cpu, exit, percpu, smp};
use crate::{mem, topology};
use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use spin::Mutex;

/// Run the test called `name`.
pub fn run(name: &str) -> ! {
    log::info!("kernel test `{name}`");
    match name {
        "topology" => topology_test(),
        "alloc" => alloc_test(),
        "ipi" => ipi_test(),
        "retire" => retire_test(),
        "pagefault" => {
            let v = crate::arch::trigger_page_fault();
            log::error!("read of an unmapped page returned {v}");
        }
        "stackoverflow" => {
            let depth = recurse(0);
            log::error!("recursion returned at depth {depth} without hitting the guard page");
        }
        "smap" => {
            let v = crate::arch::trigger_smap_fault();
            log::error!("the kernel read a user page ({v:#x}) without a fault: SMAP is off");
        }
        "smep" => {
            let v = crate::arch::trigger_smep_fault();
            log::error!("the kernel executed a user page ({v:#x}) without a fault: SMEP is off");
        }
        "gpfault" => {
            let v = crate::arch::trigger_gp_fault();
            log::error!("read of a non-canonical address returned {v}");
        }
        other => {
            log::error!("unknown kernel test `{other}` (known: topology, alloc, ipi, retire, pagefault, gpfault, stackoverflow, smap, smep)");
        }
    }
    exit::exit(1)
}

fn fail(msg: core::fmt::Arguments<'_>) -> ! {
    log::error!("FAILED: {msg}");
    exit::exit(1)
}

/// Every core has come online and taken at least one timer interrupt; then
/// each core prints its own identity, and each node its memory.
fn topology_test() -> ! {
    let topo = topology();
    let deadline = cpu::rdtsc() + 5_000_000 * apic::tsc_per_us();
    while !(0..topo.cores.len()).all(|c| percpu::core(c).ticks.load(Ordering::Relaxed) > 0) {
        if cpu::rdtsc() > deadline {
            fail(format_args!(
                "not every core took a timer interrupt within 5 s"
            ));
        }
        cpu::idle_wait();
    }
    for c in 0..topo.cores.len() {
        smp::run_on(c, &|| {
            let pc = percpu::current();
            crate::kprintln!(
                "cpu {} node {} apic {}",
                pc.core_id(),
                pc.numa_node(),
                apic::id()
            );
        });
    }
    for n in &topo.nodes {
        crate::kprintln!("node {} mem {} MiB", n.id, topo.memory_mib(n.id));
    }
    exit::exit(0)
}

/// All cores allocate and free frames (own node, then every node) and heap
/// objects at the same time; no frame may be handed out twice, each must
/// come from the node asked for, and everything must return at the end.
fn alloc_test() -> ! {
    const FRAMES: usize = 300;
    const OBJECTS: usize = 500;
    let topo = topology();
    let cores = topo.cores.len();
    let nodes = topo.nodes.len();
    let free_before: Vec<u64> = (0..nodes).map(mem::free_frames).collect();
    let handed_out: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());
    let failed = AtomicBool::new(false);
    let checked = AtomicUsize::new(0);

    let work = || {
        let pc = percpu::current();
        let me = pc.core_id();
        let take = |frame: Option<u64>, want: usize, held: &mut Vec<u64>| match frame {
            Some(f) => {
                if mem::node_of_frame(f) != Some(want) {
                    log::error!("core {me}: frame {f:#x} is not from node {want}");
                    failed.store(true, Ordering::Relaxed);
                }
                if !handed_out.lock().insert(f) {
                    log::error!("core {me}: frame {f:#x} handed out twice");
                    failed.store(true, Ordering::Relaxed);
                }
                held.push(f);
            }
            None => {
                log::error!("core {me}: out of frames on node {want}");
                failed.store(true, Ordering::Relaxed);
            }
        };
        let mut held = Vec::with_capacity(FRAMES * (nodes + 1));
        for _ in 0..FRAMES {
            take(mem::alloc_frame(), pc.numa_node(), &mut held);
        }
        for n in 0..nodes {
            for _ in 0..FRAMES / nodes {
                take(mem::alloc_frame_on(n), n, &mut held);
            }
        }
        let objects: Vec<Box<[u64; 16]>> = (0..OBJECTS)
            .map(|i| Box::new([((me as u64) << 32) | i as u64; 16]))
            .collect();
        for (i, o) in objects.iter().enumerate() {
            if o.iter().any(|&v| v != ((me as u64) << 32) | i as u64) {
                log::error!("core {me}: heap object {i} corrupted");
                failed.store(true, Ordering::Relaxed);
            }
        }
        for f in held.drain(..) {
            handed_out.lock().remove(&f);
            mem::free_frame(f);
        }
        drop(objects);
        checked.fetch_add(1, Ordering::Relaxed);
    };
    smp::run_on_all(cores, &work);
    // Return every core's cached frames before comparing counts.
    let free_after: Vec<u64> = (0..nodes).map(mem::free_frames).collect();
    if failed.load(Ordering::Relaxed) {
        fail(format_args!("allocation errors (see above)"));
    }
    if free_before != free_after {
        fail(format_args!(
            "frames leaked: free before {free_before:?}, after {free_after:?}"
        ));
    }
    crate::kprintln!(
        "alloc: {} cores x ({} local + {} per-node frames, {} heap objects): no duplicates, right nodes, free frames {:?}",
        checked.load(Ordering::Relaxed), FRAMES, FRAMES / nodes, OBJECTS, free_after
    );
    exit::exit(0)
}

/// Every core calls every other core through an IPI and gets an answer.
fn ipi_test() -> ! {
    let cores = topology().cores.len();
    let answered: Vec<AtomicUsize> = (0..cores * cores).map(|_| AtomicUsize::new(0)).collect();
    let work = || {
        let me = percpu::current().core_id();
        for target in (0..cores).filter(|&t| t != me) {
            smp::run_on(target, &|| {
                let here = percpu::current().core_id();
                answered[me * cores + here].fetch_add(1, Ordering::SeqCst);
            });
        }
    };
    smp::run_on_all(cores, &work);
    for from in 0..cores {
        for to in (0..cores).filter(|&t| t != from) {
            if answered[from * cores + to].load(Ordering::SeqCst) != 1 {
                fail(format_args!(
                    "call from core {from} to core {to} was not answered on core {to}"
                ));
            }
        }
    }
    crate::kprintln!(
        "ipi: {} cores, {} cross-core calls answered",
        cores,
        cores * (cores - 1)
    );
    exit::exit(0)
}

/// A retired page-table frame is freed only once every core that ran on a
/// user root has written CR3 since: first this core, then (with two or
/// more cores) another one that `reclaim_all` makes flush by IPI.
fn retire_test() -> ! {
    let check = |what: &str, want: usize| {
        let n = mem::retired_count();
        if n != want {
            fail(format_args!("{what}: {n} frames retired, expected {want}"));
        }
    };
    let frame = || mem::alloc_frame().unwrap_or_else(|| fail(format_args!("out of frames")));
    mem::reclaim();
    check("at start", 0);
    // This core walks a user hierarchy from now on.
    if crate::arch::paging::enter_user_test_space().is_none() {
        fail(format_args!("no user test space"));
    }
    mem::retire_table(frame());
    check("while this core has not written CR3", 1);
    crate::arch::flush_tlb();
    mem::reclaim();
    check("after this core flushed", 0);
    let cores = topology().cores.len();
    if cores > 1 {
        let other = (percpu::current().core_id() + 1) % cores;
        smp::run_on(other, &|| {
            crate::arch::paging::enter_user_test_space();
        });
        mem::retire_table(frame());
        crate::arch::flush_tlb();
        mem::reclaim();
        check("while another core has not written CR3", 1);
        mem::reclaim_all();
        check("after reclaim_all", 0);
    }
    crate::kprintln!("retire: page tables freed only after every core flushed, cores: {cores}");
    exit::exit(0)
}

/// Recurse until the kernel stack's guard page stops us.
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    if depth > 1 << 30 {
        return depth;
    }
    recurse(depth + 1) + frame[depth as usize % 64]
}
