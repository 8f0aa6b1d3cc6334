//! One replica of the data structure, with flat combining.
//!
//! Threads of a replica post mutating operations into their own padded slot.
//! Whoever takes the combiner lock (a try-lock) collects every posted
//! operation, reserves room for all of them in the log with one CAS, fills the
//! entries, and only *then* takes the replica's writer lock to apply the log
//! up to the end of its batch; responses go back into the slots. Readers are
//! therefore never blocked while a combiner fills log entries or waits for
//! room in the log, only while log entries are being applied.
//!
//! Lock order and progress (no combiner ever *waits* for another replica's
//! combiner lock, it only tries it):
//! * combiner lock -> writer lock of the same replica;
//! * a combiner that finds the log full asks the log for the laggard; if that
//!   is its own replica it applies its own backlog, otherwise it *tries* the
//!   laggard's combiner lock and applies the laggard's backlog itself. If the
//!   try fails, the lock holder is busy applying that replica (or is its own
//!   combiner, which will apply its own backlog), so the appender retries.
//! * everything else a lock holder waits for (entries reserved by other
//!   appenders being filled, readers leaving) finishes without waiting.

use crate::log::{Log, LogReplica};
use crate::rwlock::{DistRwLock, ReaderId};
use crate::sync::{
    AtomicBool, AtomicUsize, Backoff, CachePadded, Ordering, StatCounter, Unlock, UnsafeCell,
};
use crate::Dispatch;
use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt;

pub use crate::log::ReplicaError;

/// A thread's registration with one replica; pass it to every operation.
///
/// Tokens are `Copy`. Sharing one token between threads that run at the same
/// time is safe but serialises them on the token's slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadToken {
    replica: usize,
    tid: usize,
}

impl ThreadToken {
    /// Id of the replica the token belongs to.
    pub fn replica_id(&self) -> usize {
        self.replica
    }

    /// Index of the thread within its replica (0-based, registration order).
    pub fn thread_id(&self) -> usize {
        self.tid
    }
}

/// Why a thread could not register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// The replica already has its configured maximum number of threads.
    TooManyThreads {
        /// The configured maximum.
        max: usize,
    },
    /// The replica id does not exist.
    NoSuchReplica {
        /// The requested id.
        replica: usize,
        /// Number of replicas.
        replicas: usize,
    },
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyThreads { max } => {
                write!(
                    f,
                    "replica already has its maximum of {max} registered threads"
                )
            }
            Self::NoSuchReplica { replica, replicas } => {
                write!(f, "no replica {replica} (there are {replicas})")
            }
        }
    }
}

impl core::error::Error for RegisterError {}

/// Per-replica counters (a snapshot; see [`Replica::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaStats {
    /// Mutating operations this replica appended to the log.
    pub ops_appended: usize,
    /// Batches (log appends) this replica made.
    pub batches: usize,
    /// Read-only operations executed on this replica.
    pub reads: usize,
    /// Times a reader found the replica behind `ctail` and applied the log
    /// itself before reading.
    pub reader_helps: usize,
    /// Batches that found the log full and had to wait for garbage collection.
    pub log_full: usize,
    /// Times this replica's combiner applied another, lagging replica's backlog.
    pub helps_given: usize,
    /// Times another replica's appender applied this replica's backlog.
    pub helped_by_others: usize,
}

impl ReplicaStats {
    /// Average number of operations per appended batch (0 without batches).
    pub fn avg_batch_size(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.ops_appended as f64 / self.batches as f64
        }
    }
}

/// Write-slot states.
const EMPTY: usize = 0;
/// A thread owns the slot and is writing its operation.
const CLAIMED: usize = 1;
/// The operation waits for a combiner.
const POSTED: usize = 2;
/// The response is in the slot.
const DONE: usize = 3;

/// A thread's flat-combining slot.
struct WriteSlot<Op, R> {
    state: AtomicUsize,
    op: UnsafeCell<Option<Op>>,
    resp: UnsafeCell<Option<R>>,
}

