//! The five contenders behind one small trait, and the timed run loop,
//! which is generic so every contender gets its own monomorphized loop.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::workload::{prefilled, Map, NrMap, Op, OpGen, Read, Rng, Write};

/// The contenders, in the order they run within a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ours,
    Reference,
    RwLock,
    Mutex,
    DashMap,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Ours,
        Kind::Reference,
        Kind::RwLock,
        Kind::Mutex,
        Kind::DashMap,
    ];

    /// Short name used in the table, the CSV and the plot.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Reference => "nr-0.1.1",
            Kind::RwLock => "RwLock",
            Kind::Mutex => "Mutex",
            Kind::DashMap => "DashMap",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Ours => "nr::NodeReplicated<HashMap> (crates/nr)",
            Kind::Reference => "node-replication 0.1.1 Log + Replica<HashMap> per replica",
            Kind::RwLock => "std::sync::RwLock<HashMap>",
            Kind::Mutex => "std::sync::Mutex<HashMap>",
            Kind::DashMap => "dashmap::DashMap (same hasher)",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }
}

/// What a contender must offer the run loop.
pub trait KvBench: Sync {
    /// Per-thread state obtained once per instance (an NR thread token).
    type Handle: Copy + Send;
    fn get(&self, h: Self::Handle, k: u64) -> Option<u64>;
    fn put(&self, h: Self::Handle, k: u64, v: u64) -> Option<u64>;
    /// Called by a thread that has finished its timed loop while others are
    /// still running: NR replicas must keep applying the log, or a writer on
    /// another replica may wait for this replica forever on a full log.
    #[inline]
    fn idle(&self, _h: Self::Handle) {
        std::hint::spin_loop();
    }
}

pub struct Ours {
    nr: nr::NodeReplicated<NrMap>,
}

impl KvBench for Ours {
    type Handle = nr::ThreadToken;

    #[inline(always)]
    fn get(&self, h: Self::Handle, k: u64) -> Option<u64> {
        self.nr.execute(Read::Get(k), h)
    }

    #[inline(always)]
    fn put(&self, h: Self::Handle, k: u64, v: u64) -> Option<u64> {
        self.nr.execute_mut(Write::Put(k, v), h)
    }

    fn idle(&self, h: Self::Handle) {
        // A read brings the local replica up to date with the log.
        black_box(self.nr.execute(Read::Get(0), h));
    }
}

pub struct Reference {
    _log: Arc<node_replication::Log<'static, Write>>,
    replicas: Vec<Arc<node_replication::Replica<'static, NrMap>>>,
}

impl KvBench for Reference {
    type Handle = (usize, node_replication::ReplicaToken);

    #[inline(always)]
    fn get(&self, h: Self::Handle, k: u64) -> Option<u64> {
        self.replicas[h.0].execute(Read::Get(k), h.1)
    }

    #[inline(always)]
    fn put(&self, h: Self::Handle, k: u64, v: u64) -> Option<u64> {
        self.replicas[h.0].execute_mut(Write::Put(k, v), h.1)
    }

    fn idle(&self, h: Self::Handle) {
        self.replicas[h.0].sync(h.1);
        std::hint::spin_loop();
    }
}

impl KvBench for RwLock<Map> {
    type Handle = ();

    #[inline(always)]
    fn get(&self, _: (), k: u64) -> Option<u64> {
        self.read().unwrap().get(&k).copied()
    }

    #[inline(always)]
    fn put(&self, _: (), k: u64, v: u64) -> Option<u64> {
        self.write().unwrap().insert(k, v)
    }
}

impl KvBench for Mutex<Map> {
    type Handle = ();

    #[inline(always)]
    fn get(&self, _: (), k: u64) -> Option<u64> {
        self.lock().unwrap().get(&k).copied()
    }

    #[inline(always)]
    fn put(&self, _: (), k: u64, v: u64) -> Option<u64> {
        self.lock().unwrap().insert(k, v)
    }
}

type Dash = DashMap<u64, u64, rustc_hash::FxBuildHasher>;

impl KvBench for Dash {
    type Handle = ();

    #[inline(always)]
    fn get(&self, _: (), k: u64) -> Option<u64> {
        DashMap::get(self, &k).map(|r| *r)
    }

    #[inline(always)]
    fn put(&self, _: (), k: u64, v: u64) -> Option<u64> {
        self.insert(k, v)
    }
}

/// Log configuration shared by both NR implementations.
#[derive(Clone, Copy, Debug)]
pub struct LogCfg {
    /// Bytes requested from node-replication 0.1.1's `Log::new`.
    pub ref_bytes: usize,
    /// Entries that request turns into (read back from the log) and that
    /// ours gets too, so both logs hold the same number of operations.
    pub entries: usize,
}

