//! Linearizability of `NodeReplicated`, checked on recorded histories.
//!
//! Several threads on several replicas run random operations against a tiny
//! sequential data structure (three registers: `put`, `fetch_add`, `get`, and
//! a `snapshot` of all three). Every operation is recorded with an invocation
//! and a response timestamp taken from one global `AcqRel` counter, before
//! the call and after it returns. Operation A precedes B in real time iff
//! `A.res < B.inv`; since the counter's read-modify-writes synchronise, that
//! also means A happens-before B. The recorded interval contains the real
//! one, so a correct implementation can never be rejected: pass/fail is
//! deterministic even though the interleavings are not.
//!
//! Histories are cut into rounds of ~28 operations (all threads meet on a
//! barrier between rounds; the state at the start of a round is read with
//! `with_data`, which also checks that every replica is equal). Each round's
//! history is checked with the Wing–Gong search, memoised on (set of
//! linearised operations, state) as in Lowe's refinement. Because each
//! thread's operations are sequential, at most one operation per thread is a
//! candidate at any point, so the search space stays tiny. The whole history
//! is checked (not per key), so snapshots must also be consistent across
//! keys.
//!
//! The log is small (8 or 16 entries), so it wraps hundreds of times and
//! fills up constantly, and one configuration has a replica without threads
//! that the others must keep up to date.
//!
//! `checker_*` tests feed hand-written histories to the checker to show that
//! it accepts what it should and rejects non-linearizable ones.

use nr::{Dispatch, NodeReplicated};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

/// Number of registers.
const K: usize = 3;

/// The sequential data structure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Regs([u64; K]);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Write `v` to register `k`; returns the old value.
    Put(usize, u64),
    /// Add `d` to register `k`; returns the old value.
    FetchAdd(usize, u64),
    /// Read register `k`.
    Get(usize),
    /// Read all registers at once.
    Snapshot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resp {
    Val(u64),
    All([u64; K]),
}

/// The sequential specification: next state and response.
fn spec(s: &Regs, op: Op) -> (Regs, Resp) {
    let mut n = *s;
    let r = match op {
        Op::Put(k, v) => {
            n.0[k] = v;
            Resp::Val(s.0[k])
        }
        Op::FetchAdd(k, d) => {
            n.0[k] = s.0[k].wrapping_add(d);
            Resp::Val(s.0[k])
        }
        Op::Get(k) => Resp::Val(s.0[k]),
        Op::Snapshot => Resp::All(s.0),
    };
    (n, r)
}

#[derive(Clone, Debug)]
enum WOp {
    Put(usize, u64),
    FetchAdd(usize, u64),
}

#[derive(Debug)]
enum ROp {
    Get(usize),
    Snapshot,
}

/// Counts `dispatch` calls, to give up the core in some of them.
static JITTER: AtomicUsize = AtomicUsize::new(0);

/// Yields in every third call of `dispatch`/`dispatch_mut`. On a busy
/// 2-core machine, threads otherwise run one at a time (an operation takes
/// less than a microsecond, a time slice milliseconds) and histories would
/// be sequential; yielding *inside* operations (with the reader lock or the
/// writer lock held, mid-way through a combined batch) lets the other
/// threads start and finish operations meanwhile. It does not change any
/// state or response.
fn jitter() {
    if JITTER.fetch_add(1, Ordering::Relaxed).is_multiple_of(3) {
        thread::yield_now();
    }
}

impl Dispatch for Regs {
    type ReadOperation = ROp;
    type WriteOperation = WOp;
    type Response = Resp;

    fn dispatch(&self, op: ROp) -> Resp {
        jitter();
        match op {
            ROp::Get(k) => Resp::Val(self.0[k]),
            ROp::Snapshot => Resp::All(self.0),
        }
    }

    fn dispatch_mut(&mut self, op: WOp) -> Resp {
        jitter();
        match op {
            WOp::Put(k, v) => Resp::Val(core::mem::replace(&mut self.0[k], v)),
            WOp::FetchAdd(k, d) => {
                let old = self.0[k];
                self.0[k] = old.wrapping_add(d);
                Resp::Val(old)
            }
        }
    }
}

/// One completed operation of a history.
#[derive(Clone, Copy, Debug)]
struct Event {
    thread: usize,
    op: Op,
    resp: Resp,
    inv: u64,
    res: u64,
}