/// A thread's slot of a replica of `D`, on its own cache lines.
type PaddedSlot<D> =
    CachePadded<WriteSlot<<D as Dispatch>::WriteOperation, <D as Dispatch>::Response>>;

/// Counters written only by the slot's own thread. (Reads are counted by the
/// reader-writer lock's slots, at no extra cost: [`DistRwLock::reads`].)
#[derive(Default)]
struct ThreadCounters {
    helps: StatCounter,
}

/// Counters written only by holders of the combiner lock.
#[derive(Default)]
struct CombinerCounters {
    ops: StatCounter,
    batches: StatCounter,
    log_full: StatCounter,
    helps_given: StatCounter,
    helped_by_others: StatCounter,
}

/// Relaxed increment of a counter with a single writer at a time (no RMW).
#[inline(always)]
fn bump(c: &StatCounter, by: usize) {
    c.store(
        c.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// Scratch space of the combiner, preallocated so combining never allocates.
struct CombinerState<Op> {
    ops: Vec<Op>,
    tids: Vec<usize>,
}

/// Reader slot 0 of the data lock is reserved for [`Replica::with_data`];
/// thread `tid` uses slot `tid + 1`.
const SHARED_READER: usize = 0;

/// One replica of a data structure `D` (normally one per NUMA node).
///
/// Create it with [`Replica::new`] on the node it belongs to; register each
/// thread with [`Replica::register`]; call [`Replica::execute`] /
/// [`Replica::execute_mut`] with the token.
pub struct Replica<D: Dispatch> {
    id: usize,
    max_threads: usize,
    batch_cap: usize,
    log: Arc<Log<D::WriteOperation>>,
    combiner: CachePadded<AtomicBool>,
    data: DistRwLock<D>,
    slots: Box<[PaddedSlot<D>]>,
    tstats: Box<[CachePadded<ThreadCounters>]>,
    cstats: CachePadded<CombinerCounters>,
    cstate: CachePadded<UnsafeCell<CombinerState<D::WriteOperation>>>,
}

// SAFETY: `D` is shared by concurrent readers (`Sync`) and mutated by
// whichever thread combines (`Send`). Write operations move into the log and
// are read by several threads (`Send + Sync`); responses move from the
// combiner to the waiting thread (`Send`). The `UnsafeCell`s are protected by
// the slot protocol and the combiner lock (see the SAFETY comments at use).
unsafe impl<D> Sync for Replica<D>
where
    D: Dispatch + Send + Sync,
    D::WriteOperation: Send + Sync,
    D::Response: Send,
{
}
// SAFETY: as above; owning a replica owns all of these values.
unsafe impl<D> Send for Replica<D>
where
    D: Dispatch + Send + Sync,
    D::WriteOperation: Send + Sync,
    D::Response: Send,
{
}

impl<D: Dispatch> fmt::Debug for Replica<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replica")
            .field("id", &self.id)
            .field("max_threads", &self.max_threads)
            .field("local_tail", &self.log.local_tail(self.id))
            .finish()
    }
}

