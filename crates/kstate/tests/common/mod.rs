//! Shared helpers for the kstate integration tests.
#![allow(dead_code)]

pub mod gen;

use std::sync::{Arc, Mutex};

use abi::errno::{Errno, KResult};
use kstate::{FrameMemory, KernelState, Resp, Timespec, WriteOp};
use memfs::Fs;
use vspace::fake::FakeMemory;

/// A `FakeMemory` shared by every address space of one replica (the real
/// kernel's `FrameMemory` is a handle on the node's allocator, so clones
/// share one pool). Lets tests see every table frame a replica allocates or
/// leaks, and gives different processes different root frames.
#[derive(Clone, Debug)]
pub struct SharedMem(pub Arc<Mutex<FakeMemory>>);

impl SharedMem {
    pub fn new(base: u64) -> Self {
        SharedMem(Arc::new(Mutex::new(FakeMemory::with_numbering(base, 4096))))
    }
    pub fn live_tables(&self) -> usize {
        self.0.lock().unwrap().live_tables()
    }
    pub fn counts(&self) -> (usize, usize) {
        self.0.lock().unwrap().counts()
    }
}

impl FrameMemory for SharedMem {
    fn alloc_table(&mut self) -> Option<u64> {
        self.0.lock().unwrap().alloc_table()
    }
    fn free_table(&mut self, phys: u64) {
        self.0.lock().unwrap().free_table(phys)
    }
    fn read_entry(&self, table: u64, index: usize) -> u64 {
        self.0.lock().unwrap().read_entry(table, index)
    }
    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        self.0.lock().unwrap().write_entry(table, index, value)
    }
}

pub type KS = KernelState<SharedMem>;

pub const T0: Timespec = Timespec::new(1_000, 0);

pub fn now(i: i64) -> Timespec {
    Timespec::new(1_000 + i, 0)
}

/// A fresh state with an empty file system and its memory handle.
pub fn fresh(base: u64) -> (KS, SharedMem) {
    let mem = SharedMem::new(base);
    (KernelState::new(Fs::new(T0), mem.clone(), None), mem)
}

pub fn apply(ks: &mut KS, op: WriteOp) -> KResult<Resp> {
    <KS as nr::Dispatch>::dispatch_mut(ks, op)
}

pub fn query(ks: &KS, op: kstate::ReadOp) -> KResult<Resp> {
    <KS as nr::Dispatch>::dispatch(ks, op)
}

pub fn as_fd(r: KResult<Resp>) -> i32 {
    match r {
        Ok(Resp::Fd(fd)) => fd,
        other => panic!("expected Fd, got {other:?}"),
    }
}

pub fn as_val(r: KResult<Resp>) -> u64 {
    match r {
        Ok(Resp::Val(v)) => v,
        other => panic!("expected Val, got {other:?}"),
    }
}

pub fn as_pid(r: KResult<Resp>) -> u32 {
    match r {
        Ok(Resp::Pid(p)) => p,
        other => panic!("expected Pid, got {other:?}"),
    }
}

pub fn as_unit(r: KResult<Resp>) {
    match r {
        Ok(Resp::Unit) => {}
        other => panic!("expected Unit, got {other:?}"),
    }
}

pub fn as_frames(r: KResult<Resp>) -> Vec<u64> {
    match r {
        Ok(Resp::Frames(f)) => f.free,
        other => panic!("expected Frames, got {other:?}"),
    }
}

pub fn as_mapped(r: KResult<Resp>) -> (u64, Vec<u64>) {
    match r {
        Ok(Resp::Mapped(a, f)) => (a, f.free),
        other => panic!("expected Mapped, got {other:?}"),
    }
}

pub fn as_bytes(r: KResult<Resp>) -> Vec<u8> {
    match r {
        Ok(Resp::Bytes(b)) => b,
        other => panic!("expected Bytes, got {other:?}"),
    }
}

pub fn err(r: KResult<Resp>) -> Errno {
    match r {
        Err(e) => e,
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Canonical text of a response (Resp has no PartialEq).
pub fn show(r: &KResult<Resp>) -> String {
    format!("{r:?}")
}

/// A tiny deterministic PRNG (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}
