//! A real x86-64 four-level page-table hierarchy (PML4 → PDPT → PD → PT) for
//! the user half of an address space, built from frames that a
//! [`FrameMemory`] hands out.
//!
//! Only 4 KiB leaves are created. Intermediate entries are always
//! `P | W | U` so that the leaf alone decides the access rights.
//!
//! # Leaf encoding
//!
//! | bit        | meaning                                                  |
//! |------------|----------------------------------------------------------|
//! | 0 `P`      | present (hardware)                                       |
//! | 1 `W`      | writable                                                 |
//! | 2 `U`      | user accessible                                          |
//! | 5 `A`, 6 `D` | accessed / dirty, set by the CPU; ignored by this crate |
//! | 9 `SW_LEAF`| software bit: "a frame is recorded here"                 |
//! | 12..52     | physical frame address                                   |
//! | 63 `NX`    | no-execute (requires `EFER.NXE`)                          |
//!
//! Every leaf this crate writes carries [`bits::SW_LEAF`], so a leaf can be
//! *non-present* (`P = 0`, e.g. for a `PROT_NONE` page) and still record its
//! frame: the CPU ignores every other bit of a non-present entry. The page
//! table is therefore the complete record of which data frame backs which
//! page.
//!
//! # Kernel half
//!
//! PML4 entries 256..512 belong to the kernel ([`PageTable::set_kernel_entries`]).
//! No other operation reads or writes them: mapping is limited to user
//! addresses (`< 2^47`), and [`PageTable::hash`], [`PageTable::unmap`],
//! [`PageTable::unmap_range`] and [`PageTable::destroy`] only walk PML4[0..256].
//!
//! # Replication
//!
//! Every replica owns its own hierarchy built from its own node's frames, so
//! the table frame addresses differ between replicas. [`PageTable::hash`]
//! covers only the leaves `(va, pa, flags)`, never table addresses or the
//! CPU-maintained A/D bits, so replicas with the same mappings hash equal.

use crate::hash::Hasher64;
use crate::{FrameMemory, PAGE_SIZE};

/// Number of entries in one table.
pub const ENTRIES: usize = 512;

/// First address of the kernel half; user virtual addresses are below it.
pub const USER_HALF_END: u64 = 1 << 47;

/// First PML4 index of the kernel half.
pub const KERNEL_PML4_START: usize = 256;

/// Page-table entry bits.
pub mod bits {
    /// Present.
    pub const PRESENT: u64 = 1 << 0;
    /// Writable.
    pub const WRITABLE: u64 = 1 << 1;
    /// User accessible.
    pub const USER: u64 = 1 << 2;
    /// Accessed (set by the CPU).
    pub const ACCESSED: u64 = 1 << 5;
    /// Dirty (set by the CPU).
    pub const DIRTY: u64 = 1 << 6;
    /// Software-available bit 9: this entry is a leaf recording a frame
    /// (possibly non-present).
    pub const SW_LEAF: u64 = 1 << 9;
    /// Software-available bit 10: copy-on-write. The frame is shared with
    /// another address space (after `fork`); the leaf is read-only even if
    /// the mapping allows writes, and a write fault copies the page.
    pub const SW_COW: u64 = 1 << 10;
    /// No-execute.
    pub const NO_EXECUTE: u64 = 1 << 63;
    /// Physical address bits 12..52.
    pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
    /// What every intermediate (non-leaf) entry carries besides the address.
    pub const TABLE: u64 = PRESENT | WRITABLE | USER;
}

use bits::*;

/// Shift of the address bits that index each level (PML4, PDPT, PD, PT).
const SHIFTS: [u32; 4] = [39, 30, 21, 12];

/// Access rights of a leaf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PteFlags {
    /// The `P` bit. A non-present leaf still records its frame (`PROT_NONE`).
    pub present: bool,
    /// The `W` bit.
    pub writable: bool,
    /// Not `NX`.
    pub executable: bool,
    /// The `U` bit.
    pub user: bool,
    /// Copy-on-write (software bit): the frame may be shared, so the leaf
    /// is never writable while this is set.
    pub cow: bool,
}

