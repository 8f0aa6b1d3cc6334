//! Physical frame allocation: a per-NUMA-node bitmap allocator and a small
//! per-core cache in front of it.
//!
//! Neither type allocates on the heap. [`FrameAllocator`] keeps its range
//! table inline (at most [`MAX_RANGES`] ranges) and its bitmap in a slice the
//! caller provides, typically carved out of the node's own memory:
//!
//! 1. `words = bitmap_words_needed(ranges)`;
//! 2. `(start, end) = bitmap_placement(ranges)?` (or any other place), and
//!    build a `&'static mut [u64]` of `words` words there;
//! 3. `FrameAllocator::new(ranges, bitmap)?`, then `reserve(start, end)` so
//!    the bitmap's own frames are never handed out.
//!
//! Bitmap layout: each range gets a whole number of 64-bit words, a set bit
//! means "in use". Padding bits past a range's last frame are permanently set,
//! so the allocator can skip full words without range checks.

use core::fmt;

use crate::{page_align_down, page_align_up, PAGE_SIZE};

/// Most (non-empty, page-aligned) ranges one [`FrameAllocator`] manages.
pub const MAX_RANGES: usize = 64;

/// Frames a [`FrameCache`] holds at most.
pub const FRAME_CACHE_SIZE: usize = 32;

/// Error from the frame allocator or cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The address is not 4 KiB aligned.
    Misaligned(u64),
    /// The frame does not belong to this allocator.
    NotOwned(u64),
    /// The frame is already free (or already in the cache).
    DoubleFree(u64),
    /// The bitmap slice given to [`FrameAllocator::new`] is too small.
    BitmapTooSmall {
        /// Words needed.
        needed: usize,
        /// Words given.
        got: usize,
    },
    /// More than [`MAX_RANGES`] non-empty ranges.
    TooManyRanges,
    /// Two of the ranges overlap.
    OverlappingRanges,
    /// The [`FrameCache`] is full; the frame was not taken.
    CacheFull(u64),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Misaligned(a) => write!(f, "frame address {a:#x} is not page aligned"),
            FrameError::NotOwned(a) => write!(f, "frame {a:#x} does not belong to this allocator"),
            FrameError::DoubleFree(a) => write!(f, "double free of frame {a:#x}"),
            FrameError::BitmapTooSmall { needed, got } => {
                write!(f, "frame bitmap too small: {got} words, {needed} needed")
            }
            FrameError::TooManyRanges => write!(f, "more than {MAX_RANGES} memory ranges"),
            FrameError::OverlappingRanges => write!(f, "memory ranges overlap"),
            FrameError::CacheFull(a) => write!(f, "frame cache full, frame {a:#x} not taken"),
        }
    }
}

/// One managed range: `frames` frames from `start`, bits from word `word`.
#[derive(Clone, Copy, Debug, Default)]
struct Range {
    start: u64,
    frames: u64,
    word: usize,
}

impl Range {
    fn end(&self) -> u64 {
        self.start + self.frames * PAGE_SIZE
    }
    fn words(&self) -> usize {
        self.frames.div_ceil(64) as usize
    }
}

/// Aligns a range inward to pages; `None` if nothing remains.
fn align_range((s, e): (u64, u64)) -> Option<(u64, u64)> {
    let s = page_align_up(s)?;
    let e = page_align_down(e);
    (s < e).then_some((s, e))
}

/// Number of bitmap words [`FrameAllocator::new`] needs for `ranges`.
///
/// Each range, shrunk inward to page boundaries, needs one bit per frame,
/// rounded up to whole 64-bit words. Empty ranges need nothing.
pub fn bitmap_words_needed(ranges: &[(u64, u64)]) -> usize {
    ranges
        .iter()
        .filter_map(|&r| align_range(r))
        .map(|(s, e)| ((e - s) / PAGE_SIZE).div_ceil(64) as usize)
        .fold(0usize, usize::saturating_add)
}

