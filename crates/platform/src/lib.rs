//! Pure, host-testable platform logic for the NrOS kernel.
//!
//! Everything here is `no_std` (with `alloc`), free of `unsafe`, and never
//! panics on malformed input: parsers return errors instead. The kernel
//! supplies the hardware access (for example a [`pvh::PhysRead`]
//! implementation over identity-mapped physical memory); this crate supplies
//! the interpretation.
//!
//! Modules:
//! - [`pvh`]: the PVH `hvm_start_info` handed over by QEMU.
//! - [`memmap`]: memory-map regions and the usable-RAM computation.
//! - [`acpi`]: RSDP/RSDT/XSDT, MADT, SRAT and SLIT parsing.
//! - [`topology`]: cores, NUMA nodes, per-node memory and distances.
//! - [`frames`]: per-node physical frame allocator and per-core frame cache.
//! - [`cmdline`]: kernel command-line parsing.
//! - [`retire`]: when an unlinked page-table frame may be reused.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod acpi;
pub mod cmdline;
pub mod frames;
pub mod memmap;
pub mod pvh;
pub mod retire;
pub mod topology;

/// Size of a base page / physical frame (4 KiB).
pub const PAGE_SIZE: u64 = 4096;

/// Rounds `x` up to a multiple of [`PAGE_SIZE`]; `None` on overflow.
pub const fn page_align_up(x: u64) -> Option<u64> {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(v & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// Rounds `x` down to a multiple of [`PAGE_SIZE`].
pub const fn page_align_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}