impl PteFlags {
    /// The flags of a user page with the given `PROT_*` bits: present unless
    /// `PROT_NONE`, writable iff `PROT_WRITE`, executable iff `PROT_EXEC`.
    /// (x86 cannot express write-only or execute-only pages: every present
    /// page is readable.)
    pub const fn from_prot(prot: u32) -> Self {
        PteFlags {
            present: prot & crate::PROT_MASK != 0,
            writable: prot & crate::PROT_WRITE != 0,
            executable: prot & crate::PROT_EXEC != 0,
            user: true,
            cow: false,
        }
    }

    /// The flags of a user page with the given `PROT_*` bits whose frame is
    /// shared copy-on-write (`cow`): as [`PteFlags::from_prot`], but never
    /// writable while `cow` is set.
    pub const fn from_prot_cow(prot: u32, cow: bool) -> Self {
        let f = Self::from_prot(prot);
        PteFlags {
            writable: f.writable && !cow,
            cow,
            ..f
        }
    }

    /// The leaf entry mapping `pa` (page-aligned, < 2^52) with these flags.
    pub const fn encode(self, pa: u64) -> u64 {
        let mut e = (pa & ADDR_MASK) | SW_LEAF;
        if self.present {
            e |= PRESENT;
        }
        if self.writable {
            e |= WRITABLE;
        }
        if self.user {
            e |= USER;
        }
        if !self.executable {
            e |= NO_EXECUTE;
        }
        if self.cow {
            e |= SW_COW;
        }
        e
    }

    /// Decodes a leaf entry into `(pa, flags)`; A/D bits are ignored.
    pub const fn decode(entry: u64) -> (u64, PteFlags) {
        (
            entry & ADDR_MASK,
            PteFlags {
                present: entry & PRESENT != 0,
                writable: entry & WRITABLE != 0,
                executable: entry & NO_EXECUTE == 0,
                user: entry & USER != 0,
                cow: entry & SW_COW != 0,
            },
        )
    }

    /// A compact, table-independent encoding used for hashing.
    pub const fn bits(self) -> u64 {
        (self.present as u64)
            | (self.writable as u64) << 1
            | (self.user as u64) << 2
            | (self.executable as u64) << 3
            | (self.cow as u64) << 4
    }
}

/// Why [`PageTable::map`] failed. The table is unchanged in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A leaf already exists at that address.
    AlreadyMapped,
    /// An intermediate table could not be allocated.
    OutOfMemory,
    /// `va` is unaligned or not a user address, or `pa` is unaligned or
    /// beyond 52 bits.
    InvalidAddress,
}

impl From<MapError> for abi::Errno {
    fn from(e: MapError) -> Self {
        match e {
            MapError::AlreadyMapped => abi::Errno::EEXIST,
            MapError::OutOfMemory => abi::Errno::ENOMEM,
            MapError::InvalidAddress => abi::Errno::EINVAL,
        }
    }
}

/// An entry at the PT level holds a leaf.
const fn leaf_occupied(e: u64) -> bool {
    e & (PRESENT | SW_LEAF) != 0
}

const fn index(va: u64, level: usize) -> usize {
    ((va >> SHIFTS[level]) & (ENTRIES as u64 - 1)) as usize
}

/// Number of entries of a table at `level` that belong to the user half.
const fn user_limit(level: usize) -> usize {
    if level == 0 {
        KERNEL_PML4_START
    } else {
        ENTRIES
    }
}

/// An x86-64 four-level page-table hierarchy for the user half.
///
/// Dropping a `PageTable` without calling [`PageTable::destroy`] leaks its
/// table frames (the data frames are never owned by the table).
pub struct PageTable<M: FrameMemory> {
    mem: M,
    root: u64,
    /// Tables currently allocated, the root included.
    tables: usize,
}

