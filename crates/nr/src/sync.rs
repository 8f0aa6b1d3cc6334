//! Synchronisation primitives used by the crate, with a `loom` shim.
//!
//! Under `cfg(loom)` the atomics and the [`UnsafeCell`] come from `loom`, so
//! the model checker sees every access of the real algorithm (log, combiner,
//! reader-writer lock). Statistics counters deliberately use plain `core`
//! atomics everywhere: they never influence control flow and would only
//! inflate loom's state space.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

/// Counters for statistics: never modelled by loom (see module docs).
pub(crate) use core::sync::atomic::AtomicUsize as StatCounter;

/// A cell with interior mutability whose accesses loom can track.
///
/// The API mirrors `loom::cell::UnsafeCell`: access goes through closures
/// receiving a raw pointer, which lets loom check that no two threads touch
/// the contents concurrently unless both only read.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    #[inline(always)]
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with an exclusive pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    /// Consumes the cell.
    #[allow(dead_code)]
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Pads and aligns a value to 128 bytes (two cache lines, because adjacent-line
/// prefetchers on x86 pull lines in pairs), so that values written by
/// different cores never share a cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);

impl<T> core::ops::Deref for CachePadded<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Spin-wait helper. Every spin loop in the crate goes through it.
///
/// * kernel / `no_std`: `core::hint::spin_loop`, then the hook installed
///   with [`set_wait_hook`] (if any);
/// * feature `std`: after a number of spins, yield the OS thread so an
///   oversubscribed test or benchmark does not burn whole time slices while
///   the thread it waits for is descheduled;
/// * loom: always yield, which tells loom that the thread waits for another
///   one (loom requires this of spin loops), and bound the number of failed
///   iterations of one wait that loom explores (see [`loom_spin_bound`]).
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    #[cfg(not(loom))]
    spins: u32,
    /// Failed iterations of this wait so far.
    #[cfg(loom)]
    spins: usize,
}

/// Loom only: how many failed iterations of a single wait loom explores.
///
/// Yielding alone does not make spin waits finite for loom when two threads
/// wait for a third (loom issue #53): switching away from a yielding thread
/// costs no preemption, so loom explores the two waiters handing the CPU to
/// each other forever and fails with "Model exceeded maximum number of
/// branches". So once one wait has failed more than this many times, the
/// rest of the execution is still run and checked, but loom stops branching
/// in it (`loom::skip_branch`). This is a loop bound in the sense of bounded
/// model checking, like the preemption bound. It loses little: a failed
/// iteration of any wait in this crate only reads shared state (or, in
/// `reserve`/`read_slow`, retries an attempt that it undoes or that only
/// helps others progress), so an execution in which it fails once more
/// differs little from one in which the waiter was scheduled later.
///
/// `NR_LOOM_SPIN_BOUND=n` sets it; otherwise 1, or 3 with `NR_LOOM_FULL`.
#[cfg(loom)]
fn loom_spin_bound() -> usize {
    extern crate std;
    static BOUND: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BOUND.get_or_init(|| match std::env::var("NR_LOOM_SPIN_BOUND") {
        Ok(v) => v.parse().expect("NR_LOOM_SPIN_BOUND must be a number"),
        Err(_) if std::env::var_os("NR_LOOM_FULL").is_some() => 3,
        Err(_) => 1,
    })
}

impl Backoff {
    /// A fresh backoff state.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Waits a little.
    #[inline(always)]
    pub(crate) fn snooze(&mut self) {
        #[cfg(loom)]
        {
            self.spins += 1;
            if self.spins > loom_spin_bound() {
                loom::skip_branch();
            }
            loom::thread::yield_now();
        }
        #[cfg(all(feature = "std", not(loom)))]
        {
            const SPINS_BEFORE_YIELD: u32 = 64;
            if self.spins < SPINS_BEFORE_YIELD {
                self.spins += 1;
                core::hint::spin_loop();
            } else {
                extern crate std;
                std::thread::yield_now();
            }
        }
        #[cfg(all(not(feature = "std"), not(loom)))]
        {
            const SPINS_BEFORE_HOOK: u32 = 128;
            if self.spins < SPINS_BEFORE_HOOK {
                self.spins += 1;
                core::hint::spin_loop();
            } else {
                if !call_hook(&WAIT_HOOK) {
                    core::hint::spin_loop();
                }
            }
        }
    }
}

/// Call the hook stored in `hook` (see [`set_wait_hook`]); false if none
/// is installed.
#[cfg(all(not(feature = "std"), not(loom)))]
fn call_hook(hook: &core::sync::atomic::AtomicUsize) -> bool {
    let h = hook.load(Ordering::Relaxed);
    if h == 0 {
        return false;
    }
    // SAFETY: only `set_wait_hook` stores a non-zero value into the hook
    // statics, and what it stores is a `fn()`.
    let f: fn() = unsafe { core::mem::transmute::<usize, fn()>(h) };
    f();
    true
}

/// See [`set_wait_hook`]; 0 = none.
#[cfg(all(not(feature = "std"), not(loom)))]
static WAIT_HOOK: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Without `std`: `wait` is a function every spin wait of the crate calls
/// instead of spinning once it has spun a while (128 iterations). A kernel
/// under a hypervisor can give the CPU away there (the thread it waits for
/// may be on a virtual CPU the host is not running). It must return soon
/// and may return at any time: waits check their condition again after it.
/// `progress` is called after every release of a lock of the crate (a
/// combiner finished a batch, a lagging replica caught up): the moment to
/// wake waiters that gave their CPU away.
#[cfg(all(not(feature = "std"), not(loom)))]
pub fn set_wait_hook(wait: fn(), progress: fn()) {
    PROGRESS_HOOK.store(progress as usize, Ordering::Relaxed);
    WAIT_HOOK.store(wait as usize, Ordering::Relaxed);
}

/// See [`set_wait_hook`]; 0 = none.
#[cfg(all(not(feature = "std"), not(loom)))]
static PROGRESS_HOOK: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// A minimal test-and-test-and-set spin lock protecting a `T`.
///
/// Only used off the hot paths (replica registry of the log).
#[derive(Debug)]
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time, so the
// usual `Mutex` rules apply: sharing the lock moves `T` between threads.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as above; owning the lock owns the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new unlocked lock.
    pub(crate) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` under the lock if it can be taken without waiting.
    pub(crate) fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.locked.load(Ordering::Relaxed)
            || self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: we hold the lock, so no other thread accesses `value` until
        // `_unlock` releases it.
        Some(self.value.with_mut(|p| f(unsafe { &mut *p })))
    }

    /// Runs `f` under the lock, spinning until it is free.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut f = Some(f);
        let mut backoff = Backoff::new();
        loop {
            if let Some(r) = self.try_with(|v| (f.take().expect("called once"))(v)) {
                return r;
            }
            backoff.snooze();
        }
    }
}

/// Releases a boolean lock flag on drop (also on unwinding).
pub(crate) struct Unlock<'a>(pub(crate) &'a AtomicBool);

impl Drop for Unlock<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
        #[cfg(all(not(feature = "std"), not(loom)))]
        call_hook(&PROGRESS_HOOK);
    }
}
