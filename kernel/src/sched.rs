//! Scheduling: per-core run queues with work stealing, timer preemption,
//! and wait queues that park blocked threads.
//!
//! A blocked system call is restarted when its thread is woken: the thread
//! parks under a [`WaitKey`] together with the key's sequence number read
//! *before* it found it must wait; a wake-up bumps the sequence number, so a
//! wake-up that happens between the check and the park is never lost.
//!
//! Which core each thread belongs to (and may run on) is replicated process
//! state, as in NrOS: a `Place` operation records it when a thread starts,
//! when a core steals it and when `sched_setaffinity` moves it. The run
//! queues themselves and the wait queues are per-machine scheduling state
//! (like physical memory), not replicated.

use crate::arch::{apic, cpu, percpu, traps};
use crate::process::{self, Slice, Thread};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use kstate::Pid;
use spin::Mutex;

/// What a blocked thread waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WaitKey {
    /// A child of this process changes state.
    Child(Pid),
    /// Data, space or a closed end on this pipe.
    Pipe(u64),
    /// Console input.
    Console,
    /// `pause`/`rt_sigsuspend` of this process: only signals end it.
    Pause(Pid),
    /// A futex word `(process, user address)`.
    Futex(Pid, u64),
    /// A futex word in shared memory, by physical address.
    SharedFutex(u64),
}

const MAX: usize = percpu::MAX_CORES;
static RUNQ: [Mutex<VecDeque<Box<Thread>>>; MAX] = [const { Mutex::new(VecDeque::new()) }; MAX];
static WAIT: Mutex<BTreeMap<WaitKey, (u64, Vec<Box<Thread>>)>> = Mutex::new(BTreeMap::new());
/// Processes sent a signal while one of their threads was between deciding
/// to wait and parking: the next park or sleep of such a thread bounces
/// straight back to the run queue. Guarded by the `WAIT` lock (taken first).
static BOUNCE: Mutex<alloc::collections::BTreeSet<Pid>> =
    Mutex::new(alloc::collections::BTreeSet::new());
static SLEEPERS: Mutex<Vec<(u64, Box<Thread>)>> = Mutex::new(Vec::new());
/// No timed wait in [`WAIT`] ends before this (monotonic ns); changed only
/// under WAIT's lock. Spares [`wake_sleepers`] a scan of every wait queue.
static EARLIEST_WAIT_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);
/// Threads that exist (running, queued, parked or sleeping).
static THREADS: AtomicUsize = AtomicUsize::new(0);
static STARTED: AtomicBool = AtomicBool::new(false);

/// The process whose address space each core runs (0: none). Set before a
/// thread's checks and page-table load, cleared after it leaves the core.
static CURRENT: [core::sync::atomic::AtomicU32; MAX] =
    [const { core::sync::atomic::AtomicU32::new(0) }; MAX];

/// This core now runs (or is about to run) process `pid` (0: none).
pub fn set_current(pid: Pid) {
    CURRENT[percpu::current().core_id()].store(pid, Ordering::SeqCst);
}

/// Make every other core that runs `pid` execute `f` (a TLB flush, or
/// leaving the address space) and wait until all did. The caller changed
/// the replicated state first; a core that starts running `pid` afterwards
/// sees the change (both sides use sequentially consistent atomics).
pub fn shootdown(pid: Pid, f: &(dyn Fn() + Sync)) {
    let targets = others_running(pid, |_| true);
    // All targets at once: the wait is the slowest target's, not the sum.
    if targets != 0 {
        crate::arch::smp::run_on_set(targets, f);
    }
}

/// The other cores that run `pid` and pass `pick`, as a bit set (after a
/// fence that orders the caller's state change before the look).
fn others_running(pid: Pid, mut pick: impl FnMut(usize) -> bool) -> u64 {
    core::sync::atomic::fence(Ordering::SeqCst);
    let me = percpu::current().core_id();
    let mut set = 0u64;
    for c in 0..crate::topology().cores.len() {
        if c != me && CURRENT[c].load(Ordering::SeqCst) == pid && pick(c) {
            set |= 1 << c;
        }
    }
    set
}

/// A TLB shootdown for `pid`: every other core that runs it flushes its
/// TLB before it next runs user code. Cores in user mode right now are
/// interrupted and waited for; a core in the kernel only gets a flag (it
/// flushes on its way back to user mode, and the kernel itself never uses
/// user translations).
pub fn shootdown_tlb(pid: Pid) {
    let targets = others_running(pid, crate::arch::user::request_flush);
    if targets != 0 {
        crate::arch::smp::run_on_set(targets, &crate::arch::user::flush_now);
    }
}