impl<D> Replica<D>
where
    D: Dispatch + Send + Sync + 'static,
    D::WriteOperation: Send + Sync + 'static,
    D::Response: Send + 'static,
{
    /// Creates a replica holding `data` and joins it to `log`.
    ///
    /// `data` must equal the initial state of every other replica of the log.
    /// Call this on the node the replica belongs to: all of its memory (data,
    /// thread slots, lock) is allocated here. At most `max_threads` threads
    /// can register.
    ///
    /// # Errors
    /// [`ReplicaError`] if the log has no room for another replica or has
    /// already discarded entries.
    pub fn new(
        log: Arc<Log<D::WriteOperation>>,
        data: D,
        max_threads: usize,
    ) -> Result<Arc<Self>, ReplicaError> {
        let id = log.reserve_replica()?;
        let batch_cap = max_threads.min(log.size()).max(1);
        let slots: Vec<_> = (0..max_threads)
            .map(|_| {
                CachePadded(WriteSlot {
                    state: AtomicUsize::new(EMPTY),
                    op: UnsafeCell::new(None),
                    resp: UnsafeCell::new(None),
                })
            })
            .collect();
        let tstats: Vec<_> = (0..max_threads).map(|_| CachePadded::default()).collect();
        let data = DistRwLock::new(max_threads + 1, data);
        let shared = data.register();
        debug_assert_eq!(shared.map(ReaderId::index), Some(SHARED_READER));
        let replica = Arc::new(Self {
            id,
            max_threads,
            batch_cap,
            log: log.clone(),
            combiner: CachePadded(AtomicBool::new(false)),
            data,
            slots: slots.into_boxed_slice(),
            tstats: tstats.into_boxed_slice(),
            cstats: CachePadded::default(),
            cstate: CachePadded(UnsafeCell::new(CombinerState {
                ops: Vec::with_capacity(batch_cap),
                tids: Vec::with_capacity(batch_cap),
            })),
        });
        let helper: Weak<dyn LogReplica<D::WriteOperation>> = Arc::downgrade(&replica) as _;
        log.attach(id, helper);
        Ok(replica)
    }
}

