//! The Linux x86-64 user ABI: error numbers, system-call numbers, flags and
//! the byte layout of the structures the kernel exchanges with programs.
#![no_std]
#![deny(unsafe_code)]

pub mod errno;

pub use errno::Errno;