/// Signal hints: bumped after a signal is made pending for a process (or it
/// starts exiting), so a thread only looks at the replicated pending set
/// when something may have changed. Indexed by pid modulo the table size
/// (a collision only costs a needless look).
static SIG_HINT: [core::sync::atomic::AtomicU32; 1024] =
    [const { core::sync::atomic::AtomicU32::new(0) }; 1024];

/// A signal was made pending for `pid` (or it is exiting): call after the
/// replicated operation completed.
pub fn signal_hint(pid: Pid) {
    SIG_HINT[pid as usize % 1024].fetch_add(1, Ordering::SeqCst);
}

/// Current signal hint of `pid`.
pub fn hint_of(pid: Pid) -> u32 {
    SIG_HINT[pid as usize % 1024].load(Ordering::SeqCst)
}

/// Sequence number of `key` (read before checking whether to wait).
pub fn seq(key: WaitKey) -> u64 {
    WAIT.lock().get(&key).map_or(0, |e| e.0)
}

/// Park `t` under `key` unless `key` was woken since `seen` was read.
pub fn park(key: WaitKey, seen: u64, mut t: Box<Thread>) {
    let mut w = WAIT.lock();
    if BOUNCE.lock().remove(&t.pid) {
        drop(w);
        enqueue(t);
        return;
    }
    let e = w.entry(key).or_insert((0, Vec::new()));
    if e.0 != seen {
        drop(w);
        // Woken between its check and now: it must not wait again for the
        // same condition (futex waits return 0).
        t.woken_by = Some(key);
        enqueue(t);
    } else {
        if let Some(d) = t.wait_deadline {
            EARLIEST_WAIT_DEADLINE.fetch_min(d, Ordering::Relaxed);
        }
        e.1.push(t);
    }
}

/// Wake every thread waiting for `key`.
pub fn wake(key: WaitKey) {
    let woken = {
        let mut w = WAIT.lock();
        let e = w.entry(key).or_insert((0, Vec::new()));
        e.0 += 1;
        core::mem::take(&mut e.1)
    };
    for t in woken {
        enqueue(t);
    }
}

/// Wake up to `n` threads waiting for `key`, marking them woken by it;
/// returns how many.
pub fn wake_n(key: WaitKey, n: usize) -> usize {
    let woken: Vec<Box<Thread>> = {
        let mut w = WAIT.lock();
        let e = w.entry(key).or_insert((0, Vec::new()));
        e.0 += 1;
        let k = n.min(e.1.len());
        e.1.drain(..k).collect()
    };
    let count = woken.len();
    for mut t in woken {
        t.woken_by = Some(key);
        enqueue(t);
    }
    count
}

/// Move up to `n` waiters of `from` to wait for `to`; returns how many.
pub fn requeue(from: WaitKey, to: WaitKey, n: usize) -> usize {
    let mut w = WAIT.lock();
    let moved: Vec<Box<Thread>> = match w.get_mut(&from) {
        Some(e) => {
            let k = n.min(e.1.len());
            e.1.drain(..k).collect()
        }
        None => Vec::new(),
    };
    let count = moved.len();
    let e = w.entry(to).or_insert((0, Vec::new()));
    e.1.extend(moved);
    count
}

/// After descriptors were closed: wake the threads waiting on pipes that
/// lost their last reader or writer (they see end of file or `EPIPE` now).
/// Other pipes' waiters sleep on: a close that leaves both ends open
/// changes nothing for them (waking them all would make N processes
/// sharing a pipe cost N^2 wake-ups).
pub fn wake_pipes() {
    let keys: Vec<u64> = WAIT
        .lock()
        .iter()
        .filter(|(_, e)| !e.1.is_empty())
        .filter_map(|(k, _)| match k {
            WaitKey::Pipe(id) => Some(*id),
            _ => None,
        })
        .collect();
    for id in keys {
        let open = matches!(
            crate::state::execute(kstate::ReadOp::PipeEnds { id }),
            Ok(kstate::Resp::FdPair(r, w)) if r > 0 && w > 0
        );
        if !open {
            wake(WaitKey::Pipe(id));
        }
    }
}

