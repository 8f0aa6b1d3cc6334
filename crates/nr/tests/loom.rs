//! Model checking of the real log, combiner and reader-writer lock with loom.
//!
//! ```text
//! # default, bounded run (2-4 minutes on 2 busy cores):
//! RUSTFLAGS="--cfg loom -C force-frame-pointers=yes" cargo test -p nr --release --test loom
//! # deeper preset (each test's `full` preemption bound, spin bound 3; far longer):
//! NR_LOOM_FULL=1 RUSTFLAGS="--cfg loom -C force-frame-pointers=yes" cargo test -p nr --release --test loom
//! # any bounds, e.g. one test: LOOM_MAX_PREEMPTIONS=3 NR_LOOM_SPIN_BOUND=2 ... --test loom -- --exact NAME
//! # executions and time per test: append `-- --nocapture`
//! ```
//!
//! Bounds (bounded model checking; see each test's `check(default, full, ..)`):
//! * preemption bound: how many times loom may switch away from a thread that
//!   could have continued. Most concurrency bugs need 1-2 (see the CHESS
//!   work on iterative context bounding); the tests use 1 to 4, the highest
//!   each affords (the four-thread all-writers test uses 1 by default: at 2
//!   it alone takes well over 4 minutes). `LOOM_MAX_PREEMPTIONS` (read by loom itself)
//!   overrides every test's bound, `NR_LOOM_FULL=1` selects the `full` ones.
//! * spin bound (`NR_LOOM_SPIN_BOUND`, default 1, 3 with `NR_LOOM_FULL`; see
//!   `loom_spin_bound` in `src/sync.rs`): how many failed iterations of one
//!   wait loop loom branches after. Every wait loop yields to loom, but with
//!   two threads waiting for a third loom alone never terminates (loom issue
//!   #53: it hands the CPU back and forth between the waiters for free), so
//!   the bound cannot be lifted entirely. Executions beyond it still run to
//!   the end and are checked, they are only not branched further.
//!
//! The crate's atomics and cells are loom's under `cfg(loom)` (see
//! `src/sync.rs`), so loom explores every interleaving (up to a preemption
//! bound) and every value a non-`SeqCst` load may return, and flags any
//! unsynchronised access to the replicated data, the log entries and the
//! thread slots. Nothing is substituted by a standard lock.
//!
//! What the assertions catch:
//! * responses of increments must be a permutation of `1..=n`, increasing
//!   per thread (lost, duplicated or misrouted responses, wrong log order);
//! * all replicas end equal and contain every write (lost entries, broken
//!   wrap-around flags, garbage collection overwriting unread entries);
//! * a read that happens after a write completed sees it, and reads on
//!   different replicas never go back in time (the `ctail` protocol);
//! * loom itself fails on data races in `UnsafeCell`s (e.g. a reader inside
//!   the replica while the combiner applies) and on deadlocks / livelocks
//!   (every spin loop yields to loom).
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use nr::{Dispatch, DistRwLock, Log, LogConfig, NodeReplicated, Replica};

/// A counter that also counts writes; `Add` returns the new value.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
struct Counter {
    value: usize,
    writes: usize,
}

#[derive(Clone, Debug)]
enum W {
    Add(usize),
}

#[derive(Debug)]
enum R {
    Get,
}

impl Dispatch for Counter {
    type ReadOperation = R;
    type WriteOperation = W;
    type Response = usize;

    fn dispatch(&self, op: R) -> usize {
        match op {
            R::Get => self.value,
        }
    }

    fn dispatch_mut(&mut self, op: W) -> usize {
        self.writes += 1;
        match op {
            W::Add(n) => {
                self.value += n;
                self.value
            }
        }
    }
}

/// Runs `f` under loom with a preemption bound: `default`, or `full` when
/// `NR_LOOM_FULL` is set. `LOOM_MAX_PREEMPTIONS` overrides both. Prints the
/// number of executions explored and the time (visible with `--nocapture`).
fn check(default: usize, full: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        let full_run = std::env::var_os("NR_LOOM_FULL").is_some();
        b.preemption_bound = Some(if full_run { full } else { default });
    }
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = runs.clone();
    let start = std::time::Instant::now();
    b.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    eprintln!(
        "{}: {} executions in {:.1?} (preemption bound {:?})",
        std::thread::current().name().unwrap_or("?"),
        runs.load(std::sync::atomic::Ordering::Relaxed),
        start.elapsed(),
        b.preemption_bound
    );
}

fn all_equal(nr: &NodeReplicated<Counter>, expect_writes: usize) {
    let first = nr.with_data(0, Counter::clone);
    assert_eq!(first.writes, expect_writes);
    for r in 1..nr.num_replicas() {
        assert_eq!(
            nr.with_data(r, Counter::clone),
            first,
            "replica {r} diverged"
        );
    }
}