/// Suggests where to put the bitmap: the first page-aligned `(start, end)`
/// inside one of `ranges` large enough for [`bitmap_words_needed`] words
/// (rounded up to whole pages). `None` if no range is large enough.
pub fn bitmap_placement(ranges: &[(u64, u64)]) -> Option<(u64, u64)> {
    let bytes = (bitmap_words_needed(ranges) as u64).checked_mul(8)?;
    let bytes = page_align_up(bytes)?.max(PAGE_SIZE);
    ranges
        .iter()
        .filter_map(|&r| align_range(r))
        .find(|&(s, e)| e - s >= bytes)
        .map(|(s, _)| (s, s + bytes))
}

/// A bitmap physical-frame allocator for one NUMA node.
///
/// Allocation is next-fit: a rolling cursor over the bitmap words, skipping
/// full words, so `alloc` is O(1) amortised while memory is not nearly
/// exhausted. No heap allocation ever happens.
pub struct FrameAllocator<'a> {
    bitmap: &'a mut [u64],
    ranges: [Range; MAX_RANGES],
    nranges: usize,
    /// Bitmap words in use (sum of the ranges' words).
    words: usize,
    /// Word at which the next search starts.
    cursor: usize,
    free: u64,
    total: u64,
}

impl fmt::Debug for FrameAllocator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameAllocator")
            .field("ranges", &&self.ranges[..self.nranges])
            .field("free", &self.free)
            .field("total", &self.total)
            .finish()
    }
}

impl<'a> FrameAllocator<'a> {
    /// Creates an allocator over `ranges` (each shrunk inward to 4 KiB pages;
    /// empty ones ignored; any order), all frames free, keeping its bitmap in
    /// `bitmap`, which must hold at least [`bitmap_words_needed`]`(ranges)`
    /// words. Extra words are left untouched.
    ///
    /// Fails if the ranges overlap, there are more than [`MAX_RANGES`]
    /// non-empty ones, or the bitmap is too small.
    pub fn new(ranges: &[(u64, u64)], bitmap: &'a mut [u64]) -> Result<Self, FrameError> {
        let mut table = [Range::default(); MAX_RANGES];
        let mut n = 0;
        for (s, e) in ranges.iter().filter_map(|&r| align_range(r)) {
            if n == MAX_RANGES {
                return Err(FrameError::TooManyRanges);
            }
            table[n] = Range {
                start: s,
                frames: (e - s) / PAGE_SIZE,
                word: 0,
            };
            n += 1;
        }
        table[..n].sort_unstable_by_key(|r| r.start);
        let mut words = 0usize;
        let mut total = 0u64;
        for i in 0..n {
            if i > 0 && table[i].start < table[i - 1].end() {
                return Err(FrameError::OverlappingRanges);
            }
            table[i].word = words;
            words = words.saturating_add(table[i].words());
            total += table[i].frames;
        }
        if bitmap.len() < words {
            return Err(FrameError::BitmapTooSmall {
                needed: words,
                got: bitmap.len(),
            });
        }
        for r in &table[..n] {
            let w = &mut bitmap[r.word..r.word + r.words()];
            w.fill(0);
            let tail = (r.frames % 64) as u32;
            if tail != 0 {
                if let Some(last) = w.last_mut() {
                    *last = !0u64 << tail;
                }
            }
        }
        Ok(FrameAllocator {
            bitmap,
            ranges: table,
            nranges: n,
            words,
            cursor: 0,
            free: total,
            total,
        })
    }

    fn ranges(&self) -> &[Range] {
        &self.ranges[..self.nranges]
    }

    /// Index of the range holding `paddr`, if any.
    fn range_of(&self, paddr: u64) -> Option<usize> {
        let rs = self.ranges();
        let i = rs.partition_point(|r| r.start <= paddr).checked_sub(1)?;
        (paddr < rs[i].end()).then_some(i)
    }

    /// (word, bit) of frame `paddr` in range `r`.
    fn bit_of(&self, r: usize, paddr: u64) -> (usize, u64) {
        let rg = &self.ranges[r];
        let idx = (paddr - rg.start) / PAGE_SIZE;
        (rg.word + (idx / 64) as usize, 1u64 << (idx % 64))
    }