// ---- the checker ------------------------------------------------------------

/// Whether `history` (complete operations only, at most 64) is linearizable
/// with respect to [`spec`] from state `init`. On failure, returns a report.
fn check_linearizable(init: Regs, history: &[Event]) -> Result<(), String> {
    assert!(history.len() <= 64, "checker handles at most 64 operations");
    for e in history {
        assert!(e.inv < e.res, "response before invocation: {e:?}");
    }
    let all = if history.len() == 64 {
        u64::MAX
    } else {
        (1u64 << history.len()) - 1
    };
    let mut seen = HashSet::new();
    if search(history, all, 0, init, &mut seen) {
        Ok(())
    } else {
        let mut h: Vec<_> = history.to_vec();
        h.sort_by_key(|e| e.inv);
        let mut s = format!("not linearizable from {init:?}:\n");
        for e in h {
            s += &format!(
                "  [{:>4}, {:>4}] t{} {:?} -> {:?}\n",
                e.inv, e.res, e.thread, e.op, e.resp
            );
        }
        Err(s)
    }
}

/// Depth-first Wing–Gong search: `done` is the set of operations already
/// linearised (bit i = `history[i]`), `state` the state after them.
fn search(h: &[Event], all: u64, done: u64, state: Regs, seen: &mut HashSet<(u64, Regs)>) -> bool {
    if done == all {
        return true;
    }
    if !seen.insert((done, state)) {
        return false; // explored before, from the same configuration
    }
    // An operation may go next iff it was invoked before every remaining
    // operation returned (no remaining operation precedes it).
    let min_res = (0..h.len())
        .filter(|&i| done & (1 << i) == 0)
        .map(|i| h[i].res)
        .min()
        .unwrap();
    for i in 0..h.len() {
        if done & (1 << i) != 0 || h[i].inv > min_res {
            continue;
        }
        let (next, resp) = spec(&state, h[i].op);
        if resp == h[i].resp && search(h, all, done | (1 << i), next, seen) {
            return true;
        }
    }
    false
}

// ---- the workload -----------------------------------------------------------

/// splitmix64: deterministic per-thread, per-round operation choice.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

struct Config {
    replicas: usize,
    log_entries: usize,
    /// Replica of each thread.
    placement: &'static [usize],
    rounds: usize,
    ops_per_thread: usize,
    seed: u64,
}

