//! A distributed reader-writer lock.
//!
//! Every reader owns one 128-byte-aligned slot; taking the read lock writes
//! only that slot (one compare-and-swap on a line nobody else writes while no
//! writer is active) and *reads* the writer flag, which changes only when a
//! writer comes and goes. Readers of different threads therefore never write
//! a shared cache line, and read locking scales with the number of cores.
//! Writers are rare (one per combining round) and pay for it: they raise the
//! writer flag, then visit every registered reader slot.
//!
//! # Why it is correct without `SeqCst`
//!
//! The classic problem is store buffering: a reader publishes "I am in" and
//! then checks the writer flag, while a writer publishes its flag and then
//! checks the reader slots; both could miss each other. Here both sides meet
//! on the *reader slot* with read-modify-write operations:
//!
//! * reader: `slot.cas(v -> v + 1, Acquire)` (`v` even), then
//!   `writer.load(Acquire)`;
//! * writer: `writer.cas(false -> true, Acquire)`, then for each slot
//!   `slot.cas(v -> v, AcqRel)` with `v` even (retried until it succeeds).
//!
//! The two RMWs on one slot are totally ordered. If the writer's comes first,
//! the reader's CAS reads the value written by it (an RMW always reads the
//! latest value), synchronises with its `Release`, and so must see the writer
//! flag already raised: it backs off. If the reader's comes first, the
//! writer's CAS finds an odd value and waits until the reader's `Release`
//! increment to the next even value, which it then reads: the read critical
//! section happens before the write critical section. This uses only
//! acquire/release reasoning, which loom models exactly (loom does not model
//! `SeqCst` accesses).
//!
//! A slot is a counter: odd while a reader is inside, and `2 ×` the number of
//! completed read sections otherwise. A reader enters with a CAS from an even
//! value and leaves by incrementing it again, so two threads that share one
//! reader id (ids are `Copy`) take turns instead of corrupting each other's
//! state, and the lock counts reads for free ([`DistRwLock::reads`]), with no
//! extra memory access on the read path.
//!
//! Leaving uses a (`Release`) `fetch_add`, not a plain store: on x86 the next
//! read's CAS on the same line would otherwise wait for that store to drain
//! from the store buffer, which happens only after the previous read's cache
//! misses retire; two locked operations let the core overlap the misses of
//! consecutive reads. On a hash map larger than the last-level cache this
//! was measurably faster (see `crates/nr/README.md`).

use crate::sync::{AtomicBool, AtomicUsize, Backoff, CachePadded, Ordering, Unlock, UnsafeCell};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Identifies a reader slot of one [`DistRwLock`]; obtained from
/// [`DistRwLock::register`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderId(usize);

impl ReaderId {
    /// The slot index.
    pub fn index(self) -> usize {
        self.0
    }

    /// Crate-internal constructor (replicas derive reader ids from tokens).
    pub(crate) fn from_index(index: usize) -> Self {
        Self(index)
    }
}

/// The line every reader reads: writer flag plus number of registered slots.
#[derive(Debug)]
struct WriterLine {
    /// Set while a writer holds or is acquiring the lock.
    writer: AtomicBool,
    /// Number of registered reader slots; changed only under the write lock.
    active: AtomicUsize,
    /// A word for the lock's owner (see [`DistRwLock::stamp`]).
    stamp: AtomicUsize,
}

/// A reader-writer lock with one cache-line-padded slot per reader.
///
/// Readers identify themselves with a [`ReaderId`]; writers need no id.
#[derive(Debug)]
pub struct DistRwLock<T> {
    line: CachePadded<WriterLine>,
    readers: Box<[CachePadded<AtomicUsize>]>,
    data: UnsafeCell<T>,
}

// SAFETY: like `std::sync::RwLock`: readers on several threads share `&T`
// (needs `T: Sync`), a writer on any thread gets `&mut T` (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for DistRwLock<T> {}
// SAFETY: owning the lock owns the `T`.
unsafe impl<T: Send> Send for DistRwLock<T> {}

