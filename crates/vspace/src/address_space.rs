//! The mapping database of one process: VMAs, the brk heap and the page
//! table that mirrors them for the MMU.
//!
//! # Model
//!
//! - A [`Vma`] is a page-aligned range `[start, end)` with `PROT_*` bits and
//!   a [`VmaKind`]. All mappings are private. VMAs never overlap and are kept
//!   *canonical*: two adjacent VMAs with the same protection and compatible
//!   kinds (same kind; for files the same inode with contiguous offsets) are
//!   always merged. The VMA list is thus a function of the per-page
//!   attributes, whatever sequence of operations produced them.
//! - Pages are populated lazily: mapping creates no page-table entries. A
//!   resident page is a leaf of the page table ([`crate::page_table`]); the
//!   page table is the single record of which data frame backs which page.
//!   Pages of `PROT_NONE` VMAs keep their frame in a *non-present* leaf.
//! - Leaf flags always equal [`PteFlags::from_prot`] of the VMA's protection.
//!
//! # Deviations from Linux
//!
//! - `mprotect` is atomic: if any page of the range is unmapped it fails with
//!   `ENOMEM` and changes nothing (Linux applies the change up to the hole).
//! - `brk` only requires the new heap pages not to overlap another mapping
//!   (Linux also wants a one-page gap before the next mapping).
//! - No guard gaps, no `MAP_GROWSDOWN`, no shared mappings.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use abi::errno::KResult;
use abi::Errno;

use crate::hash::Hasher64;
use crate::page_table::{bits::ADDR_MASK, MapError, PageTable, PteFlags};
use crate::{
    page_down, page_up, FrameMemory, PAGE_SIZE, PROT_EXEC, PROT_MASK, PROT_READ, PROT_WRITE,
};

/// End of the user address space (Linux `TASK_SIZE`): mappings end at or
/// below it.
pub const USER_END: u64 = 0x0000_7fff_ffff_f000;

/// Top of the area searched (downwards) for non-fixed mappings.
pub const MMAP_BASE: u64 = 0x0000_7f00_0000_0000;

/// Lowest address a mapping may start at (Linux `mmap_min_addr`).
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// Maximum number of VMAs (Linux `max_map_count`).
pub const MAX_VMAS: usize = 65530;

/// What backs a VMA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmaKind {
    /// Anonymous private memory (zero-filled on first touch).
    Anon,
    /// Private file mapping: the page at `vma.start` holds the file content
    /// at `offset` (the kernel copies it into a fresh frame on first touch).
    File {
        /// Inode number.
        ino: u64,
        /// File offset of `vma.start` (page-aligned).
        offset: u64,
    },
    /// A process stack (zero-filled).
    Stack,
    /// The brk heap (zero-filled).
    Heap,
    /// Anonymous shared memory (`MAP_SHARED | MAP_ANONYMOUS`, zero-filled):
    /// `fork` shares its frames writable with the child instead of
    /// copy-on-write, so both see each other's writes.
    Shared,
}

/// A virtual memory area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vma {
    /// First address (page-aligned).
    pub start: u64,
    /// One past the last address (page-aligned, `> start`).
    pub end: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// What backs it.
    pub kind: VmaKind,
}

impl Vma {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the VMA is empty (never true for a VMA of an address space).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether `va` lies in `[start, end)`.
    pub fn contains(&self, va: u64) -> bool {
        self.start <= va && va < self.end
    }

    /// For a file mapping, `(ino, file offset of va's page)`.
    pub fn file_page(&self, va: u64) -> Option<(u64, u64)> {
        match self.kind {
            VmaKind::File { ino, offset } if self.contains(va) => {
                Some((ino, offset + (page_down(va) - self.start)))
            }
            _ => None,
        }
    }

    /// Splits at `at` (strictly inside): `self` keeps `[start, at)`, the
    /// returned VMA is `[at, end)`.
    fn split_off(&mut self, at: u64) -> Vma {
        let mut right = *self;
        right.start = at;
        if let VmaKind::File { ino, offset } = self.kind {
            right.kind = VmaKind::File {
                ino,
                offset: offset + (at - self.start),
            };
        }
        self.end = at;
        right
    }

