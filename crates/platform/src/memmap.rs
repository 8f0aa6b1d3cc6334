//! Physical memory map: region kinds and the usable-RAM computation.
//!
//! Ranges are half-open `(start, end)` byte addresses throughout: `end` is
//! exclusive. A range with `start >= end` is empty and ignored.

use alloc::vec::Vec;

use crate::{page_align_down, page_align_up};

/// What a memory-map region holds (e820 / PVH memory-map type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Type 1: usable RAM.
    Ram,
    /// Type 2: reserved, not usable.
    Reserved,
    /// Type 3: ACPI tables; reclaimable once the tables have been parsed.
    Acpi,
    /// Type 4: ACPI non-volatile storage; never usable.
    Nvs,
    /// Type 5: memory reported as bad.
    Unusable,
    /// Any other type (for example 7, persistent memory), kept verbatim.
    Other(u32),
}

impl RegionKind {
    /// Maps an e820 / PVH memory-map type number to a kind.
    pub const fn from_e820(ty: u32) -> Self {
        match ty {
            1 => RegionKind::Ram,
            2 => RegionKind::Reserved,
            3 => RegionKind::Acpi,
            4 => RegionKind::Nvs,
            5 => RegionKind::Unusable,
            other => RegionKind::Other(other),
        }
    }

    /// The e820 / PVH type number of this kind (inverse of [`Self::from_e820`]).
    pub const fn to_e820(self) -> u32 {
        match self {
            RegionKind::Ram => 1,
            RegionKind::Reserved => 2,
            RegionKind::Acpi => 3,
            RegionKind::Nvs => 4,
            RegionKind::Unusable => 5,
            RegionKind::Other(t) => t,
        }
    }

    /// Whether the region is general-purpose RAM.
    pub const fn is_ram(self) -> bool {
        matches!(self, RegionKind::Ram)
    }
}

/// One entry of the physical memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryRegion {
    /// First byte address of the region.
    pub start: u64,
    /// One past the last byte address (exclusive).
    pub end: u64,
    /// What the region holds.
    pub kind: RegionKind,
}

impl MemoryRegion {
    /// Builds a region from an e820-style `(addr, size, type)` triple.
    ///
    /// The end saturates at `u64::MAX` if `addr + size` overflows.
    pub const fn from_e820(addr: u64, size: u64, ty: u32) -> Self {
        MemoryRegion {
            start: addr,
            end: addr.saturating_add(size),
            kind: RegionKind::from_e820(ty),
        }
    }

    /// Size of the region in bytes (0 if empty or inverted).
    pub const fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// Sorts and merges ranges (overlapping or touching), dropping empty ones.
pub fn merge_ranges(ranges: &mut Vec<(u64, u64)>) {
    ranges.retain(|&(s, e)| s < e);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match out.last_mut() {
            Some(last) if s <= last.1 => {
                if e > last.1 {
                    last.1 = e;
                }
            }
            _ => out.push((s, e)),
        }
    }
    *ranges = out;
}

/// Subtracts the sorted, merged `holes` from the sorted, merged `ranges`.
///
/// Both inputs must be normalised as by [`merge_ranges`]; the result is too.
pub fn subtract_ranges(ranges: &[(u64, u64)], holes: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut h = 0;
    for &(s, e) in ranges {
        let mut cur = s;
        // Skip holes that end before this range starts.
        while h < holes.len() && holes[h].1 <= cur {
            h += 1;
        }
        let mut k = h;
        while cur < e && k < holes.len() && holes[k].0 < e {
            let (hs, he) = holes[k];
            if hs > cur {
                out.push((cur, hs));
            }
            if he > cur {
                cur = he;
            }
            k += 1;
        }
        if cur < e {
            out.push((cur, e));
        }
    }
    out
}

