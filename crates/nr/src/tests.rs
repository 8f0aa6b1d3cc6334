//! Unit tests of replicas and `NodeReplicated` (std threads).

use crate::{
    AssembleError, Dispatch, Log, LogConfig, NodeReplicated, RegisterError, Replica, ThreadToken,
};
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::collections::BTreeMap;
use std::thread;

/// A small map with a running sum of all writes (to catch lost/duplicated ops).
#[derive(Clone, Default, Debug, PartialEq, Eq, Hash)]
struct Map {
    kv: BTreeMap<u64, u64>,
    writes: u64,
}

#[derive(Clone, Debug)]
enum W {
    Put(u64, u64),
    Incr(u64),
}

#[derive(Debug)]
enum R {
    Get(u64),
    Writes,
}

impl Dispatch for Map {
    type ReadOperation = R;
    type WriteOperation = W;
    type Response = u64;

    fn dispatch(&self, op: R) -> u64 {
        match op {
            R::Get(k) => self.kv.get(&k).copied().unwrap_or(0),
            R::Writes => self.writes,
        }
    }

    fn dispatch_mut(&mut self, op: W) -> u64 {
        self.writes += 1;
        match op {
            W::Put(k, v) => self.kv.insert(k, v).unwrap_or(0),
            W::Incr(k) => {
                let e = self.kv.entry(k).or_insert(0);
                *e += 1;
                *e
            }
        }
    }
}

fn states_equal(nr: &NodeReplicated<Map>) -> Map {
    let first = nr.with_data(0, Map::clone);
    for r in 1..nr.num_replicas() {
        assert_eq!(nr.with_data(r, Map::clone), first, "replica {r} diverged");
    }
    first
}

#[test]
fn single_thread_read_your_writes() {
    let nr = NodeReplicated::new(1, 16, 1, |_| Map::default());
    let t = nr.register(0).unwrap();
    assert_eq!(nr.execute_mut(W::Put(1, 10), t), 0);
    assert_eq!(nr.execute_mut(W::Put(1, 11), t), 10);
    assert_eq!(nr.execute(R::Get(1), t), 11);
    let s = nr.stats(0);
    assert_eq!((s.ops_appended, s.batches, s.reads), (2, 2, 1));
    assert_eq!(s.avg_batch_size(), 1.0);
}

#[test]
fn log_wraps_many_times_across_replicas() {
    // 4-entry log, two replicas used alternately: dozens of laps.
    let nr = NodeReplicated::new(2, 4, 1, |_| Map::default());
    let t = [nr.register(0).unwrap(), nr.register(1).unwrap()];
    for i in 0..400u64 {
        let tk = t[(i % 2) as usize];
        assert_eq!(nr.execute_mut(W::Incr(7), tk), i + 1);
        assert_eq!(nr.execute(R::Get(7), t[((i + 1) % 2) as usize]), i + 1);
    }
    assert!(nr.log().tail() >= 100 * nr.log().size());
    let m = states_equal(&nr);
    assert_eq!(m.writes, 400);
}

#[test]
fn full_log_with_idle_replica_makes_progress() {
    // Replica 1 never has a thread: replica 0's appender must apply its
    // backlog itself whenever the 8-entry log fills up.
    let nr = NodeReplicated::new(2, 8, 1, |_| Map::default());
    let t = nr.register(0).unwrap();
    for i in 0..1000u64 {
        nr.execute_mut(W::Put(i % 3, i), t);
    }
    let s0 = nr.stats(0);
    let s1 = nr.stats(1);
    assert!(s0.log_full > 0, "the log must have filled up: {s0:?}");
    assert!(
        s0.helps_given > 0 && s1.helped_by_others == s0.helps_given,
        "{s0:?} {s1:?}"
    );
    // Garbage collection kept up: the idle replica is at most a log behind.
    let log = nr.log();
    assert!(log.tail() - log.local_tail(1) <= log.size());
    assert!(log.head() <= log.local_tail(1));
    assert_eq!(states_equal(&nr).writes, 1000);
}

#[test]
fn full_log_with_registered_but_inactive_thread() {
    let nr = NodeReplicated::new(3, 2, 2, |_| Map::default());
    let _sleeper = nr.register(1).unwrap(); // registered, never runs anything
    let t = nr.register(2).unwrap();
    for i in 0..200u64 {
        assert_eq!(nr.execute_mut(W::Incr(0), t), i + 1);
    }
    assert_eq!(states_equal(&nr).writes, 200);
}

#[test]
fn head_is_garbage_collected() {
    let nr = NodeReplicated::new(2, 16, 1, |_| Map::default());
    let t = [nr.register(0).unwrap(), nr.register(1).unwrap()];
    for i in 0..100u64 {
        nr.execute_mut(W::Put(0, i), t[(i % 2) as usize]);
    }
    let log = nr.log();
    assert!(log.head() > 0, "head never moved");
    assert!(log.tail() - log.head() <= log.size());
    // Both replicas are fully caught up after sync; head never passes them.
    nr.sync(0);
    nr.sync(1);
    assert_eq!(log.local_tail(0), log.tail());
    assert_eq!(log.local_tail(1), log.tail());
    assert!(log.head() <= log.ctail() && log.ctail() == log.tail());
}