    /// Whether `next` (starting at `self.end`) can be merged into `self`.
    fn can_merge(&self, next: &Vma) -> bool {
        if self.end != next.start || self.prot != next.prot {
            return false;
        }
        match (self.kind, next.kind) {
            (VmaKind::Anon, VmaKind::Anon)
            | (VmaKind::Stack, VmaKind::Stack)
            | (VmaKind::Heap, VmaKind::Heap)
            | (VmaKind::Shared, VmaKind::Shared) => true,
            (VmaKind::File { ino: a, offset: oa }, VmaKind::File { ino: b, offset: ob }) => {
                a == b && oa.checked_add(self.len()) == Some(ob)
            }
            _ => false,
        }
    }
}

/// Where [`AddressSpace::map`] places a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapAt {
    /// Anywhere (top-down search below the mmap base).
    Any,
    /// Preferably at this address (rounded up to a page) if the range is
    /// free and valid, otherwise anywhere. `Hint(0)` is `Any`.
    Hint(u64),
    /// Exactly here (`MAP_FIXED`), replacing whatever is mapped.
    Fixed(u64),
    /// Exactly here, failing with `EEXIST` if anything is mapped
    /// (`MAP_FIXED_NOREPLACE`).
    FixedNoReplace(u64),
}

/// The kind of access that faulted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// A write (else a read or instruction fetch).
    pub write: bool,
    /// An instruction fetch.
    pub exec: bool,
    /// From user mode (the decision is the same either way: kernel accesses
    /// to user memory obey the VMA rights too).
    pub user: bool,
}

/// What the page-fault handler should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultDecision {
    /// The access is allowed but the page has no frame yet: allocate one,
    /// fill it and [`AddressSpace::populate`] it.
    NeedsFrame {
        /// Fill with zeros (anonymous, stack, heap).
        zero: bool,
        /// Fill from this `(ino, file offset of the page)`; bytes beyond the
        /// end of the file are zero.
        file: Option<(u64, u64)>,
    },
    /// A write to a present copy-on-write page the mapping allows writes
    /// to: copy the page (unless no other address space shares `frame`) and
    /// install the copy with [`AddressSpace::make_private`].
    CopyOnWrite {
        /// The frame the page shares now.
        frame: u64,
    },
    /// The page is present with sufficient rights (another CPU populated it,
    /// or a stale TLB entry): flush the local TLB entry and retry.
    Spurious,
    /// Deliver `SIGSEGV`.
    Segv {
        /// `SEGV_ACCERR` (the address is mapped but the access is not
        /// allowed) rather than `SEGV_MAPERR`.
        accerr: bool,
    },
}

/// Outcome of [`AddressSpace::populate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Populated {
    /// The frame now backs the page.
    Installed,
    /// The page already had a frame; the caller keeps (frees) its frame.
    AlreadyPresent,
}

/// Address-space layout parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Lowest mapping address (page-aligned).
    pub min_addr: u64,
    /// Non-fixed mappings are searched top-down from here first.
    pub mmap_base: u64,
    /// One past the highest mapping address.
    pub end: u64,
    /// Maximum number of VMAs.
    pub max_vmas: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            min_addr: MMAP_MIN_ADDR,
            mmap_base: MMAP_BASE,
            end: USER_END,
            max_vmas: MAX_VMAS,
        }
    }
}

impl Layout {
    fn is_valid(&self) -> bool {
        let aligned = |x: u64| x.is_multiple_of(PAGE_SIZE);
        aligned(self.min_addr)
            && aligned(self.mmap_base)
            && aligned(self.end)
            && self.min_addr < self.mmap_base
            && self.mmap_base <= self.end
            && self.end <= USER_END
            && self.max_vmas > 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Brk {
    start: u64,
    cur: u64,
}

/// The address space of one process: VMAs, brk and page table.
pub struct AddressSpace<M: FrameMemory> {
    pt: PageTable<M>,
    vmas: BTreeMap<u64, Vma>,
    layout: Layout,
    brk: Option<Brk>,
}

impl<M: FrameMemory> core::fmt::Debug for AddressSpace<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AddressSpace")
            .field("pt", &self.pt)
            .field("vmas", &self.vmas.len())
            .field("brk", &self.brk)
            .finish()
    }
}

