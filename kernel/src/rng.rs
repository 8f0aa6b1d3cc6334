//! Kernel random numbers (`getrandom`, `/dev/urandom`, `AT_RANDOM`):
//! a xorshift-style generator (splitmix64 output) seeded from RDRAND when
//! the CPU has it and the TSC. Not cryptographically strong; documented.

use crate::arch::cpu;
use spin::Mutex;

static STATE: Mutex<u64> = Mutex::new(0);

fn next(s: &mut u64) -> u64 {
    if *s == 0 {
        *s = cpu::rdrand().unwrap_or(0) ^ cpu::rdtsc() ^ 0x9e37_79b9_7f4a_7c15;
    }
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fill `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    let mut s = STATE.lock();
    for chunk in buf.chunks_mut(8) {
        let v = next(&mut s).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}