/// Runs the workload, checks every round's history and the replicas' states
/// between rounds and at the end.
fn run(cfg: &Config) {
    let threads = cfg.placement.len();
    let per_replica = (0..cfg.replicas)
        .map(|r| cfg.placement.iter().filter(|&&p| p == r).count())
        .max()
        .unwrap();
    let nr = Arc::new(NodeReplicated::new(
        cfg.replicas,
        cfg.log_entries,
        per_replica,
        |_| Regs::default(),
    ));
    let tokens: Vec<_> = cfg
        .placement
        .iter()
        .map(|&r| nr.register(r).unwrap())
        .collect();
    let clock = Arc::new(AtomicU64::new(1));
    let barrier = Arc::new(Barrier::new(threads + 1));
    let round_log = Arc::new(Mutex::new(Vec::<Event>::new()));
    let arrived = Arc::new(AtomicUsize::new(0));

    let workers: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(t, &tkn)| {
            let (nr, clock, barrier, round_log, arrived) = (
                nr.clone(),
                clock.clone(),
                barrier.clone(),
                round_log.clone(),
                arrived.clone(),
            );
            let (rounds, ops, seed) = (cfg.rounds, cfg.ops_per_thread, cfg.seed);
            thread::spawn(move || {
                let mut writes = 0u64;
                for round in 0..rounds {
                    let mut rng =
                        Rng(seed ^ ((round as u64) << 16) ^ ((t as u64 + 1) * 0x1234_5678_9abc));
                    let mut mine = Vec::with_capacity(ops);
                    barrier.wait();
                    // Spin until every worker is awake, so that the round's
                    // operations really run concurrently (a barrier alone
                    // lets the first thread finish before the others wake).
                    arrived.fetch_add(1, Ordering::AcqRel);
                    let mut spins = 0u32;
                    while arrived.load(Ordering::Acquire) < threads * (round + 1) {
                        spins += 1;
                        if spins.is_multiple_of(64) {
                            thread::yield_now();
                        }
                        core::hint::spin_loop();
                    }
                    for i in 0..ops {
                        let r = rng.next();
                        let k = (r >> 8) as usize % K;
                        // Unique values make `put`s easy to tell apart.
                        let v = ((round as u64) << 20) | ((t as u64) << 12) | i as u64 | 1 << 40;
                        let op = match r % 20 {
                            0..=6 => Op::Put(k, v),
                            7..=11 => Op::FetchAdd(k, 1 + (r >> 32) % 5),
                            12..=17 => Op::Get(k),
                            _ => Op::Snapshot,
                        };
                        // Vary the interleaving: sometimes give up the core,
                        // sometimes dawdle a little.
                        match (r >> 40) % 8 {
                            0 => thread::yield_now(),
                            1 | 2 => (0..(r >> 48) % 256).for_each(|_| core::hint::spin_loop()),
                            _ => {}
                        }
                        let inv = clock.fetch_add(1, Ordering::AcqRel);
                        let resp = match op {
                            Op::Put(k, v) => nr.execute_mut(WOp::Put(k, v), tkn),
                            Op::FetchAdd(k, d) => nr.execute_mut(WOp::FetchAdd(k, d), tkn),
                            Op::Get(k) => nr.execute(ROp::Get(k), tkn),
                            Op::Snapshot => nr.execute(ROp::Snapshot, tkn),
                        };
                        let res = clock.fetch_add(1, Ordering::AcqRel);
                        writes += u64::from(matches!(op, Op::Put(..) | Op::FetchAdd(..)));
                        mine.push(Event {
                            thread: t,
                            op,
                            resp,
                            inv,
                            res,
                        });
                    }
                    round_log.lock().unwrap().extend(mine);
                    barrier.wait();
                }
                writes
            })
        })
        .collect();

    let mut state = Regs::default();
    let mut max_ops = 0;
    let mut overlapping = 0usize;
    for round in 0..cfg.rounds {
        barrier.wait(); // start
        barrier.wait(); // every thread has finished the round
        let history = core::mem::take(&mut *round_log.lock().unwrap());
        assert_eq!(history.len(), threads * cfg.ops_per_thread);
        max_ops = max_ops.max(history.len());
        // Operations concurrent with another thread's (for the report).
        overlapping += history
            .iter()
            .filter(|a| {
                history
                    .iter()
                    .any(|b| b.thread != a.thread && b.inv < a.res && a.inv < b.res)
            })
            .count();
        if let Err(report) = check_linearizable(state, &history) {
            panic!(
                "round {round} of {} replicas / {threads} threads: {report}",
                cfg.replicas
            );
        }
        // The next round starts from the state every replica now agrees on.
        state = nr.with_data(0, |d| *d);
        for r in 1..cfg.replicas {
            assert_eq!(
                nr.with_data(r, |d| *d),
                state,
                "replica {r} diverged after round {round}"
            );
        }
    }
    let writes: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();

    // Every mutating operation was appended exactly once; the log wrapped.
    let log = nr.log();
    assert_eq!(log.tail() as u64, writes);
    assert!(
        log.tail() >= 50 * log.size(),
        "log of {} wrapped only {} entries",
        log.size(),
        log.tail()
    );
    let appended: usize = (0..cfg.replicas).map(|r| nr.stats(r).ops_appended).sum();
    assert_eq!(appended as u64, writes);
    let reads: usize = (0..cfg.replicas).map(|r| nr.stats(r).reads).sum();
    assert_eq!(
        reads as u64 + writes,
        (cfg.rounds * threads * cfg.ops_per_thread) as u64
    );
    for r in 0..cfg.replicas {
        nr.sync(r);
        assert_eq!(
            log.local_tail(r),
            log.tail(),
            "replica {r} not caught up after sync"
        );
        assert_eq!(
            nr.with_data(r, |d| *d),
            state,
            "replica {r} diverged at the end"
        );
    }
    let full: usize = (0..cfg.replicas).map(|r| nr.stats(r).log_full).sum();
    eprintln!(
        "{} replicas, {threads} threads, log {}: {} rounds of {max_ops} ops linearizable \
         ({overlapping} ops overlapped another thread's); {writes} writes, {} laps, log full {full} times",
        cfg.replicas,
        log.size(),
        cfg.rounds,
        log.tail() / log.size()
    );
}

