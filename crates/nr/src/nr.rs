//! [`NodeReplicated`]: a log plus a set of replicas behind one handle.

use crate::log::{Log, LogConfig, ReplicaError};
use crate::replica::{RegisterError, Replica, ReplicaStats, ThreadToken};
use crate::Dispatch;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// Why [`NodeReplicated::from_replicas`] rejected a set of replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssembleError {
    /// No replica was given.
    Empty,
    /// The replicas do not all share one log.
    DifferentLogs,
    /// Replica ids are not exactly `0..n` (one is missing or duplicated).
    IdsNotContiguous,
}

impl fmt::Display for AssembleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no replicas given"),
            Self::DifferentLogs => write!(f, "replicas do not share one log"),
            Self::IdsNotContiguous => write!(f, "replica ids are not 0..n"),
        }
    }
}

impl core::error::Error for AssembleError {}

/// A node-replicated data structure: one shared log and `n` replicas.
///
/// Replica `i` is the one with log id `i`. Threads register with one replica
/// (normally the one of their NUMA node) and pass the token to every call.
pub struct NodeReplicated<D: Dispatch> {
    log: Arc<Log<D::WriteOperation>>,
    replicas: Vec<Arc<Replica<D>>>,
}

impl<D: Dispatch> fmt::Debug for NodeReplicated<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeReplicated")
            .field("log", &self.log)
            .field("replicas", &self.replicas.len())
            .finish()
    }
}

impl<D> NodeReplicated<D>
where
    D: Dispatch + Send + Sync + 'static,
    D::WriteOperation: Send + Sync + 'static,
    D::Response: Send + 'static,
{
    /// Creates a log of `log_entries` entries (rounded up to a power of two)
    /// and `num_replicas` replicas, replica `i` holding `make(i)`, each with
    /// room for `max_threads_per_replica` threads.
    ///
    /// All replicas are allocated by the calling thread; a kernel that wants
    /// node-local memory builds each [`Replica`] on its node and uses
    /// [`NodeReplicated::from_replicas`].
    ///
    /// # Panics
    /// If `num_replicas` is 0.
    pub fn new(
        num_replicas: usize,
        log_entries: usize,
        max_threads_per_replica: usize,
        mut make: impl FnMut(usize) -> D,
    ) -> Self {
        assert!(num_replicas > 0, "need at least one replica");
        let log = Arc::new(Log::with_config(LogConfig {
            entries: log_entries,
            max_replicas: num_replicas,
        }));
        let replicas = (0..num_replicas)
            .map(|i| {
                let r = Replica::new(log.clone(), make(i), max_threads_per_replica)
                    .expect("fresh log has room for every replica");
                debug_assert_eq!(r.id(), i);
                r
            })
            .collect();
        Self { log, replicas }
    }

    /// Creates an empty log for `num_replicas` replicas, to build replicas
    /// one by one with [`Replica::new`] and assemble them with
    /// [`NodeReplicated::from_replicas`].
    pub fn new_log(num_replicas: usize, log_entries: usize) -> Arc<Log<D::WriteOperation>> {
        Arc::new(Log::with_config(LogConfig {
            entries: log_entries,
            max_replicas: num_replicas,
        }))
    }

    /// Assembles separately constructed replicas of one log (in any order).
    ///
    /// # Errors
    /// [`AssembleError`] if the list is empty, mixes logs or its ids are not
    /// exactly `0..n`.
    pub fn from_replicas(mut replicas: Vec<Arc<Replica<D>>>) -> Result<Self, AssembleError> {
        let log = replicas.first().ok_or(AssembleError::Empty)?.log().clone();
        if replicas.iter().any(|r| !Arc::ptr_eq(r.log(), &log)) {
            return Err(AssembleError::DifferentLogs);
        }
        replicas.sort_by_key(|r| r.id());
        if replicas.iter().enumerate().any(|(i, r)| r.id() != i) {
            return Err(AssembleError::IdsNotContiguous);
        }
        Ok(Self { log, replicas })
    }

    /// Adds a replica to an existing instance (before any operation has
    /// been garbage-collected; see [`ReplicaError::LogAlreadyAdvanced`]).
    ///
    /// # Errors
    /// [`ReplicaError`] if the log has no room left or already discarded
    /// entries.
    pub fn add_replica(&mut self, data: D, max_threads: usize) -> Result<usize, ReplicaError> {
        let r = Replica::new(self.log.clone(), data, max_threads)?;
        let id = r.id();
        if id != self.replicas.len() {
            // Can only happen if someone else also creates replicas on our log.
            return Err(ReplicaError::TooManyReplicas {
                max: self.log.max_replicas(),
            });
        }
        self.replicas.push(r);
        Ok(id)
    }
}

impl<D> NodeReplicated<D>
where
    D: Dispatch + Send + Sync,
    D::WriteOperation: Send + Sync,
    D::Response: Send,
{
    /// Number of replicas.
    pub fn num_replicas(&self) -> usize {
        self.replicas.len()
    }

    /// The shared log.
    pub fn log(&self) -> &Arc<Log<D::WriteOperation>> {
        &self.log
    }

    /// Replica `rid`.
    ///
    /// # Panics
    /// If there is no such replica.
    pub fn replica(&self, rid: usize) -> &Arc<Replica<D>> {
        &self.replicas[rid]
    }

    /// Registers a thread with replica `replica`.
    ///
    /// # Errors
    /// [`RegisterError::NoSuchReplica`] or [`RegisterError::TooManyThreads`].
    pub fn register(&self, replica: usize) -> Result<ThreadToken, RegisterError> {
        self.replicas
            .get(replica)
            .ok_or(RegisterError::NoSuchReplica {
                replica,
                replicas: self.replicas.len(),
            })?
            .register()
    }

    /// Executes a read-only operation on the token's replica.
    #[inline]
    pub fn execute(&self, op: D::ReadOperation, tkn: ThreadToken) -> D::Response {
        self.replicas[tkn.replica_id()].execute(op, tkn)
    }

    /// Executes a mutating operation through the token's replica.
    #[inline]
    pub fn execute_mut(&self, op: D::WriteOperation, tkn: ThreadToken) -> D::Response {
        self.replicas[tkn.replica_id()].execute_mut(op, tkn)
    }

    /// Brings replica `rid` up to date with the log.
    pub fn sync(&self, rid: usize) {
        self.replicas[rid].sync();
    }

    /// Syncs replica `rid` and runs `f` on its data.
    pub fn with_data<R>(&self, rid: usize, f: impl FnOnce(&D) -> R) -> R {
        self.replicas[rid].with_data(f)
    }

    /// Counters of replica `rid`.
    pub fn stats(&self, rid: usize) -> ReplicaStats {
        self.replicas[rid].stats()
    }
}
