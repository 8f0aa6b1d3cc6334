//! Node replication (NR): turn a sequential data structure into a
//! linearizable concurrent one that is replicated once per NUMA node.
//!
//! Every replica holds a full copy of the data structure. Mutating operations
//! go through one shared circular [`Log`]; every replica applies the log in
//! the same order, so replicas stay equal. Threads of one replica combine
//! their mutating operations (flat combining: one log append per batch), and
//! read-only operations run on the local replica under a distributed
//! reader-writer lock, after the replica has caught up with the log as far as
//! any completed operation requires (`ctail`).
//!
//! The crate is `no_std` (with `alloc`), uses no thread-locals and makes no
//! OS calls: callers pass explicit [`ThreadToken`]s, and all waiting is
//! spinning.
//!
//! # Example
//! ```
//! use nr::{Dispatch, NodeReplicated};
//!
//! #[derive(Default)]
//! struct Counter(u64);
//!
//! #[derive(Clone)]
//! enum Write { Add(u64) }
//! enum Read { Get }
//!
//! impl Dispatch for Counter {
//!     type ReadOperation = Read;
//!     type WriteOperation = Write;
//!     type Response = u64;
//!     fn dispatch(&self, _op: Read) -> u64 { self.0 }
//!     fn dispatch_mut(&mut self, op: Write) -> u64 {
//!         match op { Write::Add(n) => { self.0 += n; self.0 } }
//!     }
//! }
//!
//! // Two replicas, a 1024-entry log, up to 4 threads per replica.
//! let nr = NodeReplicated::new(2, 1024, 4, |_replica| Counter::default());
//! let t0 = nr.register(0).unwrap();
//! let t1 = nr.register(1).unwrap();
//! assert_eq!(nr.execute_mut(Write::Add(5), t0), 5);
//! assert_eq!(nr.execute(Read::Get, t1), 5); // the other replica sees it
//! let states: Vec<u64> = (0..2).map(|r| nr.with_data(r, |c| c.0)).collect();
//! assert_eq!(states, [5, 5]);
//! assert_eq!(nr.stats(0).ops_appended, 1);
//! ```
//!
//! # Structure
//! * [`Log`]: the shared log (per-entry alive flags, `head`/`tail`/`ctail`,
//!   local tails, garbage collection, help for lagging replicas).
//! * [`Replica`]: one replica with flat combining and a [`DistRwLock`].
//! * [`NodeReplicated`]: convenience owner of a log and its replicas.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod log;
mod nr;
mod replica;
pub mod rwlock;
mod sync;

pub use crate::log::{Log, LogConfig, ReplicaError, DEFAULT_LOG_ENTRIES, DEFAULT_MAX_REPLICAS};
pub use crate::nr::{AssembleError, NodeReplicated};
pub use crate::replica::{RegisterError, Replica, ReplicaStats, ThreadToken};
pub use crate::rwlock::{DistRwLock, ReaderId};
#[cfg(all(not(feature = "std"), not(loom)))]
pub use crate::sync::set_wait_hook;
pub use crate::sync::CachePadded;

/// A sequential data structure that can be node-replicated.
///
/// `dispatch_mut` must be deterministic: applying the same operation to equal
/// states must produce equal states and equal responses, since every replica
/// applies every mutating operation independently.
pub trait Dispatch {
    /// Read-only operations (run on one replica, never logged).
    type ReadOperation;
    /// Mutating operations (logged and applied on every replica).
    type WriteOperation: Clone + Send;
    /// Result of either kind of operation.
    type Response;

    /// Executes a read-only operation.
    fn dispatch(&self, op: Self::ReadOperation) -> Self::Response;

    /// Executes a mutating operation (deterministically).
    fn dispatch_mut(&mut self, op: Self::WriteOperation) -> Self::Response;
}

#[cfg(all(test, not(loom)))]
mod tests;