#[test]
fn two_replicas_four_threads_log_8() {
    run(&Config {
        replicas: 2,
        log_entries: 8,
        placement: &[0, 1, 0, 1],
        rounds: 2000,
        ops_per_thread: 7,
        seed: 0xa11ce,
    });
}

#[test]
fn three_replicas_four_threads_log_16() {
    run(&Config {
        replicas: 3,
        log_entries: 16,
        placement: &[0, 1, 2, 0],
        rounds: 2000,
        ops_per_thread: 7,
        seed: 0xb0b,
    });
}

/// Replica 2 has no thread at all: appenders on replicas 0 and 1 must apply
/// its backlog whenever the 8-entry log fills up.
#[test]
fn three_replicas_one_idle_log_8() {
    run(&Config {
        replicas: 3,
        log_entries: 8,
        placement: &[0, 1, 0, 1],
        rounds: 1500,
        ops_per_thread: 7,
        seed: 0xc0ffee,
    });
}

// ---- the checker itself -----------------------------------------------------

fn ev(thread: usize, op: Op, resp: Resp, inv: u64, res: u64) -> Event {
    Event {
        thread,
        op,
        resp,
        inv,
        res,
    }
}

#[test]
fn checker_accepts_overlapping_and_sequential_histories() {
    use Op::*;
    use Resp::*;
    let z = Regs::default();
    // Sequential: put, then get sees it.
    let h = [ev(0, Put(0, 5), Val(0), 1, 2), ev(1, Get(0), Val(5), 3, 4)];
    assert!(check_linearizable(z, &h).is_ok());
    // A get overlapping a put may see either value.
    for seen in [0, 5] {
        let h = [
            ev(0, Put(0, 5), Val(0), 1, 4),
            ev(1, Get(0), Val(seen), 2, 3),
        ];
        assert!(check_linearizable(z, &h).is_ok(), "saw {seen}");
    }
    // Overlapping fetch_adds in the order opposite to their invocations.
    let h = [
        ev(0, FetchAdd(1, 1), Val(2), 1, 6),
        ev(1, FetchAdd(1, 2), Val(0), 2, 5),
        ev(2, Snapshot, All([0, 3, 0]), 7, 8),
    ];
    assert!(check_linearizable(z, &h).is_ok());
}

#[test]
fn checker_rejects_stale_read_after_completed_write() {
    use Op::*;
    use Resp::*;
    // The put returned before the get was invoked, yet the get misses it
    // (what a replica reading without catching up to `ctail` would do).
    let h = [ev(0, Put(0, 5), Val(0), 1, 2), ev(1, Get(0), Val(0), 3, 4)];
    let err = check_linearizable(Regs::default(), &h).unwrap_err();
    assert!(err.contains("not linearizable"), "{err}");
}

#[test]
fn checker_rejects_lost_update_and_torn_snapshot() {
    use Op::*;
    use Resp::*;
    let z = Regs::default();
    // Two concurrent fetch_adds both saw 0: one update was lost.
    let h = [
        ev(0, FetchAdd(0, 1), Val(0), 1, 4),
        ev(1, FetchAdd(0, 1), Val(0), 2, 3),
    ];
    assert!(check_linearizable(z, &h).is_err());
    // Two reads go back in time: once a reader saw the new value, a later
    // reader (on another replica) must not see the old one.
    let h = [
        ev(0, Put(0, 7), Val(0), 1, 10),
        ev(1, Get(0), Val(7), 2, 3),
        ev(2, Get(0), Val(0), 4, 5),
    ];
    assert!(check_linearizable(z, &h).is_err());
    // A snapshot that shows the second of two sequential puts but not the
    // first is torn.
    let h = [
        ev(0, Put(0, 1), Val(0), 2, 3),
        ev(0, Put(1, 1), Val(0), 4, 5),
        ev(1, Snapshot, All([0, 1, 0]), 1, 9),
    ];
    assert!(check_linearizable(z, &h).is_err());
    // A wrong response from the first operation is caught too.
    let h = [ev(0, Put(2, 1), Val(9), 1, 2)];
    assert!(check_linearizable(z, &h).is_err());
}
