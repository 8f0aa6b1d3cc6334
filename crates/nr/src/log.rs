//! The shared operation log.
//!
//! A circular buffer of `2^k` entries addressed by *logical* indices that only
//! grow; index `i` lives in slot `i & (len - 1)`. Each entry carries the
//! operation, the id of the replica that appended it and an `alive` flag. The
//! flag value that means "filled" flips on every lap around the buffer
//! ([`alive_value`]), so a replica waiting for entry `i` can tell the new
//! entry from the stale one of the previous lap without ever clearing flags.
//!
//! Global indices (all monotonic):
//! * `tail`: next free index; appenders reserve a whole batch with one CAS;
//! * `head`: oldest entry still needed; everything below it was applied by
//!   every replica, so slots of indices `< head + len` may be (re)written;
//! * `ctail`: the largest local tail any replica has reached (completed tail);
//! * one local tail (`ltail`) per replica: what that replica has applied.
//!
//! Invariant: `head <= min(ltail) <= ltail[r] <= ctail <= tail <= head + len`.
//!
//! Garbage collection moves `head` up to the minimum local tail. When the log
//! is full, the appender cannot wait for a lagging replica to wake up (it may
//! have no thread at all); instead it asks the registry for the laggard and
//! applies that replica's backlog itself (see `Replica`).

use crate::sync::{AtomicBool, AtomicUsize, Backoff, CachePadded, Ordering, SpinLock, UnsafeCell};
use alloc::boxed::Box;
use alloc::sync::Weak;
use alloc::vec::Vec;
use core::fmt;

/// Default number of log entries of [`LogConfig::default`].
pub const DEFAULT_LOG_ENTRIES: usize = 1 << 16;
/// Default maximum number of replicas of [`LogConfig::default`].
pub const DEFAULT_MAX_REPLICAS: usize = 8;

/// Log geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Number of entries; rounded up to a power of two (at least 1).
    pub entries: usize,
    /// Maximum number of replicas that may ever register with the log.
    pub max_replicas: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            entries: DEFAULT_LOG_ENTRIES,
            max_replicas: DEFAULT_MAX_REPLICAS,
        }
    }
}

/// Slot of logical index `idx` in a log of `mask + 1` entries.
#[inline(always)]
pub(crate) fn slot_of(idx: usize, mask: usize) -> usize {
    idx & mask
}

/// The `alive` value that marks entry `idx` as filled in a log of `2^shift`
/// entries: `true` on even laps (0, 2, ...), `false` on odd laps. Slots start
/// `false`, so an unwritten slot never looks filled for lap 0.
#[inline(always)]
pub(crate) fn alive_value(idx: usize, shift: u32) -> bool {
    (idx >> shift) & 1 == 0
}

/// Why a replica could not join a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaError {
    /// The log already has its configured maximum number of replicas.
    TooManyReplicas {
        /// The configured maximum.
        max: usize,
    },
    /// Entries were already garbage-collected, so a replica starting from
    /// the initial state could not catch up. Create all replicas before the
    /// log wraps around (in practice: before use).
    LogAlreadyAdvanced,
}

impl fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyReplicas { max } => {
                write!(f, "log already has its maximum of {max} replicas")
            }
            Self::LogAlreadyAdvanced => {
                write!(
                    f,
                    "log entries were already garbage-collected; a new replica cannot catch up"
                )
            }
        }
    }
}

impl core::error::Error for ReplicaError {}

/// What the log needs from a replica to make progress when it is full: a way
/// to bring that replica up to date from another thread.
pub(crate) trait LogReplica<Op>: Send + Sync {
    /// Tries to take the replica's combiner lock without waiting and, if that
    /// worked, applies all of its backlog. Returns whether it did.
    fn try_catch_up(&self) -> bool;
}

/// Handle on a registered replica, for helping it.
pub(crate) type Helper<Op> = Weak<dyn LogReplica<Op>>;

/// A lagging replica named by [`Log::collect`]: its id and, once attached,
/// how to help it.
pub(crate) type Laggard<Op> = (usize, Option<Helper<Op>>);

/// Registry entry of one replica id.
struct Member<Op> {
    /// Registered and not yet dropped: its local tail holds back `head`.
    active: bool,
    /// Set right after the replica is constructed.
    helper: Option<Helper<Op>>,
}