fn is_aligned(x: u64) -> bool {
    x.is_multiple_of(PAGE_SIZE)
}

impl<M: FrameMemory> AddressSpace<M> {
    /// An empty address space with the default [`Layout`]; `None` if the
    /// root table cannot be allocated.
    pub fn new(mem: M) -> Option<Self> {
        Self::with_layout(mem, Layout::default())
    }

    /// An empty address space with a custom layout; `None` if the layout is
    /// invalid (unaligned, `min_addr < mmap_base <= end <= USER_END` violated,
    /// `max_vmas == 0`) or the root table cannot be allocated.
    pub fn with_layout(mem: M, layout: Layout) -> Option<Self> {
        if !layout.is_valid() {
            return None;
        }
        Some(AddressSpace {
            pt: PageTable::new(mem)?,
            vmas: BTreeMap::new(),
            layout,
            brk: None,
        })
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The page table.
    pub fn page_table(&self) -> &PageTable<M> {
        &self.pt
    }

    /// The page-table root (for `CR3`).
    pub fn root(&self) -> u64 {
        self.pt.root()
    }

    /// The frame memory of the page table.
    pub fn mem(&self) -> &M {
        self.pt.mem()
    }

    /// The frame memory, mutably (e.g. to refill a per-replica frame cache).
    /// Writing to this address space's tables through it breaks its
    /// invariants.
    pub fn mem_mut(&mut self) -> &mut M {
        self.pt.mem_mut()
    }

    /// Writes the kernel's upper-half PML4 entries, see
    /// [`PageTable::set_kernel_entries`].
    pub fn set_kernel_entries(&mut self, entries: &[u64; 256]) {
        self.pt.set_kernel_entries(entries);
    }

    /// All VMAs in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> + '_ {
        self.vmas.values()
    }

