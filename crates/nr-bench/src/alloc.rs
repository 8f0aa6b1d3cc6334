//! A counting global allocator: it forwards every call to the system
//! allocator and, only while a measurement window is open, adds up the net
//! change in live heap bytes. Outside a window it costs one relaxed load of a
//! read-only flag per call, so it does not perturb the throughput runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

/// The allocator installed by `main.rs`.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

#[inline]
fn count(delta: isize) {
    if ON.load(Relaxed) {
        LIVE.fetch_add(delta, Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System` upholds the `GlobalAlloc` contract; we only count.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as this method's.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as this method's.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as this method's.
        unsafe { System.dealloc(p, l) };
        count(-(l.size() as isize));
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as this method's.
        let q = unsafe { System.realloc(p, l, new_size) };
        if !q.is_null() {
            count(new_size as isize - l.size() as isize);
        }
        q
    }
}

/// Runs `f` and returns its result with the net number of heap bytes that
/// were still allocated when it returned (allocations minus frees inside the
/// window). Call it only while no other thread allocates.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, isize) {
    LIVE.store(0, Relaxed);
    ON.store(true, Relaxed);
    let t = f();
    ON.store(false, Relaxed);
    (t, LIVE.load(Relaxed))
}
