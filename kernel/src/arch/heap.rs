//! The kernel heap: one heap per NUMA node (a region of that node's frames),
//! plus a small early heap in `.bss` used while memory is being discovered.
//! An allocation goes to the running core's node; a free goes back to the
//! heap whose region holds the pointer.

use super::{paging, percpu};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use linked_list_allocator::Heap;
use spin::Mutex;

/// Most NUMA nodes the kernel supports.
pub const MAX_NODES: usize = 8;
const EARLY_HEAP_SIZE: usize = 4 << 20;

#[repr(C, align(4096))]
struct EarlyMem([u8; EARLY_HEAP_SIZE]);
static mut EARLY_MEM: EarlyMem = EarlyMem([0; EARLY_HEAP_SIZE]);
static EARLY: Mutex<Heap> = Mutex::new(Heap::empty());
static EARLY_INIT: AtomicBool = AtomicBool::new(false);

struct NodeHeap {
    heap: Mutex<Heap>,
    start: AtomicU64,
    end: AtomicU64,
    /// Copy of the heap's used bytes, updated under the lock, so that
    /// [`node_usage`] (asked on every state-growing system call) does not
    /// take the lock.
    used: AtomicU64,
}

static NODES: [NodeHeap; MAX_NODES] = [const {
    NodeHeap {
        heap: Mutex::new(Heap::empty()),
        start: AtomicU64::new(0),
        end: AtomicU64::new(0),
        used: AtomicU64::new(0),
    }
}; MAX_NODES];
static NODES_READY: AtomicBool = AtomicBool::new(false);

fn early_range() -> (u64, u64) {
    let s = core::ptr::addr_of!(EARLY_MEM) as u64;
    (s, s + EARLY_HEAP_SIZE as u64)
}

/// Make the early heap usable.
pub fn init_early() {
    let mut h = EARLY.lock();
    if !EARLY_INIT.swap(true, Ordering::SeqCst) {
        // SAFETY: EARLY_MEM is used by nothing else, and initialised once.
        unsafe {
            h.init(
                core::ptr::addr_of_mut!(EARLY_MEM) as *mut u8,
                EARLY_HEAP_SIZE,
            )
        };
    }
}

/// Give node `node` a heap of `pages` contiguous frames obtained from
/// `alloc_contiguous` (frames that will never be returned).
pub fn add_node_heap(
    node: usize,
    pages: u64,
    alloc_contiguous: impl FnOnce(u64) -> Option<u64>,
) -> bool {
    let Some(paddr) = alloc_contiguous(pages) else {
        return false;
    };
    let start = paging::phys_to_virt(paddr);
    let size = pages * paging::PAGE_SIZE;
    let nh = &NODES[node];
    // SAFETY: the frames were just taken from the node's frame allocator for
    // good, so this heap owns them exclusively; they are direct-mapped.
    unsafe { nh.heap.lock().init(start as *mut u8, size as usize) };
    nh.start.store(start, Ordering::Release);
    nh.end.store(start + size, Ordering::Release);
    true
}

/// Start routing allocations to the per-node heaps.
pub fn enable_node_heaps() {
    NODES_READY.store(true, Ordering::Release);
}

/// `(used, size)` bytes of node `node`'s heap.
pub fn node_usage(node: usize) -> (usize, usize) {
    let n = &NODES[node];
    let size = n.end.load(Ordering::Relaxed) - n.start.load(Ordering::Relaxed);
    (n.used.load(Ordering::Relaxed) as usize, size as usize)
}

/// Node whose heap holds `addr`, if any.
pub fn node_of(addr: u64) -> Option<usize> {
    NODES.iter().position(|n| {
        addr >= n.start.load(Ordering::Relaxed) && addr < n.end.load(Ordering::Relaxed)
    })
}

fn preferred_node() -> Option<usize> {
    if !NODES_READY.load(Ordering::Acquire) {
        return None;
    }
    let pc = percpu::try_current()?;
    let o = pc.heap_node_override.load(Ordering::Relaxed);
    Some(if o != usize::MAX { o } else { pc.numa_node() })
}

struct KernelAllocator;

// SAFETY: every block comes from exactly one heap and returns to the heap
// whose region contains it; each heap is protected by its lock.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(node) = preferred_node() {
            let order = (0..MAX_NODES).map(|i| (node + i) % MAX_NODES);
            for n in order {
                if NODES[n].end.load(Ordering::Relaxed) == 0 {
                    continue;
                }
                let mut h = NODES[n].heap.lock();
                if let Ok(p) = h.allocate_first_fit(layout) {
                    NODES[n].used.store(h.used() as u64, Ordering::Relaxed);
                    return p.as_ptr();
                }
            }
        }
        EARLY
            .lock()
            .allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let addr = ptr as u64;
        let (es, ee) = early_range();
        let Some(nn) = NonNull::new(ptr) else { return };
        if addr >= es && addr < ee {
            // SAFETY: the block came from the early heap (it lies in it).
            unsafe { EARLY.lock().deallocate(nn, layout) };
        } else if let Some(n) = node_of(addr) {
            let mut h = NODES[n].heap.lock();
            // SAFETY: the block came from node n's heap (it lies in it).
            unsafe { h.deallocate(nn, layout) };
            NODES[n].used.store(h.used() as u64, Ordering::Relaxed);
        }
    }
}

#[global_allocator]
static ALLOCATOR: KernelAllocator = KernelAllocator;
