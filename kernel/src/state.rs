//! The replicated kernel state: one [`kstate::KernelState`] replica per NUMA
//! node, tied together by an `nr` log.
//!
//! Every replica is built on its own node (its heap allocations come from
//! that node's heap) and allocates its page tables from its node's frames
//! ([`NodeFrames`]). Every core registers once with its node's replica; all
//! access goes through [`execute_mut`] (logged write operations) and
//! [`execute`] (reads on the local replica). There is no lock around the
//! state: `nr` provides flat combining and a per-replica reader-writer lock.

use crate::arch::{paging, percpu};
use crate::mem;
use abi::errno::KResult;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use kstate::{KernelState, ReadOp, Resp, WriteOp};
use nr::{Log, LogConfig, NodeReplicated, Replica, ThreadToken};
use spin::Once;

/// Page-table memory of one node's replica.
#[derive(Clone, Copy, Debug)]
pub struct NodeFrames {
    node: usize,
}

impl kstate::FrameMemory for NodeFrames {
    fn alloc_table(&mut self) -> Option<u64> {
        let f = mem::alloc_frame_on(self.node).or_else(mem::alloc_frame)?;
        paging::frame::zero(f);
        Some(f)
    }

    fn free_table(&mut self, phys: u64) {
        // Cores that ran the address space may still reach the table
        // through their paging-structure caches.
        mem::retire_table(phys);
    }

    fn read_entry(&self, table: u64, index: usize) -> u64 {
        paging::frame::read_u64(table, index)
    }

    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        paging::frame::write_u64(table, index, value)
    }
}

/// Route this core's heap allocations to `node` while a replica of that
/// node applies an operation; returns the previous routing.
fn heap_enter(node: usize) -> usize {
    percpu::current()
        .heap_node_override
        .swap(node, Ordering::Relaxed)
}

fn heap_exit(previous: usize) {
    percpu::current()
        .heap_node_override
        .store(previous, Ordering::Relaxed);
}

/// The kernel state type.
pub type State = KernelState<NodeFrames>;

struct Replicated {
    nr: NodeReplicated<State>,
    /// Token of each core (registered with its node's replica).
    tokens: Vec<ThreadToken>,
    /// Replica of each node.
    replica_of_node: Vec<usize>,
}

static STATE: Once<Replicated> = Once::new();

/// Entries of the shared log. A log slot keeps its operation (including
/// write data) until the slot is reused, so the log's size bounds how much
/// written file data it pins in the kernel heap (4096 x 4 KiB = 16 MiB for
/// block-sized writes).
const LOG_ENTRIES: usize = 1 << 12;

/// Build one replica per NUMA node from `fs` (cloned; file data pages are
/// shared until written) and register every core with its node's replica.
pub fn init(fs: memfs::Fs) {
    nr::set_wait_hook(
        crate::arch::smp::nr_wait_hook,
        crate::arch::smp::nr_progress_hook,
    );
    let topo = crate::topology();
    let nodes = topo.nodes.len();
    let log: Arc<Log<WriteOp>> = Arc::new(Log::with_config(LogConfig {
        entries: LOG_ENTRIES,
        max_replicas: nodes,
    }));
    let kernel_half = paging::kernel_half();
    let pc = percpu::current();
    let mut replicas: Vec<Arc<Replica<State>>> = Vec::new();
    for n in 0..nodes {
        // Allocate this replica (and everything it allocates while being
        // built) from node n's heap.
        pc.heap_node_override.store(n, Ordering::Relaxed);
        let cores = topo.cores_of_node(n).count().max(1);
        let mut data = KernelState::new(fs.clone(), NodeFrames { node: n }, Some(kernel_half));
        data.set_locality(kstate::Locality {
            node: n,
            enter: heap_enter,
            exit: heap_exit,
        });
        let r =
            Replica::new(log.clone(), data, cores).unwrap_or_else(|e| panic!("replica {n}: {e:?}"));
        replicas.push(r);
    }
    pc.heap_node_override.store(usize::MAX, Ordering::Relaxed);
    let nr = NodeReplicated::from_replicas(replicas)
        .unwrap_or_else(|e| panic!("assemble replicas: {e:?}"));
    let tokens = topo
        .cores
        .iter()
        .map(|c| {
            nr.register(c.node)
                .unwrap_or_else(|e| panic!("register core {}: {e:?}", c.id))
        })
        .collect();
    STATE.call_once(|| Replicated {
        nr,
        tokens,
        replica_of_node: (0..nodes).collect(),
    });
    log::info!("replicated kernel state: {nodes} replica(s), log of {LOG_ENTRIES} entries");
}

fn st() -> &'static Replicated {
    STATE.get().expect("kernel state initialised")
}

/// Apply a write operation through the log; returns this replica's response.
pub fn execute_mut(op: WriteOp) -> KResult<Resp> {
    let s = st();
    s.nr.execute_mut(op, s.tokens[percpu::current().core_id()])
}

/// Run a read operation on the local replica.
pub fn execute(op: ReadOp) -> KResult<Resp> {
    let s = st();
    s.nr.execute(op, s.tokens[percpu::current().core_id()])
}

/// Number of replicas.
pub fn replicas() -> usize {
    st().nr.num_replicas()
}

/// Replica of NUMA node `node`.
pub fn replica_of_node(node: usize) -> usize {
    st().replica_of_node[node]
}

/// Bring replica `r` up to date with the log.
pub fn sync(r: usize) {
    st().nr.sync(r)
}

/// State hash of replica `r` and the log index it was taken at (the
/// replica is synced first; its read lock keeps the two consistent).
pub fn hash_of(r: usize) -> (usize, u64) {
    let s = st();
    s.nr.with_data(r, |d| (s.nr.log().local_tail(r), d.state_hash()))
}

/// Statistics of replica `r`.
pub fn stats(r: usize) -> nr::ReplicaStats {
    st().nr.stats(r)
}

/// The log's head, tail and completed tail.
pub fn log_indices() -> (usize, usize, usize) {
    let l = st().nr.log();
    (l.head(), l.tail(), l.ctail())
}