impl<T> DistRwLock<T> {
    /// Creates a lock around `data` with room for `max_readers` reader slots.
    pub fn new(max_readers: usize, data: T) -> Self {
        let readers: Vec<CachePadded<AtomicUsize>> = (0..max_readers)
            .map(|_| CachePadded(AtomicUsize::new(0)))
            .collect();
        Self {
            line: CachePadded(WriterLine {
                writer: AtomicBool::new(false),
                active: AtomicUsize::new(0),
                stamp: AtomicUsize::new(0),
            }),
            readers: readers.into_boxed_slice(),
            data: UnsafeCell::new(data),
        }
    }

    /// Maximum number of reader slots.
    pub fn capacity(&self) -> usize {
        self.readers.len()
    }

    /// Number of registered reader slots.
    pub fn registered(&self) -> usize {
        self.line.active.load(Ordering::Acquire)
    }

    /// Registers a new reader slot, or `None` if all are taken.
    ///
    /// Registration runs under the write lock, so a writer always visits every
    /// slot that a reader could be using.
    pub fn register(&self) -> Option<ReaderId> {
        self.lock_exclusive();
        let _unlock = Unlock(&self.line.writer);
        let n = self.line.active.load(Ordering::Relaxed);
        if n == self.readers.len() {
            return None;
        }
        self.line.active.store(n + 1, Ordering::Release);
        Some(ReaderId(n))
    }

    /// Runs `f` with shared access to the data, using reader slot `id`.
    ///
    /// # Panics
    /// If `id` was not registered on this lock.
    #[inline]
    pub fn read<R>(&self, id: ReaderId, f: impl FnOnce(&T) -> R) -> R {
        assert!(
            id.0 < self.line.active.load(Ordering::Acquire),
            "unregistered reader id"
        );
        let slot = &self.readers[id.0];
        // Fast path: one CAS on our own line and one load of the
        // read-mostly writer line.
        let v = slot.load(Ordering::Relaxed);
        let entered = v & 1 == 0
            && slot
                .compare_exchange(v, v + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
        if !entered || self.line.writer.load(Ordering::Acquire) {
            self.read_slow(slot, entered.then_some(v));
        }
        let _exit = ReadExit(slot);
        // SAFETY: our slot is odd and no writer is active; any writer arriving
        // now waits for the slot to become even again (see module docs), so nothing
        // mutates the data while `f` runs.
        self.data.with(|p| f(unsafe { &*p }))
    }

    /// A word that lives on the cache line every reader reads anyway (the
    /// writer flag's), for the owner of the lock to publish state that
    /// readers check before reading, without touching another cache line.
    /// Writers should update it only inside [`DistRwLock::write`], so that
    /// it changes together with the data. Initially 0.
    ///
    /// [`Replica`](crate::Replica) keeps its local log tail here.
    #[inline(always)]
    pub fn stamp(&self) -> &AtomicUsize {
        &self.line.stamp
    }

    /// Slow path of [`DistRwLock::read`] after a failed attempt (`held` is
    /// the slot's previous value if the attempt entered the slot, i.e. a
    /// writer arrived): leaves the slot, waits until it is free and no writer
    /// is active, and enters it.
    #[cold]
    fn read_slow(&self, slot: &AtomicUsize, held: Option<usize>) {
        if let Some(v) = held {
            // A writer arrived: step aside until it is done.
            slot.store(v, Ordering::Release);
        }
        let mut backoff = Backoff::new();
        loop {
            if !self.line.writer.load(Ordering::Relaxed) {
                let v = slot.load(Ordering::Relaxed);
                // An odd value: another thread uses the same reader id; take
                // turns.
                if v & 1 == 0
                    && slot
                        .compare_exchange(v, v + 1, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    if !self.line.writer.load(Ordering::Acquire) {
                        return;
                    }
                    slot.store(v, Ordering::Release);
                }
            }
            backoff.snooze();
        }
    }

    /// Number of read critical sections completed with slot `id` (0 for an
    /// unregistered id). Sections still running are not counted.
    pub fn reads(&self, id: ReaderId) -> usize {
        self.readers
            .get(id.0)
            .map_or(0, |s| s.load(Ordering::Relaxed) / 2)
    }

    /// Runs `f` with exclusive access to the data.
    #[inline]
    pub fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock_exclusive();
        let _unlock = Unlock(&self.line.writer);
        // SAFETY: we hold the writer flag and every registered reader slot was
        // seen at 0 after the flag was raised (see module docs); new readers
        // back off. So this is the only access to the data.
        self.data.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Acquires the writer flag and waits until no reader is inside.
    fn lock_exclusive(&self) {
        let mut backoff = Backoff::new();
        while self.line.writer.load(Ordering::Relaxed)
            || self
                .line
                .writer
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            backoff.snooze();
        }
        // Only changed under the writer flag, which we hold.
        let n = self.line.active.load(Ordering::Relaxed);
        for slot in &self.readers[..n] {
            let mut backoff = Backoff::new();
            loop {
                // Even: no reader inside. The CAS (see module docs) makes the
                // last reader's section happen before ours.
                let v = slot.load(Ordering::Relaxed);
                if v & 1 == 0
                    && slot
                        .compare_exchange(v, v, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    break;
                }
                backoff.snooze();
            }
        }
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

/// Leaves a read critical section on drop (also on unwinding): the slot
/// goes from odd to the next even value (see the module docs for why this is
/// an RMW).
struct ReadExit<'a>(&'a AtomicUsize);

impl Drop for ReadExit<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::vec;

