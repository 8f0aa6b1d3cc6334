//! The Linux x86-64 user ABI: error numbers, system-call numbers, flags and
//! the byte layout of the structures the kernel exchanges with programs.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

pub mod errno;
pub mod flags;
pub mod structs;
pub mod sysno;

pub use errno::Errno;