impl<D> Replica<D>
where
    D: Dispatch + Send + Sync,
    D::WriteOperation: Send + Sync,
    D::Response: Send,
{
    /// This replica's id in its log (0-based, in creation order).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The shared log.
    pub fn log(&self) -> &Arc<Log<D::WriteOperation>> {
        &self.log
    }

    /// Maximum number of threads that can register.
    pub fn max_threads(&self) -> usize {
        self.max_threads
    }

    /// Number of threads registered so far.
    pub fn registered_threads(&self) -> usize {
        self.data.registered() - 1
    }

    /// Registers the calling thread (or any user of the returned token).
    ///
    /// # Errors
    /// [`RegisterError::TooManyThreads`] past `max_threads` registrations.
    pub fn register(&self) -> Result<ThreadToken, RegisterError> {
        match self.data.register() {
            Some(id) => Ok(ThreadToken {
                replica: self.id,
                tid: id.index() - 1,
            }),
            None => Err(RegisterError::TooManyThreads {
                max: self.max_threads,
            }),
        }
    }

    #[inline(always)]
    fn check_token(&self, tkn: ThreadToken) {
        assert!(
            tkn.replica == self.id,
            "token of replica {} used on replica {}",
            tkn.replica,
            self.id
        );
    }

    /// Executes a read-only operation on this replica.
    ///
    /// Linearizable: it first makes sure the replica has applied everything
    /// up to `ctail` (everything any completed operation depends on), helping
    /// if needed, then runs under this thread's read lock slot.
    ///
    /// # Panics
    /// If `tkn` was not registered with this replica.
    #[inline]
    pub fn execute(&self, op: D::ReadOperation, tkn: ThreadToken) -> D::Response {
        self.check_token(tkn);
        let ctail = self.log.ctail_atomic().load(Ordering::Acquire);
        // The local tail's copy on the lock's writer line (which `read`
        // loads anyway) saves a cache line per read.
        if self.data.stamp().load(Ordering::Acquire) < ctail {
            self.read_catch_up(ctail, tkn.tid);
        }
        self.data
            .read(ReaderId::from_index(tkn.tid + 1), |d| d.dispatch(op))
    }

    /// Slow path of a read: apply the log up to `ctail`, unless someone else
    /// is already doing it.
    #[cold]
    fn read_catch_up(&self, ctail: usize, tid: usize) {
        let mut backoff = Backoff::new();
        loop {
            if self.log.ltail(self.id).load(Ordering::Acquire) >= ctail {
                return;
            }
            if self.try_lock_combiner() {
                let _unlock = Unlock(&self.combiner);
                self.apply_to(ctail, None);
                bump(&self.tstats[tid].helps, 1);
                return;
            }
            backoff.snooze();
        }
    }

    /// Executes a mutating operation: it is appended to the log (combined
    /// with other threads' operations of this replica) and its response is
    /// returned once this replica has applied it.
    ///
    /// # Panics
    /// If `tkn` was not registered with this replica.
    pub fn execute_mut(&self, op: D::WriteOperation, tkn: ThreadToken) -> D::Response {
        self.check_token(tkn);
        assert!(
            tkn.tid < self.registered_threads(),
            "unregistered thread token"
        );
        let slot = &self.slots[tkn.tid];
        let mut backoff = Backoff::new();
        while slot
            .state
            .compare_exchange_weak(EMPTY, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Another thread is using a copy of this token.
            backoff.snooze();
        }
        // SAFETY: we moved the slot from EMPTY to CLAIMED, so we own `op`
        // until we publish it as POSTED.
        slot.op.with_mut(|p| unsafe { *p = Some(op) });
        slot.state.store(POSTED, Ordering::Release);
        let mut backoff = Backoff::new();
        loop {
            if slot.state.load(Ordering::Acquire) == DONE {
                break;
            }
            if self.try_lock_combiner() {
                let _unlock = Unlock(&self.combiner);
                self.combine();
                continue;
            }
            backoff.snooze();
        }
        // SAFETY: DONE (acquire) means the combiner has written the response
        // and will not touch the slot again until we post another operation.
        let resp = slot.resp.with_mut(|p| unsafe { (*p).take() });
        slot.state.store(EMPTY, Ordering::Release);
        resp.expect("combiner delivered a response")
    }

    /// Brings this replica up to date: applies every log entry appended
    /// before the call (waits for the combiner lock if it is busy).
    pub fn sync(&self) {
        let mut backoff = Backoff::new();
        loop {
            if self.try_lock_combiner() {
                let _unlock = Unlock(&self.combiner);
                self.apply_to(self.log.tail(), None);
                return;
            }
            backoff.snooze();
        }
    }

    /// Syncs the replica (see [`Replica::sync`]), then runs `f` on its data
    /// under a read lock (e.g. to hash the state of each replica).
    ///
    /// `f` must not execute mutating operations on this replica (the
    /// combiner would wait for `f` to finish forever).
    pub fn with_data<R>(&self, f: impl FnOnce(&D) -> R) -> R {
        self.sync();
        self.data.read(ReaderId::from_index(SHARED_READER), f)
    }

    /// A snapshot of this replica's counters. Cheap: relaxed loads only.
    pub fn stats(&self) -> ReplicaStats {
        let c = &self.cstats;
        let mut s = ReplicaStats {
            ops_appended: c.ops.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            log_full: c.log_full.load(Ordering::Relaxed),
            helps_given: c.helps_given.load(Ordering::Relaxed),
            helped_by_others: c.helped_by_others.load(Ordering::Relaxed),
            ..ReplicaStats::default()
        };
        for (tid, t) in self.tstats.iter().enumerate() {
            s.reads += self.data.reads(ReaderId::from_index(tid + 1));
            s.reader_helps += t.helps.load(Ordering::Relaxed);
        }
        s
    }

    #[inline(always)]
    fn try_lock_combiner(&self) -> bool {
        !self.combiner.load(Ordering::Relaxed)
            && self
                .combiner
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// One round of flat combining. Caller holds the combiner lock.
    fn combine(&self) {
        self.cstate.with_mut(|p| {
            // SAFETY: the combiner state is only touched under the combiner
            // lock, which the caller holds.
            let cs = unsafe { &mut *p };
            let threads = self.registered_threads();
            for tid in 0..threads {
                if cs.ops.len() == self.batch_cap {
                    break;
                }
                let slot = &self.slots[tid];
                if slot.state.load(Ordering::Acquire) == POSTED {
                    // SAFETY: POSTED (acquire) hands `op` to the combiner; the
                    // owner waits for DONE before touching the slot again.
                    let op = slot.op.with_mut(|p| unsafe { (*p).take() });
                    cs.ops.push(op.expect("posted slot holds an op"));
                    cs.tids.push(tid);
                }
            }
            let n = cs.ops.len();
            if n == 0 {
                return;
            }
            let start = self.reserve(n);
            for (k, op) in cs.ops.drain(..).enumerate() {
                self.log.fill(start + k, op, self.id);
            }
            self.apply_to(start + n, Some((start, cs.tids.as_slice())));
            cs.tids.clear();
            bump(&self.cstats.ops, n);
            bump(&self.cstats.batches, 1);
        });
    }

    /// Reserves `n` log entries, making room if the log is full.
    /// Caller holds the combiner lock (and has no reserved, unfilled entries).
    fn reserve(&self, n: usize) -> usize {
        let mut counted = false;
        let mut backoff = Backoff::new();
        loop {
            let needed = match self.log.try_reserve(n) {
                Ok(start) => return start,
                Err(needed) => needed,
            };
            if !counted {
                bump(&self.cstats.log_full, 1);
                counted = true;
            }
            let (_, laggard) = self.log.collect(needed, self.id);
            match laggard {
                // `head` moved far enough: retry.
                None => continue,
                // We are behind ourselves: we hold our lock, catch up.
                Some((r, _)) if r == self.id => {
                    self.apply_to(self.log.tail(), None);
                    continue;
                }
                // Another replica lags: bring it up to date ourselves if
                // nobody is using its combiner lock.
                Some((_, Some(helper))) => {
                    if let Some(h) = helper.upgrade() {
                        if h.try_catch_up() {
                            bump(&self.cstats.helps_given, 1);
                            continue;
                        }
                    }
                }
                // Replica still being constructed.
                Some((_, None)) => {}
            }
            backoff.snooze();
        }
    }

    /// Applies log entries from the local tail up to `end` (exclusive).
    /// Caller holds the combiner lock. With `batch = Some((start, tids))`
    /// the entries from `start` on are this combiner's batch and their
    /// responses go to the slots of `tids`, in order.
    fn apply_to(&self, end: usize, batch: Option<(usize, &[usize])>) {
        let ltail = self.log.ltail(self.id);
        // Only combiner-lock holders store it, and we hold the lock.
        let from = ltail.load(Ordering::Relaxed);
        if from >= end {
            return;
        }
        // Wait for other appenders' entries *before* locking out readers.
        for i in from..end {
            self.log.wait_filled(i);
        }
        self.data.write(|d| {
            for i in from..end {
                let op = self.log.with_entry(i, |op, _rid| op.clone());
                let resp = d.dispatch_mut(op);
                if let Some((start, tids)) = batch {
                    if i >= start {
                        let tid = tids[i - start];
                        // SAFETY: the slot is POSTED and its op is in our
                        // batch: only we touch `resp` until we set DONE.
                        self.slots[tid]
                            .resp
                            .with_mut(|p| unsafe { *p = Some(resp) });
                    }
                }
            }
            ltail.store(end, Ordering::Release);
            self.data.stamp().store(end, Ordering::Release);
            // Before readers can see the new state (we still hold the writer
            // lock), `ctail` must cover it: a read that observes entry `i`
            // here and returns must force every later read, on any replica,
            // to observe `i` too.
            self.log.ctail_atomic().fetch_max(end, Ordering::AcqRel);
        });
        if let Some((_, tids)) = batch {
            for &tid in tids {
                self.slots[tid].state.store(DONE, Ordering::Release);
            }
        }
    }
}

impl<D> LogReplica<D::WriteOperation> for Replica<D>
where
    D: Dispatch + Send + Sync,
    D::WriteOperation: Send + Sync,
    D::Response: Send,
{
    fn try_catch_up(&self) -> bool {
        if !self.try_lock_combiner() {
            return false;
        }
        let _unlock = Unlock(&self.combiner);
        self.apply_to(self.log.tail(), None);
        bump(&self.cstats.helped_by_others, 1);
        true
    }
}

impl<D: Dispatch> Drop for Replica<D> {
    fn drop(&mut self) {
        self.log.deregister(self.id);
    }
}