#[test]
fn combining_delivers_each_response_to_its_thread() {
    // Four threads on one replica increment one counter; every response is
    // the counter value right after that thread's increment, so responses
    // across threads must be exactly 1..=N, each once, and increasing per
    // thread.
    const THREADS: usize = 4;
    const OPS: u64 = 500;
    let nr = Arc::new(NodeReplicated::new(1, 64, THREADS, |_| Map::default()));
    let hs: Vec<_> = (0..THREADS)
        .map(|_| {
            let nr = nr.clone();
            let t = nr.register(0).unwrap();
            thread::spawn(move || {
                let mut seen = Vec::new();
                for _ in 0..OPS {
                    seen.push(nr.execute_mut(W::Incr(1), t));
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in hs {
        let seen = h.join().unwrap();
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "per-thread responses out of order"
        );
        all.extend(seen);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=THREADS as u64 * OPS).collect::<Vec<_>>());
    let s = nr.stats(0);
    assert_eq!(s.ops_appended as u64, THREADS as u64 * OPS);
    assert!(s.batches <= s.ops_appended && s.avg_batch_size() >= 1.0);
}

#[test]
fn concurrent_replicas_tiny_log_stay_equal() {
    // 2 replicas x 2 threads on a 4-entry log: constant log-full pressure
    // with every replica active.
    let nr = Arc::new(NodeReplicated::new(2, 4, 2, |_| Map::default()));
    let hs: Vec<_> = (0..4)
        .map(|i| {
            let nr = nr.clone();
            let t = nr.register(i % 2).unwrap();
            thread::spawn(move || {
                for j in 0..300u64 {
                    if j % 3 == 0 {
                        nr.execute(R::Writes, t);
                    } else {
                        nr.execute_mut(W::Incr(i as u64), t);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let m = states_equal(&nr);
    assert_eq!(m.writes, 4 * 200);
    assert_eq!(m.kv.values().sum::<u64>(), 4 * 200);
}

#[test]
fn register_limit_and_errors() {
    let nr = NodeReplicated::new(2, 16, 2, |_| Map::default());
    nr.register(0).unwrap();
    let t = nr.register(0).unwrap();
    assert_eq!(t.thread_id(), 1);
    assert_eq!(t.replica_id(), 0);
    assert_eq!(
        nr.register(0),
        Err(RegisterError::TooManyThreads { max: 2 })
    );
    assert_eq!(
        nr.register(5),
        Err(RegisterError::NoSuchReplica {
            replica: 5,
            replicas: 2
        })
    );
    assert_eq!(nr.replica(1).registered_threads(), 0);
    assert!(std::format!("{}", RegisterError::TooManyThreads { max: 2 }).contains('2'));
}

#[test]
#[should_panic(expected = "used on replica")]
fn token_of_other_replica_panics() {
    let nr = NodeReplicated::new(2, 16, 1, |_| Map::default());
    let t: ThreadToken = nr.register(0).unwrap();
    nr.replica(1).execute(R::Writes, t);
}

#[test]
fn separately_built_replicas_assemble() {
    let log = NodeReplicated::<Map>::new_log(3, 8);
    // Build "on each node", in any order.
    let mut rs: Vec<_> = (0..3)
        .map(|_| Replica::new(log.clone(), Map::default(), 2).unwrap())
        .collect();
    assert!(
        Replica::new(log.clone(), Map::default(), 2).is_err(),
        "only 3 replicas fit"
    );
    rs.reverse();
    let other = Arc::new(Log::with_config(LogConfig {
        entries: 8,
        max_replicas: 1,
    }));
    let foreign = Replica::new(other, Map::default(), 1).unwrap();
    let mut mixed = rs.clone();
    mixed.push(foreign);
    assert_eq!(
        NodeReplicated::from_replicas(mixed).err(),
        Some(AssembleError::DifferentLogs)
    );
    assert_eq!(
        NodeReplicated::<Map>::from_replicas(Vec::new()).err(),
        Some(AssembleError::Empty)
    );
    assert_eq!(
        NodeReplicated::from_replicas(rs[..2].to_vec()).err(),
        Some(AssembleError::IdsNotContiguous)
    );
    let nr = NodeReplicated::from_replicas(rs).unwrap();
    let t = nr.register(2).unwrap();
    for i in 0..50 {
        nr.execute_mut(W::Put(i, i), t);
    }
    assert_eq!(states_equal(&nr).kv.len(), 50);
}

#[test]
fn dropped_replica_stops_holding_back_the_log() {
    let log = NodeReplicated::<Map>::new_log(2, 4);
    let a = Replica::new(log.clone(), Map::default(), 1).unwrap();
    let b = Replica::new(log.clone(), Map::default(), 1).unwrap();
    drop(b);
    assert_eq!(log.num_replicas(), 1);
    let t = a.register().unwrap();
    for i in 0..40 {
        a.execute_mut(W::Incr(0), t);
        assert_eq!(a.execute(R::Get(0), t), i + 1);
    }
    assert_eq!(a.stats().helps_given, 0);
    assert!(log.head() > 0);
}

#[test]
fn readers_help_when_behind() {
    let nr = NodeReplicated::new(2, 64, 1, |_| Map::default());
    let (t0, t1) = (nr.register(0).unwrap(), nr.register(1).unwrap());
    nr.execute_mut(W::Put(3, 33), t0);
    assert_eq!(nr.log().local_tail(1), 0);
    assert_eq!(nr.execute(R::Get(3), t1), 33);
    assert_eq!(nr.stats(1).reader_helps, 1);
    assert_eq!(nr.execute(R::Get(3), t1), 33);
    assert_eq!(nr.stats(1).reader_helps, 1, "already up to date");
    assert_eq!(nr.stats(1).reads, 2);
}

#[test]
fn shared_token_is_safe() {
    let nr = Arc::new(NodeReplicated::new(1, 8, 1, |_| Map::default()));
    let t = nr.register(0).unwrap();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let nr = nr.clone();
            thread::spawn(move || {
                for _ in 0..300 {
                    nr.execute_mut(W::Incr(0), t);
                    nr.execute(R::Get(0), t);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(nr.with_data(0, |m| m.kv[&0]), 600);
}

#[test]
fn node_replicated_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<NodeReplicated<Map>>();
    check::<ThreadToken>();
}