/// The distributed reader-writer lock alone: two readers and a writer that
/// breaks an invariant inside its critical section.
#[test]
fn rwlock_readers_and_writer() {
    check(3, 4, || {
        let l = Arc::new(DistRwLock::new(2, (0usize, 0usize)));
        let ids = [l.register().unwrap(), l.register().unwrap()];
        let readers: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let l = l.clone();
                thread::spawn(move || {
                    let (a, b) = l.read(id, |d| *d);
                    assert_eq!(a, b, "reader saw a half-done write");
                    (a, b)
                })
            })
            .collect();
        l.write(|d| {
            d.0 += 1;
            d.1 += 1;
        });
        for r in readers {
            let (a, _) = r.join().unwrap();
            assert!(a <= 1);
        }
        assert_eq!(l.write(|d| *d), (1, 1));
    });
}

/// A reader registering while a writer runs (registration takes the write
/// lock so writers always visit every slot in use).
#[test]
fn rwlock_register_races_writer() {
    check(4, 5, || {
        let l = Arc::new(DistRwLock::new(1, 0usize));
        let l2 = l.clone();
        let reader = thread::spawn(move || {
            let id = l2.register().unwrap();
            l2.read(id, |d| *d)
        });
        l.write(|d| *d += 1);
        let seen = reader.join().unwrap();
        assert!(seen <= 1);
    });
}

/// Two threads share one reader id (ids are `Copy`) while a writer runs:
/// they must take turns on the slot (a slot is odd while held), and the
/// slot's counter must count both reads.
#[test]
fn rwlock_shared_reader_id() {
    check(2, 4, || {
        let l = Arc::new(DistRwLock::new(1, (0usize, 0usize)));
        let id = l.register().unwrap();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let l = l.clone();
                thread::spawn(move || {
                    let (a, b) = l.read(id, |d| *d);
                    assert_eq!(a, b, "reader saw a half-done write");
                })
            })
            .collect();
        l.write(|d| {
            d.0 += 1;
            d.1 += 1;
        });
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(l.reads(id), 2);
    });
}

/// Flat combining on one replica: three threads (the main thread is one of
/// them), responses a permutation.
#[test]
fn combining_three_threads() {
    check(2, 3, || {
        let nr = Arc::new(NodeReplicated::new(1, 4, 3, |_| Counter::default()));
        let ts: Vec<_> = (0..3).map(|_| nr.register(0).unwrap()).collect();
        let hs: Vec<_> = ts[1..]
            .iter()
            .map(|&t| {
                let nr = nr.clone();
                thread::spawn(move || nr.execute_mut(W::Add(1), t))
            })
            .collect();
        let mut got = vec![nr.execute_mut(W::Add(1), ts[0])];
        got.extend(hs.into_iter().map(|h| h.join().unwrap()));
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3]);
        all_equal(&nr, 3);
    });
}

/// Two replicas with two threads each (the main thread is one of them),
/// every thread one increment. The largest model: preemption bound 1 by
/// default (about 230k executions), 2 with `NR_LOOM_FULL`.
#[test]
fn two_replicas_two_threads_each() {
    check(1, 2, || {
        let nr = Arc::new(NodeReplicated::new(2, 4, 2, |_| Counter::default()));
        let ts: Vec<_> = (0..4).map(|i| nr.register(i % 2).unwrap()).collect();
        let hs: Vec<_> = ts[1..]
            .iter()
            .map(|&t| {
                let nr = nr.clone();
                thread::spawn(move || nr.execute_mut(W::Add(1), t))
            })
            .collect();
        let mut got = vec![nr.execute_mut(W::Add(1), ts[0])];
        got.extend(hs.into_iter().map(|h| h.join().unwrap()));
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4]);
        all_equal(&nr, 4);
    });
}

/// Two replicas with two threads each, one writer and one reader per
/// replica (the main thread is the reader of replica 1): a reader that
/// observes the other replica's write must not disagree with the writer's
/// responses, and everything converges.
#[test]
fn two_replicas_writer_and_reader_each() {
    check(2, 3, || {
        let nr = Arc::new(NodeReplicated::new(2, 2, 2, |_| Counter::default()));
        // Writers on replicas 0 and 1, then readers on replicas 0 and 1.
        let ts: Vec<_> = (0..4).map(|i| nr.register(i % 2).unwrap()).collect();
        let spawn = |t, write: bool| {
            let nr = nr.clone();
            thread::spawn(move || {
                if write {
                    let v = nr.execute_mut(W::Add(1), t);
                    assert!((1..=2).contains(&v));
                    v
                } else {
                    let v = nr.execute(R::Get, t);
                    assert!(v <= 2);
                    0
                }
            })
        };
        let hs = [spawn(ts[0], true), spawn(ts[1], true), spawn(ts[2], false)];
        assert!(nr.execute(R::Get, ts[3]) <= 2);
        let mut got: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
        all_equal(&nr, 2);
    });
}

