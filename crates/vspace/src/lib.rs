//! Per-process virtual address spaces for NrOS.
//!
//! The kernel keeps all of its state, every process's address space included,
//! in a plain sequential structure that node replication copies to each NUMA
//! node: every replica applies the same operations in the same order. This
//! crate provides the address-space part of that structure:
//!
//! - [`PageTable`]: a real x86-64 four-level page-table hierarchy for the
//!   user half (4 KiB leaves), built from the frames a [`FrameMemory`] hands
//!   out. Each replica builds its *own* hierarchy from its own node's frames.
//! - [`AddressSpace`]: the mapping database (VMAs, brk) plus its page table,
//!   with Linux-like `mmap`/`munmap`/`mprotect`/`brk` semantics for private
//!   mappings and the page-fault decision logic.
//!
//! # Determinism
//!
//! Every operation is a deterministic function of the address-space state and
//! its arguments. Data frames are never allocated here: the caller allocates
//! them *before* the operation and passes them in ([`AddressSpace::populate`]),
//! so all replicas map the same data frames; frames released by an operation
//! are returned (in address order) for the caller to free after the TLB
//! shootdown. Only page-*table* frames come from the replica's own
//! [`FrameMemory`]; they never influence results or [`AddressSpace::state_hash`].
//!
//! The one replica-dependent outcome is running out of table frames: only
//! [`AddressSpace::populate`] (and [`PageTable::map`]) allocate tables, they
//! fail with `ENOMEM` leaving the state unchanged, and every other operation
//! never allocates a table.
//!
//! # Example
//!
//! ```
//! use vspace::fake::FakeMemory;
//! use vspace::{Access, AddressSpace, FaultDecision, MapAt, Populated, VmaKind};
//! use vspace::{PROT_READ, PROT_WRITE};
//!
//! let mut aspace = AddressSpace::new(FakeMemory::new()).unwrap();
//! let (addr, _) = aspace
//!     .map(MapAt::Any, 8192, PROT_READ | PROT_WRITE, VmaKind::Anon)
//!     .unwrap();
//! // A write fault on the first page: the kernel allocates and zeroes a
//! // frame, then applies `populate` (on every replica, same frame).
//! let write = Access { write: true, exec: false, user: true };
//! assert_eq!(
//!     aspace.fault_decision(addr, write),
//!     FaultDecision::NeedsFrame { zero: true, file: None }
//! );
//! assert_eq!(aspace.populate(addr, 0x1234_5000), Ok(Populated::Installed));
//! assert_eq!(aspace.fault_decision(addr, write), FaultDecision::Spurious);
//! assert_eq!(aspace.translate(addr + 8).unwrap().0, 0x1234_5008);
//! // munmap hands the frame back; free it after the TLB shootdown.
//! assert_eq!(aspace.unmap(addr, 8192), Ok(vec![0x1234_5000]));
//! let (_mem, frames) = aspace.destroy();
//! assert!(frames.is_empty());
//! ```
//!
//! # Robustness
//!
//! No operation panics on any argument; invalid input yields an [`abi::Errno`].
//! The crate is `no_std` (needs `alloc`) and contains no `unsafe` code.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod address_space;
pub mod fake;
mod hash;
pub mod page_table;

pub use address_space::{
    Access, AddressSpace, FaultDecision, Layout, MapAt, Populated, Vma, VmaKind, MAX_VMAS,
    MMAP_BASE, MMAP_MIN_ADDR, USER_END,
};
pub use page_table::{Leaves, MapError, PageTable, PteFlags};

/// Size of a page / frame (4 KiB).
pub const PAGE_SIZE: u64 = 4096;

/// `PROT_NONE`: no access.
pub const PROT_NONE: u32 = 0;
/// `PROT_READ`.
pub const PROT_READ: u32 = 1;
/// `PROT_WRITE`.
pub const PROT_WRITE: u32 = 2;
/// `PROT_EXEC`.
pub const PROT_EXEC: u32 = 4;
/// All protection bits this crate accepts.
pub const PROT_MASK: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

/// How page-table frames are obtained and accessed.
///
/// The kernel implements it with its per-node frame allocator and the direct
/// map; tests use [`fake::FakeMemory`]. Implementations must not panic for
/// tables they handed out and indices `< 512`.
pub trait FrameMemory {
    /// A zeroed, 4 KiB-aligned frame's physical address, or `None` when out
    /// of memory.
    fn alloc_table(&mut self) -> Option<u64>;
    /// Returns a table frame obtained from [`FrameMemory::alloc_table`].
    fn free_table(&mut self, phys: u64);
    /// Reads entry `index` (< 512) of the table at `table`.
    fn read_entry(&self, table: u64, index: usize) -> u64;
    /// Writes entry `index` (< 512) of the table at `table`.
    fn write_entry(&mut self, table: u64, index: usize, value: u64);
}

/// Rounds up to a page boundary; `None` on overflow.
pub(crate) const fn page_up(x: u64) -> Option<u64> {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(v & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// Rounds down to a page boundary.
pub(crate) const fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}