impl<M: FrameMemory> core::fmt::Debug for PageTable<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PageTable")
            .field("root", &format_args!("{:#x}", self.root))
            .field("tables", &self.tables)
            .finish()
    }
}

impl<M: FrameMemory> PageTable<M> {
    /// An empty hierarchy (just a zeroed PML4). `None` if the root cannot be
    /// allocated.
    pub fn new(mut mem: M) -> Option<Self> {
        let root = alloc_checked(&mut mem)?;
        Some(PageTable {
            mem,
            root,
            tables: 1,
        })
    }

    /// Physical address of the PML4 (the value for `CR3`).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The frame memory.
    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// The frame memory, mutably. Writing to this hierarchy's tables through
    /// it breaks the invariants of this type.
    pub fn mem_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// Number of table frames currently in use, the root included.
    pub fn table_count(&self) -> usize {
        self.tables
    }

    /// Writes the kernel's PML4 entries into `PML4[256..512]`. Nothing else
    /// ever touches them.
    pub fn set_kernel_entries(&mut self, entries: &[u64; 256]) {
        for (i, &e) in entries.iter().enumerate() {
            self.mem.write_entry(self.root, KERNEL_PML4_START + i, e);
        }
    }

    /// Installs a leaf `va → pa` with `flags`. Missing intermediate tables
    /// are allocated; if that fails, the ones allocated by this call are
    /// freed again and the hierarchy is unchanged.
    pub fn map(&mut self, va: u64, pa: u64, flags: PteFlags) -> Result<(), MapError> {
        if !va.is_multiple_of(PAGE_SIZE) || va >= USER_HALF_END || pa & !ADDR_MASK != 0 {
            return Err(MapError::InvalidAddress);
        }
        // (parent table, index in parent, new table) for rollback.
        let mut created: [(u64, usize, u64); 3] = [(0, 0, 0); 3];
        let mut n_created = 0;
        let mut table = self.root;
        for level in 0..3 {
            let i = index(va, level);
            let e = self.mem.read_entry(table, i);
            if e & PRESENT != 0 {
                table = e & ADDR_MASK;
                continue;
            }
            let Some(new) = alloc_checked(&mut self.mem) else {
                for &(parent, pi, t) in created[..n_created].iter().rev() {
                    self.mem.write_entry(parent, pi, 0);
                    self.mem.free_table(t);
                    self.tables -= 1;
                }
                return Err(MapError::OutOfMemory);
            };
            self.mem.write_entry(table, i, new | TABLE);
            self.tables += 1;
            created[n_created] = (table, i, new);
            n_created += 1;
            table = new;
        }
        let i = index(va, 3);
        if leaf_occupied(self.mem.read_entry(table, i)) {
            // Only possible when the whole path existed, so nothing to undo.
            return Err(MapError::AlreadyMapped);
        }
        self.mem.write_entry(table, i, flags.encode(pa));
        Ok(())
    }

    /// Removes the leaf at `va` (rounded down to its page) and returns its
    /// frame; intermediate tables that become empty are freed.
    pub fn unmap(&mut self, va: u64) -> Option<u64> {
        let page = va & !(PAGE_SIZE - 1);
        if page >= USER_HALF_END {
            return None;
        }
        let mut pa = None;
        self.unmap_range(page, page + PAGE_SIZE, |_, p, _| pa = Some(p));
        pa
    }

