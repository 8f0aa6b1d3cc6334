//! Physical memory: one frame allocator per NUMA node, each core allocating
//! from its own node through a small per-core cache. Physical memory is not
//! replicated state (see NROS.md): these are plain locked allocators.

use crate::arch::{heap::MAX_NODES, percpu, percpu::MAX_CORES};
use alloc::vec::Vec;
use platform::frames::{FrameAllocator, FrameCache};
use platform::retire::{Links, RetireList};
use spin::{Mutex, Once};

struct NodeFrames {
    alloc: Mutex<FrameAllocator<'static>>,
    ranges: Vec<(u64, u64)>,
}

static NODES: [Once<NodeFrames>; MAX_NODES] = [const { Once::new() }; MAX_NODES];
static CACHES: [Mutex<FrameCache>; MAX_CORES] =
    [const { Mutex::new(FrameCache::new()) }; MAX_CORES];

/// Frames moved between a core cache and its node's allocator at a time.
const BATCH: usize = FrameCache::CAPACITY / 2;

/// Set up node `node`'s allocator over `ranges` (its bitmap is carved out of
/// those ranges, below `limit`). Returns false if that is impossible.
pub fn init_node(node: usize, ranges: &[(u64, u64)], limit: u64) -> bool {
    match crate::arch::new_frame_allocator(ranges, limit) {
        Some(a) => {
            NODES[node].call_once(|| NodeFrames {
                alloc: Mutex::new(a),
                ranges: ranges.to_vec(),
            });
            true
        }
        None => false,
    }
}

fn node(n: usize) -> Option<&'static NodeFrames> {
    NODES.get(n)?.get()
}

/// NUMA node owning physical frame `paddr`.
pub fn node_of_frame(paddr: u64) -> Option<usize> {
    (0..MAX_NODES).find(|&n| {
        node(n).is_some_and(|nf| nf.ranges.iter().any(|&(s, e)| paddr >= s && paddr < e))
    })
}

/// Allocate a frame on node `n` (bypassing core caches).
pub fn alloc_frame_on(n: usize) -> Option<u64> {
    node(n)?.alloc.lock().alloc()
}

/// Allocate `count` physically contiguous frames on node `n`, aligned to
/// `align` bytes.
pub fn alloc_contiguous_on(n: usize, count: usize, align: u64) -> Option<u64> {
    node(n)?.alloc.lock().alloc_contiguous(count, align)
}

/// Allocate a frame from the running core's node (through its cache),
/// falling back to other nodes when the local one is exhausted.
pub fn alloc_frame() -> Option<u64> {
    let pc = percpu::current();
    let local = pc.numa_node();
    if let Some(nf) = node(local) {
        let mut cache = CACHES[pc.core_id()].lock();
        if let Some(f) = cache.pop() {
            return Some(f);
        }
        cache.refill(&mut nf.alloc.lock(), BATCH);
        if let Some(f) = cache.pop() {
            return Some(f);
        }
    }
    (0..MAX_NODES)
        .filter(|&n| n != local)
        .find_map(alloc_frame_on)
        .or_else(|| {
            // Retired page tables this core alone held back (no waiting for
            // other cores here: this may run inside a replicated operation).
            crate::arch::flush_tlb();
            (reclaim() > 0).then(alloc_frame).flatten()
        })
}

/// Return a frame. Frames of the running core's node go to its cache.
/// Freeing a frame that is not allocated is a kernel bug and panics.
pub fn free_frame(paddr: u64) {
    let pc = percpu::current();
    let owner = node_of_frame(paddr).expect("free_frame: frame of no node");
    let nf = node(owner).expect("node initialised");
    if owner == pc.numa_node() {
        let mut cache = CACHES[pc.core_id()].lock();
        if cache.is_full() {
            cache
                .spill_into(&mut nf.alloc.lock(), BATCH)
                .expect("frame cache spill");
        }
        if cache.push(paddr).is_ok() {
            return;
        }
        panic!("double free of frame {paddr:#x}");
    }
    nf.alloc
        .lock()
        .free(paddr)
        .expect("free_frame: double free or foreign frame");
}