/// Computes the usable RAM of a memory map.
///
/// Returns the RAM ranges of `map`, merged, minus
/// - every non-RAM region of `map` (overlaps of RAM and non-RAM entries are
///   resolved in favour of non-RAM),
/// - every `(start, end)` range in `reserved` (kernel image, initrd, start
///   info, ...),
/// - everything below `min_addr`,
///
/// with each remaining range shrunk inward to 4 KiB page boundaries. The
/// result is sorted, disjoint, page-aligned and contains no empty range.
pub fn usable_ranges(
    map: &[MemoryRegion],
    reserved: &[(u64, u64)],
    min_addr: u64,
) -> Vec<(u64, u64)> {
    let mut ram: Vec<(u64, u64)> = map
        .iter()
        .filter(|r| r.kind.is_ram())
        .map(|r| (r.start, r.end))
        .collect();
    merge_ranges(&mut ram);

    let mut holes: Vec<(u64, u64)> = map
        .iter()
        .filter(|r| !r.kind.is_ram())
        .map(|r| (r.start, r.end))
        .chain(reserved.iter().copied())
        .chain(core::iter::once((0, min_addr)))
        .collect();
    merge_ranges(&mut holes);

    subtract_ranges(&ram, &holes)
        .into_iter()
        .filter_map(|(s, e)| {
            let s = page_align_up(s)?;
            let e = page_align_down(e);
            (s < e).then_some((s, e))
        })
        .collect()
}