    /// Removes every leaf in `[start, end)`, calling `f(va, pa, flags)` for
    /// each in address order, and frees intermediate tables that become
    /// empty. Returns the number of leaves removed.
    pub fn unmap_range(
        &mut self,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, u64, PteFlags),
    ) -> usize {
        let mut n = 0;
        let end = end.min(USER_HALF_END);
        if start < end {
            let root = self.root;
            self.update_rec(root, 0, 0, start, end, &mut |va, e| {
                let (pa, flags) = PteFlags::decode(e);
                f(va, pa, flags);
                n += 1;
                0
            });
        }
        n
    }

    /// Replaces the flags of the leaf at `va` (rounded down); `false` if
    /// there is none.
    pub fn protect(&mut self, va: u64, flags: PteFlags) -> bool {
        let page = va & !(PAGE_SIZE - 1);
        self.protect_range(page, page.saturating_add(PAGE_SIZE), flags) == 1
    }

    /// Replaces the flags of every leaf in `[start, end)`; returns how many
    /// leaves there were. A copy-on-write leaf keeps its mark and stays
    /// read-only (`flags.cow` is ignored). Never allocates.
    pub fn protect_range(&mut self, start: u64, end: u64, flags: PteFlags) -> usize {
        let mut n = 0;
        let end = end.min(USER_HALF_END);
        if start < end {
            let root = self.root;
            self.update_rec(root, 0, 0, start, end, &mut |_, e| {
                n += 1;
                let cow = e & SW_COW != 0;
                PteFlags {
                    writable: flags.writable && !cow,
                    cow,
                    ..flags
                }
                .encode(e & ADDR_MASK)
            });
        }
        n
    }

    /// Marks every leaf in `[start, end)` copy-on-write (read-only, `cow`
    /// set) and calls `f(va, pa)` for each; returns how many there were.
    /// Never allocates.
    pub fn share_range(&mut self, start: u64, end: u64, mut f: impl FnMut(u64, u64)) -> usize {
        let mut n = 0;
        let end = end.min(USER_HALF_END);
        if start < end {
            let root = self.root;
            self.update_rec(root, 0, 0, start, end, &mut |va, e| {
                n += 1;
                f(va, e & ADDR_MASK);
                (e | SW_COW) & !WRITABLE
            });
        }
        n
    }

    /// Replaces the leaf at `va` (rounded down) by `pa` with `flags`;
    /// `false` (and nothing changes) if there is no leaf or `pa` is invalid.
    /// Never allocates.
    pub fn replace(&mut self, va: u64, pa: u64, flags: PteFlags) -> bool {
        let page = va & !(PAGE_SIZE - 1);
        if page >= USER_HALF_END || pa & !ADDR_MASK != 0 {
            return false;
        }
        let mut n = 0;
        let root = self.root;
        self.update_rec(root, 0, 0, page, page + PAGE_SIZE, &mut |_, _| {
            n += 1;
            flags.encode(pa)
        });
        n == 1
    }

    /// Walks the leaves of `[start, end)` below `table` (at `level`, covering
    /// addresses from `base`), replacing each leaf entry `e` by `f(va, e)`.
    /// Frees child tables that become empty. Returns whether `table` itself
    /// became empty because of this call (never for the root).
    fn update_rec(
        &mut self,
        table: u64,
        level: usize,
        base: u64,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(u64, u64) -> u64,
    ) -> bool {
        let shift = SHIFTS[level];
        let first = if start > base {
            ((start - base) >> shift) as usize
        } else {
            0
        };
        let mut cleared = false;
        for i in first..user_limit(level) {
            // base + 512 * span <= 2^48: no overflow.
            let va = base + ((i as u64) << shift);
            if va >= end {
                break;
            }
            let e = self.mem.read_entry(table, i);
            if level == 3 {
                if leaf_occupied(e) {
                    let new = f(va, e);
                    if new != e {
                        self.mem.write_entry(table, i, new);
                        cleared |= new == 0;
                    }
                }
            } else if e & PRESENT != 0 {
                let child = e & ADDR_MASK;
                if self.update_rec(child, level + 1, va, start, end, f) {
                    self.mem.write_entry(table, i, 0);
                    self.mem.free_table(child);
                    self.tables -= 1;
                    cleared = true;
                }
            }
        }
        cleared && level != 0 && self.table_is_empty(table)
    }

    fn table_is_empty(&self, table: u64) -> bool {
        (0..ENTRIES).all(|i| self.mem.read_entry(table, i) == 0)
    }

    /// The raw leaf entry for `va`'s page, if any.
    fn leaf_entry(&self, va: u64) -> Option<u64> {
        if va >= USER_HALF_END {
            return None;
        }
        let mut table = self.root;
        for level in 0..3 {
            let e = self.mem.read_entry(table, index(va, level));
            if e & PRESENT == 0 {
                return None;
            }
            table = e & ADDR_MASK;
        }
        let e = self.mem.read_entry(table, index(va, 3));
        leaf_occupied(e).then_some(e)
    }

    /// What the MMU sees: the physical address `va` translates to (frame +
    /// offset within the page) and the leaf's flags, if the leaf is present.
    pub fn translate(&self, va: u64) -> Option<(u64, PteFlags)> {
        let (pa, flags) = PteFlags::decode(self.leaf_entry(va)?);
        flags
            .present
            .then_some((pa | (va & (PAGE_SIZE - 1)), flags))
    }

    /// The leaf recorded for `va`'s page, present or not: `(frame, flags)`.
    pub fn lookup(&self, va: u64) -> Option<(u64, PteFlags)> {
        self.leaf_entry(va).map(PteFlags::decode)
    }

    /// Iterates over all leaves (present or not) as `(va, pa, flags)` in
    /// address order.
    pub fn leaves(&self) -> Leaves<'_, M> {
        self.leaves_in(0, USER_HALF_END)
    }

    /// Iterates over the leaves with `start <= va < end` in address order.
    pub fn leaves_in(&self, start: u64, end: u64) -> Leaves<'_, M> {
        let end = end.min(USER_HALF_END);
        let mut idx = [0; 4];
        idx[0] = index(start, 0);
        Leaves {
            mem: &self.mem,
            tables: [self.root, 0, 0, 0],
            base: [0; 4],
            idx,
            depth: 0,
            start,
            end,
            done: start >= end,
        }
    }

    /// Calls `f(va, pa, flags)` for every leaf in address order.
    pub fn visit(&self, mut f: impl FnMut(u64, u64, PteFlags)) {
        for (va, pa, flags) in self.leaves() {
            f(va, pa, flags);
        }
    }

    /// A hash of the leaves `(va, pa, flags)`, independent of which frames
    /// hold the tables and of the A/D bits.
    pub fn hash(&self) -> u64 {
        let mut h = Hasher64::new();
        let mut n = 0u64;
        for (va, pa, flags) in self.leaves() {
            h.write(va);
            h.write(pa);
            h.write(flags.bits());
            n += 1;
        }
        h.write(n);
        h.finish()
    }

    /// Frees every table (user half and root; never the kernel-half
    /// subtrees, never data frames) and returns the frame memory.
    pub fn destroy(mut self) -> M {
        let root = self.root;
        self.free_rec(root, 0);
        self.mem
    }

    fn free_rec(&mut self, table: u64, level: usize) {
        if level < 3 {
            for i in 0..user_limit(level) {
                let e = self.mem.read_entry(table, i);
                if e & PRESENT != 0 {
                    self.free_rec(e & ADDR_MASK, level + 1);
                }
            }
        }
        self.mem.free_table(table);
        self.tables -= 1;
    }

    /// Checks the structural invariants: the table count matches the
    /// reachable tables, no non-root table is empty, intermediate entries are
    /// exactly `addr | P | W | U` (modulo the A bit), and every leaf carries
    /// `SW_LEAF`.
    pub fn check(&self) -> Result<(), &'static str> {
        let mut count = 0;
        self.check_rec(self.root, 0, &mut count)?;
        if count != self.tables {
            return Err("table count does not match reachable tables");
        }
        Ok(())
    }

    fn check_rec(&self, table: u64, level: usize, count: &mut usize) -> Result<(), &'static str> {
        *count += 1;
        let mut nonempty = false;
        for i in 0..user_limit(level) {
            let e = self.mem.read_entry(table, i);
            if e == 0 {
                continue;
            }
            nonempty = true;
            if level == 3 {
                if e & SW_LEAF == 0 {
                    return Err("leaf without SW_LEAF");
                }
            } else {
                if e & !(ADDR_MASK | ACCESSED) != TABLE {
                    return Err("malformed intermediate entry");
                }
                self.check_rec(e & ADDR_MASK, level + 1, count)?;
            }
        }
        if level != 0 && !nonempty {
            return Err("empty intermediate table");
        }
        Ok(())
    }
}