    /// Physical address of bit `bit` of bitmap word `word`.
    fn addr_of(&self, word: usize, bit: u32) -> u64 {
        let rs = self.ranges();
        let i = rs.partition_point(|r| r.word <= word) - 1;
        let r = &rs[i];
        r.start + (((word - r.word) as u64) * 64 + bit as u64) * PAGE_SIZE
    }

    /// Allocates one frame; returns its physical address.
    pub fn alloc(&mut self) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        let start = if self.cursor < self.words {
            self.cursor
        } else {
            0
        };
        let mut w = start;
        loop {
            let v = self.bitmap[w];
            if v != !0 {
                let bit = v.trailing_ones();
                self.bitmap[w] |= 1 << bit;
                self.free -= 1;
                self.cursor = w;
                return Some(self.addr_of(w, bit));
            }
            w += 1;
            if w == self.words {
                w = 0;
            }
            if w == start {
                // Unreachable while `free` is consistent; stay safe anyway.
                return None;
            }
        }
    }

    /// Frees the frame at `paddr`.
    ///
    /// Errors (and changes nothing) if `paddr` is misaligned, outside this
    /// allocator's ranges, or already free.
    pub fn free(&mut self, paddr: u64) -> Result<(), FrameError> {
        let (w, m) = self.locate(paddr)?;
        if self.bitmap[w] & m == 0 {
            return Err(FrameError::DoubleFree(paddr));
        }
        self.bitmap[w] &= !m;
        self.free += 1;
        Ok(())
    }

    fn locate(&self, paddr: u64) -> Result<(usize, u64), FrameError> {
        if !paddr.is_multiple_of(PAGE_SIZE) {
            return Err(FrameError::Misaligned(paddr));
        }
        let r = self.range_of(paddr).ok_or(FrameError::NotOwned(paddr))?;
        Ok(self.bit_of(r, paddr))
    }

    /// Whether `paddr` (any byte address) lies in one of this allocator's
    /// frames, allocated or not.
    pub fn contains(&self, paddr: u64) -> bool {
        self.range_of(paddr).is_some()
    }

    /// Whether the frame holding `paddr` is currently allocated (`None` if
    /// not owned).
    pub fn is_allocated(&self, paddr: u64) -> Option<bool> {
        let r = self.range_of(paddr)?;
        let (w, m) = self.bit_of(r, page_align_down(paddr));
        Some(self.bitmap[w] & m != 0)
    }

    /// Number of free frames.
    pub fn free_count(&self) -> u64 {
        self.free
    }

    /// Number of frames managed (free or not).
    pub fn total_count(&self) -> u64 {
        self.total
    }

    /// The managed ranges, page-aligned and sorted, as `(start, end)`.
    pub fn managed_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges().iter().map(|r| (r.start, r.end()))
    }

    /// Marks every free frame overlapping `[start, end)` as allocated (for
    /// example the frames holding the bitmap itself). Frames outside the
    /// ranges are ignored. Returns how many frames were newly taken.
    pub fn reserve(&mut self, start: u64, end: u64) -> u64 {
        let mut taken = 0;
        for i in 0..self.nranges {
            let r = self.ranges[i];
            let s = page_align_down(start).max(r.start);
            let e = page_align_up(end).unwrap_or(u64::MAX).min(r.end());
            let mut a = s;
            while a < e {
                let (w, m) = self.bit_of(i, a);
                if self.bitmap[w] & m == 0 {
                    self.bitmap[w] |= m;
                    taken += 1;
                }
                a += PAGE_SIZE;
            }
        }
        self.free -= taken;
        taken
    }

    /// Lowest frame index `>= from` and `< to` in range `r` that is
    /// allocated, if any.
    fn first_used(&self, r: &Range, from: u64, to: u64) -> Option<u64> {
        let mut i = from;
        while i < to {
            let w = self.bitmap[r.word + (i / 64) as usize] >> (i % 64);
            if w != 0 {
                let j = i + w.trailing_zeros() as u64;
                return (j < to).then_some(j);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    /// Allocates `count` physically contiguous frames whose first address is
    /// a multiple of `align` bytes (a power of two; values below 4 KiB mean
    /// 4 KiB). Returns the first frame's address, or `None` if `count` is 0,
    /// `align` is not a power of two, or no such run is free. First fit,
    /// O(frames) in the worst case: meant for a few frames at a time.
    pub fn alloc_contiguous(&mut self, count: usize, align: u64) -> Option<u64> {
        if count == 0 || !align.is_power_of_two() {
            return None;
        }
        let count = count as u64;
        if count > self.free {
            return None;
        }
        let align = align.max(PAGE_SIZE);
        for i in 0..self.nranges {
            let r = self.ranges[i];
            if r.frames < count {
                continue;
            }
            // Candidate start frame index within the range.
            let aligned = |idx: u64| -> Option<u64> {
                let a = r.start.checked_add(idx.checked_mul(PAGE_SIZE)?)?;
                let a = a.checked_add(align - 1)? & !(align - 1);
                Some((a - r.start) / PAGE_SIZE)
            };
            let mut cand = aligned(0);
            while let Some(c) = cand {
                let end = match c.checked_add(count) {
                    Some(e) if e <= r.frames => e,
                    _ => break,
                };
                match self.first_used(&r, c, end) {
                    None => {
                        for f in c..end {
                            let (w, m) = self.bit_of(i, r.start + f * PAGE_SIZE);
                            self.bitmap[w] |= m;
                        }
                        self.free -= count;
                        return Some(r.start + c * PAGE_SIZE);
                    }
                    Some(used) => cand = aligned(used + 1),
                }
            }
        }
        None
    }

    /// Frees `count` contiguous frames starting at `paddr`. Checks all of
    /// them first: on error nothing is freed.
    pub fn free_contiguous(&mut self, paddr: u64, count: usize) -> Result<(), FrameError> {
        let mut a = paddr;
        for _ in 0..count {
            let (w, m) = self.locate(a)?;
            if self.bitmap[w] & m == 0 {
                return Err(FrameError::DoubleFree(a));
            }
            a = a.checked_add(PAGE_SIZE).ok_or(FrameError::NotOwned(a))?;
        }
        let mut a = paddr;
        for _ in 0..count {
            self.free(a)?;
            a += PAGE_SIZE;
        }
        Ok(())
    }
}

/// A small per-core stack of free frames in front of a [`FrameAllocator`].
///
/// Fixed capacity ([`FRAME_CACHE_SIZE`]), no heap. `push` rejects a frame
/// already in the cache as a double free; a frame that is free in the
/// allocator is only detected when it is drained back.
#[derive(Clone, Debug)]
pub struct FrameCache {
    frames: [u64; FRAME_CACHE_SIZE],
    len: usize,
}

impl Default for FrameCache {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameCache {
    /// Capacity of every cache.
    pub const CAPACITY: usize = FRAME_CACHE_SIZE;

    /// An empty cache (usable in `static`s).
    pub const fn new() -> Self {
        FrameCache {
            frames: [0; FRAME_CACHE_SIZE],
            len: 0,
        }
    }

    /// Takes the most recently pushed frame.
    pub fn pop(&mut self) -> Option<u64> {
        self.len = self.len.checked_sub(1)?;
        Some(self.frames[self.len])
    }

    /// Adds a free frame. Fails with [`FrameError::CacheFull`] if full,
    /// [`FrameError::Misaligned`] if not page aligned, and
    /// [`FrameError::DoubleFree`] if the frame is already cached.
    pub fn push(&mut self, paddr: u64) -> Result<(), FrameError> {
        if !paddr.is_multiple_of(PAGE_SIZE) {
            return Err(FrameError::Misaligned(paddr));
        }
        if self.frames[..self.len].contains(&paddr) {
            return Err(FrameError::DoubleFree(paddr));
        }
        if self.len == FRAME_CACHE_SIZE {
            return Err(FrameError::CacheFull(paddr));
        }
        self.frames[self.len] = paddr;
        self.len += 1;
        Ok(())
    }

    /// Number of cached frames.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the cache holds no frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the cache is full.
    pub fn is_full(&self) -> bool {
        self.len == FRAME_CACHE_SIZE
    }

    /// Moves up to `n` frames from `alloc` into the cache (fewer if the
    /// cache fills up or `alloc` runs out). Returns how many were moved.
    pub fn refill(&mut self, alloc: &mut FrameAllocator<'_>, n: usize) -> usize {
        let want = n.min(FRAME_CACHE_SIZE - self.len);
        let mut moved = 0;
        while moved < want {
            match alloc.alloc() {
                Some(f) => {
                    self.frames[self.len] = f;
                    self.len += 1;
                    moved += 1;
                }
                None => break,
            }
        }
        moved
    }

    /// Returns up to `n` frames to `alloc` (oldest first stays; the most
    /// recently pushed go back). Stops at the first frame `alloc` rejects,
    /// which is dropped from the cache, and returns that error.
    pub fn spill_into(
        &mut self,
        alloc: &mut FrameAllocator<'_>,
        n: usize,
    ) -> Result<usize, FrameError> {
        let mut moved = 0;
        while moved < n {
            let Some(f) = self.pop() else { break };
            alloc.free(f)?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Returns every cached frame to `alloc`. On error the offending frame
    /// is dropped, the rest stays cached, and the error is returned.
    pub fn drain_into(&mut self, alloc: &mut FrameAllocator<'_>) -> Result<(), FrameError> {
        self.spill_into(alloc, FRAME_CACHE_SIZE).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use std::collections::BTreeSet;

    fn with<R>(ranges: &[(u64, u64)], f: impl FnOnce(&mut FrameAllocator<'_>) -> R) -> R {
        let mut bm = vec![0u64; bitmap_words_needed(ranges)];
        let mut a = FrameAllocator::new(ranges, &mut bm).unwrap();
        f(&mut a)
    }

    #[test]
    fn basic_alloc_free() {
        with(
            &[(0x1000, 0x4000), (0x10_0000, 0x10_0000 + 70 * 4096)],
            |a| {
                assert_eq!(a.total_count(), 73);
                assert_eq!(a.free_count(), 73);
                let mut got = BTreeSet::new();
                while let Some(f) = a.alloc() {
                    assert!(a.contains(f));
                    assert_eq!(a.is_allocated(f), Some(true));
                    assert!(got.insert(f));
                }
                assert_eq!(got.len(), 73);
                assert_eq!(a.free_count(), 0);
                assert_eq!(a.alloc(), None);
                assert_eq!(a.free(0x2000), Ok(()));
                assert_eq!(a.free(0x2000), Err(FrameError::DoubleFree(0x2000)));
                assert_eq!(a.free(0x2001), Err(FrameError::Misaligned(0x2001)));
                assert_eq!(a.free(0x4000), Err(FrameError::NotOwned(0x4000)));
                assert_eq!(a.free(0), Err(FrameError::NotOwned(0)));
                assert_eq!(a.free(!0xfff), Err(FrameError::NotOwned(!0xfff)));
                assert_eq!(a.free_count(), 1);
                assert_eq!(a.alloc(), Some(0x2000));
            },
        );
    }

    #[test]
    fn construction_errors_and_alignment() {
        let mut bm = [0u64; 1];
        assert!(matches!(
            FrameAllocator::new(&[(0, 65 * 4096)], &mut bm),
            Err(FrameError::BitmapTooSmall { needed: 2, got: 1 })
        ));
        assert_eq!(
            FrameAllocator::new(&[(0, 0x3000), (0x2000, 0x5000)], &mut [0; 4]).err(),
            Some(FrameError::OverlappingRanges)
        );
        let many: Vec<(u64, u64)> = (0..65u64)
            .map(|i| (i * 0x2000, i * 0x2000 + 0x1000))
            .collect();
        assert_eq!(
            FrameAllocator::new(&many, &mut [0; 100]).err(),
            Some(FrameError::TooManyRanges)
        );
        // Inward alignment, empty and inverted ranges ignored, adjacent ok.
        let r = [(0x1001, 0x3fff), (0x5000, 0x5fff), (9, 3), (0x3000, 0x4000)];
        assert_eq!(bitmap_words_needed(&r), 2);
        with(&r, |a| {
            assert_eq!(
                a.managed_ranges().collect::<Vec<_>>(),
                vec![(0x2000, 0x3000), (0x3000, 0x4000)]
            );
            assert_eq!(a.total_count(), 2);
            assert!(a.contains(0x2fff) && !a.contains(0x1fff) && !a.contains(0x4000));
        });
        with(&[], |a| {
            assert_eq!(a.alloc(), None);
            assert_eq!(a.alloc_contiguous(1, 4096), None);
            assert_eq!(a.free(0x1000), Err(FrameError::NotOwned(0x1000)));
        });
        // Range at the very top of the address space.
        with(&[(u64::MAX - 0x2fff, u64::MAX)], |a| {
            assert_eq!(a.total_count(), 2);
            assert_eq!(a.alloc_contiguous(2, 1 << 63), None);
            assert!(a.alloc_contiguous(2, 4096).is_some());
        });
    }

    #[test]
    fn bitmap_placement_and_reserve() {
        let ranges = [(0x1000, 0x3000), (0x10_0000, 0x10_0000 + (1 << 30))];
        let words = bitmap_words_needed(&ranges);
        assert_eq!(words, 1 + 4096);
        let (s, e) = bitmap_placement(&ranges).unwrap();
        assert_eq!((s, e), (0x10_0000, 0x10_0000 + 8 * 4096 + 4096));
        let mut bm = vec![0xdead_beefu64; words + 3];
        let mut a = FrameAllocator::new(&ranges, &mut bm).unwrap();
        assert_eq!(a.reserve(s, e), 9);
        assert_eq!(a.reserve(s, e), 0);
        assert_eq!(a.reserve(0, 0x1001), 1);
        assert_eq!(a.free_count(), a.total_count() - 10);
        assert_eq!(a.alloc(), Some(0x2000));
        assert_eq!(a.alloc(), Some(e));
        assert_eq!(bm[words], 0xdead_beef);
        assert_eq!(bitmap_placement(&[(0, 0x1000)]), Some((0, 0x1000)));
        assert_eq!(bitmap_placement(&[]), None);
    }

    #[test]
    fn contiguous() {
        with(&[(0x1000, 0x1000 + 200 * 4096)], |a| {
            let x = a.alloc_contiguous(4, 0x4000).unwrap();
            assert_eq!(x, 0x4000);
            for f in 0..4 {
                assert_eq!(a.is_allocated(x + f * 4096), Some(true));
            }
            assert_eq!(a.free_count(), 196);
            let y = a.alloc_contiguous(3, 4096).unwrap();
            assert_eq!(y, 0x1000);
            let z = a.alloc_contiguous(64, 1 << 16).unwrap();
            assert_eq!(z % (1 << 16), 0);
            assert_eq!(a.alloc_contiguous(0, 4096), None);
            assert_eq!(a.alloc_contiguous(1, 3000), None);
            assert_eq!(a.alloc_contiguous(500, 4096), None);
            assert_eq!(
                a.free_contiguous(x, 5),
                Err(FrameError::DoubleFree(x + 4 * 4096))
            );
            assert_eq!(a.is_allocated(x), Some(true));
            assert_eq!(a.free_contiguous(x, 4), Ok(()));
            assert_eq!(a.free_count(), 200 - 3 - 64);
        });
    }

    #[test]
    fn cache() {
        with(&[(0, 100 * 4096)], |a| {
            let mut c = FrameCache::new();
            assert_eq!(c.refill(a, 10), 10);
            assert_eq!(a.free_count(), 90);
            assert_eq!(c.refill(a, 100), FRAME_CACHE_SIZE - 10);
            assert!(c.is_full());
            let f = c.pop().unwrap();
            assert_eq!(c.push(f), Ok(()));
            assert_eq!(c.push(0x7_0000), Err(FrameError::CacheFull(0x7_0000)));
            let g = c.pop().unwrap();
            assert_eq!(
                c.push(c.frames[0]),
                Err(FrameError::DoubleFree(c.frames[0]))
            );
            assert_eq!(c.push(g + 1), Err(FrameError::Misaligned(g + 1)));
            assert_eq!(c.spill_into(a, 5), Ok(5));
            assert_eq!(c.len(), FRAME_CACHE_SIZE - 6);
            c.drain_into(a).unwrap();
            assert!(c.is_empty());
            assert_eq!(a.free_count(), 99);
            a.free(g).unwrap();
            // A frame that is already free is caught when drained.
            c.push(g).unwrap();
            assert_eq!(c.drain_into(a), Err(FrameError::DoubleFree(g)));
            assert!(c.is_empty());
            assert_eq!(c.pop(), None);
        });
    }

    #[test]
    fn next_fit_skips_full_words() {
        // 10 words of frames; fill all but the last frame, free one early.
        with(&[(0, 640 * 4096)], |a| {
            for _ in 0..639 {
                a.alloc().unwrap();
            }
            assert_eq!(a.alloc(), Some(639 * 4096));
            a.free(5 * 4096).unwrap();
            assert_eq!(a.alloc(), Some(5 * 4096));
            assert_eq!(a.alloc(), None);
        });
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Op {
            Alloc,
            Free(prop::sample::Index),
            FreeAddr(u64),
            Contig(usize, u32),
            Reserve(u64, u64),
            CacheRefill(usize),
            CachePop,
            CachePush(prop::sample::Index),
            CacheDrain,
        }

        const SPAN: u64 = 300 * 4096;

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                8 => Just(Op::Alloc),
                5 => any::<prop::sample::Index>().prop_map(Op::Free),
                1 => prop_oneof![0..SPAN + 8192, (0..SPAN / 4096 + 2).prop_map(|p| p * 4096)].prop_map(Op::FreeAddr),
                2 => (1usize..10, 12u32..18).prop_map(|(c, a)| Op::Contig(c, a)),
                1 => (0..SPAN, 0..20 * 4096u64).prop_map(|(s, l)| Op::Reserve(s, s + l)),
                1 => (0usize..40).prop_map(Op::CacheRefill),
                1 => Just(Op::CachePop),
                1 => any::<prop::sample::Index>().prop_map(Op::CachePush),
                1 => Just(Op::CacheDrain),
            ]
        }

        /// Up to 6 disjoint (possibly adjacent, unaligned) ranges in [0, SPAN).
        fn ranges() -> impl Strategy<Value = Vec<(u64, u64)>> {
            proptest::collection::vec(
                prop_oneof![0..SPAN, (0..SPAN / 4096).prop_map(|p| p * 4096)],
                0..12,
            )
            .prop_map(|mut cuts| {
                cuts.sort_unstable();
                cuts.chunks_exact(2).map(|c| (c[0], c[1])).collect()
            })
            .prop_shuffle()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn matches_model(ranges in ranges(), ops in proptest::collection::vec(op(), 1..120)) {
                // Model: owned frames per (aligned) range, and the allocated set.
                let aligned: Vec<(u64, u64)> = ranges.iter().filter_map(|&r| align_range(r)).collect();
                let owned = |a: u64| aligned.iter().any(|&(s, e)| s <= a && a < e);
                let total: u64 = aligned.iter().map(|&(s, e)| (e - s) / 4096).sum();
                let mut used: BTreeSet<u64> = BTreeSet::new();
                let mut order: Vec<u64> = Vec::new(); // allocated frames outside the cache
                let mut cached: Vec<u64> = Vec::new();

                let mut bm = vec![!0u64; bitmap_words_needed(&ranges) + 1];
                let mut a = FrameAllocator::new(&ranges, &mut bm).unwrap();
                let mut cache = FrameCache::new();
                prop_assert_eq!(a.total_count(), total);

                for op in ops {
                    match op {
                        Op::Alloc => match a.alloc() {
                            Some(f) => {
                                prop_assert!(owned(f) && f % 4096 == 0);
                                prop_assert!(used.insert(f), "frame {:#x} handed out twice", f);
                                order.push(f);
                            }
                            None => prop_assert_eq!(used.len() as u64, total),
                        },
                        Op::Free(i) => {
                            if !order.is_empty() {
                                let f = order.swap_remove(i.index(order.len()));
                                prop_assert_eq!(a.free(f), Ok(()));
                                used.remove(&f);
                                prop_assert_eq!(a.free(f), Err(FrameError::DoubleFree(f)));
                            }
                        }
                        Op::FreeAddr(f) => {
                            let expect = if f % 4096 != 0 {
                                Err(FrameError::Misaligned(f))
                            } else if !owned(f) {
                                Err(FrameError::NotOwned(f))
                            } else if !used.contains(&f) {
                                Err(FrameError::DoubleFree(f))
                            } else {
                                Ok(())
                            };
                            prop_assert_eq!(a.free(f), expect);
                            if expect.is_ok() {
                                used.remove(&f);
                                order.retain(|&x| x != f);
                                cached.retain(|&x| x != f);
                                // The cache may now hold a frame that is free.
                                cache = FrameCache::new();
                                for &c in &cached {
                                    cache.push(c).unwrap();
                                }
                            }
                        }
                        Op::Contig(count, shift) => {
                            let align = 1u64 << shift;
                            match a.alloc_contiguous(count, align) {
                                Some(x) => {
                                    prop_assert_eq!(x % align, 0);
                                    let rg = aligned.iter().find(|&&(s, e)| s <= x && x < e).copied();
                                    prop_assert!(rg.is_some());
                                    let (_, e) = rg.unwrap();
                                    prop_assert!(x + count as u64 * 4096 <= e);
                                    for k in 0..count as u64 {
                                        let f = x + k * 4096;
                                        prop_assert!(used.insert(f));
                                        order.push(f);
                                    }
                                }
                                None => {
                                    // No aligned free run exists in any single range.
                                    for &(s, e) in &aligned {
                                        let mut x = s.div_ceil(align) * align;
                                        while x + count as u64 * 4096 <= e {
                                            let free_run = (0..count as u64).all(|k| !used.contains(&(x + k * 4096)));
                                            prop_assert!(!free_run, "missed run at {:#x}", x);
                                            x += align;
                                        }
                                    }
                                }
                            }
                        }
                        Op::Reserve(s, e) => {
                            let mut expect = 0;
                            let mut f = s & !0xfff;
                            while f < e {
                                if owned(f) && used.insert(f) {
                                    expect += 1;
                                }
                                f += 4096;
                            }
                            prop_assert_eq!(a.reserve(s, e), expect);
                        }
                        Op::CacheRefill(n) => {
                            let before = cache.len();
                            let moved = cache.refill(&mut a, n);
                            prop_assert!(moved <= n);
                            for k in before..before + moved {
                                let f = cache.frames[k];
                                prop_assert!(owned(f));
                                prop_assert!(used.insert(f));
                                cached.push(f);
                            }
                        }
                        Op::CachePop => {
                            if let Some(f) = cache.pop() {
                                prop_assert_eq!(cached.pop(), Some(f));
                                order.push(f);
                            }
                        }
                        Op::CachePush(i) => {
                            if !order.is_empty() && !cache.is_full() {
                                let f = order.swap_remove(i.index(order.len()));
                                cache.push(f).unwrap();
                                cached.push(f);
                            }
                        }
                        Op::CacheDrain => {
                            prop_assert_eq!(cache.drain_into(&mut a), Ok(()));
                            for f in cached.drain(..) {
                                used.remove(&f);
                            }
                        }
                    }
                    prop_assert_eq!(a.free_count(), total - used.len() as u64);
                }
                for &f in &used {
                    prop_assert_eq!(a.is_allocated(f), Some(true));
                }
            }
        }
    }
}
