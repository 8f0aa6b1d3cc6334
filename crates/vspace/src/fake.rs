//! [`FakeMemory`]: a heap-backed [`FrameMemory`] for host tests.
//!
//! It panics on misuse (freeing an unknown or already freed table, touching a
//! table that was never allocated, an index ≥ 512) so that tests expose such
//! bugs immediately.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::{FrameMemory, PAGE_SIZE};

/// Page-table frames kept in a `BTreeMap` keyed by a made-up physical
/// address.
#[derive(Clone, Debug)]
pub struct FakeMemory {
    tables: BTreeMap<u64, Box<[u64; 512]>>,
    next: u64,
    stride: u64,
    free: Vec<u64>,
    budget: Option<usize>,
    allocs: usize,
    frees: usize,
}

impl Default for FakeMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeMemory {
    /// Tables numbered from 1 MiB, one page apart.
    pub fn new() -> Self {
        Self::with_numbering(0x10_0000, PAGE_SIZE)
    }

    /// Tables numbered `base, base + stride, ...` (both page-aligned), with
    /// freed frames reused last-in first-out. Different numberings model
    /// replicas that build their tables from different nodes' frames.
    pub fn with_numbering(base: u64, stride: u64) -> Self {
        FakeMemory {
            tables: BTreeMap::new(),
            next: base,
            stride,
            free: Vec::new(),
            budget: None,
            allocs: 0,
            frees: 0,
        }
    }

    /// Allows only `n` more successful allocations (`None`: unlimited).
    pub fn set_budget(&mut self, n: Option<usize>) {
        self.budget = n;
    }

    /// Remaining allowed allocations (`None`: unlimited).
    pub fn budget(&self) -> Option<usize> {
        self.budget
    }

    /// Tables currently allocated.
    pub fn live_tables(&self) -> usize {
        self.tables.len()
    }

    /// Successful allocations and frees so far.
    pub fn counts(&self) -> (usize, usize) {
        (self.allocs, self.frees)
    }
}

impl FrameMemory for FakeMemory {
    fn alloc_table(&mut self) -> Option<u64> {
        if let Some(b) = &mut self.budget {
            if *b == 0 {
                return None;
            }
            *b -= 1;
        }
        let phys = match self.free.pop() {
            Some(p) => p,
            None => {
                let p = self.next;
                self.next += self.stride;
                p
            }
        };
        let old = self.tables.insert(phys, Box::new([0; 512]));
        assert!(
            old.is_none(),
            "FakeMemory: frame {phys:#x} handed out twice"
        );
        self.allocs += 1;
        Some(phys)
    }

    fn free_table(&mut self, phys: u64) {
        assert!(
            self.tables.remove(&phys).is_some(),
            "FakeMemory: freeing unknown table {phys:#x}"
        );
        self.free.push(phys);
        self.frees += 1;
    }

    fn read_entry(&self, table: u64, index: usize) -> u64 {
        match self.tables.get(&table) {
            Some(t) => t[index],
            None => panic!("FakeMemory: reading unknown table {table:#x}"),
        }
    }

    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        match self.tables.get_mut(&table) {
            Some(t) => t[index] = value,
            None => panic!("FakeMemory: writing unknown table {table:#x}"),
        }
    }
}