/// Contents of one log slot (written by the appender before `alive` is set).
struct EntryData<Op> {
    op: Option<Op>,
    replica: usize,
}

/// One log slot.
struct Entry<Op> {
    alive: AtomicBool,
    data: UnsafeCell<EntryData<Op>>,
}

/// The shared log of mutating operations (see the module docs).
pub struct Log<Op> {
    entries: Box<[Entry<Op>]>,
    mask: usize,
    shift: u32,
    /// Soft garbage-collection threshold: an appender that would leave the log
    /// fuller than this tries (without waiting) to move `head`.
    gc_threshold: usize,
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    ctail: CachePadded<AtomicUsize>,
    ltails: Box<[CachePadded<AtomicUsize>]>,
    /// Replica membership; also serialises every change of `head`.
    registry: SpinLock<Vec<Member<Op>>>,
}

// SAFETY: entries are written only by the appender that reserved their index
// (after `head` proved every replica finished reading the previous lap) and
// read (cloned) concurrently by replicas after `alive` published them. So
// `Op` values move between threads (`Send`) and are shared by reference
// between threads (`Sync`).
unsafe impl<Op: Send + Sync> Sync for Log<Op> {}
// SAFETY: owning the log owns its `Op`s; the registry only holds `Weak`s to
// `Send + Sync` replicas.
unsafe impl<Op: Send> Send for Log<Op> {}

impl<Op> fmt::Debug for Log<Op> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("entries", &self.entries.len())
            .field("head", &self.head())
            .field("tail", &self.tail())
            .field("ctail", &self.ctail())
            .finish()
    }
}

impl<Op> Log<Op> {
    /// A log of `entries` slots (rounded up to a power of two) for at most
    /// [`DEFAULT_MAX_REPLICAS`] replicas.
    pub fn new(entries: usize) -> Self {
        Self::with_config(LogConfig {
            entries,
            ..LogConfig::default()
        })
    }

    /// A log with the given geometry.
    ///
    /// # Panics
    /// If `config.max_replicas` is 0.
    pub fn with_config(config: LogConfig) -> Self {
        assert!(
            config.max_replicas > 0,
            "a log needs room for at least one replica"
        );
        let len = config.entries.max(1).next_power_of_two();
        let entries: Vec<Entry<Op>> = (0..len)
            .map(|_| Entry {
                alive: AtomicBool::new(false),
                data: UnsafeCell::new(EntryData {
                    op: None,
                    replica: usize::MAX,
                }),
            })
            .collect();
        let ltails: Vec<_> = (0..config.max_replicas)
            .map(|_| CachePadded(AtomicUsize::new(0)))
            .collect();
        let members = (0..config.max_replicas)
            .map(|_| Member {
                active: false,
                helper: None,
            })
            .collect();
        Self {
            entries: entries.into_boxed_slice(),
            mask: len - 1,
            shift: len.trailing_zeros(),
            gc_threshold: len - len / 4,
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            ctail: CachePadded(AtomicUsize::new(0)),
            ltails: ltails.into_boxed_slice(),
            registry: SpinLock::new(members),
        }
    }

    /// Number of entries (a power of two).
    pub fn size(&self) -> usize {
        self.entries.len()
    }

    /// Maximum number of replicas.
    pub fn max_replicas(&self) -> usize {
        self.ltails.len()
    }

    /// Number of replicas currently registered (not yet dropped).
    pub fn num_replicas(&self) -> usize {
        self.registry
            .with(|m| m.iter().filter(|m| m.active).count())
    }

    /// Oldest logical index still kept (entries below were applied everywhere).
    pub fn head(&self) -> usize {
        self.head.load(Ordering::Acquire)
    }

    /// Next free logical index.
    pub fn tail(&self) -> usize {
        self.tail.load(Ordering::Acquire)
    }

    /// Completed tail: the highest local tail any replica has reached.
    pub fn ctail(&self) -> usize {
        self.ctail.load(Ordering::Acquire)
    }

    /// Local tail of replica `replica` (how many entries it has applied).
    pub fn local_tail(&self, replica: usize) -> usize {
        self.ltails[replica].load(Ordering::Acquire)
    }

    // ---- crate-internal protocol -------------------------------------------------

