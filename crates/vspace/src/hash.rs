//! A small deterministic 64-bit hash (no randomized state, same result on
//! every replica and every build).

/// Word-at-a-time multiplicative hash with a splitmix64 finalizer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hasher64(u64);

impl Hasher64 {
    pub(crate) const fn new() -> Self {
        Hasher64(0x243f_6a88_85a3_08d3)
    }

    pub(crate) fn write(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    pub(crate) fn finish(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