impl LogCfg {
    pub fn new(ref_bytes: usize) -> Self {
        let log = node_replication::Log::<Write>::new(ref_bytes);
        // The entry count is private; its Debug output shows it as `size`.
        let dbg = format!("{log:?}");
        let entries = dbg
            .split("size: ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| (ref_bytes / 40).next_power_of_two());
        LogCfg { ref_bytes, entries }
    }
}

/// Where thread `t` runs: replicas get threads round-robin, so with as many
/// threads as replicas there is one thread per replica.
pub fn replica_of(t: usize, replicas: usize) -> usize {
    t % replicas
}

pub fn build_ours(keys: u64, replicas: usize, max_threads_per_replica: usize, log: LogCfg) -> Ours {
    Ours {
        nr: nr::NodeReplicated::new(replicas, log.entries, max_threads_per_replica, |_| NrMap {
            map: prefilled(keys),
        }),
    }
}

pub fn build_reference(keys: u64, replicas: usize, log: LogCfg) -> Reference {
    let l = Arc::new(node_replication::Log::<Write>::new(log.ref_bytes));
    let replicas = (0..replicas)
        .map(|_| {
            node_replication::Replica::with_data(
                &l,
                NrMap {
                    map: prefilled(keys),
                },
            )
        })
        .collect();
    Reference { _log: l, replicas }
}

/// A built, prefilled contender with its threads' handles registered.
pub trait Runner {
    fn run(&self, p: &RunParams) -> Sample;
}

struct Inst<B: KvBench> {
    b: B,
    handles: Vec<B::Handle>,
}

impl<B: KvBench> Runner for Inst<B> {
    fn run(&self, p: &RunParams) -> Sample {
        run_timed(&self.b, &self.handles, p)
    }
}

/// Builds contender `kind` for a cell: prefilled with `keys` keys, `threads`
/// handles registered (thread `t` on replica `replica_of(t, replicas)`).
pub fn build(
    kind: Kind,
    keys: u64,
    threads: usize,
    replicas: usize,
    log: LogCfg,
) -> Box<dyn Runner> {
    match kind {
        Kind::Ours => {
            let per = threads.div_ceil(replicas);
            let b = build_ours(keys, replicas, per, log);
            let handles = (0..threads)
                .map(|t| {
                    b.nr.register(replica_of(t, replicas))
                        .unwrap_or_else(|e| panic!("ours: register failed: {e:?}"))
                })
                .collect();
            Box::new(Inst { b, handles })
        }
        Kind::Reference => {
            let b = build_reference(keys, replicas, log);
            let handles = (0..threads)
                .map(|t| {
                    let r = replica_of(t, replicas);
                    (
                        r,
                        b.replicas[r].register().expect("nr-0.1.1: register failed"),
                    )
                })
                .collect();
            Box::new(Inst { b, handles })
        }
        Kind::RwLock => Box::new(Inst {
            b: RwLock::new(prefilled(keys)),
            handles: vec![(); threads],
        }),
        Kind::Mutex => Box::new(Inst {
            b: Mutex::new(prefilled(keys)),
            handles: vec![(); threads],
        }),
        Kind::DashMap => {
            let d = Dash::with_capacity_and_hasher(keys as usize, Default::default());
            for k in 0..keys {
                d.insert(k, k);
            }
            Box::new(Inst {
                b: d,
                handles: vec![(); threads],
            })
        }
    }
}

pub struct RunParams {
    pub keys: u64,
    pub write_pct: u32,
    pub duration: Duration,
    pub seed: u64,
    /// Fixed operation count per thread instead of a timed run (for
    /// instruction-count profiling under callgrind, where time is meaningless).
    pub ops_limit: Option<u64>,
}

/// Result of one timed run: (operations, seconds) per thread.
pub struct Sample {
    pub per_thread: Vec<(u64, f64)>,
}

impl Sample {
    pub fn ops(&self) -> u64 {
        self.per_thread.iter().map(|t| t.0).sum()
    }

    /// Throughput in million operations per second: the sum of the
    /// threads' own rates (each over its own measured interval).
    pub fn mops(&self) -> f64 {
        self.per_thread
            .iter()
            .map(|&(o, s)| if s > 0.0 { o as f64 / s } else { 0.0 })
            .sum::<f64>()
            / 1e6
    }

    pub fn secs(&self) -> f64 {
        self.per_thread.iter().map(|t| t.1).fold(0.0, f64::max)
    }
}

/// Operations between two looks at the stop flag.
const BATCH: u64 = 64;

fn run_timed<B: KvBench>(b: &B, handles: &[B::Handle], p: &RunParams) -> Sample {
    let n = handles.len();
    let stop = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let barrier = Barrier::new(n + 1);
    let gen = OpGen::new(p.keys, p.write_pct);
    let limit = p.ops_limit.map_or(u64::MAX, |l| l.div_ceil(BATCH) * BATCH);
    let (stop, done, barrier) = (&stop, &done, &barrier);
    let per_thread = std::thread::scope(|s| {
        let threads: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(t, &h)| {
                let seed = p.seed ^ ((t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                s.spawn(move || {
                    let mut rng = Rng::new(seed);
                    barrier.wait();
                    let start = Instant::now();
                    let mut ops = 0u64;
                    while ops < limit && !stop.load(Relaxed) {
                        for _ in 0..BATCH {
                            match gen.op(rng.next()) {
                                Op::Get(k) => black_box(b.get(h, k)),
                                Op::Put(k, v) => black_box(b.put(h, k, v)),
                            };
                        }
                        ops += BATCH;
                    }
                    let secs = start.elapsed().as_secs_f64();
                    done.fetch_add(1, Relaxed);
                    while done.load(Relaxed) < n {
                        b.idle(h);
                    }
                    (ops, secs)
                })
            })
            .collect();
        barrier.wait();
        if p.ops_limit.is_none() {
            std::thread::sleep(p.duration);
            stop.store(true, Relaxed);
        }
        threads
            .into_iter()
            .map(|t| t.join().expect("benchmark thread panicked"))
            .collect()
    });
    Sample { per_thread }
}