    /// Reserves a replica id. The replica starts at index 0, so this fails
    /// once `head` has moved. Until [`Log::attach`] the replica cannot be
    /// helped; appenders that need it simply retry.
    pub(crate) fn reserve_replica(&self) -> Result<usize, ReplicaError> {
        self.registry.with(|members| {
            // `head` only changes under the registry lock, so it stays 0 until
            // the new member is visible to garbage collection.
            if self.head.load(Ordering::Acquire) != 0 {
                return Err(ReplicaError::LogAlreadyAdvanced);
            }
            let id = members
                .iter()
                .position(|m| !m.active && m.helper.is_none())
                .ok_or(ReplicaError::TooManyReplicas {
                    max: self.ltails.len(),
                })?;
            members[id].active = true;
            Ok(id)
        })
    }

    /// Publishes how to help replica `id`.
    pub(crate) fn attach(&self, id: usize, helper: Helper<Op>) {
        self.registry
            .with(|members| members[id].helper = Some(helper));
    }

    /// Removes replica `id` (on drop): it no longer holds back `head`. Its id
    /// is not reused (`helper` stays set, as a tombstone).
    pub(crate) fn deregister(&self, id: usize) {
        self.registry.with(|members| members[id].active = false);
    }

    /// The local-tail counter of replica `id`.
    #[inline(always)]
    pub(crate) fn ltail(&self, id: usize) -> &AtomicUsize {
        &self.ltails[id]
    }

    /// The completed-tail counter.
    #[inline(always)]
    pub(crate) fn ctail_atomic(&self) -> &AtomicUsize {
        &self.ctail
    }

    /// Reserves `n` consecutive entries with one CAS on `tail`.
    ///
    /// Returns the first reserved index, or `Err(needed_head)` if the log is
    /// too full: `head` must first reach `needed_head`.
    pub(crate) fn try_reserve(&self, n: usize) -> Result<usize, usize> {
        debug_assert!(n > 0 && n <= self.size());
        loop {
            let tail = self.tail.load(Ordering::Acquire);
            // Acquire: pairs with the release of `head` in `collect`, which
            // follows the acquire loads of every local tail, which follow the
            // replicas' last reads of the entries we are about to overwrite.
            let head = self.head.load(Ordering::Acquire);
            if tail + n > head + self.size() {
                return Err(tail + n - self.size());
            }
            if tail + n > head + self.gc_threshold {
                // Cheap, non-waiting attempt to keep ahead of a full log.
                let _ = self.registry.try_with(|m| self.advance_head_locked(m));
            }
            if self
                .tail
                .compare_exchange_weak(tail, tail + n, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(tail);
            }
        }
    }

    /// Writes `op` into reserved index `idx` and publishes it.
    #[inline]
    pub(crate) fn fill(&self, idx: usize, op: Op, replica: usize) {
        let e = &self.entries[slot_of(idx, self.mask)];
        // SAFETY: `idx` was reserved by us (only one appender per index), and
        // `try_reserve` saw `head > idx - len`, i.e. every replica is done with
        // the previous lap's entry in this slot; no replica reads the slot for
        // `idx` before `alive` below publishes it.
        e.data.with_mut(|p| unsafe {
            (*p).op = Some(op);
            (*p).replica = replica;
        });
        e.alive
            .store(alive_value(idx, self.shift), Ordering::Release);
    }

    /// Whether entry `idx` (which must be reserved, i.e. `< tail`) is filled.
    #[inline(always)]
    pub(crate) fn is_filled(&self, idx: usize) -> bool {
        self.entries[slot_of(idx, self.mask)]
            .alive
            .load(Ordering::Acquire)
            == alive_value(idx, self.shift)
    }

    /// Waits until reserved entry `idx` is filled. Appenders fill right after
    /// reserving without waiting for anything, so this terminates.
    #[inline]
    pub(crate) fn wait_filled(&self, idx: usize) {
        let mut backoff = Backoff::new();
        while !self.is_filled(idx) {
            backoff.snooze();
        }
    }

    /// Runs `f` on the operation and appender id of filled entry `idx`.
    ///
    /// The caller must have observed [`Log::is_filled`]`(idx)` and must not
    /// have published a local tail beyond `idx` yet.
    #[inline]
    pub(crate) fn with_entry<R>(&self, idx: usize, f: impl FnOnce(&Op, usize) -> R) -> R {
        let e = &self.entries[slot_of(idx, self.mask)];
        debug_assert!(self.is_filled(idx));
        // SAFETY: the entry was published (acquire load of `alive` by this
        // thread, per the contract) and cannot be overwritten before our
        // replica's local tail passes `idx`, which the caller has not done.
        // Other replicas only read it concurrently.
        e.data.with(|p| unsafe {
            let d = &*p;
            f(
                d.op.as_ref().expect("filled log entry has an op"),
                d.replica,
            )
        })
    }