/// Allocates a table and rejects misaligned addresses from a faulty
/// allocator.
fn alloc_checked<M: FrameMemory>(mem: &mut M) -> Option<u64> {
    let t = mem.alloc_table()?;
    if t & !ADDR_MASK != 0 {
        mem.free_table(t);
        return None;
    }
    Some(t)
}

/// Iterator over leaves, see [`PageTable::leaves`].
pub struct Leaves<'a, M: FrameMemory> {
    mem: &'a M,
    tables: [u64; 4],
    base: [u64; 4],
    idx: [usize; 4],
    depth: usize,
    start: u64,
    end: u64,
    done: bool,
}

impl<M: FrameMemory> core::fmt::Debug for Leaves<'_, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Leaves").finish_non_exhaustive()
    }
}

impl<M: FrameMemory> Iterator for Leaves<'_, M> {
    type Item = (u64, u64, PteFlags);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let l = self.depth;
            let i = self.idx[l];
            if i >= user_limit(l) {
                if l == 0 {
                    self.done = true;
                } else {
                    self.depth -= 1;
                }
                continue;
            }
            let va = self.base[l] + ((i as u64) << SHIFTS[l]);
            if va >= self.end {
                self.done = true;
                break;
            }
            self.idx[l] += 1;
            let e = self.mem.read_entry(self.tables[l], i);
            if l == 3 {
                if leaf_occupied(e) {
                    let (pa, flags) = PteFlags::decode(e);
                    return Some((va, pa, flags));
                }
            } else if e & PRESENT != 0 {
                let c = l + 1;
                self.depth = c;
                self.tables[c] = e & ADDR_MASK;
                self.base[c] = va;
                // Only the first subtree visited can contain `start` with
                // `start > va`; later ones start above it.
                self.idx[c] = if self.start > va {
                    index(self.start, c)
                } else {
                    0
                };
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeMemory;
    use alloc::vec;
    use alloc::vec::Vec;

    const RW: PteFlags = PteFlags {
        present: true,
        writable: true,
        executable: false,
        user: true,
        cow: false,
    };
    const RX: PteFlags = PteFlags {
        present: true,
        writable: false,
        executable: true,
        user: true,
        cow: false,
    };

    fn pt() -> PageTable<FakeMemory> {
        PageTable::new(FakeMemory::new()).unwrap()
    }

    #[test]
    fn flags_roundtrip() {
        for b in 0..32u64 {
            let f = PteFlags {
                present: b & 1 != 0,
                writable: b & 2 != 0,
                user: b & 4 != 0,
                executable: b & 8 != 0,
                cow: b & 16 != 0,
            };
            assert_eq!(f.bits(), b);
            let e = f.encode(0x1234_5000);
            assert_eq!(PteFlags::decode(e), (0x1234_5000, f));
            assert_eq!(PteFlags::decode(e | ACCESSED | DIRTY), (0x1234_5000, f));
            assert!(leaf_occupied(e));
        }
        assert!(!PteFlags::from_prot(crate::PROT_NONE).present);
        assert_eq!(
            PteFlags::from_prot(crate::PROT_READ),
            PteFlags {
                writable: false,
                executable: false,
                ..RW
            }
        );
        assert_eq!(PteFlags::from_prot(5), RX);
    }

    #[test]
    fn map_translate_real_bits() {
        let mut p = pt();
        p.map(0x40_1000, 0xabc000, RW).unwrap();
        assert_eq!(p.table_count(), 4);
        assert_eq!(p.translate(0x40_1234), Some((0xabc234, RW)));
        assert_eq!(p.translate(0x40_2000), None);
        // Walk the hierarchy by hand.
        let m = p.mem();
        let e4 = m.read_entry(p.root(), 0);
        assert_eq!(e4 & !ADDR_MASK, PRESENT | WRITABLE | USER);
        let e3 = m.read_entry(e4 & ADDR_MASK, 0);
        let e2 = m.read_entry(e3 & ADDR_MASK, 2);
        let e1 = m.read_entry(e2 & ADDR_MASK, 1);
        assert_eq!(
            e1,
            0xabc000 | PRESENT | WRITABLE | USER | SW_LEAF | NO_EXECUTE
        );
        assert_eq!(p.map(0x40_1000, 0xdef000, RW), Err(MapError::AlreadyMapped));
        assert_eq!(
            p.map(0x40_1001, 0xdef000, RW),
            Err(MapError::InvalidAddress)
        );
        assert_eq!(
            p.map(USER_HALF_END, 0xdef000, RW),
            Err(MapError::InvalidAddress)
        );
        assert_eq!(p.map(0x1000, 1 << 52, RW), Err(MapError::InvalidAddress));
        assert_eq!(p.table_count(), 4);
        p.check().unwrap();
        let m = p.destroy();
        assert_eq!(m.live_tables(), 0);
    }

    #[test]
    fn unmap_frees_empty_tables() {
        let mut p = pt();
        p.map(0x1000, 0x5000, RW).unwrap();
        p.map(0x2000, 0x6000, RX).unwrap();
        p.map(0x7f00_0000_0000, 0x7000, RW).unwrap();
        assert_eq!(p.table_count(), 7);
        assert_eq!(p.unmap(0x1fff), Some(0x5000));
        assert_eq!(p.unmap(0x1000), None);
        assert_eq!(p.table_count(), 7);
        assert_eq!(p.unmap(0x2000), Some(0x6000));
        assert_eq!(p.table_count(), 4);
        p.check().unwrap();
        assert_eq!(p.unmap(0x7f00_0000_0000), Some(0x7000));
        assert_eq!(p.table_count(), 1);
        p.check().unwrap();
        assert_eq!(p.mem().live_tables(), 1);
    }

    #[test]
    fn range_ops_and_iteration() {
        let mut p = pt();
        let vas = [
            0x1000u64,
            0x3000,
            0x20_0000,
            0x4000_0000,
            0x80_0000_0000,
            0x7fff_ffff_e000,
        ];
        for (n, &va) in vas.iter().enumerate() {
            p.map(va, 0x10_0000 + n as u64 * 0x1000, RW).unwrap();
        }
        let all: Vec<u64> = p.leaves().map(|l| l.0).collect();
        assert_eq!(all, vas);
        let mid: Vec<u64> = p.leaves_in(0x2000, 0x80_0000_0000).map(|l| l.0).collect();
        assert_eq!(mid, vec![0x3000, 0x20_0000, 0x4000_0000]);
        let mid: Vec<u64> = p.leaves_in(0x3000, 0x3001).map(|l| l.0).collect();
        assert_eq!(mid, vec![0x3000]);
        assert_eq!(p.protect_range(0, 0x4000_0001, RX), 4);
        assert_eq!(p.lookup(0x20_0000), Some((0x10_2000, RX)));
        assert!(p.protect(
            0x7fff_ffff_e000,
            PteFlags {
                present: false,
                ..RW
            }
        ));
        assert!(!p.protect(0x5000, RW));
        assert_eq!(p.translate(0x7fff_ffff_e000), None);
        assert_eq!(
            p.lookup(0x7fff_ffff_e000),
            Some((
                0x10_5000,
                PteFlags {
                    present: false,
                    ..RW
                }
            ))
        );
        let mut got = Vec::new();
        assert_eq!(
            p.unmap_range(0x2000, 0x80_0000_1000, |va, pa, _| got.push((va, pa))),
            4
        );
        assert_eq!(
            got,
            vec![
                (0x3000, 0x10_1000),
                (0x20_0000, 0x10_2000),
                (0x4000_0000, 0x10_3000),
                (0x80_0000_0000, 0x10_4000)
            ]
        );
        p.check().unwrap();
        assert_eq!(p.leaves().count(), 2);
        assert_eq!(p.unmap_range(0, u64::MAX, |_, _, _| ()), 2);
        assert_eq!(p.table_count(), 1);
        p.check().unwrap();
    }

    #[test]
    fn oom_rolls_back() {
        let mut m = FakeMemory::new();
        m.set_budget(Some(3)); // root + 2 tables
        let mut p = PageTable::new(m).unwrap();
        assert_eq!(p.map(0x1000, 0x5000, RW), Err(MapError::OutOfMemory));
        assert_eq!(p.table_count(), 1);
        assert_eq!(p.mem().live_tables(), 1);
        p.check().unwrap();
        p.mem_mut().set_budget(Some(3));
        p.map(0x1000, 0x5000, RW).unwrap();
        // Same PT: no allocation needed.
        p.mem_mut().set_budget(Some(0));
        p.map(0x2000, 0x6000, RW).unwrap();
        // Different PD entry needs one new table.
        assert_eq!(p.map(0x20_0000, 0x6000, RW), Err(MapError::OutOfMemory));
        p.check().unwrap();
        assert_eq!(p.table_count(), 4);
        assert_eq!(
            PageTable::new({
                let mut m = FakeMemory::new();
                m.set_budget(Some(0));
                m
            })
            .map(|_| ()),
            None
        );
    }

    #[test]
    fn kernel_entries_untouched() {
        let mut p = pt();
        let mut k = [0u64; 256];
        for (i, e) in k.iter_mut().enumerate() {
            *e = (0xdead_0000_0000 + ((i as u64) << 12)) | PRESENT | WRITABLE;
        }
        p.set_kernel_entries(&k);
        let h0 = p.hash();
        p.map(0x1000, 0x5000, RW).unwrap();
        p.map(0x7fff_ffff_f000, 0x6000, RW).unwrap();
        assert_eq!(p.leaves().count(), 2);
        assert_eq!(p.translate(0xffff_8000_0000_0000), None);
        p.unmap_range(0, u64::MAX, |_, _, _| ());
        assert_eq!(p.hash(), h0);
        p.check().unwrap();
        let root = p.root();
        for (i, &e) in k.iter().enumerate() {
            assert_eq!(p.mem().read_entry(root, 256 + i), e);
        }
        // destroy does not follow the (fake) kernel entries: the fake
        // memory would panic on the unknown table addresses.
        let m = p.destroy();
        assert_eq!(m.live_tables(), 0);
    }

    #[test]
    fn hash_independent_of_table_frames() {
        let mut a = PageTable::new(FakeMemory::with_numbering(0x100_0000, 0x1000)).unwrap();
        let mut b = PageTable::new(FakeMemory::with_numbering(0x900_0000, 0x3000)).unwrap();
        for p in [&mut a, &mut b] {
            p.map(0x1000, 0x5000, RW).unwrap();
            p.map(0x4000_0000, 0x6000, RX).unwrap();
        }
        assert_ne!(a.root(), b.root());
        assert_eq!(a.hash(), b.hash());
        // A/D bits set by the CPU do not matter.
        let (root, h) = (a.root(), a.hash());
        let e4 = a.mem().read_entry(root, 0);
        a.mem_mut().write_entry(root, 0, e4 | ACCESSED);
        a.check().unwrap();
        assert_eq!(a.hash(), h);
        b.protect(0x1000, RX);
        assert_ne!(a.hash(), b.hash());
    }
}
