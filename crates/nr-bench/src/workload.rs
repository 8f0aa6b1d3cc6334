//! The workload shared by every contender: a `u64 -> u64` hash map prefilled
//! with keys `0..keys`, uniformly random keys, and a fixed write ratio.

use std::collections::HashMap;

/// The one hash map type every contender stores (DashMap uses the same
/// hasher for its shards).
pub type Map = HashMap<u64, u64, rustc_hash::FxBuildHasher>;

/// A prefilled map: key `k` maps to `k`.
pub fn prefilled(keys: u64) -> Map {
    let mut m = Map::with_capacity_and_hasher(keys as usize, Default::default());
    for k in 0..keys {
        m.insert(k, k);
    }
    m
}

/// wyrand: a fast per-thread PRNG (one add and one 64x64->128 multiply).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    #[inline(always)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }
}

/// One operation drawn from a single random number: the high 32 bits pick
/// the key (multiply-shift, unbiased enough for `keys` far below 2^32), the
/// low 32 bits decide read or write.
#[derive(Clone, Copy)]
pub struct OpGen {
    keys: u64,
    write_threshold: u64,
}

pub enum Op {
    Get(u64),
    Put(u64, u64),
}

impl OpGen {
    pub fn new(keys: u64, write_pct: u32) -> Self {
        assert!(keys > 0 && keys <= 1 << 32, "--keys must be in 1..=2^32");
        assert!(write_pct <= 100);
        OpGen {
            keys,
            write_threshold: (u64::from(write_pct) << 32) / 100,
        }
    }

    #[inline(always)]
    pub fn op(&self, r: u64) -> Op {
        let key = ((r >> 32) * self.keys) >> 32;
        if (r & 0xffff_ffff) < self.write_threshold {
            Op::Put(key, r)
        } else {
            Op::Get(key)
        }
    }
}

/// Read operation of the replicated map (both NR implementations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Read {
    Get(u64),
}

/// Write operation of the replicated map (both NR implementations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Write {
    Put(u64, u64),
}

/// The sequential data structure both NR implementations replicate.
pub struct NrMap {
    pub map: Map,
}

impl NrMap {
    #[inline(always)]
    fn read(&self, op: Read) -> Option<u64> {
        match op {
            Read::Get(k) => self.map.get(&k).copied(),
        }
    }

    #[inline(always)]
    fn write(&mut self, op: Write) -> Option<u64> {
        match op {
            Write::Put(k, v) => self.map.insert(k, v),
        }
    }
}

impl nr::Dispatch for NrMap {
    type ReadOperation = Read;
    type WriteOperation = Write;
    type Response = Option<u64>;

    fn dispatch(&self, op: Read) -> Option<u64> {
        self.read(op)
    }

    fn dispatch_mut(&mut self, op: Write) -> Option<u64> {
        self.write(op)
    }
}

impl node_replication::Dispatch for NrMap {
    type ReadOperation = Read;
    type WriteOperation = Write;
    type Response = Option<u64>;

    fn dispatch(&self, op: Read) -> Option<u64> {
        self.read(op)
    }

    fn dispatch_mut(&mut self, op: Write) -> Option<u64> {
        self.write(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opgen_ratio_and_range() {
        for pct in [0u32, 10, 100] {
            let g = OpGen::new(1000, pct);
            let mut rng = Rng::new(7);
            let (mut w, n) = (0u32, 100_000u32);
            for _ in 0..n {
                match g.op(rng.next()) {
                    Op::Get(k) => assert!(k < 1000),
                    Op::Put(k, _) => {
                        assert!(k < 1000);
                        w += 1
                    }
                }
            }
            let got = f64::from(w) / f64::from(n) * 100.0;
            assert!((got - f64::from(pct)).abs() < 1.0, "pct {pct} got {got}");
        }
    }
}
