use super::*;
use crate::fake::FakeMemory;
use crate::page_table::bits;
use crate::{PROT_NONE, PROT_READ as R, PROT_WRITE as W};
use alloc::vec;
use alloc::vec::Vec;

const RW: u32 = R | W;
const RX: u32 = R | PROT_EXEC;
const P: u64 = PAGE_SIZE;
const A: u64 = 0x40_0000; // a convenient user address

fn aspace() -> AddressSpace<FakeMemory> {
    AddressSpace::new(FakeMemory::new()).unwrap()
}

fn vmas(a: &AddressSpace<FakeMemory>) -> Vec<(u64, u64, u32, VmaKind)> {
    a.vmas().map(|v| (v.start, v.end, v.prot, v.kind)).collect()
}

fn frame(n: u64) -> u64 {
    0x8000_0000 + n * P
}

/// Populates every page of `[start, end)` with frames `first..`.
fn fill(a: &mut AddressSpace<FakeMemory>, start: u64, end: u64, first: u64) {
    let mut n = first;
    let mut va = start;
    while va < end {
        assert_eq!(a.populate(va, frame(n)), Ok(Populated::Installed));
        n += 1;
        va += P;
    }
}

#[test]
fn layout_validation() {
    assert!(AddressSpace::with_layout(
        FakeMemory::new(),
        Layout {
            min_addr: 0x1001,
            ..Layout::default()
        }
    )
    .is_none());
    assert!(AddressSpace::with_layout(
        FakeMemory::new(),
        Layout {
            mmap_base: 0,
            ..Layout::default()
        }
    )
    .is_none());
    assert!(AddressSpace::with_layout(
        FakeMemory::new(),
        Layout {
            end: USER_END + P,
            ..Layout::default()
        }
    )
    .is_none());
    assert!(AddressSpace::with_layout(
        FakeMemory::new(),
        Layout {
            max_vmas: 0,
            ..Layout::default()
        }
    )
    .is_none());
    let mut m = FakeMemory::new();
    m.set_budget(Some(0));
    assert!(AddressSpace::new(m).is_none());
}

#[test]
fn map_any_is_top_down() {
    let mut a = aspace();
    let (x, r) = a.map(MapAt::Any, 3 * P, RW, VmaKind::Anon).unwrap();
    assert_eq!(x, MMAP_BASE - 3 * P);
    assert!(r.is_empty());
    let (y, _) = a.map(MapAt::Any, 1, R, VmaKind::Anon).unwrap();
    assert_eq!(y, x - P);
    // Free the first one's middle page: a one-page request fits there.
    a.unmap(x + P, P).unwrap();
    let (z, _) = a.map(MapAt::Any, P, R, VmaKind::Stack).unwrap();
    assert_eq!(z, x + P);
    a.check_invariants().unwrap();
}

#[test]
fn map_hint() {
    let mut a = aspace();
    let (x, _) = a.map(MapAt::Hint(A), 2 * P, RW, VmaKind::Anon).unwrap();
    assert_eq!(x, A);
    // Unaligned hint is rounded up.
    let (y, _) = a
        .map(MapAt::Hint(A + 2 * P + 1), P, R, VmaKind::Anon)
        .unwrap();
    assert_eq!(y, A + 3 * P);
    // Occupied hint: top-down search instead.
    let (z, _) = a.map(MapAt::Hint(A + P), P, R, VmaKind::Anon).unwrap();
    assert_eq!(z, MMAP_BASE - P);
    // Hint below min_addr or 0: ignored.
    let (w, _) = a.map(MapAt::Hint(0x1000), P, R, VmaKind::Anon).unwrap();
    assert_eq!(w, MMAP_BASE - 2 * P);
    let (v, _) = a.map(MapAt::Hint(0), P, R, VmaKind::Heap).unwrap();
    assert_eq!(v, MMAP_BASE - 3 * P);
    a.check_invariants().unwrap();
}