    /// Moves `head` to the minimum local tail; if that is still below
    /// `target`, also returns the id and helper of a replica at the minimum
    /// (the laggard), or `prefer` itself if it is also below `target`.
    pub(crate) fn collect(&self, target: usize, prefer: usize) -> (usize, Option<Laggard<Op>>) {
        self.registry.with(|members| {
            let (head, laggard) = self.advance_head_locked(members);
            if head >= target {
                return (head, None);
            }
            let laggard =
                if members[prefer].active && self.ltails[prefer].load(Ordering::Acquire) < target {
                    prefer
                } else {
                    laggard.expect("head below target implies an active replica at the minimum")
                };
            (head, Some((laggard, members[laggard].helper.clone())))
        })
    }

    /// With the registry lock held: sets `head` to the minimum local tail of
    /// active replicas (or to `tail` if there are none). Returns the new head
    /// and a replica at the minimum.
    fn advance_head_locked(&self, members: &mut [Member<Op>]) -> (usize, Option<usize>) {
        let mut min = usize::MAX;
        let mut at = None;
        for (i, m) in members.iter().enumerate() {
            if m.active {
                let lt = self.ltails[i].load(Ordering::Acquire);
                if lt < min {
                    min = lt;
                    at = Some(i);
                }
            }
        }
        if at.is_none() {
            min = self.tail.load(Ordering::Acquire);
        }
        // Only this function (under the registry lock) writes `head`.
        let head = self.head.load(Ordering::Relaxed);
        if min > head {
            self.head.store(min, Ordering::Release);
            (min, at)
        } else {
            (head, at)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_round_up_to_power_of_two() {
        assert_eq!(Log::<u8>::new(0).size(), 1);
        assert_eq!(Log::<u8>::new(1).size(), 1);
        assert_eq!(Log::<u8>::new(5).size(), 8);
        assert_eq!(Log::<u8>::new(64).size(), 64);
        let l = Log::<u8>::with_config(LogConfig {
            entries: 3,
            max_replicas: 3,
        });
        assert_eq!((l.size(), l.max_replicas()), (4, 3));
    }

    #[test]
    fn replica_ids_and_limits() {
        let l = Log::<u8>::with_config(LogConfig {
            entries: 4,
            max_replicas: 2,
        });
        assert_eq!(l.reserve_replica(), Ok(0));
        assert_eq!(l.reserve_replica(), Ok(1));
        assert_eq!(
            l.reserve_replica(),
            Err(ReplicaError::TooManyReplicas { max: 2 })
        );
        assert_eq!(l.num_replicas(), 2);
        l.deregister(1);
        assert_eq!(l.num_replicas(), 1);
    }

    /// Drives the log by hand with one replica that applies everything:
    /// many laps, every entry read back with the right op, `head` follows.
    #[test]
    fn wraps_around_many_times() {
        let l = Log::<usize>::with_config(LogConfig {
            entries: 8,
            max_replicas: 1,
        });
        let r = l.reserve_replica().unwrap();
        let mut next = 0;
        for round in 0..500 {
            let n = 1 + round % 5;
            let start = match l.try_reserve(n) {
                Ok(s) => s,
                Err(needed) => {
                    let (head, laggard) = l.collect(needed, r);
                    assert!(
                        laggard.is_none() && head >= needed,
                        "one up-to-date replica never lags"
                    );
                    l.try_reserve(n).unwrap()
                }
            };
            assert_eq!(start, next);
            for i in start..start + n {
                assert!(!l.is_filled(i), "stale entry looks filled at {i}");
                l.fill(i, i * 10, r);
            }
            for i in start..start + n {
                assert!(l.is_filled(i));
                l.with_entry(i, |op, rid| assert_eq!((*op, rid), (i * 10, r)));
            }
            next = start + n;
            l.ltail(r).store(next, Ordering::Release);
            l.ctail_atomic().fetch_max(next, Ordering::AcqRel);
        }
        assert!(l.tail() > 100 * l.size(), "wrapped many times");
        assert!(l.head() <= l.tail() && l.tail() <= l.head() + l.size());
    }

    /// A lagging replica blocks garbage collection: the log reports full and
    /// names the laggard; once it catches up, `head` moves.
    #[test]
    fn full_log_names_laggard_then_gc_moves_head() {
        let l = Log::<u32>::with_config(LogConfig {
            entries: 4,
            max_replicas: 2,
        });
        let (a, b) = (l.reserve_replica().unwrap(), l.reserve_replica().unwrap());
        for i in 0..4 {
            let s = l.try_reserve(1).unwrap();
            l.fill(s, i, a);
        }
        l.ltail(a).store(4, Ordering::Release);
        assert_eq!(l.try_reserve(1), Err(1));
        let (head, laggard) = l.collect(1, a);
        assert_eq!(head, 0);
        let (rid, helper) = laggard.unwrap();
        assert_eq!(rid, b);
        assert!(helper.is_none(), "not attached in this test");
        l.ltail(b).store(3, Ordering::Release);
        let (head, laggard) = l.collect(1, a);
        assert_eq!((head, laggard.is_none()), (3, true));
        assert_eq!(l.try_reserve(3), Ok(4));
        assert_eq!(l.try_reserve(1), Err(4));
        // A replica joining now could not replay entries 0..3.
        l.deregister(b);
        let (head, _) = l.collect(0, a);
        assert_eq!(head, 4, "head follows the only remaining replica");
    }

    #[test]
    fn late_replica_rejected_after_gc() {
        let l = Log::<u32>::with_config(LogConfig {
            entries: 2,
            max_replicas: 2,
        });
        let a = l.reserve_replica().unwrap();
        let s = l.try_reserve(2).unwrap();
        l.fill(s, 0, a);
        l.fill(s + 1, 1, a);
        l.ltail(a).store(2, Ordering::Release);
        assert_eq!(l.collect(2, a).0, 2);
        assert_eq!(l.reserve_replica(), Err(ReplicaError::LogAlreadyAdvanced));
    }

    proptest! {
        #[test]
        fn index_arithmetic(idx in 0usize..(usize::MAX / 4), shift in 0u32..20) {
            let len = 1usize << shift;
            let mask = len - 1;
            prop_assert!(slot_of(idx, mask) < len);
            // The same slot one lap later has the opposite flag...
            prop_assert_eq!(slot_of(idx + len, mask), slot_of(idx, mask));
            prop_assert_ne!(alive_value(idx + len, shift), alive_value(idx, shift));
            // ...and two laps later the same one again.
            prop_assert_eq!(alive_value(idx + 2 * len, shift), alive_value(idx, shift));
            // Within one lap all indices share a flag and use distinct slots.
            let lap_start = idx & !mask;
            prop_assert_eq!(alive_value(lap_start, shift), alive_value(lap_start + mask, shift));
            prop_assert_eq!(slot_of(lap_start, mask), 0);
            // Lap 0 expects `true`, so fresh (`false`) slots never look filled.
            prop_assert!(alive_value(idx & mask, shift));
        }

        /// Random batch sizes against a model: reservations are contiguous,
        /// never exceed `head + len`, and every entry reads back correctly.
        #[test]
        fn reservations_match_model(batches in proptest::collection::vec(1usize..=4, 1..200), shift in 2u32..5) {
            let len = 1usize << shift;
            let l = Log::<usize>::with_config(LogConfig { entries: len, max_replicas: 1 });
            let r = l.reserve_replica().unwrap();
            let mut model_tail = 0usize;
            for n in batches {
                let start = match l.try_reserve(n) {
                    Ok(s) => s,
                    Err(needed) => {
                        prop_assert!(model_tail + n > l.head() + len);
                        prop_assert_eq!(needed, model_tail + n - len);
                        l.collect(needed, r);
                        l.try_reserve(n).unwrap()
                    }
                };
                prop_assert_eq!(start, model_tail);
                prop_assert!(start + n <= l.head() + len);
                for i in start..start + n { l.fill(i, i, r); }
                for i in start..start + n { l.with_entry(i, |op, _| assert_eq!(*op, i)); }
                model_tail += n;
                l.ltail(r).store(model_tail, Ordering::Release);
            }
            prop_assert_eq!(l.tail(), model_tail);
        }
    }
}