    /// The VMA containing `va`.
    pub fn vma_at(&self, va: u64) -> Option<&Vma> {
        self.vmas
            .range(..=va)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.end > va)
    }

    /// Resident pages `(va, frame)` in address order (including `PROT_NONE`
    /// pages, whose leaves are non-present).
    pub fn resident_pages(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pt.leaves().map(|(va, pa, _)| (va, pa))
    }

    /// What the MMU sees for `va`: physical address (frame + page offset) and
    /// flags, if a present leaf maps it.
    pub fn translate(&self, va: u64) -> Option<(u64, PteFlags)> {
        self.pt.translate(va)
    }

    /// `(brk start, current brk)` once [`AddressSpace::set_brk_start`] was
    /// called.
    pub fn brk_state(&self) -> Option<(u64, u64)> {
        self.brk.map(|b| (b.start, b.cur))
    }

    // ----- searching -------------------------------------------------------

    /// Whether any VMA intersects `[start, end)`.
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Whether every page of `[start, end)` lies in a VMA.
    fn covered(&self, start: u64, end: u64) -> bool {
        let Some(first) = self.vma_at(start) else {
            return false;
        };
        let mut pos = first.end;
        while pos < end {
            match self.vmas.get(&pos) {
                Some(v) => pos = v.end,
                None => return false,
            }
        }
        true
    }

    /// A free page-aligned range of `len` bytes (rounded up): the hint (rounded
    /// up) if `[hint, hint + len)` is free and inside the layout, else the
    /// highest free range below the mmap base, else the highest free range
    /// anywhere. `None` if `len == 0` or nothing fits.
    pub fn find_free(&self, len: u64, hint: Option<u64>) -> Option<u64> {
        if len == 0 {
            return None;
        }
        let len = page_up(len)?;
        if let Some(h) = hint.filter(|&h| h != 0).and_then(page_up) {
            if h >= self.layout.min_addr
                && h.checked_add(len).is_some_and(|e| e <= self.layout.end)
                && !self.overlaps(h, h + len)
            {
                return Some(h);
            }
        }
        self.top_down(len, self.layout.mmap_base)
            .or_else(|| self.top_down(len, self.layout.end))
    }

    /// The highest free `[a, a + len)` with `min_addr <= a` and
    /// `a + len <= top`.
    fn top_down(&self, len: u64, top: u64) -> Option<u64> {
        let min = self.layout.min_addr;
        let mut hi = top;
        for v in self.vmas.range(..top).rev().map(|(_, v)| v) {
            if hi <= min {
                return None;
            }
            if v.end < hi {
                let lo = v.end.max(min);
                if hi - lo >= len {
                    return Some(hi - len);
                }
            }
            hi = hi.min(v.start);
        }
        (hi > min && hi - min >= len).then(|| hi - len)
    }

    // ----- VMA surgery ----------------------------------------------------

    /// Splits the VMA strictly containing `at`, if any.
    fn split_at(&mut self, at: u64) {
        if let Some((_, v)) = self.vmas.range_mut(..at).next_back() {
            if v.end > at {
                let right = v.split_off(at);
                self.vmas.insert(at, right);
            }
        }
    }

    /// How many VMAs splitting at `start` and `end` creates (two when both
    /// lie strictly inside the same VMA).
    fn splits_needed(&self, start: u64, end: u64) -> usize {
        [start, end]
            .iter()
            .filter(|&&x| self.vma_at(x).is_some_and(|v| v.start < x))
            .count()
    }

    /// Number of VMAs intersecting `[start, end)`.
    fn count_overlapping(&self, start: u64, end: u64) -> usize {
        let before = usize::from(self.vma_at(start).is_some_and(|v| v.start < start));
        before + self.vmas.range(start..end).count()
    }

    /// Fails with `ENOMEM` if carving `[start, end)` out of the VMA list and
    /// then adding `adding` VMAs would exceed `max_vmas` at any point.
    fn check_capacity(&self, start: u64, end: u64, adding: usize) -> KResult<()> {
        let n = self.vmas.len();
        let split = n + self.splits_needed(start, end);
        let peak = if adding == 0 {
            split
        } else {
            split.max(split - self.count_overlapping(start, end) + adding)
        };
        if peak > self.layout.max_vmas {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Merges every mergeable pair of adjacent VMAs whose common boundary
    /// lies in `[start, end]`.
    fn merge_range(&mut self, start: u64, end: u64) {
        let mut key = match self.vmas.range(..start).next_back() {
            Some((&k, v)) if v.end >= start => k,
            _ => match self.vmas.range(start..).next() {
                Some((&k, _)) => k,
                None => return,
            },
        };
        loop {
            let Some(&v) = self.vmas.get(&key) else {
                return;
            };
            if v.end > end {
                return;
            }
            match self.vmas.get(&v.end) {
                Some(next) if v.can_merge(next) => {
                    let next_end = next.end;
                    self.vmas.remove(&v.end);
                    if let Some(cur) = self.vmas.get_mut(&key) {
                        cur.end = next_end;
                    }
                }
                Some(_) => key = v.end,
                None => match self.vmas.range(v.end..).next() {
                    Some((&k, _)) => key = k,
                    None => return,
                },
            }
        }
    }

    /// Removes `[start, end)` from the VMAs and the page table; returns the
    /// released data frames in address order. The caller checked capacity.
    fn remove_range(&mut self, start: u64, end: u64) -> Vec<u64> {
        self.split_at(start);
        self.split_at(end);
        while let Some((&k, _)) = self.vmas.range(start..end).next() {
            self.vmas.remove(&k);
        }
        let mut frames = Vec::new();
        self.pt.unmap_range(start, end, |_, pa, _| frames.push(pa));
        frames
    }

    // ----- operations -----------------------------------------------------

    /// `mmap` of a private mapping. `len` is rounded up to pages; `prot` must
    /// be a subset of `PROT_READ | PROT_WRITE | PROT_EXEC`; a file offset must
    /// be page-aligned. Returns the address and the data frames of whatever
    /// a [`MapAt::Fixed`] mapping replaced (in address order).
    ///
    /// Errors: `EINVAL` (bad `prot`, `len == 0`, unaligned fixed address or
    /// file offset), `EPERM` (fixed address below `min_addr`), `ENOMEM` (no
    /// room, range beyond the layout end, too many VMAs), `EEXIST`
    /// ([`MapAt::FixedNoReplace`] over a mapping), `EOVERFLOW` (file offset +
    /// length overflows).
    pub fn map(
        &mut self,
        at: MapAt,
        len: u64,
        prot: u32,
        kind: VmaKind,
    ) -> KResult<(u64, Vec<u64>)> {
        if prot & !PROT_MASK != 0 || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if let VmaKind::File { offset, .. } = kind {
            if !is_aligned(offset) {
                return Err(Errno::EINVAL);
            }
            if offset.checked_add(len).is_none() {
                return Err(Errno::EOVERFLOW);
            }
        }
        let addr = match at {
            MapAt::Fixed(a) | MapAt::FixedNoReplace(a) => {
                if !is_aligned(a) {
                    return Err(Errno::EINVAL);
                }
                if a < self.layout.min_addr {
                    return Err(Errno::EPERM);
                }
                match a.checked_add(len) {
                    Some(e) if e <= self.layout.end => {}
                    _ => return Err(Errno::ENOMEM),
                }
                if matches!(at, MapAt::FixedNoReplace(_)) && self.overlaps(a, a + len) {
                    return Err(Errno::EEXIST);
                }
                a
            }
            MapAt::Hint(h) => self.find_free(len, Some(h)).ok_or(Errno::ENOMEM)?,
            MapAt::Any => self.find_free(len, None).ok_or(Errno::ENOMEM)?,
        };
        let end = addr + len;
        self.check_capacity(addr, end, 1)?;
        let released = self.remove_range(addr, end);
        self.vmas.insert(
            addr,
            Vma {
                start: addr,
                end,
                prot,
                kind,
            },
        );
        self.merge_range(addr, end);
        Ok((addr, released))
    }

    /// `munmap`: removes `[start, start + len)` (len rounded up), splitting
    /// VMAs, and returns the released data frames in address order (free them
    /// after the TLB shootdown). Unmapped holes in the range are fine.
    ///
    /// Errors: `EINVAL` (unaligned start, `len == 0`, range beyond the layout
    /// end), `ENOMEM` (splitting would exceed `max_vmas`).
    pub fn unmap(&mut self, start: u64, len: u64) -> KResult<Vec<u64>> {
        if !is_aligned(start) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        if start > self.layout.end || len > self.layout.end - start {
            return Err(Errno::EINVAL);
        }
        let end = start + len;
        self.check_capacity(start, end, 0)?;
        Ok(self.remove_range(start, end))
    }

    /// `mprotect`: sets the protection of `[start, start + len)` (len rounded
    /// up), splitting and merging VMAs and rewriting the leaves of resident
    /// pages (a `PROT_NONE` page keeps its frame in a non-present leaf).
    /// Never allocates page-table frames.
    ///
    /// Errors: `EINVAL` (unaligned start, bad `prot`), `ENOMEM` (some page of
    /// the range is not mapped, the range overflows, or splitting would
    /// exceed `max_vmas`); nothing changes on error.
    pub fn protect(&mut self, start: u64, len: u64, prot: u32) -> KResult<()> {
        if !is_aligned(start) || prot & !PROT_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        if !self.covered(start, end) {
            return Err(Errno::ENOMEM);
        }
        self.check_capacity(start, end, 0)?;
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.vmas.range_mut(start..end) {
            v.prot = prot;
        }
        self.pt.protect_range(start, end, PteFlags::from_prot(prot));
        self.merge_range(start, end);
        Ok(())
    }

    /// Installs `frame` as the page containing `va` (rounded down), with the
    /// leaf flags of the VMA's protection. Used by the fault handler and for
    /// eager loading; works for `PROT_NONE` VMAs too (the frame is recorded
    /// in a non-present leaf).
    ///
    /// Returns [`Populated::AlreadyPresent`] if the page already has a frame
    /// (the caller frees `frame`). Errors: `EFAULT` (no VMA), `EINVAL`
    /// (`frame` unaligned or beyond 52 bits), `ENOMEM` (no page-table frame;
    /// nothing changed).
    pub fn populate(&mut self, va: u64, frame: u64) -> KResult<Populated> {
        let page = page_down(va);
        let prot = self.vma_at(page).ok_or(Errno::EFAULT)?.prot;
        if frame & !ADDR_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        match self.pt.map(page, frame, PteFlags::from_prot(prot)) {
            Ok(()) => Ok(Populated::Installed),
            Err(MapError::AlreadyMapped) => Ok(Populated::AlreadyPresent),
            Err(MapError::OutOfMemory) => Err(Errno::ENOMEM),
            Err(MapError::InvalidAddress) => Err(Errno::EFAULT),
        }
    }

    /// Decides how to handle a page fault at `va`: `Segv` without a VMA or
    /// when the VMA's protection forbids the access (any access needs some
    /// `PROT_*` bit, writes need `PROT_WRITE`, instruction fetches
    /// `PROT_EXEC`), `Spurious` when the page is present with sufficient
    /// rights, else `NeedsFrame`.
    pub fn fault_decision(&self, va: u64, access: Access) -> FaultDecision {
        let Some(vma) = self.vma_at(va) else {
            return FaultDecision::Segv { accerr: false };
        };
        let p = vma.prot;
        let allowed = p & PROT_MASK != 0
            && (!access.write || p & PROT_WRITE != 0)
            && (!access.exec || p & PROT_EXEC != 0);
        if !allowed {
            return FaultDecision::Segv { accerr: true };
        }
        match self.pt.lookup(va) {
            None => {
                let file = vma.file_page(va);
                FaultDecision::NeedsFrame {
                    zero: file.is_none(),
                    file,
                }
            }
            Some((pa, f)) => {
                if f.present
                    && f.user
                    && (!access.write || f.writable)
                    && (!access.exec || f.executable)
                {
                    FaultDecision::Spurious
                } else if f.present && f.user && f.cow && access.write && !f.writable {
                    // The VMA allows the write (checked above).
                    FaultDecision::CopyOnWrite { frame: pa }
                } else {
                    // Leaf flags always follow the VMA protection, so this
                    // cannot happen; refuse rather than loop on the fault.
                    FaultDecision::Segv { accerr: true }
                }
            }
        }
    }

    /// Sets the start of the brk heap (at exec; page-aligned in practice,
    /// the heap VMA starts at the next page boundary). `EINVAL` beyond the
    /// layout end.
    pub fn set_brk_start(&mut self, addr: u64) -> KResult<()> {
        if addr > self.layout.end {
            return Err(Errno::EINVAL);
        }
        self.brk = Some(Brk {
            start: addr,
            cur: addr,
        });
        Ok(())
    }

    /// The `brk` system call: returns the (possibly new) current break and
    /// the data frames released by shrinking.
    ///
    /// Linux semantics: `new` below the brk start or beyond the layout end,
    /// growing into another mapping, or exceeding `max_vmas` leaves the break
    /// unchanged; shrinking unmaps `[page_up(new), page_up(old))`; growing
    /// maps `[page_up(old), page_up(new))` as a read-write [`VmaKind::Heap`]
    /// VMA (lazily populated, merged with an adjacent heap VMA). Before
    /// [`AddressSpace::set_brk_start`] it always returns `0`.
    pub fn brk(&mut self, new: u64) -> (u64, Vec<u64>) {
        let Some(b) = self.brk else {
            return (0, Vec::new());
        };
        if new < b.start || new > self.layout.end {
            return (b.cur, Vec::new());
        }
        // cur, new <= layout.end <= USER_END (page-aligned): no overflow.
        let old_end = page_up(b.cur).unwrap_or(b.cur);
        let new_end = page_up(new).unwrap_or(new);
        let mut released = Vec::new();
        if new_end < old_end {
            if self.check_capacity(new_end, old_end, 0).is_err() {
                return (b.cur, released);
            }
            released = self.remove_range(new_end, old_end);
        } else if new_end > old_end {
            if self.overlaps(old_end, new_end) || self.vmas.len() >= self.layout.max_vmas {
                return (b.cur, released);
            }
            self.vmas.insert(
                old_end,
                Vma {
                    start: old_end,
                    end: new_end,
                    prot: PROT_READ | PROT_WRITE,
                    kind: VmaKind::Heap,
                },
            );
            self.merge_range(old_end, new_end);
        }
        self.brk = Some(Brk { cur: new, ..b });
        (new, released)
    }

    /// A deterministic hash of the VMAs, the brk state, the layout and the
    /// page-table leaves; independent of which frames hold the page tables.
    /// Equal on all replicas that applied the same operations.
    pub fn state_hash(&self) -> u64 {
        let mut h = Hasher64::new();
        h.write(self.layout.min_addr);
        h.write(self.layout.mmap_base);
        h.write(self.layout.end);
        h.write(self.layout.max_vmas as u64);
        h.write(self.vmas.len() as u64);
        for v in self.vmas.values() {
            h.write(v.start);
            h.write(v.end);
            h.write(u64::from(v.prot));
            match v.kind {
                VmaKind::Anon => h.write(0),
                VmaKind::File { ino, offset } => {
                    h.write(1);
                    h.write(ino);
                    h.write(offset);
                }
                VmaKind::Stack => h.write(2),
                VmaKind::Heap => h.write(3),
                VmaKind::Shared => h.write(4),
            }
        }
        match self.brk {
            None => h.write(0),
            Some(b) => {
                h.write(1);
                h.write(b.start);
                h.write(b.cur);
            }
        }
        h.write(self.pt.hash());
        h.finish()
    }

    /// `madvise(MADV_DONTNEED)`: drop the frames backing
    /// `[start, start + len)` while keeping the VMAs, so the pages read back
    /// as zeros (or file content) on next touch. Returns the released frames
    /// (in address order); `EINVAL` for an unaligned start or a range beyond
    /// the layout end. Holes in the
    /// range are skipped (Linux reports `ENOMEM` for them after doing the
    /// rest; here the frames are what matters, so the call succeeds).
    pub fn discard(&mut self, start: u64, len: u64) -> KResult<Vec<u64>> {
        if !is_aligned(start) {
            return Err(Errno::EINVAL);
        }
        let end = start
            .checked_add(len)
            .and_then(page_up)
            .ok_or(Errno::EINVAL)?;
        // Like Linux: a range reaching past the user address space is
        // invalid (and must not discard everything above `start`).
        if end > self.layout.end {
            return Err(Errno::EINVAL);
        }
        let mut frames = Vec::new();
        self.pt.unmap_range(start, end, |_, pa, _| frames.push(pa));
        Ok(frames)
    }

    /// `fork`: a copy of this address space for a child, sharing every
    /// resident frame copy-on-write. The child gets the same layout, VMAs,
    /// brk and leaves (page tables built from `mem`); afterwards every leaf
    /// of *both* spaces is marked copy-on-write and read-only, so the first
    /// write to a page in either faults with [`FaultDecision::CopyOnWrite`].
    /// Returns the child and the shared frames in address order (the
    /// caller counts the extra reference to each). `ENOMEM` when a page
    /// table cannot be allocated; then this space is unchanged and `mem`'s
    /// tables are freed.
    ///
    /// Pages of [`VmaKind::Shared`] mappings are the exception: the child
    /// maps the same frames with the same rights (they are counted as
    /// shared too), and unpopulated pages there stay unpopulated (the
    /// caller populates them first, see
    /// [`AddressSpace::unpopulated_shared`]).
    pub fn fork_cow(&mut self, mem: M) -> KResult<(AddressSpace<M>, Vec<u64>)> {
        let mut child = AddressSpace::with_layout(mem, self.layout).ok_or(Errno::ENOMEM)?;
        child.vmas = self.vmas.clone();
        child.brk = self.brk;
        for (va, pa, flags) in self.pt.leaves() {
            let in_shared = self.vma_at(va).is_some_and(|v| v.kind == VmaKind::Shared);
            let shared = if in_shared {
                flags
            } else {
                PteFlags {
                    writable: false,
                    cow: true,
                    ..flags
                }
            };
            if let Err(e) = child.pt.map(va, pa, shared) {
                // Give back the tables; the data frames stay this space's.
                child.vmas.clear();
                child.pt.unmap_range(0, self.layout.end, |_, _, _| {});
                let _ = child.pt.destroy();
                return Err(Errno::from(e));
            }
        }
        let mut frames = Vec::new();
        let ranges: Vec<(u64, u64, bool)> = self
            .vmas
            .values()
            .map(|v| (v.start, v.end, v.kind == VmaKind::Shared))
            .collect();
        for (start, end, shared) in ranges {
            if shared {
                frames.extend(self.pt.leaves_in(start, end).map(|(_, pa, _)| pa));
            } else {
                self.pt.share_range(start, end, |_, pa| frames.push(pa));
            }
        }
        Ok((child, frames))
    }

    /// Up to `limit` pages of [`VmaKind::Shared`] mappings that have no
    /// frame yet, in address order (to populate before `fork`, so parent
    /// and child share them).
    pub fn unpopulated_shared(&self, limit: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for v in self.vmas.values().filter(|v| v.kind == VmaKind::Shared) {
            let mut va = v.start;
            while va < v.end && out.len() < limit {
                if self.pt.lookup(va).is_none() {
                    out.push(va);
                }
                va += PAGE_SIZE;
            }
        }
        out
    }

    /// Resolves a copy-on-write fault at `va`: the copy-on-write leaf there
    /// is replaced by `frame` (the copy, or the shared frame itself when no
    /// other address space uses it any more) with the VMA's rights, no
    /// longer copy-on-write. Never allocates. `EFAULT` when `va` has no VMA
    /// or no copy-on-write leaf (it was unmapped or resolved meanwhile);
    /// `EINVAL` for an invalid frame.
    pub fn make_private(&mut self, va: u64, frame: u64) -> KResult<()> {
        let prot = self.vma_at(va).ok_or(Errno::EFAULT)?.prot;
        match self.pt.lookup(va) {
            Some((_, f)) if f.cow => {}
            _ => return Err(Errno::EFAULT),
        }
        if frame & !ADDR_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if self.pt.replace(va, frame, PteFlags::from_prot(prot)) {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    /// The frame of `va`'s page if its leaf is copy-on-write.
    pub fn cow_frame(&self, va: u64) -> Option<u64> {
        match self.pt.lookup(va) {
            Some((pa, f)) if f.cow => Some(pa),
            _ => None,
        }
    }

    /// Tears the address space down: frees all page tables and returns the
    /// frame memory and the data frames (in address order) for the caller
    /// to free.
    pub fn destroy(self) -> (M, Vec<u64>) {
        let frames: Vec<u64> = self.resident_pages().map(|(_, f)| f).collect();
        (self.pt.destroy(), frames)
    }

    /// Checks all invariants (for tests and debugging): VMAs sorted, aligned,
    /// non-empty, non-overlapping, inside the layout, keyed by their start,
    /// canonical (no mergeable neighbours), at most `max_vmas`; every leaf
    /// inside a VMA with flags `PteFlags::from_prot(vma.prot)`; page-table
    /// structure sound.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        if self.vmas.len() > self.layout.max_vmas {
            return Err("too many VMAs");
        }
        let mut prev: Option<&Vma> = None;
        for (&k, v) in &self.vmas {
            if k != v.start {
                return Err("VMA key differs from start");
            }
            if !is_aligned(v.start) || !is_aligned(v.end) || v.start >= v.end {
                return Err("malformed VMA");
            }
            if v.start < self.layout.min_addr || v.end > self.layout.end {
                return Err("VMA outside the layout");
            }
            if v.prot & !PROT_MASK != 0 {
                return Err("bad prot");
            }
            if let VmaKind::File { offset, .. } = v.kind {
                if !is_aligned(offset) || offset.checked_add(v.len()).is_none() {
                    return Err("bad file offset");
                }
            }
            if let Some(p) = prev {
                if p.end > v.start {
                    return Err("overlapping VMAs");
                }
                if p.can_merge(v) {
                    return Err("mergeable neighbours");
                }
            }
            prev = Some(v);
        }
        for (va, _, flags) in self.pt.leaves() {
            let Some(v) = self.vma_at(va) else {
                return Err("leaf outside any VMA");
            };
            if flags != PteFlags::from_prot_cow(v.prot, flags.cow) {
                return Err("leaf flags differ from VMA prot");
            }
        }
        if let Some(b) = self.brk {
            if b.cur < b.start || b.cur > self.layout.end {
                return Err("bad brk");
            }
        }
        self.pt.check()
    }
}

#[cfg(test)]
mod tests;