    #[test]
    fn register_until_full() {
        let l = DistRwLock::new(2, 0u32);
        assert_eq!(l.register(), Some(ReaderId(0)));
        assert_eq!(l.register(), Some(ReaderId(1)));
        assert_eq!(l.register(), None);
        assert_eq!(l.registered(), 2);
    }

    #[test]
    #[should_panic(expected = "unregistered reader id")]
    fn unregistered_reader_panics() {
        let l = DistRwLock::new(2, 0u32);
        l.register().unwrap();
        l.read(ReaderId(1), |_| ());
    }

    #[test]
    fn slots_count_reads_and_stamp_starts_at_zero() {
        let l = DistRwLock::new(3, 7u32);
        let (a, b) = (l.register().unwrap(), l.register().unwrap());
        for _ in 0..5 {
            assert_eq!(l.read(a, |d| *d), 7);
        }
        l.write(|d| *d = 8);
        assert_eq!(l.read(b, |d| *d), 8);
        assert_eq!(
            (
                l.reads(a),
                l.reads(b),
                l.reads(ReaderId(2)),
                l.reads(ReaderId(9))
            ),
            (5, 1, 0, 0)
        );
        assert_eq!(l.stamp().load(Ordering::Relaxed), 0);
        // A panicking reader still leaves its slot (and it counts).
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            l.read(b, |_| panic!("boom"))
        }));
        assert!(r.is_err());
        assert_eq!(l.reads(b), 2);
        l.write(|d| *d = 9);
    }

    #[test]
    fn readers_and_writers_exclude() {
        // Invariant: both halves equal. A writer updates them one at a time,
        // so a reader overlapping a writer would see them differ.
        const READERS: usize = 2;
        let l = Arc::new(DistRwLock::new(READERS, (0u64, 0u64)));
        let ids: vec::Vec<_> = (0..READERS).map(|_| l.register().unwrap()).collect();
        let mut hs = vec::Vec::new();
        for id in ids {
            let l = l.clone();
            hs.push(std::thread::spawn(move || {
                let mut last = 0;
                for _ in 0..20_000 {
                    let (a, b) = l.read(id, |d| (d.0, core::hint::black_box(d.1)));
                    assert_eq!(a, b);
                    assert!(a >= last, "reads go back in time");
                    last = a;
                }
            }));
        }
        for _ in 0..2 {
            let l = l.clone();
            hs.push(std::thread::spawn(move || {
                for _ in 0..2_000 {
                    l.write(|d| {
                        d.0 += 1;
                        core::hint::black_box(&mut *d);
                        d.1 += 1;
                    });
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(l.write(|d| *d), (4000, 4000));
    }

    #[test]
    fn shared_reader_id_takes_turns() {
        let l = Arc::new(DistRwLock::new(1, 0u64));
        let id = l.register().unwrap();
        let inside = Arc::new(core::sync::atomic::AtomicUsize::new(0));
        let hs: vec::Vec<_> = (0..2)
            .map(|_| {
                let (l, inside) = (l.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..5_000 {
                        l.read(id, |_| {
                            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                            inside.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
}