#[test]
fn map_errors() {
    let mut a = aspace();
    assert_eq!(a.map(MapAt::Any, 0, R, VmaKind::Anon), Err(Errno::EINVAL));
    assert_eq!(a.map(MapAt::Any, P, 8, VmaKind::Anon), Err(Errno::EINVAL));
    assert_eq!(
        a.map(MapAt::Fixed(A + 1), P, R, VmaKind::Anon),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        a.map(MapAt::Fixed(0), P, R, VmaKind::Anon),
        Err(Errno::EPERM)
    );
    assert_eq!(
        a.map(MapAt::Fixed(USER_END), P, R, VmaKind::Anon),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        a.map(MapAt::Fixed(A), u64::MAX, R, VmaKind::Anon),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        a.map(MapAt::Fixed(A), u64::MAX - 2 * P, R, VmaKind::Anon),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        a.map(MapAt::Any, 1 << 47, R, VmaKind::Anon),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        a.map(MapAt::Any, P, R, VmaKind::File { ino: 1, offset: 5 }),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        a.map(
            MapAt::Any,
            2 * P,
            R,
            VmaKind::File {
                ino: 1,
                offset: u64::MAX - P + 1
            }
        ),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(a.vmas().count(), 0);
    // The very top of user space is fine.
    let (x, _) = a
        .map(MapAt::Fixed(USER_END - P), P, RW, VmaKind::Stack)
        .unwrap();
    assert_eq!(x, USER_END - P);
    a.check_invariants().unwrap();
}

#[test]
fn fixed_replaces_and_returns_frames() {
    let mut a = aspace();
    a.map(MapAt::Fixed(A), 4 * P, RW, VmaKind::Anon).unwrap();
    fill(&mut a, A, A + 4 * P, 0);
    let (x, r) = a
        .map(
            MapAt::Fixed(A + P),
            2 * P,
            R,
            VmaKind::File { ino: 7, offset: 0 },
        )
        .unwrap();
    assert_eq!(x, A + P);
    assert_eq!(r, vec![frame(1), frame(2)]);
    assert_eq!(
        vmas(&a),
        vec![
            (A, A + P, RW, VmaKind::Anon),
            (A + P, A + 3 * P, R, VmaKind::File { ino: 7, offset: 0 }),
            (A + 3 * P, A + 4 * P, RW, VmaKind::Anon),
        ]
    );
    assert_eq!(a.translate(A + P), None);
    assert_eq!(a.translate(A + 3 * P + 5).map(|t| t.0), Some(frame(3) + 5));
    // NOREPLACE over anything: EEXIST, nothing changes.
    let h = a.state_hash();
    assert_eq!(
        a.map(MapAt::FixedNoReplace(A + 3 * P), P, R, VmaKind::Anon),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        a.map(MapAt::FixedNoReplace(A - P), 2 * P, R, VmaKind::Anon),
        Err(Errno::EEXIST)
    );
    assert_eq!(a.state_hash(), h);
    let (y, r) = a
        .map(MapAt::FixedNoReplace(A + 4 * P), P, RW, VmaKind::Anon)
        .unwrap();
    assert_eq!((y, r), (A + 4 * P, vec![]));
    // Merged with the anon VMA before it.
    assert_eq!(
        vmas(&a).last(),
        Some(&(A + 3 * P, A + 5 * P, RW, VmaKind::Anon))
    );
    // Fixed anon over the file part: everything merges back into one VMA.
    let (_, r) = a
        .map(MapAt::Fixed(A + P), 2 * P, RW, VmaKind::Anon)
        .unwrap();
    assert!(r.is_empty());
    assert_eq!(vmas(&a), vec![(A, A + 5 * P, RW, VmaKind::Anon)]);
    a.check_invariants().unwrap();
}

#[test]
fn merge_rules() {
    let mut a = aspace();
    let f = |offset| VmaKind::File { ino: 3, offset };
    a.map(MapAt::Fixed(A), P, R, f(0)).unwrap();
    a.map(MapAt::Fixed(A + P), P, R, f(P)).unwrap(); // contiguous: merges
    a.map(MapAt::Fixed(A + 2 * P), P, R, f(5 * P)).unwrap(); // gap in file: no
    a.map(
        MapAt::Fixed(A + 3 * P),
        P,
        R,
        VmaKind::File {
            ino: 4,
            offset: 6 * P,
        },
    )
    .unwrap(); // other inode
    a.map(MapAt::Fixed(A + 4 * P), P, RW, VmaKind::Anon)
        .unwrap();
    a.map(MapAt::Fixed(A + 5 * P), P, RW, VmaKind::Heap)
        .unwrap(); // other kind
    a.map(MapAt::Fixed(A + 6 * P), P, R, VmaKind::Heap).unwrap(); // other prot
    a.map(MapAt::Fixed(A + 7 * P), P, R, VmaKind::Heap).unwrap(); // merges
    assert_eq!(
        vmas(&a),
        vec![
            (A, A + 2 * P, R, f(0)),
            (A + 2 * P, A + 3 * P, R, f(5 * P)),
            (
                A + 3 * P,
                A + 4 * P,
                R,
                VmaKind::File {
                    ino: 4,
                    offset: 6 * P
                }
            ),
            (A + 4 * P, A + 5 * P, RW, VmaKind::Anon),
            (A + 5 * P, A + 6 * P, RW, VmaKind::Heap),
            (A + 6 * P, A + 8 * P, R, VmaKind::Heap),
        ]
    );
    a.check_invariants().unwrap();
}

#[test]
fn unmap_partial_ranges() {
    let mut a = aspace();
    a.map(
        MapAt::Fixed(A),
        8 * P,
        RX,
        VmaKind::File {
            ino: 9,
            offset: 16 * P,
        },
    )
    .unwrap();
    fill(&mut a, A, A + 8 * P, 0);
    // Middle: splits in two, file offset of the right part adjusted.
    assert_eq!(
        a.unmap(A + 2 * P, 3 * P - 100),
        Ok(vec![frame(2), frame(3), frame(4)])
    );
    assert_eq!(
        vmas(&a),
        vec![
            (
                A,
                A + 2 * P,
                RX,
                VmaKind::File {
                    ino: 9,
                    offset: 16 * P
                }
            ),
            (
                A + 5 * P,
                A + 8 * P,
                RX,
                VmaKind::File {
                    ino: 9,
                    offset: 21 * P
                }
            ),
        ]
    );
    assert_eq!(
        a.vma_at(A + 6 * P).unwrap().file_page(A + 6 * P + 3),
        Some((9, 22 * P))
    );
    // Across the hole and both VMAs' edges.
    assert_eq!(a.unmap(A + P, 5 * P), Ok(vec![frame(1), frame(5)]));
    assert_eq!(
        a.resident_pages().collect::<Vec<_>>(),
        vec![(A, frame(0)), (A + 6 * P, frame(6)), (A + 7 * P, frame(7))]
    );
    // Unmapping nothing is fine; twice too.
    assert_eq!(a.unmap(A + P, 5 * P), Ok(vec![]));
    assert_eq!(a.unmap(0x1000, P), Ok(vec![]));
    // Errors.
    assert_eq!(a.unmap(A + 1, P), Err(Errno::EINVAL));
    assert_eq!(a.unmap(A, 0), Err(Errno::EINVAL));
    assert_eq!(a.unmap(A, u64::MAX), Err(Errno::EINVAL));
    assert_eq!(a.unmap(USER_END, P), Err(Errno::EINVAL));
    assert_eq!(a.unmap(USER_END - P, 2 * P), Err(Errno::EINVAL));
    a.check_invariants().unwrap();
    // Everything.
    assert_eq!(a.unmap(0, USER_END), Ok(vec![frame(0), frame(6), frame(7)]));
    assert_eq!(a.vmas().count(), 0);
    assert_eq!(a.page_table().table_count(), 1);
    a.check_invariants().unwrap();
}

#[test]
fn protect_splits_merges_and_updates_ptes() {
    let mut a = aspace();
    a.map(MapAt::Fixed(A), 4 * P, RW, VmaKind::Anon).unwrap();
    fill(&mut a, A, A + 3 * P, 0);
    a.protect(A + P, P, R).unwrap();
    assert_eq!(
        vmas(&a),
        vec![
            (A, A + P, RW, VmaKind::Anon),
            (A + P, A + 2 * P, R, VmaKind::Anon),
            (A + 2 * P, A + 4 * P, RW, VmaKind::Anon),
        ]
    );
    let (pa, f) = a.translate(A + P).unwrap();
    assert_eq!(pa, frame(1));
    assert!(f.present && !f.writable && !f.executable && f.user);
    assert!(a.translate(A).unwrap().1.writable);
    // PROT_NONE: the frame stays, the leaf is non-present.
    a.protect(A, 2 * P, PROT_NONE).unwrap();
    assert_eq!(a.translate(A), None);
    assert_eq!(a.resident_pages().count(), 3);
    assert_eq!(
        a.page_table().lookup(A),
        Some((
            frame(0),
            PteFlags {
                present: false,
                ..PteFlags::from_prot(PROT_NONE)
            }
        ))
    );
    // Back to RW + exec over everything: one VMA again, frames intact.
    a.protect(A, 4 * P, RW | PROT_EXEC).unwrap();
    assert_eq!(
        vmas(&a),
        vec![(A, A + 4 * P, RW | PROT_EXEC, VmaKind::Anon)]
    );
    let (pa, f) = a.translate(A + 7).unwrap();
    assert_eq!(pa, frame(0) + 7);
    assert!(f.present && f.writable && f.executable);
    // Length 0 is a no-op, even unmapped.
    assert_eq!(a.protect(0x1000, 0, R), Ok(()));
    a.check_invariants().unwrap();
}

#[test]
fn protect_enomem_on_holes_changes_nothing() {
    let mut a = aspace();
    a.map(MapAt::Fixed(A), 2 * P, RW, VmaKind::Anon).unwrap();
    a.map(MapAt::Fixed(A + 3 * P), 2 * P, RW, VmaKind::Anon)
        .unwrap();
    fill(&mut a, A, A + 2 * P, 0);
    let h = a.state_hash();
    assert_eq!(a.protect(A, 5 * P, R), Err(Errno::ENOMEM));
    assert_eq!(a.protect(A - P, 2 * P, R), Err(Errno::ENOMEM));
    assert_eq!(a.protect(A + 4 * P, 2 * P, R), Err(Errno::ENOMEM));
    assert_eq!(a.protect(A + 2 * P, P, R), Err(Errno::ENOMEM));
    assert_eq!(a.protect(A, u64::MAX, R), Err(Errno::ENOMEM));
    assert_eq!(a.protect(A + 1, P, R), Err(Errno::EINVAL));
    assert_eq!(a.protect(A, P, 0x10), Err(Errno::EINVAL));
    assert_eq!(a.state_hash(), h);
    assert!(a.translate(A).unwrap().1.writable);
    // Covered ranges spanning two VMAs work.
    a.map(MapAt::Fixed(A + 2 * P), P, R, VmaKind::Anon).unwrap();
    a.protect(A + P, 3 * P, R).unwrap();
    assert_eq!(
        vmas(&a),
        vec![
            (A, A + P, RW, VmaKind::Anon),
            (A + P, A + 4 * P, R, VmaKind::Anon),
            (A + 4 * P, A + 5 * P, RW, VmaKind::Anon),
        ]
    );
    a.check_invariants().unwrap();
}

#[test]
fn populate_cases() {
    let mut a = aspace();
    a.map(MapAt::Fixed(A), 2 * P, RX, VmaKind::Anon).unwrap();
    assert_eq!(a.populate(A - 1, frame(0)), Err(Errno::EFAULT));
    assert_eq!(a.populate(A + 2 * P, frame(0)), Err(Errno::EFAULT));
    assert_eq!(a.populate(u64::MAX, frame(0)), Err(Errno::EFAULT));
    assert_eq!(a.populate(A, frame(0) + 8), Err(Errno::EINVAL));
    assert_eq!(a.populate(A, 1 << 52), Err(Errno::EINVAL));
    assert_eq!(a.populate(A + 123, frame(0)), Ok(Populated::Installed));
    assert_eq!(a.populate(A + 5, frame(1)), Ok(Populated::AlreadyPresent));
    assert_eq!(
        a.translate(A + 5),
        Some((frame(0) + 5, PteFlags::from_prot(RX)))
    );
    // PROT_NONE VMA: recorded, not visible.
    a.map(MapAt::Fixed(A + 2 * P), P, PROT_NONE, VmaKind::Anon)
        .unwrap();
    assert_eq!(a.populate(A + 2 * P, frame(2)), Ok(Populated::Installed));
    assert_eq!(a.translate(A + 2 * P), None);
    assert_eq!(
        a.resident_pages().map(|r| r.1).collect::<Vec<_>>(),
        vec![frame(0), frame(2)]
    );
    a.check_invariants().unwrap();
}

#[test]
fn fault_decisions() {
    let mut a = aspace();
    let rd = Access {
        write: false,
        exec: false,
        user: true,
    };
    let wr = Access { write: true, ..rd };
    let ex = Access { exec: true, ..rd };
    a.map(MapAt::Fixed(A), P, RW, VmaKind::Anon).unwrap();
    a.map(
        MapAt::Fixed(A + P),
        2 * P,
        RX,
        VmaKind::File {
            ino: 5,
            offset: 3 * P,
        },
    )
    .unwrap();
    a.map(MapAt::Fixed(A + 3 * P), P, PROT_NONE, VmaKind::Anon)
        .unwrap();
    a.map(MapAt::Fixed(A + 4 * P), P, W, VmaKind::Stack)
        .unwrap();
    let zero = FaultDecision::NeedsFrame {
        zero: true,
        file: None,
    };
    let maperr = FaultDecision::Segv { accerr: false };
    let accerr = FaultDecision::Segv { accerr: true };
    assert_eq!(a.fault_decision(A - 1, rd), maperr);
    assert_eq!(a.fault_decision(A + 5 * P, wr), maperr);
    assert_eq!(a.fault_decision(u64::MAX, rd), maperr);
    assert_eq!(a.fault_decision(A + 8, rd), zero);
    assert_eq!(a.fault_decision(A + 8, wr), zero);
    assert_eq!(a.fault_decision(A + 8, ex), accerr);
    let file = FaultDecision::NeedsFrame {
        zero: false,
        file: Some((5, 4 * P)),
    };
    assert_eq!(a.fault_decision(A + 2 * P + 9, rd), file);
    assert_eq!(a.fault_decision(A + 2 * P + 9, ex), file);
    assert_eq!(a.fault_decision(A + 2 * P, wr), accerr);
    assert_eq!(a.fault_decision(A + 3 * P, rd), accerr);
    assert_eq!(
        a.fault_decision(A + 3 * P, Access { user: false, ..rd }),
        accerr
    );
    // Write-only is readable on x86 and by Linux rules.
    assert_eq!(a.fault_decision(A + 4 * P, rd), zero);
    // Present with adequate rights: spurious.
    a.populate(A, frame(0)).unwrap();
    a.populate(A + P, frame(1)).unwrap();
    assert_eq!(a.fault_decision(A + 1, wr), FaultDecision::Spurious);
    assert_eq!(a.fault_decision(A + P, ex), FaultDecision::Spurious);
    assert_eq!(a.fault_decision(A + P, wr), accerr);
    a.protect(A, P, R).unwrap();
    assert_eq!(a.fault_decision(A, wr), accerr);
    assert_eq!(a.fault_decision(A, rd), FaultDecision::Spurious);
    a.protect(A, P, PROT_NONE).unwrap();
    assert_eq!(a.fault_decision(A, rd), accerr);
}

#[test]
fn brk_grow_shrink_collide() {
    let mut a = aspace();
    assert_eq!(a.brk(A + P), (0, vec![]));
    a.set_brk_start(A).unwrap();
    assert_eq!(a.set_brk_start(USER_END + 1), Err(Errno::EINVAL));
    assert_eq!(a.brk(0), (A, vec![]));
    assert_eq!(a.brk(A - 1), (A, vec![]));
    // Grow within a page, then past it.
    assert_eq!(a.brk(A + 10), (A + 10, vec![]));
    assert_eq!(vmas(&a), vec![(A, A + P, RW, VmaKind::Heap)]);
    assert_eq!(a.brk(A + 3 * P), (A + 3 * P, vec![]));
    assert_eq!(vmas(&a), vec![(A, A + 3 * P, RW, VmaKind::Heap)]);
    assert_eq!(a.brk(A + 3 * P - 1), (A + 3 * P - 1, vec![]));
    assert_eq!(a.brk_state(), Some((A, A + 3 * P - 1)));
    fill(&mut a, A, A + 3 * P, 0);
    // Collision with another mapping: unchanged.
    a.map(MapAt::Fixed(A + 5 * P), P, R, VmaKind::Anon).unwrap();
    assert_eq!(a.brk(A + 6 * P), (A + 3 * P - 1, vec![]));
    assert_eq!(a.brk(USER_END + P), (A + 3 * P - 1, vec![]));
    // Up to the other mapping is fine.
    assert_eq!(a.brk(A + 5 * P), (A + 5 * P, vec![]));
    // Shrink releases the frames.
    assert_eq!(a.brk(A + P + 1), (A + P + 1, vec![frame(2)]));
    assert_eq!(a.brk(A), (A, vec![frame(0), frame(1)]));
    assert_eq!(vmas(&a), vec![(A + 5 * P, A + 6 * P, R, VmaKind::Anon)]);
    a.check_invariants().unwrap();
    // An mprotected heap page does not merge, and brk still works around it.
    assert_eq!(a.brk(A + 2 * P), (A + 2 * P, vec![]));
    a.protect(A, P, R).unwrap();
    assert_eq!(a.brk(A + 3 * P), (A + 3 * P, vec![]));
    assert_eq!(
        vmas(&a),
        vec![
            (A, A + P, R, VmaKind::Heap),
            (A + P, A + 3 * P, RW, VmaKind::Heap),
            (A + 5 * P, A + 6 * P, R, VmaKind::Anon)
        ]
    );
    a.check_invariants().unwrap();
}

#[test]
fn oom_in_populate_leaves_state_unchanged() {
    let mut m = FakeMemory::new();
    m.set_budget(Some(2)); // root + PDPT only
    let mut a = AddressSpace::new(m).unwrap();
    a.map(MapAt::Fixed(A), 4 * P, RW, VmaKind::Anon).unwrap();
    a.set_brk_start(0x100_0000).unwrap();
    let h = a.state_hash();
    assert_eq!(a.populate(A, frame(0)), Err(Errno::ENOMEM));
    assert_eq!(a.state_hash(), h);
    assert_eq!(a.page_table().table_count(), 1);
    assert_eq!(a.mem().live_tables(), 1);
    a.check_invariants().unwrap();
    // Other operations never allocate.
    a.protect(A, P, R).unwrap();
    a.unmap(A + P, P).unwrap();
    assert_eq!(a.brk(0x100_2000).0, 0x100_2000);
    a.map(MapAt::Any, P, R, VmaKind::Anon).unwrap();
    assert_eq!(
        a.fault_decision(A, Access::default()),
        FaultDecision::NeedsFrame {
            zero: true,
            file: None
        }
    );
    a.check_invariants().unwrap();
    let (mut m, frames) = a.destroy();
    assert!(frames.is_empty());
    assert_eq!(m.live_tables(), 0);
    m.set_budget(None);
    let mut a = AddressSpace::new(m).unwrap();
    a.map(MapAt::Fixed(A), 4 * P, RW, VmaKind::Anon).unwrap();
    assert_eq!(a.populate(A, frame(0)), Ok(Populated::Installed));
}

#[test]
fn kernel_entries_preserved() {
    let mut a = aspace();
    let mut k = [0u64; 256];
    for (i, e) in k.iter_mut().enumerate() {
        *e = (0x7000_0000 + i as u64 * P) | bits::PRESENT | bits::WRITABLE;
    }
    a.set_kernel_entries(&k);
    let h0 = a.state_hash();
    a.map(MapAt::Fixed(USER_END - 4 * P), 4 * P, RW, VmaKind::Stack)
        .unwrap();
    fill(&mut a, USER_END - 4 * P, USER_END, 0);
    a.protect(USER_END - 2 * P, P, PROT_NONE).unwrap();
    a.unmap(USER_END - 4 * P, 4 * P).unwrap();
    assert_eq!(a.state_hash(), h0);
    let root = a.root();
    for (i, &e) in k.iter().enumerate() {
        assert_eq!(a.mem().read_entry(root, 256 + i), e);
    }
    a.map(MapAt::Fixed(USER_END - P), P, RW, VmaKind::Stack)
        .unwrap();
    a.populate(USER_END - P, frame(9)).unwrap();
    // Would panic in FakeMemory if destroy followed the kernel entries.
    let (m, frames) = a.destroy();
    assert_eq!(frames, vec![frame(9)]);
    assert_eq!(m.live_tables(), 0);
}

#[test]
fn destroy_returns_frames_and_frees_tables() {
    let mut a = aspace();
    a.map(MapAt::Fixed(A), 2 * P, RW, VmaKind::Anon).unwrap();
    a.map(MapAt::Fixed(0x7f00_0000_0000), P, PROT_NONE, VmaKind::Anon)
        .unwrap();
    fill(&mut a, A, A + 2 * P, 0);
    a.populate(0x7f00_0000_0000, frame(5)).unwrap();
    assert_eq!(a.page_table().table_count(), 7);
    let (m, frames) = a.destroy();
    assert_eq!(frames, vec![frame(0), frame(1), frame(5)]);
    assert_eq!(m.live_tables(), 0);
    let (allocs, frees) = m.counts();
    assert_eq!(allocs, frees);
}

#[test]
fn vma_limit() {
    let layout = Layout {
        max_vmas: 3,
        ..Layout::default()
    };
    let mut a = AddressSpace::with_layout(FakeMemory::new(), layout).unwrap();
    a.map(MapAt::Fixed(A), 8 * P, RW, VmaKind::Anon).unwrap();
    a.protect(A + P, P, R).unwrap(); // 3 VMAs
    let h = a.state_hash();
    assert_eq!(a.protect(A + 4 * P, P, R), Err(Errno::ENOMEM));
    assert_eq!(a.unmap(A + 5 * P, P), Err(Errno::ENOMEM));
    assert_eq!(
        a.map(MapAt::Fixed(A + 5 * P), P, R, VmaKind::Heap),
        Err(Errno::ENOMEM)
    );
    assert_eq!(a.map(MapAt::Any, P, R, VmaKind::Anon), Err(Errno::ENOMEM));
    assert_eq!(a.state_hash(), h);
    // Operations that do not add VMAs still work.
    a.unmap(A + 2 * P, 6 * P).unwrap(); // 2 VMAs
    a.map(MapAt::Fixed(A + P), P, RW, VmaKind::Anon).unwrap(); // merges into 1
    assert_eq!(vmas(&a), vec![(A, A + 2 * P, RW, VmaKind::Anon)]);
    a.map(MapAt::Fixed(A + P), P, R, VmaKind::Anon).unwrap(); // replace: 2 VMAs
    a.check_invariants().unwrap();
}

#[test]
fn find_free_small_layout() {
    let base = 0x10_0000;
    let layout = Layout {
        min_addr: base,
        mmap_base: base + 8 * P,
        end: base + 16 * P,
        max_vmas: 100,
    };
    let mut a = AddressSpace::with_layout(FakeMemory::new(), layout).unwrap();
    assert_eq!(a.find_free(0, None), None);
    assert_eq!(a.find_free(1, None), Some(base + 7 * P));
    assert_eq!(a.find_free(8 * P, None), Some(base));
    // Does not fit below the base: search the whole range top-down.
    assert_eq!(a.find_free(9 * P, None), Some(base + 7 * P));
    assert_eq!(a.find_free(17 * P, None), None);
    a.map(MapAt::Fixed(base + 2 * P), P, R, VmaKind::Anon)
        .unwrap();
    a.map(MapAt::Fixed(base + 6 * P), 4 * P, R, VmaKind::Anon)
        .unwrap();
    assert_eq!(a.find_free(3 * P, None), Some(base + 3 * P));
    assert_eq!(a.find_free(4 * P, None), Some(base + 12 * P));
    assert_eq!(a.find_free(2 * P, Some(base + 10 * P)), Some(base + 10 * P));
    assert_eq!(a.find_free(2 * P, Some(base + 15 * P)), Some(base + 4 * P));
    assert_eq!(a.find_free(7 * P, None), None);
    assert_eq!(
        a.map(MapAt::Any, 7 * P, R, VmaKind::Anon),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        a.map(MapAt::Fixed(base - P), P, R, VmaKind::Anon),
        Err(Errno::EPERM)
    );
    assert_eq!(
        a.map(MapAt::Fixed(base + 16 * P), P, R, VmaKind::Anon),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn state_hash_independent_of_table_frames() {
    let mut a = AddressSpace::new(FakeMemory::with_numbering(0x100_0000, P)).unwrap();
    let mut b = AddressSpace::new(FakeMemory::with_numbering(0x4000_0000, 7 * P)).unwrap();
    for s in [&mut a, &mut b] {
        s.map(MapAt::Fixed(A), 4 * P, RW, VmaKind::Anon).unwrap();
        s.set_brk_start(0x100_0000).unwrap();
        s.brk(0x100_5000);
        fill(s, A, A + 4 * P, 0);
        s.populate(0x100_1000, frame(10)).unwrap();
        s.protect(A, P, R).unwrap();
    }
    assert_ne!(a.root(), b.root());
    assert_eq!(a.state_hash(), b.state_hash());
    b.protect(A + P, P, R).unwrap();
    assert_ne!(a.state_hash(), b.state_hash());
    a.protect(A + P, P, R).unwrap();
    assert_eq!(a.state_hash(), b.state_hash());
    a.brk(0x100_4000);
    assert_ne!(a.state_hash(), b.state_hash());
}

#[test]
fn fork_shares_frames_copy_on_write() {
    let mut a = aspace();
    let (addr, _) = a.map(MapAt::Fixed(A), 4 * P, RW, VmaKind::Anon).unwrap();
    let (ro, _) = a.map(MapAt::Fixed(A + 8 * P), P, R, VmaKind::Anon).unwrap();
    fill(&mut a, addr, addr + 2 * P, 0);
    fill(&mut a, ro, ro + P, 10);
    let before = a.state_hash();
    let (mut c, shared) = a.fork_cow(FakeMemory::new()).unwrap();
    assert_ne!(a.state_hash(), before, "leaves are now marked");
    assert_eq!(shared, vec![frame(0), frame(1), frame(10)]);
    assert_eq!(a.state_hash(), c.state_hash(), "child is an exact copy");
    a.check_invariants().unwrap();
    c.check_invariants().unwrap();
    let w = Access {
        write: true,
        exec: false,
        user: true,
    };
    let r = Access {
        write: false,
        exec: false,
        user: true,
    };
    for s in [&a, &c] {
        // Reads share; writes to resident pages copy; untouched pages fault
        // in as usual; read-only pages stay a SIGSEGV for writes.
        assert_eq!(s.fault_decision(addr, r), FaultDecision::Spurious);
        assert_eq!(
            s.fault_decision(addr + P, w),
            FaultDecision::CopyOnWrite { frame: frame(1) }
        );
        assert_eq!(
            s.fault_decision(addr + 2 * P, w),
            FaultDecision::NeedsFrame {
                zero: true,
                file: None
            }
        );
        assert_eq!(
            s.fault_decision(ro, w),
            FaultDecision::Segv { accerr: true }
        );
        let (pa, f) = s.translate(addr + 8).unwrap();
        assert_eq!(pa, frame(0) + 8);
        assert!(!f.writable && f.cow);
    }
    // The child copies page 1; the parent takes its frame over in place.
    c.make_private(addr + P, frame(20)).unwrap();
    a.make_private(addr + P, frame(1)).unwrap();
    assert_eq!(
        c.translate(addr + P).unwrap(),
        (frame(20), PteFlags::from_prot(RW))
    );
    assert_eq!(
        a.translate(addr + P).unwrap(),
        (frame(1), PteFlags::from_prot(RW))
    );
    assert_eq!(a.fault_decision(addr + P, w), FaultDecision::Spurious);
    assert_eq!(
        a.make_private(addr + P, frame(1)),
        Err(Errno::EFAULT),
        "already private"
    );
    assert_eq!(
        a.make_private(addr + 2 * P, frame(1)),
        Err(Errno::EFAULT),
        "no leaf"
    );
    assert_eq!(a.cow_frame(addr), Some(frame(0)));
    assert_eq!(a.cow_frame(addr + P), None);
    // mprotect keeps the mark: read-write again must not make a shared
    // frame writable.
    a.protect(addr, 2 * P, R).unwrap();
    a.protect(addr, 2 * P, RW).unwrap();
    let (_, f) = a.translate(addr).unwrap();
    assert!(!f.writable && f.cow);
    assert_eq!(
        a.fault_decision(addr, w),
        FaultDecision::CopyOnWrite { frame: frame(0) }
    );
    a.check_invariants().unwrap();
    c.check_invariants().unwrap();
    // Frames come back from both.
    let (_, fa) = a.destroy();
    let (_, fc) = c.destroy();
    assert_eq!(fa, vec![frame(0), frame(1), frame(10)]);
    assert_eq!(fc, vec![frame(0), frame(20), frame(10)]);
}

#[test]
fn fork_out_of_table_memory_leaves_parent_unchanged() {
    let mut a = aspace();
    let (addr, _) = a.map(MapAt::Fixed(A), 2 * P, RW, VmaKind::Anon).unwrap();
    fill(&mut a, addr, addr + 2 * P, 0);
    let before = a.state_hash();
    let mut mem = FakeMemory::new();
    mem.set_budget(Some(2)); // root + one table: not enough
    assert_eq!(a.fork_cow(mem).err(), Some(Errno::ENOMEM));
    assert_eq!(a.state_hash(), before);
    let (pa, f) = a.translate(addr).unwrap();
    assert_eq!(pa, frame(0));
    assert!(f.writable && !f.cow);
}

#[test]
fn fork_shares_shared_mappings_writable() {
    let mut a = aspace();
    let (s, _) = a.map(MapAt::Fixed(A), 3 * P, RW, VmaKind::Shared).unwrap();
    let (p, _) = a
        .map(MapAt::Fixed(A + 3 * P), P, RW, VmaKind::Anon)
        .unwrap();
    assert_eq!(a.vmas().count(), 2, "shared and private never merge");
    fill(&mut a, s, s + P, 0);
    fill(&mut a, p, p + P, 5);
    assert_eq!(a.unpopulated_shared(10), vec![s + P, s + 2 * P]);
    assert_eq!(a.unpopulated_shared(1), vec![s + P]);
    fill(&mut a, s + P, s + 3 * P, 1);
    assert!(a.unpopulated_shared(10).is_empty());
    let (c, frames) = a.fork_cow(FakeMemory::new()).unwrap();
    assert_eq!(frames, vec![frame(0), frame(1), frame(2), frame(5)]);
    let w = Access {
        write: true,
        exec: false,
        user: true,
    };
    for sp in [&a, &c] {
        assert_eq!(
            sp.fault_decision(s + P, w),
            FaultDecision::Spurious,
            "shared page stays writable"
        );
        assert_eq!(
            sp.translate(s + P).unwrap(),
            (frame(1), PteFlags::from_prot(RW))
        );
        assert_eq!(
            sp.fault_decision(p, w),
            FaultDecision::CopyOnWrite { frame: frame(5) }
        );
        sp.check_invariants().unwrap();
    }
}

#[test]
fn discard_beyond_the_layout_is_einval() {
    let mut a = aspace();
    let (addr, _) = a.map(MapAt::Fixed(A), 2 * P, RW, VmaKind::Anon).unwrap();
    fill(&mut a, addr, addr + 2 * P, 0);
    // Found by the fuzzer: madvise(addr, 1 << 63, MADV_DONTNEED).
    assert_eq!(a.discard(addr, 1 << 63), Err(Errno::EINVAL));
    assert_eq!(a.resident_pages().count(), 2);
    assert_eq!(a.discard(addr, P), Ok(vec![frame(0)]));
}