/// Wake the threads of process `pid` wherever they wait (a signal arrived).
/// A thread of `pid` about to park or sleep right now bounces instead.
pub fn wake_process(pid: Pid) {
    let mut found = Vec::new();
    {
        let mut w = WAIT.lock();
        for (_, e) in w.iter_mut() {
            let mut i = 0;
            while i < e.1.len() {
                if e.1[i].pid == pid {
                    found.push(e.1.swap_remove(i));
                } else {
                    i += 1;
                }
            }
        }
        let mut s = SLEEPERS.lock();
        let mut i = 0;
        while i < s.len() {
            if s[i].1.pid == pid {
                found.push(s.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
        // Threads of `pid` that are running (or about to park) see the
        // signal when they next look; the bounce covers the window between
        // their decision to wait and the park.
        BOUNCE.lock().insert(pid);
    }
    for t in found {
        enqueue(t);
    }
    // Threads of `pid` running in user mode on other cores take the signal
    // now rather than at their next tick: an interrupt makes them pass
    // through the kernel, which looks at pending signals on the way back.
    let me = percpu::current().core_id();
    for c in 0..crate::topology().cores.len() {
        if c != me && CURRENT[c].load(Ordering::SeqCst) == pid {
            apic::send_ipi(crate::topology().cores[c].apic_id, traps::VEC_WAKE);
        }
    }
}

/// The next park or sleep of a thread of `pid` returns it straight to the
/// run queue (something it must act on is already there).
pub fn bounce_next_park(pid: Pid) {
    let _w = WAIT.lock();
    BOUNCE.lock().insert(pid);
}

/// Put `t` to sleep until `deadline` (monotonic ns).
pub fn sleep(deadline: u64, t: Box<Thread>) {
    let w = WAIT.lock();
    if BOUNCE.lock().remove(&t.pid) {
        drop(w);
        enqueue(t);
        return;
    }
    SLEEPERS.lock().push((deadline, t));
}

/// Make runnable the sleepers and timed waiters whose deadline passed
/// (called by the scheduler loop and on timer ticks in user mode, so a
/// thread that never leaves user mode cannot keep them asleep).
pub fn wake_sleepers() {
    let now = crate::time::monotonic_ns();
    // Timed waits (futex timeouts) that expired.
    let expired: Vec<Box<Thread>> = if EARLIEST_WAIT_DEADLINE.load(Ordering::Relaxed) > now {
        Vec::new()
    } else {
        let mut w = WAIT.lock();
        let mut out = Vec::new();
        let mut earliest = u64::MAX;
        for (_, e) in w.iter_mut() {
            let mut i = 0;
            while i < e.1.len() {
                match e.1[i].wait_deadline {
                    Some(d) if d <= now => out.push(e.1.swap_remove(i)),
                    Some(d) => {
                        earliest = earliest.min(d);
                        i += 1;
                    }
                    None => i += 1,
                }
            }
        }
        EARLIEST_WAIT_DEADLINE.store(earliest, Ordering::Relaxed);
        out
    };
    for t in expired {
        enqueue(t);
    }
    let due: Vec<Box<Thread>> = {
        let mut s = SLEEPERS.lock();
        if s.iter().all(|(d, _)| *d > now) {
            return;
        }
        let mut due = Vec::new();
        let mut i = 0;
        while i < s.len() {
            if s[i].0 <= now {
                due.push(s.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
        due
    };
    for t in due {
        enqueue(t);
    }
}

/// Every core of the machine as an affinity mask.
pub fn all_cores() -> u64 {
    let n = crate::topology().cores.len();
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The least loaded core `t` may run on.
pub fn pick_core(affinity: u64) -> usize {
    let cores = crate::topology().cores.len();
    (0..cores)
        .filter(|&c| affinity & (1 << c) != 0)
        .min_by_key(|&c| RUNQ[c].lock().len())
        .unwrap_or(0)
}

/// Record in the replicated state that `t` runs on `core` now.
pub fn place(t: &mut Thread, core: usize) {
    t.home = Some(core);
    // ESRCH only if the process is exiting, which its threads notice.
    let _ = crate::state::execute_mut(kstate::WriteOp::Place {
        pid: t.pid,
        tid: t.tid,
        core: core as u32,
        affinity: t.affinity,
    });
}

/// Affinity hints: bumped when another thread changed a thread's affinity
/// in the replicated state, so the scheduler re-reads it (indexed by thread
/// id modulo the table size; a collision costs a needless look).
static AFF_HINT: [core::sync::atomic::AtomicU32; 1024] =
    [const { core::sync::atomic::AtomicU32::new(0) }; 1024];

/// Thread `tid`'s affinity was changed by another thread.
pub fn affinity_hint(tid: Pid) {
    AFF_HINT[tid as usize % 1024].fetch_add(1, Ordering::SeqCst);
}

/// Re-read `t`'s affinity from the replicated state if it may have changed;
/// true if it must leave core `me`.
fn refresh_affinity(t: &mut Thread, me: usize) -> bool {
    let hint = AFF_HINT[t.tid as usize % 1024].load(Ordering::SeqCst);
    if hint == t.aff_seen {
        return false;
    }
    t.aff_seen = hint;
    if let Ok(kstate::Resp::Placement(_, pl)) =
        crate::state::execute(kstate::ReadOp::Placement { tid: t.tid })
    {
        t.affinity = pl.affinity & all_cores();
    }
    t.affinity & (1 << me) == 0
}

/// Make `t` runnable: on its home core, or (a new thread) the least loaded
/// core it may run on, recorded in the replicated state; the core is woken
/// if it halts.
pub fn enqueue(mut t: Box<Thread>) {
    let cores = crate::topology().cores.len();
    let target = match t.home {
        Some(c) if c < cores => c,
        _ => {
            let c = pick_core(t.affinity);
            place(&mut t, c);
            c
        }
    };
    RUNQ[target].lock().push_back(t);
    if target != percpu::current().core_id() {
        apic::send_ipi(crate::topology().cores[target].apic_id, traps::VEC_WAKE);
    }
}

/// A new thread enters the system.
pub fn spawn(t: Box<Thread>) {
    THREADS.fetch_add(1, Ordering::AcqRel);
    enqueue(t);
}

/// Whether another thread waits for this core.
pub fn others_waiting() -> bool {
    !RUNQ[percpu::current().core_id()].lock().is_empty()
}

fn next_thread(me: usize) -> Option<Box<Thread>> {
    if let Some(t) = RUNQ[me].lock().pop_front() {
        return Some(t);
    }
    // Steal from the busiest other core, preferring this node's cores.
    let topo = crate::topology();
    let my_node = topo.cores[me].node;
    let mut order: Vec<usize> = (0..topo.cores.len()).filter(|&c| c != me).collect();
    order.sort_by_key(|&c| {
        (
            topo.cores[c].node != my_node,
            usize::MAX - RUNQ[c].lock().len(),
        )
    });
    for c in order {
        let stolen = match RUNQ[c].try_lock() {
            Some(mut q) => match q.iter().rposition(|t| t.affinity & (1 << me) != 0) {
                Some(i) => q.remove(i),
                None => None,
            },
            None => None,
        };
        if let Some(mut t) = stolen {
            place(&mut t, me);
            return Some(t);
        }
    }
    None
}

/// Start scheduling on the calling core (every core calls this once the
/// kernel state exists). Never returns; process 1's exit powers off.
pub fn run_core() -> ! {
    let me = percpu::current().core_id();
    let mut last_report = 0u64;
    loop {
        if log::log_enabled!(log::Level::Debug) && me == 0 {
            let now = crate::time::monotonic_ns();
            if now - last_report > 2_000_000_000 {
                last_report = now;
                let q: Vec<usize> = (0..crate::topology().cores.len())
                    .map(|c| RUNQ[c].lock().len())
                    .collect();
                let w: Vec<(WaitKey, usize)> = WAIT
                    .lock()
                    .iter()
                    .filter(|(_, e)| !e.1.is_empty())
                    .map(|(k, e)| (*k, e.1.len()))
                    .collect();
                let cur: Vec<u32> = (0..crate::topology().cores.len())
                    .map(|c| CURRENT[c].load(Ordering::Relaxed))
                    .collect();
                log::debug!("sched: run queues {q:?}, waiting {w:?}, sleeping {}, running {cur:?}, threads {}", SLEEPERS.lock().len(), THREADS.load(Ordering::Relaxed));
            }
        }
        wake_sleepers();
        if crate::console::input_arrived() {
            if crate::console::poll_interrupt() {
                crate::syscall::interrupt_foreground(1);
            }
            wake(WaitKey::Console);
        }
        let mut next = next_thread(me);
        if next.as_mut().is_some_and(|t| refresh_affinity(t, me)) {
            // Its affinity changed and excludes this core.
            if let Some(mut t) = next.take() {
                let c = pick_core(t.affinity);
                place(&mut t, c);
                enqueue(t);
            }
            continue;
        }
        match next {
            Some(t) => match {
                set_current(t.pid);
                let r = process::run_slice(t);
                // Never keep a user root (and the TLB entries cached through
                // it) while not counted as running its process: shootdowns
                // skip this core from now on, and loading the same root
                // again later would not flush them.
                crate::arch::paging::load_root(0);
                set_current(0);
                r
            } {
                Slice::Requeue(t) if t.home == Some(me) => RUNQ[me].lock().push_back(t),
                // Moved by sched_setaffinity.
                Slice::Requeue(t) => enqueue(t),
                Slice::Parked => {}
                Slice::Gone => {
                    THREADS.fetch_sub(1, Ordering::AcqRel);
                }
                Slice::Exited(pid, status) => {
                    THREADS.fetch_sub(1, Ordering::AcqRel);
                    if pid == 1 {
                        let code = process::shell_status(status);
                        log::info!("process 1 exited with status {code}; powering off");
                        crate::arch::exit::exit(code);
                    }
                }
            },
            None => cpu::idle_wait(),
        }
    }
}

/// Let every core schedule threads (idle cores notice at their next timer
/// tick).
pub fn start() {
    STARTED.store(true, Ordering::Release);
}

/// Whether the schedulers run.
pub fn started() -> bool {
    STARTED.load(Ordering::Acquire)
}