/// A 2-entry log, two replicas, two increments each: the log wraps twice and
/// fills up, so appenders must garbage-collect and help the other replica.
#[test]
fn small_log_wraps_and_fills() {
    check(3, 4, || {
        let nr = Arc::new(NodeReplicated::new(2, 2, 1, |_| Counter::default()));
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let nr = nr.clone();
                let t = nr.register(i).unwrap();
                thread::spawn(move || {
                    let a = nr.execute_mut(W::Add(1), t);
                    let b = nr.execute_mut(W::Add(1), t);
                    assert!(a < b, "responses of one thread out of order");
                    [a, b]
                })
            })
            .collect();
        let mut got: Vec<usize> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4]);
        assert!(nr.log().tail() == 4 && nr.log().head() >= 2);
        all_equal(&nr, 4);
    });
}

/// A 1-entry log: every append after the first finds the log full while
/// replica 1 lags. Replica 1 has one thread that reads concurrently (so the
/// appender's help races with the reader's own catch-up for replica 1's
/// combiner lock) and replica 2 has no thread at all.
#[test]
fn full_log_lagging_and_idle_replicas() {
    check(2, 4, || {
        let log = std::sync::Arc::new(Log::with_config(LogConfig {
            entries: 1,
            max_replicas: 3,
        }));
        let r0 = Replica::new(log.clone(), Counter::default(), 1).unwrap();
        let r1 = Replica::new(log.clone(), Counter::default(), 1).unwrap();
        let _r2 = Replica::new(log.clone(), Counter::default(), 0).unwrap();
        let (t0, t1) = (r0.register().unwrap(), r1.register().unwrap());
        let reader = {
            let r1 = r1.clone();
            thread::spawn(move || r1.execute(R::Get, t1))
        };
        assert_eq!(r0.execute_mut(W::Add(1), t0), 1);
        assert_eq!(r0.execute_mut(W::Add(1), t0), 2);
        assert_eq!(r0.execute_mut(W::Add(1), t0), 3);
        assert!(reader.join().unwrap() <= 3);
        assert!(log.head() >= 2);
        let a = r0.with_data(Counter::clone);
        assert_eq!(a.writes, 3);
        assert_eq!(r1.with_data(Counter::clone), a);
        assert_eq!(_r2.with_data(Counter::clone), a);
    });
}

/// A read that starts after a write completed (happens-before) sees it, on
/// another replica.
#[test]
fn read_after_completed_write() {
    check(4, 5, || {
        let nr = Arc::new(NodeReplicated::new(2, 2, 1, |_| Counter::default()));
        let done = Arc::new(AtomicUsize::new(0));
        let (t0, t1) = (nr.register(0).unwrap(), nr.register(1).unwrap());
        let writer = {
            let (nr, done) = (nr.clone(), done.clone());
            thread::spawn(move || {
                nr.execute_mut(W::Add(1), t0);
                done.store(1, Ordering::Release);
            })
        };
        let completed = done.load(Ordering::Acquire) == 1;
        let v = nr.execute(R::Get, t1);
        if completed {
            assert_eq!(v, 1, "read missed a completed write");
        }
        writer.join().unwrap();
        assert_eq!(nr.execute(R::Get, t1), 1);
    });
}

/// Reads never go back in time across replicas, even when a replica got
/// ahead of the writer's own replica (here via `sync`, which applies up to
/// `tail`): B syncs replica 1 and reads, then tells C (the main thread),
/// which reads on replica 0 while replica 0's own combiner may not have
/// applied the entry yet.
#[test]
fn reads_are_monotonic_across_replicas() {
    check(3, 4, || {
        let nr = Arc::new(NodeReplicated::new(2, 2, 2, |_| Counter::default()));
        let seen = Arc::new(AtomicUsize::new(0));
        let (t0, tc, t1) = (
            nr.register(0).unwrap(),
            nr.register(0).unwrap(),
            nr.register(1).unwrap(),
        );
        let writer = {
            let nr = nr.clone();
            thread::spawn(move || nr.execute_mut(W::Add(1), t0))
        };
        let b = {
            let (nr, seen) = (nr.clone(), seen.clone());
            thread::spawn(move || {
                nr.sync(1);
                let v = nr.execute(R::Get, t1);
                seen.store(v + 1, Ordering::Release);
            })
        };
        let s = seen.load(Ordering::Acquire);
        let v = nr.execute(R::Get, tc);
        if s > 0 {
            assert!(
                v + 1 >= s,
                "read on replica 0 went back in time: {v} < {}",
                s - 1
            );
        }
        assert_eq!(writer.join().unwrap(), 1);
        b.join().unwrap();
    });
}