/// Free frames of node `n`, counting those parked in core caches.
pub fn free_frames(n: usize) -> u64 {
    let Some(nf) = node(n) else { return 0 };
    let cached: usize = (0..MAX_CORES)
        .filter(|&c| {
            percpu::core(c).numa_node() == n
                && percpu::core(c)
                    .online
                    .load(core::sync::atomic::Ordering::Relaxed)
        })
        .map(|c| CACHES[c].lock().len())
        .sum();
    nf.alloc.lock().free_count() + cached as u64
}

/// Total frames managed for node `n`.
pub fn total_frames(n: usize) -> u64 {
    node(n).map_or(0, |nf| nf.alloc.lock().total_count())
}

/// Page-table frames unlinked from a user hierarchy, waiting until no core
/// can reach them through its paging-structure caches (see
/// [`platform::retire`]).
static RETIRED: Mutex<RetireList> = Mutex::new(RetireList::new());

/// The link words of retired frames, kept in the frames themselves.
struct FrameLinks;

impl Links for FrameLinks {
    fn set(&mut self, frame: u64, next: u64, tag: u64) {
        crate::arch::paging::frame::write_u64(frame, 0, next);
        crate::arch::paging::frame::write_u64(frame, 1, tag);
    }

    fn get(&self, frame: u64) -> (u64, u64) {
        (
            crate::arch::paging::frame::read_u64(frame, 0),
            crate::arch::paging::frame::read_u64(frame, 1),
        )
    }
}

/// Free a page-table frame just unlinked from a user hierarchy once no core
/// can walk it any more (cores that ran the address space may hold cached
/// pointers to it until their next CR3 write).
pub fn retire_table(paddr: u64) {
    let waiting = {
        let mut list = RETIRED.lock();
        // Tagged under the lock: the list stays in tag order.
        let tag = crate::arch::paging::retire_tag();
        list.push(paddr, tag, &mut FrameLinks);
        list.len()
    };
    // Freeing in batches keeps this cheap on munmap-heavy loads; timer ticks
    // and allocation failures free the rest.
    if waiting >= RECLAIM_BATCH {
        reclaim();
    }
}

/// Retired tables that make [`retire_table`] free what it can.
const RECLAIM_BATCH: usize = 16;

/// Free the retired tables no core can reach any more; returns how many.
pub fn reclaim() -> usize {
    let safe = crate::arch::paging::retire_safe_below();
    let mut n = 0;
    loop {
        let Some(f) = RETIRED.lock().pop_safe(safe, &FrameLinks) else {
            return n;
        };
        free_frame(f);
        n += 1;
    }
}

/// Free every retired table now: the cores that could still reach one
/// flush their TLBs first. Not inside a replicated operation (it waits for
/// other cores).
pub fn reclaim_all() {
    let newest = RETIRED.lock().newest_tag(&FrameLinks);
    if let Some(tag) = newest {
        crate::arch::flush_tlb();
        let others = crate::arch::paging::cores_behind(tag);
        if others != 0 {
            crate::arch::smp::run_on_set(others, &crate::arch::user::flush_now);
        }
    }
    reclaim();
}

/// On a timer tick in user mode: if this core holds the oldest retired
/// table back, flush (a core that keeps running one address space would
/// otherwise hold every later retired table back until memory runs out),
/// then free what has become safe.
pub fn tick() {
    let Some(oldest) = RETIRED.try_lock().and_then(|l| l.oldest_tag(&FrameLinks)) else {
        return;
    };
    let me = percpu::current().core_id();
    if crate::arch::paging::core_view(me).may_reach(oldest) {
        crate::arch::flush_tlb();
    }
    reclaim();
}

/// Page-table frames waiting to be freed.
pub fn retired_count() -> usize {
    RETIRED.lock().len()
}