/// Total number of bytes in a list of ranges (empty ranges count 0).
pub fn total_bytes(ranges: &[(u64, u64)]) -> u64 {
    ranges
        .iter()
        .fold(0u64, |acc, &(s, e)| acc.saturating_add(e.saturating_sub(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const MIB: u64 = 1 << 20;

    fn ram(s: u64, e: u64) -> MemoryRegion {
        MemoryRegion {
            start: s,
            end: e,
            kind: RegionKind::Ram,
        }
    }
    fn res(s: u64, e: u64) -> MemoryRegion {
        MemoryRegion {
            start: s,
            end: e,
            kind: RegionKind::Reserved,
        }
    }

    #[test]
    fn kinds_roundtrip() {
        for t in 0..10 {
            assert_eq!(RegionKind::from_e820(t).to_e820(), t);
        }
        assert_eq!(RegionKind::from_e820(1), RegionKind::Ram);
        assert_eq!(RegionKind::from_e820(3), RegionKind::Acpi);
        assert_eq!(RegionKind::from_e820(4), RegionKind::Nvs);
        assert_eq!(RegionKind::from_e820(7), RegionKind::Other(7));
        assert_eq!(MemoryRegion::from_e820(u64::MAX - 1, 10, 1).end, u64::MAX);
    }

    #[test]
    fn qemu_like_map() {
        // Roughly what QEMU q35 -m 512M reports.
        let map = [
            ram(0, 0x9fc00),
            res(0x9fc00, 0xa0000),
            res(0xf0000, 0x100000),
            ram(0x100000, 0x1ffe0000),
            res(0x1ffe0000, 0x20000000),
            res(0xb000_0000, 0xc000_0000),
            res(0xfed1c000, 0xfed20000),
            res(0xfeffc000, 0xff000000),
            res(0xfffc0000, 0x1_0000_0000),
        ];
        let kernel = (MIB, 3 * MIB);
        let initrd = (0x1f00_0123, 0x1ff0_0000);
        let u = usable_ranges(&map, &[kernel, initrd], MIB);
        assert_eq!(u, vec![(3 * MIB, 0x1f00_0000), (0x1ff0_0000, 0x1ffe_0000)]);
        let u = usable_ranges(&map, &[], 0);
        assert_eq!(u, vec![(0, 0x9f000), (0x100000, 0x1ffe0000)]);
    }

    #[test]
    fn overlap_prefers_non_ram_and_merges_touching() {
        let map = [ram(0, 0x10000), ram(0x10000, 0x20000), res(0x8000, 0x9001)];
        let u = usable_ranges(&map, &[], 0);
        assert_eq!(u, vec![(0, 0x8000), (0xa000, 0x20000)]);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(usable_ranges(&[], &[], 0).is_empty());
        assert!(usable_ranges(&[ram(5, 3)], &[], 0).is_empty());
        assert!(usable_ranges(&[ram(0, 100)], &[], 0).is_empty());
        assert!(usable_ranges(&[ram(0, u64::MAX)], &[(0, u64::MAX)], 0).is_empty());
        let u = usable_ranges(&[ram(u64::MAX - 0x3000, u64::MAX)], &[(10, 5)], 0);
        assert_eq!(u, vec![(u64::MAX - 0x2fff, u64::MAX - 0xfff)]);
        assert_eq!(usable_ranges(&[ram(0, 0x4000)], &[], u64::MAX), vec![]);
    }

    #[test]
    fn subtract_basic() {
        let r = [(0, 100), (200, 300)];
        let h = [(50, 60), (90, 210), (250, 260), (290, 1000)];
        assert_eq!(
            subtract_ranges(&r, &h),
            vec![(0, 50), (60, 90), (210, 250), (260, 290)]
        );
        assert_eq!(subtract_ranges(&r, &[]), r.to_vec());
        assert_eq!(total_bytes(&r), 200);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeSet;

        const PAGES: u64 = 24;

        /// Whether `[a, b)` is entirely covered by the union of `ranges`.
        fn covered(ranges: &[(u64, u64)], a: u64, b: u64) -> bool {
            let mut x = a;
            while x < b {
                match ranges.iter().find(|&&(s, e)| s <= x && x < e) {
                    Some(&(_, e)) => x = e,
                    None => return false,
                }
            }
            true
        }

        /// Page-set model: page `p` is usable iff it lies inside the union
        /// of RAM entries and touches no hole.
        fn model(
            map: &[MemoryRegion],
            reserved: &[(u64, u64)],
            min_addr: u64,
            base: u64,
        ) -> BTreeSet<u64> {
            let ram: Vec<(u64, u64)> = map
                .iter()
                .filter(|r| r.kind.is_ram())
                .map(|r| (r.start, r.end))
                .collect();
            let mut holes: Vec<(u64, u64)> = map
                .iter()
                .filter(|r| !r.kind.is_ram())
                .map(|r| (r.start, r.end))
                .collect();
            holes.extend_from_slice(reserved);
            holes.push((0, min_addr));
            (0..PAGES)
                .map(|p| base + p * 4096)
                .filter(|&a| {
                    let b = a + 4096;
                    covered(&ram, a, b) && !holes.iter().any(|&(s, e)| s < e && s < b && e > a)
                })
                .collect()
        }

        fn addr(base: u64) -> impl Strategy<Value = u64> {
            prop_oneof![
                (0..=PAGES).prop_map(move |p| base + p * 4096),
                (0..=PAGES * 4096).prop_map(move |o| base + o),
            ]
        }

        fn region(base: u64) -> impl Strategy<Value = MemoryRegion> {
            (
                addr(base),
                addr(base),
                prop_oneof![3 => Just(1u32), 1 => 2u32..6, 1 => Just(12u32)],
            )
                .prop_map(|(start, end, ty)| MemoryRegion {
                    start,
                    end,
                    kind: RegionKind::from_e820(ty),
                })
        }

        fn case() -> impl Strategy<Value = (u64, Vec<MemoryRegion>, Vec<(u64, u64)>, u64)> {
            prop_oneof![
                Just(0u64),
                Just(0xffff_ffff_fff0_0000u64),
                Just(0x1_0000_0000u64)
            ]
            .prop_flat_map(|base| {
                (
                    Just(base),
                    proptest::collection::vec(region(base), 0..8),
                    proptest::collection::vec((addr(base), addr(base)), 0..4),
                    prop_oneof![Just(0u64), addr(base)],
                )
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn matches_page_model((base, map, reserved, min_addr) in case()) {
                let u = usable_ranges(&map, &reserved, min_addr);
                // Normalised: sorted, disjoint, non-adjacent, aligned, non-empty.
                for w in u.windows(2) {
                    prop_assert!(w[0].1 < w[1].0);
                }
                for &(s, e) in &u {
                    prop_assert!(s < e && s % 4096 == 0 && e % 4096 == 0);
                }
                let pages: BTreeSet<u64> =
                    u.iter().flat_map(|&(s, e)| (s..e).step_by(4096)).collect();
                prop_assert_eq!(pages, model(&map, &reserved, min_addr, base));
            }
        }
    }
}
